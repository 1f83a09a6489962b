"""Asset checks: refuse a suspicious shrink before anything is written, then verify what was.

The checks are declared on the assets (`check_specs`) and evaluated in their steps, so they share
the assets' daily partitions. Each evaluation is a plain function of what the step has at hand.
"""

import dagster as dg
import pyarrow as pa

from pocketai_pipeline.catalog.audit import CatalogIds, listed_rows_owned_by_system_user, synced_rows_vs_listing
from pocketai_pipeline.catalog.merge import MergeResult
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.sync.removals import RemovalCheck
from pocketai_pipeline.sync.shrink import MAX_REMOVED_FRACTION, is_suspicious_shrink
from pocketai_pipeline.sync.validation import RecordsAudit

EXAMPLES_SHOWN = 10

RECORDS_CHECKS = [
    dg.AssetCheckSpec("listing_not_suspiciously_shrunk", asset="litert_model_records", blocking=True,
                      description="Blocks the sync when more than 20% of the active synced models are missing from "
                      "the listing, unless the run's ml_models config says accept_shrink: true."),
    dg.AssetCheckSpec("records_have_unique_ids", asset="litert_model_records", description="One record per Hub id."),
    dg.AssetCheckSpec("records_have_required_fields", asset="litert_model_records",
                      description="Every record has an id, name, repo URL, tag list and a known license type."),
]
ML_MODELS_CHECKS = [
    dg.AssetCheckSpec("ml_models_match_listing", asset="ml_models",
                      description="Active synced rows are exactly the listed models, less those owned by people, "
                      "plus missing ones whose removal a lookup could not confirm."),
    dg.AssetCheckSpec("ml_models_synced_rows_owned_by_system_user", asset="ml_models",
                      description="Every model the merge counts as synced is owned by the system user."),
    dg.AssetCheckSpec("ml_models_have_licenses", asset="ml_models", description="No row lacks a license type."),
]


def shrink_check(active_synced: int, missing: int, *, accepted: bool) -> dg.AssetCheckResult:
    """`missing` of the `active_synced` models are not in the listing; `accepted`: the run's accept_shrink."""
    suspicious = is_suspicious_shrink(active_synced, missing)
    return dg.AssetCheckResult(
        check_name="listing_not_suspiciously_shrunk",
        passed=not suspicious or accepted,
        metadata={
            "active_synced": active_synced,
            "missing_from_listing": missing,
            "max_removed_fraction": MAX_REMOVED_FRACTION,
            "suspicious": suspicious,
            "accept_shrink": accepted,
        },
    )


def records_checks(audit: RecordsAudit) -> list[dg.AssetCheckResult]:
    duplicates = audit.duplicate_ids()
    missing = audit.missing
    return [
        dg.AssetCheckResult(check_name="records_have_unique_ids", passed=not duplicates,
                            metadata={"duplicates": len(duplicates), "examples": duplicates[:EXAMPLES_SHOWN]}),
        dg.AssetCheckResult(check_name="records_have_required_fields", passed=not missing,
                            metadata={"rows_missing": missing}),
    ]


def ml_models_checks(
    catalog: CatalogResource, listed_ids: pa.Array, merge: MergeResult, removals: RemovalCheck
) -> list[dg.AssetCheckResult]:
    ids = catalog.catalog_ids()
    return [
        match_listing_check(ids, listed_ids, merge, removals),
        ownership_check(ids, listed_ids, merge),
        license_check(catalog.null_license_rows()),
    ]


def match_listing_check(
    catalog: CatalogIds, listed_ids: pa.Array, merge: MergeResult, removals: RemovalCheck
) -> dg.AssetCheckResult:
    if merge.stale:
        return not_compared("ml_models_match_listing")
    missing, unlisted = synced_rows_vs_listing(catalog, listed_ids)
    unexpected = [hf_model_id for hf_model_id in unlisted if hf_model_id not in removals.unverified]
    return dg.AssetCheckResult(
        check_name="ml_models_match_listing",
        passed=not missing and not unexpected,
        metadata={
            "missing": len(missing),
            "unexpected": len(unexpected),
            "removal_unverified": len(unlisted) - len(unexpected),
            "missing_examples": missing[:EXAMPLES_SHOWN],
            "unexpected_examples": unexpected[:EXAMPLES_SHOWN],
        },
    )


def ownership_check(catalog: CatalogIds, listed_ids: pa.Array, merge: MergeResult) -> dg.AssetCheckResult:
    if merge.stale:
        return not_compared("ml_models_synced_rows_owned_by_system_user")
    reported = merge.created + merge.updated + merge.unchanged + merge.restored
    owned = listed_rows_owned_by_system_user(catalog, listed_ids)
    return dg.AssetCheckResult(check_name="ml_models_synced_rows_owned_by_system_user", passed=owned == reported,
                               metadata={"reported_synced": reported, "owned_by_system_user": owned})


def license_check(null_licenses: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name="ml_models_have_licenses", passed=null_licenses == 0,
                               metadata={"rows_without_license": null_licenses})


def not_compared(check_name: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=check_name, passed=True,
                               metadata={"compared": False, "why": "stale listing: a newer one is applied"})
