"""The bench's Dagster floor: the sync's three steps with the same Dagster shape and no work.

    dagster asset materialize -m benchmarks.dagster_noop --select hf_litert_listing,litert_model_records,ml_models \
        --partition 2026-10-01

The same asset names, daily partitions, checks (the first one blocking), retry policy, concurrency pool and
in-process executor as `pocketai_pipeline.definitions`; each step returns a few bytes and passes its
checks. What `dagster asset materialize` of it takes is what Dagster itself costs for this job, whatever
the steps do: the bench measures it on a DAGSTER_HOME of its own, next to the real one.
"""

import dagster as dg

from pocketai_pipeline.defs.partitions import daily_partitions  # dagster alone: nothing of the sync is imported

RECORDS_CHECKS = [
    dg.AssetCheckSpec("listing_not_suspiciously_shrunk", asset="litert_model_records", blocking=True),
    dg.AssetCheckSpec("records_have_unique_ids", asset="litert_model_records"),
    dg.AssetCheckSpec("records_have_required_fields", asset="litert_model_records"),
]
ML_MODELS_CHECKS = [
    dg.AssetCheckSpec("ml_models_match_listing", asset="ml_models"),
    dg.AssetCheckSpec("ml_models_synced_rows_owned_by_system_user", asset="ml_models"),
    dg.AssetCheckSpec("ml_models_have_licenses", asset="ml_models"),
]


@dg.asset(partitions_def=daily_partitions, code_version="1", retry_policy=dg.RetryPolicy(max_retries=1))
def hf_litert_listing() -> list[str]:
    return []


@dg.asset(partitions_def=daily_partitions, code_version="1", check_specs=RECORDS_CHECKS)
def litert_model_records(hf_litert_listing: list[str]):
    yield dg.Output(hf_litert_listing)
    for spec in RECORDS_CHECKS:
        yield dg.AssetCheckResult(check_name=spec.name, passed=True)


@dg.asset(partitions_def=daily_partitions, code_version="1", check_specs=ML_MODELS_CHECKS, pool="pocketai_catalog_merge")
def ml_models(litert_model_records: list[str]) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[dg.AssetCheckResult(check_name=spec.name, passed=True) for spec in ML_MODELS_CHECKS]
    )


defs = dg.Definitions(assets=[hf_litert_listing, litert_model_records, ml_models], executor=dg.in_process_executor)
