"""The sync into ``ml_models``: only what changed is shipped, in chunks, with binary COPY; set-based SQL.

Contract rules 1, 5, 6, 7, 9 and 10. The design:

1. **Hash.** Every record gets a content hash of exactly the fields the merge writes
   (``sync.content_hash``), computed vectorized per chunk; ``ml_models.hf_sync_hash`` keeps the hash
   of what was last written.
2. **Read the catalog once.** One streamed SELECT gives each row's id, stored hash, owner, and
   whether it is marked removed (``catalog_sync_state.sql``).
3. **Stage only what differs.** Chunk by chunk, a record is staged when it is new, its hash differs
   (a synced field changed, or the row predates hashes), or it is listed again after being marked
   removed; a row owned by a person is counted and never staged (rule 6). Staged rows go into a temp
   table (not WAL-logged, dropped at commit) with one binary COPY per chunk. An identical re-sync
   stages, and writes, nothing. A record that cannot be converted, or is listed twice, fails the
   merge here, naming it, before the merge lock is taken.
4. **Apply.** Under the merge lock (rule 10) and after the staleness check (rule 9), set-based SQL
   inserts the new rows and rewrites the changed ones (``insert_new_models.sql``,
   ``update_changed_models.sql``, both re-checking the hash in SQL), and marks the confirmed removals
   (``mark_removed_models.sql``). If another merge committed while this one read and staged, the
   catalog is read again; should it have changed a row this merge left unstaged, the merge fails
   and asks to be run again (this does not happen with the one-slot merge pool).

Every listed model ends up in exactly one of created, updated, restored, unchanged or
skipped_not_owned. A synced model the listing lacks is marked removed only when a lookup of its own
confirmed it (``RemovalCheck``, made before the merge).
"""

import itertools
import logging
import operator
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, Engine

from pocketai_pipeline.catalog.queries import query
from pocketai_pipeline.catalog.schema import SYSTEM_EMAIL, SYSTEM_USERNAME, ensure_system_user
from pocketai_pipeline.sync.content_hash import (
    BOOLEAN,
    INTEGER,
    SYNCED_FIELDS,
    TEXT_LIST,
    TIMESTAMP,
    converter,
    row_hashes,
    staged_form,
    synced_table,
)
from pocketai_pipeline.sync.removals import RemovalCheck
from pocketai_pipeline.sync.shrink import MAX_REMOVED_FRACTION, is_suspicious_shrink

logger = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
"""Rows converted, hashed and staged at a time when ``merge_records`` is given one DataFrame."""

# The synced fields, each with its value-by-value conversion (``staged_rows``).
STAGED_COLUMNS = {name: converter(name) for name in SYNCED_FIELDS}

# The COPY types of copy_listing_stage.sql's columns: lists go as array literals (text) and
# timestamps as microseconds since 1970 (int8); the SQL casts them back.
_STAGE_TYPES = [
    "text" if kind == TEXT_LIST else "int8" if kind in (INTEGER, TIMESTAMP) else "bool" if kind == BOOLEAN else "text"
    for kind in SYNCED_FIELDS.values()
] + ["bytea"]

# What the catalog read says of a row, besides its stored hash (16 bytes, never equal to these).
_NO_HASH = b""  # the system user's active row, synced before hashes were kept
_REMOVED = b"removed"  # the system user's row, marked removed upstream
_NOT_OWNED = b"not owned"  # someone else's row (rule 6)


@dataclass(frozen=True)
class MergeResult:
    created: int
    updated: int
    unchanged: int
    removed: int
    restored: int
    skipped_not_owned: int
    """Listed models whose row belongs to a person (rule 6): counted, never touched."""
    stale: bool
    """The listing is older than the newest one applied (rule 9): nothing changed."""
    removal_blocked: bool
    """The listing shrank suspiciously (rule 7): nothing was marked removed."""
    shrink_accepted: bool
    """The listing shrank suspiciously and the run's `accept_shrink` let the removals through."""
    would_remove: int
    """Active synced models the listing lacks."""
    removal_unverified: int
    """Of those, the ones whose own lookup gave no definite answer: left unmarked."""
    active_synced_before: int
    row_count: int
    """Rows in ml_models after the merge."""
    active_count: int
    """Rows in ml_models not marked removed upstream, after the merge."""
    created_ids: list[str]
    updated_ids: list[str]
    removed_ids: list[str]
    restored_ids: list[str]


@dataclass
class _Staging:
    """What reading the listing against the catalog found, and what it put in the stage."""

    catalog: dict[str, bytes]
    """hf_model_id → stored hash, or one of _NO_HASH, _REMOVED, _NOT_OWNED."""
    listed: dict[str, bool] = field(default_factory=dict)
    """Every listed hf_model_id → whether it was staged."""
    staged: int = 0
    not_owned: int = 0
    """Listed models owned by someone else (never staged)."""


