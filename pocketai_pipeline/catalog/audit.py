"""Read-only questions the asset checks ask the catalog after a merge."""

from sqlalchemy import Engine

from pocketai_pipeline.catalog.queries import query


def synced_rows_vs_listing(engine: Engine, listed_ids: list[str], system_username: str) -> tuple[list[str], list[str]]:
    """(listed ids without an active synced row, active synced rows the listing does not have)."""
    with engine.connect() as conn:
        row = conn.execute(
            query("audit_synced_rows"), {"listed_ids": listed_ids, "system_username": system_username}
        ).one()
    return list(row.missing), list(row.unexpected)


def listed_rows_owned_by_system_user(engine: Engine, listed_ids: list[str], system_username: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            query("count_listed_owned_by_system"), {"listed_ids": listed_ids, "system_username": system_username}
        ).scalar_one()


def null_license_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(query("count_null_licenses")).scalar_one()
