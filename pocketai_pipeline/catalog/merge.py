"""The sync into ``ml_models``: only what changed is shipped, in chunks, with binary COPY; set-based SQL.

Contract rules 1, 5, 6, 7, 9 and 10. The design:

1. **Hash.** Every record gets a content hash of exactly the fields the merge writes
   (``sync.content_hash``), computed vectorized per chunk; ``ml_models.hf_sync_hash`` keeps the hash
   of what was last written.
2. **Read the catalog once.** One SELECT, read straight into Arrow, gives each row's id, stored hash,
   owner, and whether it is marked removed (``catalog_sync_state.sql``).
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

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine

from pocketai_pipeline.catalog.audit import CatalogIds, catalog_ids
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
IDS_KEPT = 1000
"""How many ids of each kind of change a ``MergeResult`` keeps (its counts are exact)."""

# The synced fields, each with its value-by-value conversion (``staged_rows``).
STAGED_COLUMNS = {name: converter(name) for name in SYNCED_FIELDS}

# The COPY types of copy_listing_stage.sql's columns: lists go as array literals (text) and
# timestamps as microseconds since 1970 (int8); the SQL casts them back.
_STAGE_TYPES = [
    "text" if kind == TEXT_LIST else "int8" if kind in (INTEGER, TIMESTAMP) else "bool" if kind == BOOLEAN else "text"
    for kind in SYNCED_FIELDS.values()
] + ["bytea"]

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
    """The first ``IDS_KEPT`` created ids, sorted; likewise the three lists below."""
    updated_ids: list[str]
    removed_ids: list[str]
    restored_ids: list[str]


@dataclass(frozen=True)
class _CatalogState:
    """The catalog's rows with a Hub id (``CatalogIds`` with their hashes), looked up by id."""

    rows: CatalogIds

    def active_synced(self) -> pa.Array:
        return self.rows.synced_active()

    @cached_property
    def _owned_removed(self) -> tuple[np.ndarray, np.ndarray]:
        return self.rows.system_owned.to_numpy(zero_copy_only=False), ~self.rows.active.to_numpy(zero_copy_only=False)

    def states(self, ids: pa.Array) -> tuple[np.ndarray, pa.Array, np.ndarray, np.ndarray]:
        """For each of `ids`: (whether it has a row, its hash, owned, removed); for no row: null, False, False."""
        # The chunk's ids are the hash table and each catalog id probes it: ~50 ms a chunk at a million
        # rows, and no million-entry dict (~230 MB) of the catalog's ids.
        found = pc.index_in(self.rows.ids, value_set=ids)
        found_rows = pc.is_valid(found)
        at = np.full(len(ids), -1, dtype=np.int64)
        at[found.filter(found_rows).to_numpy()] = np.flatnonzero(found_rows.to_numpy(zero_copy_only=False))
        known = at >= 0
        if not len(self.rows.ids):
            return known, pa.nulls(len(ids), pa.binary()), known.copy(), known.copy()
        hashes = pc.take(self.rows.hashes, pa.array(at, mask=~known))
        at[~known] = 0
        owned, removed = self._owned_removed
        return known, hashes, owned[at] & known, removed[at] & known


