"""The sync assets: Hub listing → normalized records → the ml_models table."""

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import dagster as dg
import pandas as pd

from pocketai_pipeline.catalog.merge import merge_records
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.checks import (
    LISTING_CHECKS,
    ML_MODELS_CHECKS,
    RECORDS_CHECKS,
    listing_shrink_check,
    ml_models_checks,
    records_checks,
)
from pocketai_pipeline.hub.listing import HubListing
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.metadata import ML_MODELS_SCHEMA, listing_metadata, merge_metadata, records_metadata
from pocketai_pipeline.partitions import daily_partitions
from pocketai_pipeline.settings import hub_step_retries, hub_step_retry_delay_seconds
from pocketai_pipeline.sync.records import normalize_listing

GROUP = "hf_litert_sync"
OWNERS = ["team:pocket-ai-data"]

hub_models = dg.AssetSpec(
    "huggingface_hub_models",
    description="Public models on the Hugging Face Hub (external: read through its /api/models listing).",
    group_name=GROUP,
    kinds={"huggingface"},
    owners=OWNERS,
)


@dg.asset(
    deps=[hub_models],
    partitions_def=daily_partitions,
    group_name=GROUP,
    io_manager_key="listing_io_manager",
    kinds={"huggingface", "json"},
    owners=OWNERS,
    code_version="1",
    check_specs=LISTING_CHECKS,
    # Whole-step retries on top of the per-request ones: the Hub's bad minutes pass.
    retry_policy=dg.RetryPolicy(
        max_retries=hub_step_retries(),
        delay=hub_step_retry_delay_seconds(),
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    ),
    description="Every model the Hub lists for the filter, exactly as the Hub sent it (gzip JSON lines).",
)
def hf_litert_listing(hub: HubResource, catalog: CatalogResource) -> Iterator:
    listing = hub.fetch_listing()
    yield dg.Output(listing, metadata=listing_metadata(listing))
    listed_ids = normalize_listing(listing.models).records["hf_model_id"].tolist()
    yield listing_shrink_check(catalog.engine(), listed_ids, catalog.system_username)


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    io_manager_key="records_io_manager",
    kinds={"pandas", "parquet"},
    owners=OWNERS,
    code_version="1",
    check_specs=RECORDS_CHECKS,
    description="One validated, de-duplicated record per public model; malformed ones are reported and left out.",
)
def litert_model_records(context: dg.AssetExecutionContext, hf_litert_listing: HubListing) -> Iterator:
    normalized = normalize_listing(hf_litert_listing.models)
    for reject in normalized.rejects:
        context.log.warning(f"left out {reject.hf_model_id or 'a record'}: {reject.reason}")
    records = normalized.records
    records.attrs = {
        "fetched_at": hf_litert_listing.fetched_at.isoformat(),
        "skipped_private_or_disabled": normalized.skipped_private + normalized.skipped_disabled,
        "skipped_invalid": len(normalized.rejects),
    }
    yield dg.Output(records, metadata=records_metadata(normalized))
    yield from records_checks(records)


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    code_version="1",
    pool="pocketai_catalog_merge",
    check_specs=ML_MODELS_CHECKS,
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26)),
    metadata={"dagster/table_name": "public.ml_models", "dagster/column_schema": ML_MODELS_SCHEMA},
    description="The Pocket AI catalog table, merged from the records in one transaction.",
)
def ml_models(
    context: dg.AssetExecutionContext, catalog: CatalogResource, litert_model_records: pd.DataFrame
) -> dg.MaterializeResult:
    started = time.monotonic()
    engine = catalog.engine()
    result = merge_records(
        engine,
        litert_model_records,
        fetched_at=datetime.fromisoformat(litert_model_records.attrs["fetched_at"]),
        partition_key=context.partition_key,
        system_username=catalog.system_username,
        system_email=catalog.system_email,
    )
    if result.stale:
        context.log.warning(f"partition {context.partition_key}: a newer listing is already applied; nothing changed")
    listed_ids = litert_model_records["hf_model_id"].tolist()
    return dg.MaterializeResult(
        metadata=merge_metadata(result, litert_model_records.attrs, time.monotonic() - started),
        check_results=ml_models_checks(engine, listed_ids, result, catalog.system_username),
    )
