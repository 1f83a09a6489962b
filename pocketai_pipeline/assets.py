"""The three sync assets: Hub listing → normalized records → the ml_models table."""

import time
from datetime import datetime

import dagster as dg
import pandas as pd

from pocketai_pipeline.catalog.merge import merge_records
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.listing import HubListing
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.metadata import listing_metadata, merge_metadata, records_metadata
from pocketai_pipeline.partitions import daily_partitions
from pocketai_pipeline.sync.records import normalize_listing

GROUP = "hf_litert_sync"


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    io_manager_key="listing_io_manager",
    kinds={"huggingface", "json"},
    description="Every model the Hub lists for the filter, exactly as the Hub sent it (gzip JSON lines).",
)
def hf_litert_listing(hub: HubResource) -> dg.Output[HubListing]:
    listing = hub.fetch_listing()
    return dg.Output(listing, metadata=listing_metadata(listing))


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    io_manager_key="records_io_manager",
    kinds={"pandas", "parquet"},
    description="One validated, de-duplicated record per public model; malformed ones are reported and left out.",
)
def litert_model_records(context: dg.AssetExecutionContext, hf_litert_listing: HubListing) -> dg.Output[pd.DataFrame]:
    normalized = normalize_listing(hf_litert_listing.models)
    for reject in normalized.rejects:
        context.log.warning(f"skipped {reject.hf_model_id or '(no id)'}: {reject.reason}")
    records = normalized.records
    records.attrs = {
        "fetched_at": hf_litert_listing.fetched_at.isoformat(),
        "skipped_upstream": normalized.skipped_private + normalized.skipped_disabled + len(normalized.rejects),
    }
    return dg.Output(records, metadata=records_metadata(normalized))


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    kinds={"postgres"},
    pool="pocketai_catalog_merge",
    description="The Pocket AI catalog table, merged from the records in one transaction.",
)
def ml_models(
    context: dg.AssetExecutionContext, catalog: CatalogResource, litert_model_records: pd.DataFrame
) -> dg.MaterializeResult:
    started = time.monotonic()
    result = merge_records(
        catalog.engine(),
        litert_model_records,
        fetched_at=datetime.fromisoformat(litert_model_records.attrs["fetched_at"]),
        partition_key=context.partition_key,
        system_username=catalog.system_username,
        system_email=catalog.system_email,
    )
    if result.stale:
        context.log.warning(f"partition {context.partition_key}: a newer listing is already applied; nothing changed")
    skipped_upstream = litert_model_records.attrs.get("skipped_upstream", 0)
    return dg.MaterializeResult(metadata=merge_metadata(result, skipped_upstream, time.monotonic() - started))
