"""Per-model details in the catalog: which models need them, and writing one model's at once (rule 12)."""

from sqlalchemy import Engine

from pocketai_pipeline.catalog.queries import query
from pocketai_pipeline.sync.details import DetailsTarget
from pocketai_pipeline.sync.files import ModelFile, runtime_format


def details_targets(engine: Engine, system_username: str) -> tuple[list[DetailsTarget], int]:
    """(the models needing details, most recently modified first; how many are already current)."""
    params = {"system_username": system_username}
    with engine.connect() as conn:
        targets = [DetailsTarget(*row) for row in conn.execute(query("models_needing_details"), params)]
        current = conn.execute(query("count_details_current"), params).scalar_one()
    return targets, current


def write_details(
    engine: Engine, target: DetailsTarget, files: list[ModelFile], description: str | None, system_username: str
) -> bool:
    """Replace the model's files with those of `target.sha` (adding them to the file history) and set its
    description, in one transaction.

    Returns False, writing nothing, when the row moved on meanwhile (another revision, or no longer synced).
    """
    with engine.begin() as conn:
        claimed = conn.execute(
            query("claim_model_details"),
            {"model_id": target.model_id, "sha": target.sha, "description": description,
             "system_username": system_username},
        ).scalar()
        if claimed is None:
            return False
        conn.execute(query("delete_model_files"), {"model_id": target.model_id})
        conn.execute(
            query("insert_model_files"),
            {
                "model_id": target.model_id,
                "sha": target.sha,
                "paths": [file.path for file in files],
                "sizes": [file.size_bytes for file in files],
                "sha256s": [file.sha256 for file in files],
                "formats": [runtime_format(file.path) for file in files],
            },
        )
    return True
