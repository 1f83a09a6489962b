"""The daily full sync: each tick syncs the partition of its own UTC date."""

from datetime import UTC, datetime

import dagster as dg

from pocketai_pipeline.defs.jobs import hf_litert_sync_job


def partition_key_for(moment: datetime) -> str:
    """The daily partition (UTC date, YYYY-MM-DD) that a sync started at `moment` snapshots."""
    return moment.astimezone(UTC).date().isoformat()


def daily_schedule(cron: str, enabled: bool) -> dg.ScheduleDefinition:
    """The schedule on `cron` (UTC); `enabled` is only its initial state, the UI can toggle it."""

    # Not build_schedule_from_partitioned_job: on daily partitions it requests the previous day.
    @dg.schedule(
        name="hf_litert_daily_schedule",
        job=hf_litert_sync_job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED,
        description="Full sync of the Hub's LiteRT listing into ml_models. Each tick syncs the daily partition of "
        "its own UTC date: the 02:00 UTC tick of 2026-11-25 syncs partition 2026-11-25.",
    )
    def hf_litert_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        scheduled_at = context.scheduled_execution_time or datetime.now(UTC)
        # One run per tick, not per date: a cron that fires several times a day syncs each time.
        return dg.RunRequest(
            partition_key=partition_key_for(scheduled_at),
            run_key=f"scheduled-{scheduled_at.astimezone(UTC):%Y-%m-%dT%H:%M}Z",
        )

    return hf_litert_daily_schedule
