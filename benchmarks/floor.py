"""The floor: a binary COPY of the same rows into an empty UNLOGGED table with the same columns.

    python -m benchmarks.floor --endpoint URL --database-url URL

The listing is fetched and normalized first (untimed) and turned into rows by the pipeline's
``staged_rows``; then, timed: CREATE UNLOGGED TABLE, one ``COPY … (FORMAT BINARY)`` of every row
(psycopg 3, ``write_row`` with the column types set), COMMIT. Prints one JSON line.
"""

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import psycopg
from sqlalchemy.engine import make_url

from benchmarks.listings import FILTER
from pocketai_pipeline.catalog.merge import STAGED_COLUMNS, staged_rows
from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.listing import fetch_listing
from pocketai_pipeline.sync.normalize import normalize_listing

TYPES = {
    "hf_model_id": "text", "name": "text", "origin_repo_url": "text", "tags": "text[]", "task": "text",
    "license_type": "text", "downloads": "int8", "likes": "int8", "gated": "bool", "hf_sha": "text",
    "hf_created_at": "timestamptz", "hf_last_modified": "timestamptz", "hf_license_id": "text",
    "hf_license_name": "text", "library_name": "text", "base_models": "text[]", "runtime_formats": "text[]",
    "hf_gated": "text",
}
assert list(TYPES) == list(STAGED_COLUMNS)


def floor(endpoint: str, database_url: str) -> dict:
    listing = fetch_listing(HubClient(endpoint=endpoint), (FILTER,))
    rows = list(staged_rows(normalize_listing(listing.models).records))
    del listing
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS floor_models")
        conn.commit()
        started = time.perf_counter()
        columns = ", ".join(f"{name} {kind}" for name, kind in TYPES.items())
        conn.execute(f"CREATE UNLOGGED TABLE floor_models ({columns})")
        with conn.cursor().copy(f"COPY floor_models ({', '.join(TYPES)}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(list(TYPES.values()))
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
    return {"rows": len(rows), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    print(json.dumps(floor(args.endpoint, args.database_url)), flush=True)


if __name__ == "__main__":
    main()
