"""What happens when a sync run fails: a log line, and a JSON alert when a webhook is configured."""

import http.client
from collections.abc import Sequence
from urllib.parse import urlsplit

import dagster as dg

from pocketai_pipeline.alerts import error_summary, failure_alert, post_json, redact, root_error
from pocketai_pipeline.defs.jobs import hf_litert_sync_job

WEBHOOK_TIMEOUT_SECONDS = 10.0
PARTITION_TAG = "dagster/partition"
# Set by Dagster on a failed run when run retries (dagster.yaml) will re-execute it.
WILL_RETRY_TAG = "dagster/will_retry"


def failure_message(
    instance: dg.DagsterInstance, run_id: str, step_failures: Sequence[dg.DagsterEvent], run_failure: dg.DagsterEvent
) -> str:
    """The first failed step's own error, else the run failure's, else why the run failed outside any step."""
    for event in step_failures:
        error = event.step_failure_data.error
        if error is not None:
            return root_error(error).message
    # Run monitoring (a dead or hung worker, the max runtime) and a failed launch fail a run without failure data.
    failure_data = run_failure.job_failure_data
    if failure_data is not None and failure_data.error is not None:
        return root_error(failure_data.error).message
    reasons = [*logged_before_failure(instance, run_id), run_failure.message or "no reason given"]
    return "run failed outside any step: " + " — ".join(reason.strip() for reason in reasons)


# What Dagster's code server logs when a run's process died under it (a SIGKILL, the OOM killer).
RUN_PROCESS_DIED = "[DagsterApiServer] Run execution process for"


def logged_before_failure(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Why Dagster was stopping the run (run monitoring's max runtime cancels it), whether its process died,
    and its last engine error (a launch that failed, a job that did not load), when Dagster logged them."""
    events = [
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(
            run_id, of_type={dg.DagsterEventType.RUN_CANCELING, dg.DagsterEventType.ENGINE_EVENT}
        ).records
    ]
    cancel_reasons = [e.message for e in events if e.event_type == dg.DagsterEventType.RUN_CANCELING and e.message]
    # Its first sentence: the rest is Dagster's general advice about memory.
    deaths = [e.message.split(". ", 1)[0] + "." for e in events if (e.message or "").startswith(RUN_PROCESS_DIED)]
    errors = [error for e in events if (error := getattr(e.event_specific_data, "error", None)) is not None]
    return cancel_reasons[:1] + deaths[:1] + [root_error(error).message for error in errors[-1:]]


def sync_failure_sensor(
    webhook_url: str | None,
    dagster_url: str,
    secrets: Sequence[str],
    webhook_timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS,
) -> dg.SensorDefinition:
    """The sensor; `secrets` are the values no log line or alert may contain.

    It sees every RUN_FAILURE event, also those of runs that failed outside any step. A run that run monitoring
    stops past its max runtime is canceled then marked failed (RUN_FAILURE): it is alerted. A run a person cancels
    ends CANCELED, not failed: it was stopped on purpose and is not alerted (its run log records it).
    """

    @dg.run_failure_sensor(
        name="hf_litert_sync_failure_sensor",
        monitored_jobs=[hf_litert_sync_job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Logs every failed sync run and posts a JSON alert to POCKETAI_ALERT_WEBHOOK_URL when it is set.",
    )
    def hf_litert_sync_failure_sensor(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        step_failures = context.get_step_failure_events()
        alert = failure_alert(
            job=run.job_name,
            run_id=run.run_id,
            partition=run.tags.get(PARTITION_TAG),
            failed_steps=[event.step_key for event in step_failures if event.step_key],
            error=error_summary(
                failure_message(context.instance, run.run_id, step_failures, context.failure_event), secrets
            ),
            dagster_url=dagster_url,
        )
        steps = f" in {', '.join(alert['failed_steps'])}" if alert["failed_steps"] else ""
        context.log.error(
            f"{alert['job']} run {alert['run_id']} (partition {alert['partition']}) failed{steps}: "
            f"{alert['error']} ({alert['run_url']})"
        )
        if run.tags.get(WILL_RETRY_TAG) == "true":
            context.log.info("Dagster retries this run automatically; the alert waits for the last attempt.")
            return
        if webhook_url is None:
            return
        host = urlsplit(webhook_url).hostname  # the full URL may hold the webhook's own token
        try:
            post_json(webhook_url, alert, webhook_timeout_seconds)
        except (OSError, http.client.HTTPException) as error:
            reason = redact(f"{type(error).__name__}: {error}", [webhook_url])
            context.log.warning(f"could not post the failure alert to the webhook at {host}: {reason}")
        else:
            context.log.info(f"failure alert posted to the webhook at {host}")

    return hf_litert_sync_failure_sensor
