"""hf_litert_daily_schedule: its own UTC date's partition on every tick, settings from the environment."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import pytest

from pocketai_pipeline.defs.assets import SYNC_ASSETS
from pocketai_pipeline.defs.automation import build_schedules
from pocketai_pipeline.defs.automation.schedule import daily_schedule
from pocketai_pipeline.settings import AutomationSettings, parse_enabled
from pocketai_pipeline.defs.jobs import hf_litert_sync_job
from pocketai_pipeline.defs.resources import build_resources



@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tick(instance: dg.DagsterInstance, schedule: dg.ScheduleDefinition, at: datetime) -> list[dg.RunRequest]:
    """Evaluate one tick as the daemon would, in a code location that resolves the job's partitions."""
    location = dg.Definitions(
        assets=SYNC_ASSETS, jobs=[hf_litert_sync_job], schedules=[schedule], resources=build_resources()
    )
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=location.get_repository_def()
    )
    return list(schedule.evaluate_tick(context).run_requests or [])


@pytest.mark.parametrize(
    ("scheduled_at", "partition"),
    [
        (datetime(2026, 11, 25, 2, 0, tzinfo=UTC), "2026-11-25"),
        (datetime(2026, 11, 24, 23, 59, tzinfo=UTC), "2026-11-24"),
        (datetime(2026, 11, 24, 0, 0, tzinfo=UTC), "2026-11-24"),
        # 21:00 in New York on the 23rd is 02:00 UTC on the 24th: the UTC date counts.
        (datetime(2026, 11, 23, 21, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-11-24"),
    ],
)
def test_a_tick_requests_the_partition_of_its_own_utc_date(instance, scheduled_at, partition):
    [request] = tick(instance, daily_schedule("0 2 * * *", enabled=True), scheduled_at)
    assert request.partition_key == partition


def test_each_tick_has_its_own_run_key_so_several_ticks_a_day_each_sync(instance):
    schedule = daily_schedule("0 */6 * * *", enabled=True)
    [morning] = tick(instance, schedule, datetime(2026, 11, 24, 6, tzinfo=UTC))
    [evening] = tick(instance, schedule, datetime(2026, 11, 24, 18, tzinfo=UTC))
    [morning_again] = tick(instance, schedule, datetime(2026, 11, 24, 6, tzinfo=UTC))
    assert morning.partition_key == evening.partition_key == "2026-11-24"
    assert morning.run_key != evening.run_key
    assert morning.run_key == morning_again.run_key


def test_the_schedule_runs_the_sync_job_on_the_cron_in_utc():
    schedule = daily_schedule("15 4 * * 1", enabled=False)
    assert schedule.name == "hf_litert_daily_schedule"
    assert schedule.job_name == "hf_litert_sync_job"
    assert schedule.cron_schedule == "15 4 * * 1"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert daily_schedule("0 2 * * *", enabled=True).default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_code_location_has_the_daily_schedule_at_two_utc_running_by_default(monkeypatch):
    monkeypatch.delenv("POCKETAI_SYNC_CRON", raising=False)
    monkeypatch.delenv("POCKETAI_SYNC_SCHEDULE_ENABLED", raising=False)
    [schedule] = build_schedules()
    assert (schedule.name, schedule.cron_schedule) == ("hf_litert_daily_schedule", "0 2 * * *")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    from pocketai_pipeline.definitions import defs

    assert defs.resolve_schedule_def("hf_litert_daily_schedule").job_name == "hf_litert_sync_job"


def test_cron_and_enabled_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("POCKETAI_SYNC_CRON", " 30 3 * * * ")
    monkeypatch.setenv("POCKETAI_SYNC_SCHEDULE_ENABLED", "No")
    [schedule] = build_schedules()
    assert schedule.cron_schedule == "30 3 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


@pytest.mark.parametrize("cron", ["0 25 * * *", "every day at two", "0 2 * *", "0 0 2 * * *"])
def test_an_invalid_cron_is_an_error_naming_the_variable_and_an_example(monkeypatch, cron):
    monkeypatch.setenv("POCKETAI_SYNC_CRON", cron)
    with pytest.raises(ValueError, match=r"POCKETAI_SYNC_CRON=.*e\.g\. POCKETAI_SYNC_CRON='0 2 \* \* \*'"):
        build_schedules()


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), ("", True), ("  ", True), ("true", True), ("TRUE", True), ("1", True), ("yes", True),
     ("false", False), ("False", False), (" 0 ", False), ("no", False), ("NO", False)],
)
def test_schedule_enabled_words(value, enabled):
    assert parse_enabled("POCKETAI_SYNC_SCHEDULE_ENABLED", value) is enabled
    environ = {} if value is None else {"POCKETAI_SYNC_SCHEDULE_ENABLED": value}
    assert AutomationSettings.from_env(environ).schedule_enabled is enabled


@pytest.mark.parametrize("value", ["off", "disabled", "2", "nope"])
def test_any_other_enabled_value_is_an_error_naming_the_variable(value):
    with pytest.raises(ValueError, match="POCKETAI_SYNC_SCHEDULE_ENABLED=.*use POCKETAI_SYNC_SCHEDULE_ENABLED=true or"):
        AutomationSettings.from_env({"POCKETAI_SYNC_SCHEDULE_ENABLED": value})
