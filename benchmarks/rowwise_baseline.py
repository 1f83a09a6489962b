"""The old job's write loop (``hf_sync.py``), re-created as the baseline that ``make bench`` measures.

The old job is not in this repository. This follows what is known of it (CONTRACT.md: row by row,
~763 models in ~40 s) and how such SQLAlchemy jobs are written: for each model, one SELECT of its row
by ``hf_model_id``, then one INSERT, or one UPDATE of every synced column and ``updated_at`` whether or
not anything changed. Each statement is its own round trip; the whole loop is one transaction,
committed once at the end (an ORM session that sets ``updated_at`` and autoflushes before each query
sends as many statements). The table is reflected once per run, a few statements more.

It applies the same normalized records as ``merge_records``, converted by the same ``staged_rows``.
It breaks rule 5 (every listed row is rewritten) and does nothing for rules 6, 7 and 9: rows of
people are overwritten, missing models are not marked, stale listings are not refused.
"""

import pandas as pd
from sqlalchemy import Engine, MetaData, Table, bindparam, func, insert, select, update

from pocketai_pipeline.catalog.merge import STAGED_COLUMNS, staged_rows
from pocketai_pipeline.catalog.schema import ensure_system_user


def rowwise_sync(engine: Engine, records: pd.DataFrame) -> None:
    """Write ``records`` into ml_models one model at a time: SELECT, then INSERT or UPDATE."""
    with engine.begin() as conn:
        ml_models = Table("ml_models", MetaData(), autoload_with=conn)
        # Built once and executed with each model's values, so the loop costs round trips, not statement building.
        find = select(ml_models).where(ml_models.c.hf_model_id == bindparam("listed_id"))
        add = insert(ml_models)
        rewrite = update(ml_models).where(ml_models.c.id == bindparam("row_id")).values(updated_at=func.now())
        system_user_id = ensure_system_user(conn)
        for row in staged_rows(records):
            values = dict(zip(STAGED_COLUMNS, row, strict=True))
            existing = conn.execute(find, {"listed_id": values["hf_model_id"]}).first()
            if existing is None:
                conn.execute(add, values | {"author_id": system_user_id})
            else:
                conn.execute(rewrite, values | {"row_id": existing.id})
