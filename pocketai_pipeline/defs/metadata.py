"""What each materialization shows in the Dagster UI: counts to plot over time and short summaries."""

import dagster as dg

from pocketai_pipeline.catalog.merge import MergeResult
from pocketai_pipeline.hub.pacer import QuotaUsage
from pocketai_pipeline.sync.details import DetailsReport
from pocketai_pipeline.sync.file_facts_refresh import FactsReport
from pocketai_pipeline.sync.normalize import NormalizedRecords

REJECTS_SHOWN = 20
CHANGED_IDS_SHOWN = 10
FAILURES_SHOWN = 10

ML_MODELS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("id", "bigint", description="primary key"),
        dg.TableColumn("name", "text", description="the part of the Hub id after the last '/'"),
        dg.TableColumn("description", "text", description="first prose paragraph of the model card (ml_model_details)"),
        dg.TableColumn("hf_model_id", "text", description="Hub model id (unique)"),
        dg.TableColumn("origin_repo_url", "text", description="https://huggingface.co/ followed by the Hub id"),
        dg.TableColumn("author_id", "bigint", description="users.id; hf_sync_system for synced rows"),
        dg.TableColumn("tags", "text[]", description="Hub tags, de-duplicated, order kept"),
        dg.TableColumn("task", "text", description="Hub pipeline_tag"),
        dg.TableColumn("license_type", "license_type", description="mapped from cardData.license or a license: tag"),
        dg.TableColumn("downloads", "bigint"),
        dg.TableColumn("likes", "bigint"),
        dg.TableColumn("gated", "boolean"),
        dg.TableColumn("hf_gated", "text", description="how a gated model grants access: auto or manual; NULL when not gated"),
        dg.TableColumn("hf_sha", "text"),
        dg.TableColumn("hf_created_at", "timestamptz"),
        dg.TableColumn("hf_last_modified", "timestamptz"),
        dg.TableColumn("removed_upstream_at", "timestamptz", description="set when the Hub stopped listing it"),
        dg.TableColumn("hf_license_id", "text", description="the Hub's licence id, trimmed and lower-cased"),
        dg.TableColumn("hf_license_name", "text", description="cardData.license_name: what 'other' stands for"),
        dg.TableColumn("library_name", "text", description="Hub library_name"),
        dg.TableColumn("base_models", "text[]", description="cardData.base_model, else base_model: tags"),
        dg.TableColumn("runtime_formats", "text[]", description="litert, litert-lm, mediapipe-task, from the file names"),
        dg.TableColumn("files_synced_sha", "text", description="the revision whose files are in ml_model_files"),
        dg.TableColumn("created_at", "timestamptz"),
        dg.TableColumn("updated_at", "timestamptz", description="moves only when a synced field changed"),
    ]
)
ML_MODEL_FILES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("id", "bigint", description="primary key"),
        dg.TableColumn("model_id", "bigint", description="ml_models.id"),
        dg.TableColumn("hf_sha", "text", description="the revision these files are of"),
        dg.TableColumn("path", "text", description="path in the repository (unique per model)"),
        dg.TableColumn("size_bytes", "bigint"),
        dg.TableColumn("sha256", "text", description="LFS content sha256 to verify a download; NULL for plain git files"),
        dg.TableColumn("is_runtime_file", "boolean", description=".tflite, .litertlm or .task"),
    ]
)


def records_metadata(normalized: NormalizedRecords) -> dict[str, object]:
    metadata: dict[str, object] = {
        "dagster/row_count": normalized.records,
        "records": normalized.records,
        "rejected": len(normalized.rejects),
        "skipped_private": normalized.skipped_private,
        "skipped_disabled": normalized.skipped_disabled,
        "duplicates_dropped": normalized.duplicates,
    }
    if normalized.rejects:
        rows = "\n".join(
            f"| {markdown_cell(reject.hf_model_id or '(no id)')} | {markdown_cell(reject.reason)} |"
            for reject in normalized.rejects[:REJECTS_SHOWN]
        )
        metadata["first_rejects"] = dg.MetadataValue.md(f"| model | reason |\n|---|---|\n{rows}")
    return metadata


def merge_metadata(
    result: MergeResult, records_attrs: dict, duration_seconds: float, recent_syncs: list[dict]
) -> dict[str, object]:
    """`records_attrs`: what the records step counted before the merge (see litert_model_records);
    `recent_syncs`: the newest rows of hf_sync_applied_listings, this one first."""
    private_or_disabled = records_attrs.get("skipped_private_or_disabled", 0)
    invalid = records_attrs.get("skipped_invalid", 0)
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "removed": result.removed,
        "restored": result.restored,
        "skipped_not_owned": result.skipped_not_owned,
        "skipped_private_or_disabled": private_or_disabled,
        "skipped_invalid": invalid,
        "skipped": result.skipped_not_owned + private_or_disabled + invalid,
        "stale": result.stale,
        "removal_blocked": result.removal_blocked,
        "removal_unverified": result.removal_unverified,
        "shrink_accepted": result.shrink_accepted,
        "duration_seconds": round(duration_seconds, 3),
        "active": result.active_count,
        "dagster/row_count": result.row_count,
        "dagster/table_name": "public.ml_models",
        "dagster/column_schema": ML_MODELS_SCHEMA,
        "changes": dg.MetadataValue.md(change_summary(result)),
        "history": dg.MetadataValue.md(history_table(recent_syncs)),
    }