def staged_rows(records: pd.DataFrame) -> Iterator[tuple[object, ...]]:
    """The records as rows of plain Python values, value by value, every kind of missing value as None.

    The merge converts vectorized (``content_hash.synced_table``); this is the same conversion one
    value at a time, for code that writes rows one by one.
    """
    missing = [column for column in STAGED_COLUMNS if column not in records.columns]
    if missing:
        raise ValueError(f"records lack the columns {missing}; expected {list(STAGED_COLUMNS)}")
    converters = list(STAGED_COLUMNS.values())
    for row in records[list(STAGED_COLUMNS)].itertuples(index=False, name=None):
        try:
            yield tuple(convert(value) for convert, value in zip(converters, row, strict=True))
        except (TypeError, ValueError) as error:
            raise ValueError(f"record {row[0]!r} cannot be merged: {error}") from error


def merge_records(
    engine: Engine,
    records: pd.DataFrame | pa.Table | Iterable[pd.DataFrame | pa.Table],
    *,
    fetched_at: datetime,
    partition_key: str,
    removals: RemovalCheck = RemovalCheck(),
    accept_shrink: bool = False,
    system_username: str = SYSTEM_USERNAME,
    system_email: str = SYSTEM_EMAIL,
    max_removed_fraction: float = MAX_REMOVED_FRACTION,
) -> MergeResult:
    """Merge one complete Hub listing (``records``, fetched at ``fetched_at``) into ml_models.

    ``records`` is one DataFrame or Arrow table, or an iterable of chunks of them (``RECORD_DTYPES``
    columns, or the stored records' ``RECORD_SCHEMA``), read once. Of the synced models the listing lacks, those in ``removals.confirmed`` are marked removed,
    unless so many are missing that the shrink is suspicious and ``accept_shrink`` is not given.
    """
    started = time.monotonic()
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at has no time zone; pass the UTC time the listing was fetched")

    with engine.begin() as conn:
        last_merge = conn.execute(query("last_applied_listing")).scalar()
        staging = _Staging(catalog=_read_catalog(conn, system_username))
        for chunk in _chunks(records):  # bad records fail here, before the merge lock is taken
            _stage_chunk(conn, staging, chunk)
        logger.info("merge staged %d of %d listed records", staging.staged, len(staging.listed),
                    extra={"staged": staging.staged, "listed": len(staging.listed)})

        conn.execute(query("lock_merge"))
        newest_applied = conn.execute(query("newest_applied_fetched_at")).scalar()
        if newest_applied is not None and fetched_at < newest_applied:
            return _stale_result(
                row_count=conn.execute(query("count_models")).scalar_one(),
                active_count=conn.execute(query("count_active_models")).scalar_one(),
            )
        if conn.execute(query("last_applied_listing")).scalar() != last_merge:
            _read_catalog_again(conn, staging, system_username)

        system_user_id = ensure_system_user(conn, system_username, system_email)
        owner = {"system_user_id": system_user_id}
        active = [
            hf_model_id for hf_model_id, state in staging.catalog.items() if state is not _REMOVED and state is not _NOT_OWNED
        ]
        active_synced = len(active)
        would_remove = active_synced - sum(map(staging.listed.__contains__, active))
        skipped_not_owned = staging.not_owned
        created_ids, rewritten = [], []
        if staging.staged:
            skipped_not_owned += conn.execute(query("count_not_owned"), owner).scalar_one()
            created_ids = conn.execute(query("insert_new_models"), owner).scalars().all()
            rewritten = conn.execute(query("update_changed_models"), owner).all()
        suspicious = is_suspicious_shrink(active_synced, would_remove, max_removed_fraction)
        removal_blocked = suspicious and not accept_shrink
        unlisted_confirmed = [hf_model_id for hf_model_id in removals.confirmed if hf_model_id not in staging.listed]
        removed_ids = [] if removal_blocked or not unlisted_confirmed else conn.execute(
            query("mark_removed_models"), owner | {"unlisted_confirmed_ids": unlisted_confirmed}
        ).scalars().all()

        restored_ids = [hf_model_id for hf_model_id, restored in rewritten if restored]
        updated_ids = [hf_model_id for hf_model_id, restored in rewritten if not restored]
        listed = len(staging.listed)
        result = MergeResult(
            created=len(created_ids),
            updated=len(updated_ids),
            unchanged=listed - len(created_ids) - len(rewritten) - skipped_not_owned,
            removed=len(removed_ids),
            restored=len(restored_ids),
            skipped_not_owned=skipped_not_owned,
            stale=False,
            removal_blocked=removal_blocked,
            shrink_accepted=suspicious and accept_shrink,
            would_remove=would_remove,
            removal_unverified=0 if removal_blocked else would_remove - len(removed_ids),
            active_synced_before=active_synced,
            row_count=conn.execute(query("count_models")).scalar_one(),
            active_count=conn.execute(query("count_active_models")).scalar_one(),
            created_ids=sorted(created_ids),
            updated_ids=sorted(updated_ids),
            removed_ids=sorted(removed_ids),
            restored_ids=sorted(restored_ids),
        )
        # Kept for an identical re-sync too: it is the sync history (rule 9, and the UI's table).
        _record_applied_listing(conn, result, fetched_at=fetched_at, partition_key=partition_key, listed=listed,
                                duration_seconds=time.monotonic() - started)
        return result


