"""The sync into ``ml_models``: one locked transaction, records staged with COPY, set-based SQL.

Contract rules 1, 5, 6, 7, 9 and 10. Every listed model ends up in exactly one of created,
updated, restored, unchanged or skipped_not_owned. A synced model the listing lacks is marked
removed only when a lookup of its own confirmed it (``RemovalCheck``, made before the merge).
"""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from pocketai_pipeline.catalog.queries import query
from pocketai_pipeline.catalog.schema import SYSTEM_EMAIL, SYSTEM_USERNAME, ensure_system_user
from pocketai_pipeline.sync.removals import RemovalCheck
from pocketai_pipeline.sync.shrink import MAX_REMOVED_FRACTION, is_suspicious_shrink


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


def is_missing(value: object) -> bool:
    """Whether a DataFrame cell holds no value: None, pd.NA, NaN or NaT (pandas or numpy)."""
    if value is None:
        return True
    if isinstance(value, (list, tuple, np.ndarray)):
        return False
    return bool(pd.isna(value))


def to_text(value: object) -> str | None:
    return None if is_missing(value) else str(value)


def to_integer(value: object) -> int | None:
    return None if is_missing(value) else int(value)


def to_boolean(value: object) -> bool | None:
    return None if is_missing(value) else bool(value)


def to_timestamp(value: object) -> datetime | None:
    if is_missing(value):
        return None
    timestamp = pd.Timestamp(value)
    if timestamp.tzinfo is None:
        raise ValueError(f"{timestamp} has no time zone; records carry UTC timestamps")
    return timestamp.to_pydatetime()


def to_text_array(value: object) -> list[str]:
    """A list of strings (lists come back from Parquet as numpy arrays); a missing list is empty."""
    if is_missing(value):
        return []
    if isinstance(value, str):
        raise TypeError(f"expected a list of strings, got the string {value!r}")
    return [str(item) for item in value]


# In the column order of copy_listing_stage.sql.
STAGED_COLUMNS: dict[str, Callable[[object], object]] = {
    "hf_model_id": to_text,
    "name": to_text,
    "origin_repo_url": to_text,
    "tags": to_text_array,
    "task": to_text,
    "license_type": to_text,
    "downloads": to_integer,
    "likes": to_integer,
    "gated": to_boolean,
    "hf_sha": to_text,
    "hf_created_at": to_timestamp,
    "hf_last_modified": to_timestamp,
    "hf_license_id": to_text,
    "hf_license_name": to_text,
    "library_name": to_text,
    "base_models": to_text_array,
    "runtime_formats": to_text_array,
}


def staged_rows(records: pd.DataFrame) -> Iterator[tuple[object, ...]]:
    """The records as rows of plain Python values for COPY, every kind of missing value as None."""
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
    records: pd.DataFrame,
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

    Of the synced models the listing lacks, those in ``removals.confirmed`` are marked removed, unless
    so many are missing that the shrink is suspicious and ``accept_shrink`` is not given.
    """
    started = time.monotonic()
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at has no time zone; pass the UTC time the listing was fetched")
    rows = list(staged_rows(records))  # bad records fail here, before any lock is taken
    listed_ids = [row[0] for row in rows]

    with engine.begin() as conn:
        conn.execute(query("lock_merge"))
        newest_applied = conn.execute(query("newest_applied_fetched_at")).scalar()
        if newest_applied is not None and fetched_at < newest_applied:
            return _stale_result(
                row_count=conn.execute(query("count_models")).scalar_one(),
                active_count=conn.execute(query("count_active_models")).scalar_one(),
            )

        system_user_id = ensure_system_user(conn, system_username, system_email)
        active_synced, would_remove = _count_removal_candidates(conn, listed_ids, system_username)
        _stage(conn, rows)
        owner = {"system_user_id": system_user_id}
        skipped_not_owned = conn.execute(query("count_not_owned"), owner).scalar_one()
        created_ids = conn.execute(query("insert_new_models"), owner).scalars().all()
        rewritten = conn.execute(query("update_changed_models"), owner).all()
        suspicious = is_suspicious_shrink(active_synced, would_remove, max_removed_fraction)
        removal_blocked = suspicious and not accept_shrink
        removed_ids = [] if removal_blocked else conn.execute(
            query("mark_removed_models"), owner | {"confirmed_ids": removals.confirmed}
        ).scalars().all()

        restored_ids = [hf_model_id for hf_model_id, restored in rewritten if restored]
        updated_ids = [hf_model_id for hf_model_id, restored in rewritten if not restored]
        result = MergeResult(
            created=len(created_ids),
            updated=len(updated_ids),
            unchanged=len(rows) - len(created_ids) - len(rewritten) - skipped_not_owned,
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
        _record_applied_listing(conn, result, fetched_at=fetched_at, partition_key=partition_key, listed=len(rows),
                                duration_seconds=time.monotonic() - started)
        return result


def count_would_remove(
    engine: Engine, hf_model_ids: Iterable[str], system_username: str = SYSTEM_USERNAME
) -> tuple[int, int]:
    """(active synced models, how many of them a listing of ``hf_model_ids`` lacks)."""
    with engine.connect() as conn:
        return _count_removal_candidates(conn, list(hf_model_ids), system_username)


def removal_candidates(engine: Engine, hf_model_ids: Iterable[str], system_username: str = SYSTEM_USERNAME) -> list[str]:
    """The active synced models a listing of ``hf_model_ids`` lacks, sorted: each to be looked up on its own."""
    with engine.connect() as conn:
        return list(conn.execute(
            query("removal_candidates"), {"listed_ids": list(hf_model_ids), "system_username": system_username}
        ).scalars())


def _count_removal_candidates(conn: Connection, listed_ids: list[str], system_username: str) -> tuple[int, int]:
    counts = conn.execute(
        query("count_removal_candidates"), {"listed_ids": listed_ids, "system_username": system_username}
    ).one()
    return counts.active_synced, counts.would_remove


def _stage(conn: Connection, rows: list[tuple[object, ...]]) -> None:
    """Load the rows into the temp table hf_listing_stage (dropped at commit) with one COPY."""
    conn.execute(query("create_listing_stage"))
    psycopg_connection = conn.connection.driver_connection
    with psycopg_connection.cursor() as cursor, cursor.copy(query("copy_listing_stage").text) as copy:
        for row in rows:
            copy.write_row(row)


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