def history_table(recent_syncs: list[dict]) -> str:
    """The last syncs, newest first, as a markdown table (Dagster 1.13 has no plots of metadata)."""
    lines = ["| date | listed | created | updated | removed | restored | active | duration |", "|---|---|---|---|---|---|---|---|"]
    for sync in recent_syncs:
        duration = "" if sync["duration_seconds"] is None else f"{sync['duration_seconds']:.1f} s"
        active = "" if sync["active"] is None else sync["active"]
        lines.append(
            f"| {sync['partition_key']} | {sync['listed']} | {sync['created']} | {sync['updated']} | "
            f"{sync['removed']} | {sync['restored']} | {active} | {duration} |"
        )
    return "\n".join(lines)


def details_metadata(report: DetailsReport, current: int, duration_seconds: float) -> dict[str, object]:
    metadata: dict[str, object] = {
        "fetched": report.fetched,
        "unchanged": current,
        "failed": len(report.failed),
        "moved_on": report.moved_on,
        "pending": report.pending,
        "requests": report.requests,
        "runtime_bytes_added": report.runtime_bytes_added,
        "duration_seconds": round(duration_seconds, 3),
        "stopped_by": report.stopped_by or "",
        "dagster/table_name": "public.ml_model_files",
        "dagster/column_schema": ML_MODEL_FILES_SCHEMA,
    }
    if report.failed:
        metadata["first_failures"] = failures_table("model", report.failed)
    return metadata


def failures_table(what: str, failed: dict[str, str]) -> dg.MetadataValue:
    """The first FAILURES_SHOWN failures as a Markdown table: `what` and why."""
    rows = "\n".join(f"| {markdown_cell(key)} | {markdown_cell(reason)} |" for key, reason in list(failed.items())[:FAILURES_SHOWN])
    return dg.MetadataValue.md(f"| {what} | reason |\n|---|---|\n{rows}")


def file_facts_metadata(report: FactsReport, duration_seconds: float) -> dict[str, object]:
    metadata: dict[str, object] = {
        "read": report.read,
        "name_only": report.name_only,
        "unreadable": report.unreadable,
        "reused": report.reused,
        "failed": len(report.failed),
        "pending": report.pending,
        "bytes_read": report.bytes_read,
        "requests": report.requests,
        "duration_seconds": round(duration_seconds, 3),
        "stopped_by": report.stopped_by or "",
        "dagster/table_name": "public.ml_model_files",
    }
    if report.failed:
        metadata["first_failures"] = failures_table("file", report.failed)
    return metadata


def quota_metadata(usage: QuotaUsage | None) -> dict[str, object]:
    """A step's use of the Hub's rate limits, per bucket: calls, 429s met, seconds held back for the quota,
    the lowest `remaining` the Hub reported (absent when no answer said), and the quota in force."""
    if usage is None:
        return {}
    metadata: dict[str, object] = {}
    for bucket, figures in usage.buckets().items():
        metadata[f"hub_{bucket}_calls"] = figures.calls
        metadata[f"hub_{bucket}_429s"] = figures.rate_limited
        metadata[f"hub_{bucket}_wait_seconds"] = round(figures.waited_seconds, 3)
        if figures.lowest_remaining is not None:
            metadata[f"hub_{bucket}_lowest_remaining"] = figures.lowest_remaining
        metadata[f"hub_{bucket}_quota"] = f"{figures.quota} per {figures.window_seconds:g} s"
    return metadata


def change_summary(result: MergeResult) -> str:
    if result.stale:
        return "**Stale listing**: a newer listing is already applied; nothing changed."
    lines = ["| change | count | examples |", "|---|---|---|"]
    for label, count, ids in [
        ("created", result.created, result.created_ids),
        ("updated", result.updated, result.updated_ids),
        ("removed upstream", result.removed, result.removed_ids),
        ("restored", result.restored, result.restored_ids),
    ]:
        examples = ", ".join(markdown_cell(i) for i in ids[:CHANGED_IDS_SHOWN]) + (" …" if count > CHANGED_IDS_SHOWN else "")
        lines.append(f"| {label} | {count} | {examples} |")
    lines.append(f"| unchanged | {result.unchanged} | |")
    if result.removal_blocked:
        lines.append(f"\n**Removal blocked**: {result.would_remove} of {result.active_synced_before} active models "
                     "are missing from the listing (suspicious shrink); none were marked removed.")
    if result.shrink_accepted:
        lines.append(f"\n**Shrink accepted** (accept_shrink): {result.would_remove} of {result.active_synced_before} "
                     "active models are missing from the listing; those confirmed gone are marked removed.")
    if result.removal_unverified:
        lines.append(f"\n**Removal unverified**: {result.removal_unverified} missing models gave no definite answer "
                     "to their own lookup and stay as they are this run.")
    return "\n".join(lines)


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
