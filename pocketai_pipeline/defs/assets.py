"""The sync assets: Hub listing → normalized records → the ml_models table → per-model details → file facts."""

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import dagster as dg
import pyarrow as pa
from pydantic import Field

from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.defs.checks import (
    ML_MODELS_CHECKS,
    RECORDS_CHECKS,
    ml_models_checks,
    records_checks,
    shrink_check,
)
from pocketai_pipeline.defs.failures import failing_fast
from pocketai_pipeline.hub.file_reads import HEADER_READS
from pocketai_pipeline.hub.listing import ListingStream
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.defs.metadata import (
    ML_MODELS_SCHEMA,
    details_metadata,
    file_facts_metadata,
    merge_metadata,
    quota_metadata,
    records_metadata,
)
from pocketai_pipeline.defs.partitions import daily_partitions
from pocketai_pipeline.settings import hub_step_retries, hub_step_retry_delay_seconds
from pocketai_pipeline.defs.io_managers import RecordFrames, StoredListing, StoredRecords
from pocketai_pipeline.sync.details import refresh_details
from pocketai_pipeline.sync.file_facts_refresh import refresh_file_facts
from pocketai_pipeline.sync.normalize import normalize_lines
from pocketai_pipeline.sync.removals import RemovalCheck
from pocketai_pipeline.sync.shrink import is_suspicious_shrink

GROUP = "hf_litert_sync"
OWNERS = ["team:pocket-ai-data"]

hub_models = dg.AssetSpec(
    "huggingface_hub_models",
    description="Public models on the Hugging Face Hub (external: read through its /api/models listing).",
    group_name=GROUP,
    kinds={"huggingface"},
    owners=OWNERS,
)


class MlModelsConfig(dg.Config):
    accept_shrink: bool = Field(
        default=False,
        description="Accept one real shrink of the listing: mark the missing models that their own lookup "
        "confirms gone, although more than 20% of the synced models are missing (contract rule 7).",
    )


def shrink_accepted(context: dg.AssetExecutionContext) -> bool:
    """The run's `accept_shrink` (declared on ml_models, so any step of the run can read it)."""
    config = context.run.run_config.get("ops", {}).get("ml_models", {}).get("config", {})
    return bool(config.get("accept_shrink", False))


@dg.asset(
    deps=[hub_models],
    partitions_def=daily_partitions,
    group_name=GROUP,
    io_manager_key="listing_io_manager",
    kinds={"huggingface", "json"},
    owners=OWNERS,
    code_version="2",
    # Whole-step retries on top of the per-request ones: the Hub's bad minutes pass.
    retry_policy=dg.RetryPolicy(
        max_retries=hub_step_retries(),
        delay=hub_step_retry_delay_seconds(),
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    ),
    description="Every model the Hub lists for the filters, exactly as the Hub sent it (zstd JSON lines).",
)
def hf_litert_listing(context: dg.AssetExecutionContext, hub: HubResource) -> ListingStream:
    # The IO manager writes the pages as they arrive; the first one is fetched here, so that a wrong
    # HF_ENDPOINT or HF_TOKEN fails fast in this step's own code.
    with failing_fast(context):
        return hub.stream_listing().start()


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    io_manager_key="records_io_manager",
    kinds={"pandas", "parquet"},
    owners=OWNERS,
    code_version="3",
    check_specs=RECORDS_CHECKS,
    description="One validated, de-duplicated record per public model; malformed ones are reported and left out.",
)
def litert_model_records(
    context: dg.AssetExecutionContext, catalog: CatalogResource, hf_litert_listing: StoredListing
) -> Iterator:
    with normalize_lines(hf_litert_listing.iter_chunks()) as normalized:
        for reject in normalized.rejects:
            context.log.warning(f"left out {reject.hf_model_id or 'a record'}: {reject.reason}")
        with failing_fast(context):
            active, missing = catalog.missing_synced_models(normalized.ids())
        attrs = {
            "fetched_at": hf_litert_listing.fetched_at.isoformat(),
            "filters": list(hf_litert_listing.filters),
            "skipped_private_or_disabled": normalized.skipped_private + normalized.skipped_disabled,
            "skipped_invalid": len(normalized.rejects),
        }
        yield dg.Output(RecordFrames(normalized.tables(), attrs), metadata=records_metadata(normalized))
        yield from records_checks(normalized.audit)
    yield shrink_check(active, len(missing), accepted=shrink_accepted(context))


