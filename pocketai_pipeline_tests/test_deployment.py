"""End to end, as in production: dagster-webserver and dagster-daemon as subprocesses with the project's
dagster.yaml and workspace.yaml, PostgreSQL storage, a fake Hub, and everything launched through the
GraphQL API the way the UI's buttons do (the `end_to_end` fixture in conftest.py, processes.py, dagster_ui.py).
"""

import json
import signal
import sys
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from pocketai_pipeline_tests.dagster_ui import launch_backfill, tag, wait_for_backfill
from pocketai_pipeline_tests.processes import HUB_MODELS, SYNC_ASSETS, EndToEnd, Process, group_alive, wait_for
from pocketai_pipeline_tests.synthetic import synthetic_listing

BACKFILL_TIMEOUT_SECONDS = 600
TICK_TIMEOUT_SECONDS = 90
CHECKS_PER_RUN = 6  # 1 on the listing, 2 on the records, 3 on ml_models

REPOSITORY_QUERY = """
{
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        schedules { name cronSchedule executionTimezone scheduleState { status } }
        sensors { name sensorType sensorState { status ticks(limit: 1) { status } } }
      }
    }
  }
}"""
RUN_IDS_QUERY = "{ runsOrError { ... on Runs { results { runId } } } }"
PARTITIONS_QUERY = """
query($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) { ... on AssetNode { partitionStats { numMaterialized } } }
}"""


def query(url: str, sql: str, **params) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def catalog_rows(e2e: EndToEnd) -> list:
    """Every row with its xmin: a row written again gets a new one."""
    return query(e2e.catalog_url, "SELECT hf_model_id, xmin::text, removed_upstream_at FROM ml_models ORDER BY hf_model_id")


@pytest.mark.slow
def test_todays_sync_ran_on_the_daemon_into_the_catalog_and_postgresql_storage(end_to_end):
    run = end_to_end.today_run
    assert run["status"] == "SUCCESS", f"{run}; logs in test-artifacts/deployment/"
    assert run["jobName"] == "__ASSET_JOB"
    assert tag(run, "dagster/partition") == end_to_end.today

    rows = catalog_rows(end_to_end)  # 150 models, 50 to a page of the fake Hub
    assert {row.hf_model_id for row in rows} == {model["id"] for model in synthetic_listing(HUB_MODELS)}
    assert all(row.removed_upstream_at is None for row in rows)

    url, run_id = end_to_end.dagster_pg_url, run["runId"]
    assert query(url, "SELECT status, pipeline_name, partition FROM runs WHERE run_id = :run_id", run_id=run_id) == [
        ("SUCCESS", "__ASSET_JOB", end_to_end.today)
    ]
    events = query(url, "SELECT dagster_event_type, asset_key, partition FROM event_logs WHERE run_id = :run_id", run_id=run_id)
    types = [event.dagster_event_type for event in events]
    # Queued by the webserver, launched by the daemon's run coordinator.
    assert types.index("PIPELINE_ENQUEUED") < types.index("PIPELINE_STARTING") < types.index("PIPELINE_SUCCESS")
    materialized = {(json.loads(e.asset_key)[0], e.partition) for e in events if e.dagster_event_type == "ASSET_MATERIALIZATION"}
    assert materialized == {(asset, end_to_end.today) for asset in SYNC_ASSETS}
    assert types.count("ASSET_CHECK_EVALUATION") == CHECKS_PER_RUN


@pytest.mark.slow
def test_a_backfill_of_three_partitions_runs_on_the_daemon_and_rewrites_nothing(end_to_end):
    today = date.fromisoformat(end_to_end.today)
    partitions = [str(today - timedelta(days=n)) for n in (3, 2, 1)]
    before = catalog_rows(end_to_end)
    graphql = end_to_end.deployment.graphql

    backfill_id = launch_backfill(graphql, SYNC_ASSETS, partitions)
    backfill = wait_for_backfill(graphql, backfill_id, BACKFILL_TIMEOUT_SECONDS)

    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert sorted(tag(run, "dagster/partition") for run in backfill["runs"]) == partitions
    assert {run["status"] for run in backfill["runs"]} == {"SUCCESS"}
    for asset in SYNC_ASSETS:
        stats = graphql(PARTITIONS_QUERY, {"assetKey": {"path": [asset]}})["assetNodeOrError"]["partitionStats"]
        assert stats["numMaterialized"] == 4, asset  # today's and the three backfilled
    stored = query(end_to_end.dagster_pg_url, "SELECT status FROM bulk_actions WHERE key = :key", key=backfill_id)
    assert stored == [("COMPLETED_SUCCESS",)]
    # Same models on the Hub: every merge found nothing to change (rule 5).
    assert catalog_rows(end_to_end) == before


@pytest.mark.slow
def test_the_schedule_and_both_sensors_are_listed_running(end_to_end):
    graphql = end_to_end.deployment.graphql
    repository = graphql(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"][0]
    schedules = {s["name"]: (s["cronSchedule"], s["executionTimezone"], s["scheduleState"]["status"])
                 for s in repository["schedules"]}
    sensors = {s["name"]: (s["sensorType"], s["sensorState"]["status"]) for s in repository["sensors"]}

    assert schedules == {"hf_litert_daily_schedule": ("0 2 * * *", "UTC", "RUNNING")}
    assert sensors == {
        "hf_litert_change_sensor": ("STANDARD", "RUNNING"),
        "hf_litert_sync_failure_sensor": ("RUN_STATUS", "RUNNING"),
    }

    def change_sensor_ticked() -> bool:
        sensors = graphql(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"][0]["sensors"]
        return bool(next(s for s in sensors if s["name"] == "hf_litert_change_sensor")["sensorState"]["ticks"])

    # The daemon evaluates the sensors (the change sensor's first tick records a baseline from the fake Hub).
    assert wait_for(change_sensor_ticked, TICK_TIMEOUT_SECONDS), "the daemon never evaluated hf_litert_change_sensor"


@pytest.mark.slow
def test_run_history_survives_a_webserver_restart(end_to_end):
    deployment = end_to_end.deployment
    runs_before = {run["runId"] for run in deployment.graphql(RUN_IDS_QUERY)["runsOrError"]["results"]}
    old_webserver = deployment.webserver

    deployment.restart_webserver()

    assert not group_alive(old_webserver.popen.pid), "the old webserver or its code server is still running"
    assert deployment.webserver.popen.pid != old_webserver.popen.pid
    runs_after = {run["runId"] for run in deployment.graphql(RUN_IDS_QUERY)["runsOrError"]["results"]}
    assert end_to_end.today_run["runId"] in runs_before
    assert runs_after >= runs_before


def test_stopping_a_process_ends_its_children_even_when_they_ignore_sigterm(tmp_path):
    # A parent and a child that both ignore SIGTERM, as stubborn as a hung code server; the child says when it is up.
    ready = tmp_path / "child-ready"
    stubborn = "import pathlib, signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    child = stubborn + f"pathlib.Path({str(ready)!r}).touch(); time.sleep(600)"
    parent = stubborn + f"subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(600)"
    process = Process("stubborn", [sys.executable, "-c", parent], env={}, log_dir=tmp_path)
    try:
        assert wait_for(ready.exists, 30), process.log_tail()
        process.stop(timeout_seconds=1)
        assert process.popen.returncode == -signal.SIGKILL
        assert not group_alive(process.popen.pid)
    finally:
        process.stop(timeout_seconds=1)  # a no-op unless an assertion above failed