@dataclass
class _Staging:
    """What reading the listing against the catalog found, and what it put in the stage."""

    catalog: _CatalogState
    listed: list[pa.Array] = field(default_factory=list)
    """The listed ids, chunk by chunk."""
    unstaged: list[pa.Array] = field(default_factory=list)
    """The listed ids that were not staged, chunk by chunk."""
    staged: int = 0
    not_owned: int = 0
    """Listed models owned by someone else (never staged)."""

    def listed_ids(self) -> pa.Array:
        return pa.concat_arrays(self.listed) if self.listed else pa.array([], pa.string())


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
    columns, or the stored records' ``RECORD_SCHEMA``), read once. Of the synced models the listing
    lacks, those in ``removals.confirmed`` are marked removed, unless so many are missing that the
    shrink is suspicious and ``accept_shrink`` is not given.
    """
    started = time.monotonic()
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at has no time zone; pass the UTC time the listing was fetched")

    with engine.begin() as conn:
        last_merge = conn.execute(query("last_applied_listing")).scalar()
        staging = _Staging(catalog=_read_catalog(conn, system_username))
        for chunk in _chunks(records):  # bad records fail here, before the merge lock is taken
            _stage_chunk(conn, staging, chunk)
        listed_ids = staging.listed_ids()
        _refuse_duplicates(listed_ids)
        listed = len(listed_ids)
        logger.info("merge staged %d of %d listed records", staging.staged, listed,
                    extra={"staged": staging.staged, "listed": listed})

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
        active = staging.catalog.active_synced()
        active_synced = len(active)
        would_remove = active_synced - (pc.sum(pc.is_in(active, value_set=listed_ids)).as_py() or 0)
        skipped_not_owned = staging.not_owned
        created = updated = restored = 0
        created_ids, updated_ids, restored_ids = [], [], []
        if staging.staged:
            skipped_not_owned += conn.execute(query("count_not_owned"), owner).scalar_one()
            created, created_ids = conn.execute(query("insert_new_models"), owner | {"kept": IDS_KEPT}).one()
            updated, updated_ids, restored, restored_ids = conn.execute(
                query("update_changed_models"), owner | {"kept": IDS_KEPT}
            ).one()
        suspicious = is_suspicious_shrink(active_synced, would_remove, max_removed_fraction)
        removal_blocked = suspicious and not accept_shrink
        confirmed = pa.array(list(removals.confirmed), pa.string())
        unlisted_confirmed = confirmed.filter(pc.invert(pc.is_in(confirmed, value_set=listed_ids))).to_pylist()
        removed_ids = [] if removal_blocked or not unlisted_confirmed else conn.execute(
            query("mark_removed_models"), owner | {"unlisted_confirmed_ids": unlisted_confirmed}
        ).scalars().all()

        result = MergeResult(
            created=created,
            updated=updated,
            unchanged=listed - created - updated - restored - skipped_not_owned,
            removed=len(removed_ids),
            restored=restored,
            skipped_not_owned=skipped_not_owned,
            stale=False,
            removal_blocked=removal_blocked,
            shrink_accepted=suspicious and accept_shrink,
            would_remove=would_remove,
            removal_unverified=0 if removal_blocked else would_remove - len(removed_ids),
            active_synced_before=active_synced,
            row_count=conn.execute(query("count_models")).scalar_one(),
            active_count=conn.execute(query("count_active_models")).scalar_one(),
            created_ids=created_ids,
            updated_ids=updated_ids,
            removed_ids=sorted(removed_ids)[:IDS_KEPT],
            restored_ids=restored_ids,
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


def _read_catalog(conn: Connection, system_username: str) -> _CatalogState:
    return _CatalogState(catalog_ids(conn.engine, system_username, with_hashes=True))


def _refuse_duplicates(listed_ids: pa.Array) -> None:
    if pc.count_distinct(listed_ids).as_py() == len(listed_ids):
        return
    counts = pc.value_counts(listed_ids)
    twice = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")[0].as_py()
    raise ValueError(f"record {twice!r} cannot be merged: the listing has it twice")


def _stage_chunk(conn: Connection, staging: _Staging, chunk: pd.DataFrame | pa.Table) -> None:
    """Convert and hash one chunk, and COPY those of its records that differ from the catalog."""
    table = staged_form(synced_table(chunk))
    hashes = row_hashes(table)
    ids = table.column("hf_model_id").combine_chunks()
    known, stored, owned, removed = staging.catalog.states(ids)
    # New, marked removed, synced before hashes (no stored hash), or another hash: staged (if owned).
    differs = pc.fill_null(pc.not_equal(stored, pa.array(hashes, pa.binary())), True)
    staged = ~known | (owned & (removed | differs.to_numpy(zero_copy_only=False)))
    staging.not_owned += int((known & ~owned).sum())
    staging.listed.append(ids)
    staging.unstaged.append(ids.filter(pa.array(~staged)))
    positions = np.flatnonzero(staged)
    if not len(positions):
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
    unstaged = pa.concat_arrays(staging.unstaged) if staging.unstaged else pa.array([], pa.string())
    before, now = staging.catalog.states(unstaged), catalog.states(unstaged)
    same_hash = pc.fill_null(pc.equal(before[1], now[1]), False).to_numpy(zero_copy_only=False)
    same_hash |= pc.and_(pc.is_null(before[1]), pc.is_null(now[1])).to_numpy(zero_copy_only=False)
    changed = (before[0] != now[0]) | (before[2] != now[2]) | (before[3] != now[3]) | ~same_hash
    if changed.any():
        raise RuntimeError(
            f"another merge changed {unstaged[int(np.flatnonzero(changed)[0])].as_py()!r} while this one was "
            "staging the listing; run this merge again"
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
