"""What the catalog holds for the listed ids: the synced models a listing lacks (rule 7), and the
questions the asset checks ask after a merge.

The catalog's ids are read once, straight into Arrow (`catalog_ids`); the questions are pure
functions of that table and the listed ids, so a listing of a million ids is never sent as a parameter.
"""

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine

from pocketai_pipeline.catalog.queries import query, read_arrow
from pocketai_pipeline.catalog.schema import SYSTEM_USERNAME

_ROW_FIELDS = [("hf_model_id", pa.string()), ("author_id", pa.int64()), ("removed", pa.bool_())]
_HASH_FIELD = ("hf_sync_hash", pa.binary())


@dataclass(frozen=True)
class CatalogIds:
    """Every catalog row with a Hub id, and which of them are the system user's."""

    ids: pa.Array
    system_owned: pa.Array
    """Owned by the system user (synced, contract rule 6)."""
    active: pa.Array
    """Not marked removed upstream."""
    hashes: pa.Array | None = None
    """The stored content hash (read for the merge), null for a row synced before hashes were kept."""

    def synced_active(self) -> pa.Array:
        return self.ids.filter(pc.and_(self.system_owned, self.active))


def catalog_ids(engine: Engine, system_username: str, with_hashes: bool = False) -> CatalogIds:
    schema = pa.schema([*_ROW_FIELDS, _HASH_FIELD] if with_hashes else _ROW_FIELDS)
    table = read_arrow(engine, query("catalog_sync_state" if with_hashes else "catalog_ids").text, schema)
    # Looked up after the rows: the system user is never deleted, so it owns every row the read saw it
    # own, even rows that a concurrent first merge committed with it.
    with engine.connect() as conn:
        system_user_id = conn.execute(query("find_user"), {"username": system_username}).scalar()
    author = table.column("author_id").combine_chunks()
    owned = pc.equal(author, system_user_id) if system_user_id is not None else pa.array([False] * len(author), pa.bool_())
    return CatalogIds(
        ids=table.column("hf_model_id").combine_chunks(),
        system_owned=pc.fill_null(owned, False),
        active=pc.invert(table.column("removed").combine_chunks()),
        hashes=table.column("hf_sync_hash").combine_chunks() if with_hashes else None,
    )


def missing_synced(catalog: CatalogIds, listed_ids: pa.Array) -> tuple[int, list[str]]:
    """(how many synced models are active, those of them the listing lacks, sorted)."""
    active = catalog.synced_active()
    return len(active), sorted(active.filter(pc.invert(pc.is_in(active, value_set=listed_ids))).to_pylist())


def missing_synced_models(
    engine: Engine, listed_ids: pa.Array | list[str], system_username: str = SYSTEM_USERNAME
) -> tuple[int, list[str]]:
    """`missing_synced` of the catalog as it is now."""
    return missing_synced(catalog_ids(engine, system_username), pa.array(listed_ids, pa.string()))


def synced_rows_vs_listing(catalog: CatalogIds, listed_ids: pa.Array) -> tuple[list[str], list[str]]:
    """(listed ids without an active synced row nor a row of a person, active synced rows the listing lacks)."""
    accounted_for = catalog.ids.filter(pc.or_(pc.and_(catalog.system_owned, catalog.active), pc.invert(catalog.system_owned)))
    missing = listed_ids.filter(pc.invert(pc.is_in(listed_ids, value_set=accounted_for)))
    _, unexpected = missing_synced(catalog, listed_ids)
    return sorted(set(missing.to_pylist())), unexpected


def listed_rows_owned_by_system_user(catalog: CatalogIds, listed_ids: pa.Array) -> int:
    owned = catalog.ids.filter(catalog.system_owned)
    return pc.sum(pc.is_in(owned, value_set=listed_ids)).as_py() or 0


def null_license_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(query("count_null_licenses")).scalar_one()
