"""The schedule and sensors of the sync job, built from the environment when the code location loads."""

import dagster as dg

from pocketai_pipeline.defs.automation.change_sensor import change_sensor
from pocketai_pipeline.defs.automation.failure_sensor import sync_failure_sensor
from pocketai_pipeline.defs.automation.schedule import daily_schedule
from pocketai_pipeline.settings import DEFAULT_SYNC_CRON, AutomationSettings


def build_schedules() -> list[dg.ScheduleDefinition]:
    settings = AutomationSettings.from_env()
    return [schedule_on(settings.sync_cron, settings.schedule_enabled)]


def schedule_on(cron: str, enabled: bool) -> dg.ScheduleDefinition:
    """The daily schedule on `cron`; a cron Dagster refuses is a POCKETAI_SYNC_CRON error with an example."""
    try:
        return daily_schedule(cron, enabled)
    except dg.DagsterInvalidDefinitionError:
        raise ValueError(
            f"POCKETAI_SYNC_CRON={cron!r} is not a cron schedule Dagster accepts: give five fields "
            f"(minute hour day month weekday), e.g. POCKETAI_SYNC_CRON='{DEFAULT_SYNC_CRON}' for 02:00 UTC daily"
        ) from None


def build_sensors() -> list[dg.SensorDefinition]:
    settings = AutomationSettings.from_env()
    return [
        change_sensor(settings.change_sensor_interval_seconds),
        sync_failure_sensor(settings.alert_webhook_url, settings.dagster_url, settings.secrets),
    ]