def _chunks(records: pd.DataFrame | pa.Table | Iterable[pd.DataFrame | pa.Table]) -> Iterator[pd.DataFrame | pa.Table]:
    if not isinstance(records, (pd.DataFrame, pa.Table)):
        yield from records
        return
    for start in range(0, max(len(records), 1), CHUNK_ROWS):  # an empty frame is still checked
        yield records[start : start + CHUNK_ROWS] if isinstance(records, pa.Table) else records.iloc[start : start + CHUNK_ROWS]


def _read_catalog(conn: Connection, system_username: str) -> dict[str, bytes]:
    """hf_model_id → what the merge needs to know of its row (see _NO_HASH, _REMOVED, _NOT_OWNED).

    Streamed through a server-side cursor, a chunk of rows at a time (psycopg's own rows: cheaper
    than SQLAlchemy's at a million).
    """
    system_user_id = conn.execute(query("find_user"), {"username": system_username}).scalar()
    catalog = {}
    with conn.connection.driver_connection.cursor(name="hf_catalog_sync_state") as cursor:
        cursor.execute(query("catalog_sync_state").text)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            for hf_model_id, sync_hash, author_id, removed in rows:
                catalog[hf_model_id] = (
                    _NOT_OWNED if author_id != system_user_id else _REMOVED if removed else sync_hash or _NO_HASH
                )
    return catalog


def _stage_chunk(conn: Connection, staging: _Staging, chunk: pd.DataFrame | pa.Table) -> None:
    """Convert and hash one chunk, and COPY those of its records that differ from the catalog."""
    table = staged_form(synced_table(chunk))
    hashes = row_hashes(table)
    ids = table.column("hf_model_id").to_pylist()
    if len(set(ids)) != len(ids) or not staging.listed.keys().isdisjoint(ids):
        seen = set(staging.listed)
        twice = next(hf_model_id for hf_model_id in ids if hf_model_id in seen or seen.add(hf_model_id))
        raise ValueError(f"record {twice!r} cannot be merged: the listing has it twice")
    states = list(map(staging.catalog.get, ids))
    # New (None), marked removed, synced before hashes (b""), or another hash: staged.
    staged = list(map(operator.ne, states, hashes))
    if _NOT_OWNED in states:
        for position, state in enumerate(states):
            if state is _NOT_OWNED:
                staged[position] = False
                staging.not_owned += 1
    staging.listed.update(zip(ids, staged))
    positions = list(itertools.compress(range(len(ids)), staged))
    if not positions:
        return
    if not staging.staged:
        conn.execute(query("create_listing_stage"))
    _copy(conn, table.take(positions), [hashes[position] for position in positions])
    staging.staged += len(positions)


def _copy(conn: Connection, table: pa.Table, hashes: list[bytes]) -> None:
    """One binary COPY of ``table`` (a staged_form) and its hashes into hf_listing_stage."""
    columns = [column.to_pylist() for column in table.columns]
    columns.append(hashes)
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(query("copy_listing_stage").text) as copy:
        copy.set_types(_STAGE_TYPES)
        for row in zip(*columns):
            copy.write_row(row)


def _read_catalog_again(conn: Connection, staging: _Staging, system_username: str) -> None:
    """After another merge committed meanwhile: the catalog as it is now, if no unstaged record needs more."""
    catalog = _read_catalog(conn, system_username)
    for hf_model_id, staged in staging.listed.items():
        if not staged and catalog.get(hf_model_id) != staging.catalog[hf_model_id]:
            raise RuntimeError(
                f"another merge changed {hf_model_id!r} while this one was staging the listing; run this merge again"
            )
    staging.catalog = catalog


def _record_applied_listing(
    conn: Connection, result: MergeResult, *, fetched_at: datetime, partition_key: str, listed: int,
    duration_seconds: float,
) -> None:
    conn.execute(
        query("record_applied_listing"),
        {
            "partition_key": partition_key,
            "fetched_at": fetched_at,
            "listed": listed,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "restored": result.restored,
            "removed": result.removed,
            "skipped_not_owned": result.skipped_not_owned,
            "removal_blocked": result.removal_blocked,
            "active": result.active_count,
            "removal_unverified": result.removal_unverified,
            "shrink_accepted": result.shrink_accepted,
            "duration_seconds": round(duration_seconds, 3),
        },
    )


def _stale_result(row_count: int, active_count: int) -> MergeResult:
    return MergeResult(
        created=0,
        updated=0,
        unchanged=0,
        removed=0,
        restored=0,
        skipped_not_owned=0,
        stale=True,
        removal_blocked=False,
        shrink_accepted=False,
        would_remove=0,
        removal_unverified=0,
        active_synced_before=0,
        row_count=row_count,
        active_count=active_count,
        created_ids=[],
        updated_ids=[],
        removed_ids=[],
        restored_ids=[],
    )
