"""This pipeline's phases, in process: the plain functions the assets call, each timed.

    python -m benchmarks.phases --endpoint URL --database-url URL --partition 2026-12-01

fetch (``stream_listing``: every page checked and held in memory as the JSON text of its models),
normalize (``normalize_lines``: both passes, the records as Arrow tables in memory), lookups (the
removal candidates, each looked up on its own as the ``ml_models`` asset does: rule 7), merge
(``merge_records``). Prints one JSON line. The database is migrated before (by the bench).
"""

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from benchmarks.listings import FILTER
from sqlalchemy import create_engine

from pocketai_pipeline.catalog.audit import missing_synced_models
from pocketai_pipeline.catalog.merge import merge_records
from pocketai_pipeline.catalog.schema import SYSTEM_USERNAME
from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.removals import check_removals
from pocketai_pipeline.hub.listing import stream_listing
from pocketai_pipeline.sync.json_lines import in_chunks
from pocketai_pipeline.sync.normalize import CHUNK_BYTES, normalize_lines
from pocketai_pipeline.sync.removals import RemovalCheck
from pocketai_pipeline.sync.shrink import is_suspicious_shrink


def phases(endpoint: str, database_url: str, partition: str) -> dict:
    filters = (FILTER,)
    engine = create_engine(database_url)  # migrated by the bench; no Dagster import (its start-up is not a phase)
    client = HubClient(endpoint=endpoint)

    started = time.perf_counter()
    stream = stream_listing(client, filters).start()
    lines = [model for page in stream.iter_pages() for model in page]
    fetched_at = stream.summary().fetched_at
    fetched = time.perf_counter()
    with normalize_lines(in_chunks(lines, CHUNK_BYTES)) as normalized:  # buffers as the stored listing gives
        records = list(normalized.tables())
        listed_ids = normalized.ids()
    del lines
    normalized_at = time.perf_counter()

    active, missing = missing_synced_models(engine, listed_ids, SYSTEM_USERNAME)
    removals = RemovalCheck()
    if missing and not is_suspicious_shrink(active, len(missing)):
        removals = check_removals(client, missing, filters)
    looked_up = time.perf_counter()

    result = merge_records(engine, records, fetched_at=fetched_at, partition_key=partition, removals=removals)
    merged = time.perf_counter()
    engine.dispose()
    return {
        "records": len(listed_ids),
        "fetch_seconds": fetched - started,
        "normalize_seconds": normalized_at - fetched,
        "lookup_seconds": looked_up - normalized_at,
        "lookups": len(missing) if removals.confirmed or removals.unverified else 0,
        "merge_seconds": merged - looked_up,
        "created": result.created, "updated": result.updated, "unchanged": result.unchanged,
        "removed": result.removed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--partition", required=True)
    args = parser.parse_args()
    print(json.dumps(phases(args.endpoint, args.database_url, args.partition)), flush=True)


if __name__ == "__main__":
    main()
