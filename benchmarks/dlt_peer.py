"""The peer a user would pick: dlt's `rest_api` source → PostgreSQL, `merge` with the `upsert` strategy.

    benchmarks/.venv-dlt/bin/python benchmarks/dlt_peer.py --endpoint URL --dsn postgresql://… --pipelines-dir DIR

Runs in its own venv (``dlt[postgres]``, made by the bench). The resource reads `GET /api/models` with the
same query as the pipeline (filter, full, cardData), follows the `Link` header (paginator `header_link`),
maps every item to the 18 synced fields (``fields.hub_fields``, a plain function) and merges them on the
primary key ``hf_model_id`` (``write_disposition={"disposition": "merge", "strategy": "upsert"}``). The
three lists are stored as JSON columns (else dlt would normalize them into child tables), the two dates
as timestamps. dlt marks nothing removed (it has no rule 7). Prints one JSON line.
"""

import argparse
import json
import os
import time

os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.sources.rest_api import rest_api_source

from fields import hub_fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--pipelines-dir", required=True)
    parser.add_argument("--filter", default="litert")
    args = parser.parse_args()
    started = time.perf_counter()
    source = rest_api_source({
        "client": {"base_url": f"{args.endpoint.rstrip('/')}/api/", "paginator": {"type": "header_link"}},
        "resources": [{
            "name": "ml_models",
            "primary_key": "hf_model_id",
            "write_disposition": {"disposition": "merge", "strategy": "upsert"},
            "endpoint": {
                "path": "models",
                "params": {"filter": args.filter, "full": "true", "cardData": "true"},
                "data_selector": "$",
            },
            "columns": {
                "tags": {"data_type": "json"}, "base_models": {"data_type": "json"},
                "runtime_formats": {"data_type": "json"},
                "hf_created_at": {"data_type": "timestamp"}, "hf_last_modified": {"data_type": "timestamp"},
            },
            "processing_steps": [{"map": hub_fields}],
        }],
    })
    pipeline = dlt.pipeline(
        pipeline_name="hf_bench", pipelines_dir=args.pipelines_dir, dataset_name="hf",
        destination=dlt.destinations.postgres(credentials=args.dsn),
    )
    info = pipeline.run(source)
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("ml_models", 0)
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started, "loads": len(info.loads_ids)}), flush=True)


if __name__ == "__main__":
    main()