@dg.asset(
    partitions_def=daily_partitions,
    group_name=GROUP,
    kinds={"postgres"},
    owners=OWNERS,
    code_version="2",
    pool="pocketai_catalog_merge",
    check_specs=ML_MODELS_CHECKS,
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26)),
    metadata={"dagster/table_name": "public.ml_models", "dagster/column_schema": ML_MODELS_SCHEMA},
    description="The Pocket AI catalog table, merged from the records in one transaction.",
)
def ml_models(
    context: dg.AssetExecutionContext,
    config: MlModelsConfig,
    hub: HubResource,
    catalog: CatalogResource,
    litert_model_records: StoredRecords,
) -> dg.MaterializeResult:
    started = time.monotonic()
    listed_ids = litert_model_records.ids()
    fetched_at = datetime.fromisoformat(litert_model_records.attrs["fetched_at"])
    with failing_fast(context), hub.metered() as lookups:
        removals = look_up_missing_models(context, config, hub, catalog, listed_ids, fetched_at)
        result = catalog.merge(
            litert_model_records.iter_tables(),
            fetched_at=fetched_at,
            partition_key=context.partition_key,
            removals=removals,
            accept_shrink=config.accept_shrink,
        )
    if result.stale:
        context.log.warning(f"partition {context.partition_key}: a newer listing is already applied; nothing changed")
    if result.shrink_accepted:
        context.log.warning(
            f"accept_shrink: {result.would_remove} of {result.active_synced_before} synced models are missing from "
            f"the listing; the {result.removed} that their own lookup confirmed gone are marked removed"
        )
    return dg.MaterializeResult(
        metadata=merge_metadata(result, litert_model_records.attrs, time.monotonic() - started, catalog.recent_syncs())
        | quota_metadata(lookups.usage()),
        check_results=ml_models_checks(catalog, listed_ids, result, removals),
    )


def look_up_missing_models(
    context: dg.AssetExecutionContext, config: MlModelsConfig, hub: HubResource, catalog: CatalogResource,
    listed_ids: pa.Array, fetched_at: datetime,
) -> RemovalCheck:
    """Each synced model the listing lacks, looked up on its own; none when the merge will not mark any
    (a stale listing, or a suspicious shrink not accepted)."""
    newest_applied = catalog.newest_applied_fetched_at()
    if newest_applied is not None and fetched_at < newest_applied:
        return RemovalCheck()
    active, missing = catalog.missing_synced_models(listed_ids)
    if not missing or (is_suspicious_shrink(active, len(missing)) and not config.accept_shrink):
        return RemovalCheck()
    removals = hub.check_removals(missing)
    for hf_model_id, reason in list(removals.unverified.items())[:20]:
        context.log.info(f"{hf_model_id} is missing from the listing but stays: {reason}")
    return removals


@dg.asset(
    deps=[ml_models],
    partitions_def=daily_partitions,
    group_name=GROUP,
    kinds={"huggingface", "postgres"},
    owners=OWNERS,
    code_version="1",
    metadata={"dagster/table_name": "public.ml_model_files"},
    description="Files (sizes, LFS sha256) and card summaries of new and changed synced models, within a time budget.",
)
def ml_model_details(context: dg.AssetExecutionContext, hub: HubResource, catalog: CatalogResource) -> dg.MaterializeResult:
    started = time.monotonic()
    with failing_fast(context):
        targets, current = catalog.details_targets()
    # One revision call (api) and one card (resolvers) per model: planned, so the pace spends the quota evenly.
    with hub.metered(api=len(targets), resolvers=len(targets)) as meter:
        report = refresh_details(
            targets,
            hub.fetch_details,
            catalog.write_details,
            budget_seconds=hub.details_time_budget_seconds,
            workers=hub.details_workers,
        )
    log_left_for_next_run(context, "details of", "models", report.failed, report.pending, report.stopped_by)
    metadata = details_metadata(report, current, time.monotonic() - started) | quota_metadata(meter.usage())
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[ml_model_details],
    partitions_def=daily_partitions,
    group_name=GROUP,
    kinds={"huggingface", "postgres"},
    owners=OWNERS,
    code_version="1",
    metadata={"dagster/table_name": "public.ml_model_files"},
    description="What each runtime file is and needs (context, modalities, backends, chip, RAM tier), read from "
    "its .litertlm header with Range requests and from its name, within a time budget.",
)
def ml_model_file_facts(context: dg.AssetExecutionContext, hub: HubResource, catalog: CatalogResource) -> dg.MaterializeResult:
    started = time.monotonic()
    with failing_fast(context):
        pending = catalog.pending_file_facts()
    headers = len({file.sha256 or file.file_id for file in pending if file.needs_header})
    # The prefix, the header and the LLM metadata: three range reads (resolvers) per header.
    with hub.metered(resolvers=HEADER_READS * headers) as meter:
        report = refresh_file_facts(
            pending,
            hub.read_litertlm_header,
            catalog.write_file_facts,
            budget_seconds=hub.file_facts_time_budget_seconds,
            workers=hub.details_workers,
        )
    log_left_for_next_run(context, "facts of", "runtime files", report.failed, report.pending, report.stopped_by)
    metadata = file_facts_metadata(report, time.monotonic() - started) | quota_metadata(meter.usage())
    return dg.MaterializeResult(metadata=metadata)


def log_left_for_next_run(
    context: dg.AssetExecutionContext, what: str, items: str, failed: dict[str, str], pending: int, stopped_by: str | None
) -> None:
    """A warning for each of the first failures and for what was not tried: both wait for the next run."""
    for name, reason in list(failed.items())[:20]:
        context.log.warning(f"{what} {name} not fetched, tried again next run: {reason}")
    if pending:
        context.log.warning(f"{pending} {items} left for the next run: stopped by {stopped_by}")


SYNC_ASSETS = (hf_litert_listing, litert_model_records, ml_models, ml_model_details, ml_model_file_facts)
"""The sync's assets, in the order data flows through them."""
