"""A cheap poll of the Hub's most recently modified models; a sync of today's partition when one changed."""

import dataclasses
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from pocketai_pipeline.alerts import redact, truncate
from pocketai_pipeline.sync.change_detection import ChangeCursor, baseline, detect_change, run_key
from pocketai_pipeline.defs.automation.schedule import partition_key_for
from pocketai_pipeline.hub.client import REQUEST_ERRORS, HubClient, HubRateLimitError
from pocketai_pipeline.hub.listing import recently_modified
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.defs.jobs import hf_litert_sync_job

RECENT_MODELS_PER_FILTER = 20
# Runs of the sync job that make a new one pointless. Not NOT_STARTED: a run whose launch failed
# stays in it forever, and would silence the sensor for good.
BUSY_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUSPENDED,
    dg.DagsterRunStatus.CANCELING,
]
# A sensor tick must end well within Dagster's 60 s evaluation timeout, whatever the sync's own Hub bounds.
SENSOR_TIMEOUT_SECONDS = 10.0
SENSOR_MAX_RETRIES = 1
SENSOR_MAX_WAIT_SECONDS = 10.0
HUB_ERRORS = (*REQUEST_ERRORS, HubRateLimitError)


def sensor_client(hub: HubResource) -> HubClient:
    """The resource's client with bounds tight enough for a sensor tick."""
    client = hub.client()
    return dataclasses.replace(
        client,
        timeout_seconds=min(client.timeout_seconds, SENSOR_TIMEOUT_SECONDS),
        max_retries=min(client.max_retries, SENSOR_MAX_RETRIES),
        max_wait_seconds=min(client.max_wait_seconds, SENSOR_MAX_WAIT_SECONDS),
    )


def recently_modified_models(hub: HubResource) -> list[Any]:
    client = sensor_client(hub)
    pages = (recently_modified(client, hub_filter, RECENT_MODELS_PER_FILTER) for hub_filter in hub.filters())
    return [model for page in pages for model in page]


def describe_hub_error(error: Exception, token: str | None) -> str:
    """The error's type and first line, without the token."""
    first_line = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return truncate(redact(f"{type(error).__name__}: {first_line}", [token or ""]), 300)


def busy_sync_run(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    runs = instance.get_runs(dg.RunsFilter(job_name=hf_litert_sync_job.name, statuses=BUSY_STATUSES), limit=1)
    return runs[0] if runs else None


def change_sensor(minimum_interval_seconds: int) -> dg.SensorDefinition:
    """The sensor, polling at most every `minimum_interval_seconds`; running by default."""

    @dg.sensor(
        name="hf_litert_change_sensor",
        job=hf_litert_sync_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Polls the Hub's most recently modified LiteRT models and requests a sync of today's "
            "partition when one is new or modified since the last look."
        ),
    )
    def hf_litert_change_sensor(context: dg.SensorEvaluationContext, hub: HubResource) -> dg.SensorResult:
        busy = busy_sync_run(context.instance)
        if busy is not None:
            return dg.SensorResult(
                skip_reason=f"run {busy.run_id} of {hf_litert_sync_job.name} is {busy.status.value}; "
                "the Hub is checked again once it is done"
            )
        try:
            models = recently_modified_models(hub)
        except HUB_ERRORS as error:
            cause = describe_hub_error(error, hub.token)
            return dg.SensorResult(skip_reason=f"could not ask the Hub, trying again next tick: {cause}")

        try:
            cursor = ChangeCursor.from_json(context.cursor) if context.cursor else None
        except ValueError as error:
            context.log.warning(f"{error}; recording a new baseline")
            cursor = None
        if cursor is None:
            return dg.SensorResult(
                skip_reason="baseline recorded; changes from now on request a sync (the schedule does full syncs)",
                cursor=baseline(models).to_json(),
            )

        decision = detect_change(cursor, models)
        if not decision.changed_ids:
            return dg.SensorResult(skip_reason=f"no model modified since {cursor.last_modified}")
        context.log.info(f"modified on the Hub: {', '.join(decision.changed_ids[:10])}")
        request = dg.RunRequest(partition_key=partition_key_for(datetime.now(UTC)), run_key=run_key(decision.cursor))
        return dg.SensorResult(run_requests=[request], cursor=decision.cursor.to_json())

    return hf_litert_change_sensor
