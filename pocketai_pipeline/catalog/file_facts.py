"""Runtime-file facts in the catalog: which files wait for them, and writing them (contract rule 13)."""

from dataclasses import asdict

from sqlalchemy import Engine

from pocketai_pipeline.catalog.queries import query
from pocketai_pipeline.sync.file_facts import HeaderFacts
from pocketai_pipeline.sync.file_facts_refresh import FileFacts, KnownHeader, NewHeader, PendingFile

HEADER_FIELDS = tuple(HeaderFacts.__dataclass_fields__)


def pending_file_facts(engine: Engine, system_username: str) -> list[PendingFile]:
    """The runtime files whose facts are pending, most recently modified models first."""
    with engine.connect() as conn:
        rows = conn.execute(query("pending_file_facts"), {"system_username": system_username}).mappings().all()
    return [
        PendingFile(row["id"], row["hf_model_id"], row["hf_sha"], row["path"], row["size_bytes"], row["sha256"],
                    row["format"], known_header(row))
        for row in rows
    ]


def known_header(row) -> KnownHeader | None:
    if row["header_status"] is None:
        return None
    if row["header_status"] == "unreadable":
        return KnownHeader(None, row["header_error"])
    return KnownHeader(HeaderFacts(**{name: row[name] for name in HEADER_FIELDS}), None)


def write_file_facts(engine: Engine, rows: list[FileFacts], new_header: NewHeader | None) -> None:
    """The files' facts and, when a header was just read, what it said, in one transaction."""
    with engine.begin() as conn:
        if new_header is not None:
            facts = new_header.header.facts
            conn.execute(query("insert_litertlm_header"), {
                "sha256": new_header.sha256,
                "status": "read" if facts is not None else "unreadable",
                "error": new_header.header.unreadable,
                **(asdict(facts) if facts is not None else dict.fromkeys(HEADER_FIELDS)),
            })
        conn.execute(query("update_file_facts"), [
            {"file_id": row.file_id, **row.columns, "facts_status": row.status, "facts_error": row.error} for row in rows
        ])
