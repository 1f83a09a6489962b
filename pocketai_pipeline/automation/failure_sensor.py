"""What happens when a sync run fails: a log line, and a JSON alert when a webhook is configured."""

import http.client
from collections.abc import Sequence
from urllib.parse import urlsplit

import dagster as dg

from pocketai_pipeline.automation.alerts import error_summary, failure_alert, post_json, redact, root_error
from pocketai_pipeline.jobs import hf_litert_sync_job

WEBHOOK_TIMEOUT_SECONDS = 10.0
PARTITION_TAG = "dagster/partition"
# Set by Dagster on a failed run when run retries (dagster.yaml) will re-execute it.
WILL_RETRY_TAG = "dagster/will_retry"


def failure_message(step_failures: Sequence[dg.DagsterEvent], run_failure: dg.DagsterEvent) -> str:
    """The first failed step's own error, else the run failure's (e.g. a run that never started)."""
    for event in step_failures:
        error = event.step_failure_data.error
        if error is not None:
            return root_error(error).message
    run_error = run_failure.job_failure_data.error
    return root_error(run_error).message if run_error else run_failure.message or "unknown error"


def sync_failure_sensor(
    webhook_url: str | None,
    dagster_url: str,
    secrets: Sequence[str],
    webhook_timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS,
) -> dg.SensorDefinition:
    """The sensor; `secrets` are the values no log line or alert may contain."""

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
            error=error_summary(failure_message(step_failures, context.failure_event), secrets),
            dagster_url=dagster_url,
        )
        context.log.error(
            f"{alert['job']} run {alert['run_id']} (partition {alert['partition']}) failed in "
            f"{', '.join(alert['failed_steps']) or 'no step'}: {alert['error']} ({alert['run_url']})"
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
