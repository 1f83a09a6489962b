"""The old job (``hf_sync.py``), re-created as the baseline that ``make bench`` measures.

    python -m benchmarks.rowwise_baseline --endpoint URL --database-url URL --filter litert

The old job is not in this repository. This follows what is known of it (README: FastAPI + APScheduler,
the listing capped at 500, rows written one by one, ~763 models in ~40 s) and how such jobs are written:

- the listing comes from ``HfApi(endpoint=…).list_models(filter=…, full=True, cardData=True)``, huggingface_hub's
  own pagination (no ``limit``: the bench gives it the whole listing, as it gives every writer);
- each ``ModelInfo`` is mapped to the 18 synced columns (``benchmarks.fields``; ``license_type`` through the
  pipeline's license table, as the column is an enum);
- an SQLAlchemy ORM session (the table reflected with automap) then, per model: SELECT the row by
  ``hf_model_id``; if none, ``session.add`` a new object (flushed by the next query's autoflush: one INSERT …
  RETURNING id per model), else set every synced attribute and ``updated_at`` (one UPDATE per model that
  differs, which after ``updated_at = now()`` is every model); one COMMIT at the end.

It breaks rule 5 (every listed row is rewritten) and does nothing for rules 6, 7 and 9: removed models
are not marked, rows of people are overwritten, stale listings are not refused. Prints one JSON line:
``{"models", "fetch_seconds", "write_seconds", "seconds"}`` (fetch: time spent inside list_models' iterator).
"""

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from huggingface_hub import HfApi
from sqlalchemy import create_engine, func, select
from sqlalchemy.ext.automap import automap_base
from sqlalchemy.orm import Session

from benchmarks.fields import hub_fields
from pocketai_pipeline.catalog.schema import ensure_system_user
from pocketai_pipeline.sync.licenses import license_type


def model_values(model) -> dict:
    """The synced columns of one ``ModelInfo``."""
    card = model.card_data.to_dict() if model.card_data is not None else {}
    item = {
        "id": model.id, "tags": model.tags, "cardData": card, "pipeline_tag": model.pipeline_tag,
        "downloads": model.downloads, "likes": model.likes, "gated": model.gated, "sha": model.sha,
        "createdAt": model.created_at, "lastModified": model.last_modified, "library_name": model.library_name,
        "siblings": [{"rfilename": sibling.rfilename} for sibling in model.siblings or []],
    }
    values = hub_fields(item)
    values["license_type"] = license_type(values["hf_license_id"])
    return values


def old_job(endpoint: str, database_url: str, hub_filter: str) -> dict:
    started = time.perf_counter()
    engine = create_engine(database_url)
    base = automap_base()
    base.prepare(autoload_with=engine)
    MlModel = base.classes.ml_models
    fetch_seconds = 0.0
    count = 0
    with Session(engine) as session:
        system_user_id = ensure_system_user(session.connection())
        models = iter(HfApi(endpoint=endpoint).list_models(filter=hub_filter, full=True, cardData=True))
        while True:
            fetch_started = time.perf_counter()
            model = next(models, None)
            fetch_seconds += time.perf_counter() - fetch_started
            if model is None:
                break
            values = model_values(model)
            row = session.execute(select(MlModel).where(MlModel.hf_model_id == values["hf_model_id"])).scalar_one_or_none()
            if row is None:
                session.add(MlModel(**values, author_id=system_user_id))
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                row.updated_at = func.now()
            count += 1
        session.commit()
    engine.dispose()
    seconds = time.perf_counter() - started
    return {"models": count, "fetch_seconds": fetch_seconds, "write_seconds": seconds - fetch_seconds, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--filter", default="litert")
    args = parser.parse_args()
    print(json.dumps(old_job(args.endpoint, args.database_url, args.filter)), flush=True)


if __name__ == "__main__":
    main()
