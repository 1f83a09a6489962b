"""The run process killed with SIGKILL mid-merge (issue 9, the last case of the fault suite), on the real deployment.

dagster-webserver and dagster-daemon run as in production (processes.py), on PostgreSQL storage, with a copy of
the project's dagster.yaml in a temporary DAGSTER_HOME: run monitoring polling every 2 s and run retries off, so
the one failure is final and alerted. A fake Hub serves a synthetic listing; the failure sensor posts to a real
webhook receiver on 127.0.0.1.

A first sync fills the catalog. Then every model's downloads change on the Hub, so the next merge rewrites every
row; the test holds `LOCK TABLE hf_sync_applied_listings IN SHARE MODE` in a transaction of its own. SHARE lets the
merge's reads of that table through (`last_applied_listing`, `newest_applied_fetched_at`, both before it writes
anything) and blocks only its last statement, the INSERT of `record_applied_listing.sql`: by then the merge has
updated ml_models in its transaction (an ACCESS EXCLUSIVE lock would stop it at its first read, before any write).
With the merge seen waiting there, the run's worker (the `multiprocessing` child the code server spawned for the
run: DefaultRunLauncher and the in-process executor run every step in it) is killed with SIGKILL, and the lock is
released. Then:

* PostgreSQL rolls the merge back: the whole catalog, xmin included, is what the first sync left;
* the run ends FAILURE. With DefaultRunLauncher it is the code server (`DagsterApiServer._check_for_orphaned_runs`
  in dagster/_grpc/server.py, every 0.5 s) that sees its run process dead and fails the run, after an engine event
  naming the signal. Run monitoring does not: DefaultRunLauncher does not support `check_run_worker_health`;
* the failure sensor posts one alert, with the run id and the partition, and an error naming the kill: the code
  server's engine event ("… was terminated by signal 9 (SIGKILL) …"), then RUN_FAILURE's own message;
* the dead run keeps its slot of the one-slot merge pool until the monitoring daemon frees it
  (`run_monitoring.free_slots_after_run_end_seconds` in dagster.yaml: without it the next merge would wait on the
  pool forever, "Step blocked by limit for pool pocketai_catalog_merge");
* the next sync succeeds and the catalog holds the Hub's new downloads.
"""

import json
import os
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
import yaml

from pocketai_pipeline_tests.catalog_snapshot import applied_listings, models, snapshot
from pocketai_pipeline_tests.dagster_ui import (
    RUN_DONE,
    RUN_QUERY,
    launch_job_partition,
    tag,
    wait_for_run,
)
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.processes import (
    ARTIFACTS,
    PROC,
    REPO,
    DagsterDeployment,
    deployment_env,
    wait_for,
)
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing
from pocketai_pipeline_tests.test_failure_sensor import ALERT_FIELDS, OUTSIDE_ANY_STEP, WebhookReceiver

HUB_MODELS = synthetic_listing(40)
PAGE_SIZE = 20
SYNC_JOB = "hf_litert_sync_job"
LOG_DIR = ARTIFACTS / "killed-run"
RUN_TIMEOUT_SECONDS = 120
BLOCK_TIMEOUT_SECONDS = 90
FAIL_TIMEOUT_SECONDS = 30
ALERT_TIMEOUT_SECONDS = 60  # the run failure sensor is evaluated every 30 s
MONITORING_POLL_SECONDS = 2
FREE_SLOTS_AFTER_SECONDS = 5
RECORD_APPLIED_LISTING = "INSERT INTO hf_sync_applied_listings"
STARTED_PROCESS = re.compile(r"Started process for run \(pid: (\d+)\)\.")
KILLED_BY_SIGKILL = "was terminated by signal 9 (SIGKILL)."
MARKED_FAILED_OUTSIDE = "This run has been marked as failed from outside the execution context."

RUN_LOG_QUERY = """
query($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message eventType } } }
  }
}"""
POOL_QUERY = """
{ instance { concurrencyLimit(concurrencyKey: "pocketai_catalog_merge") { slotCount activeRunIds } } }"""
RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status jobName } } } }"


class KilledRunDeployment(DagsterDeployment):
    """The deployment with its own DAGSTER_HOME (a dagster.yaml of the test's) instead of the repo root."""

    def __init__(self, env: dict[str, str], log_dir: Path, dagster_home: Path) -> None:
        super().__init__(env, log_dir)
        self.env["DAGSTER_HOME"] = str(dagster_home)


def dagster_home(path: Path) -> Path:
    """A copy of the project's dagster.yaml: run monitoring every 2 s, no run retries (the one failure is final),
    the pool slots of a dead run freed after 5 s."""
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["run_monitoring"]["poll_interval_seconds"] = MONITORING_POLL_SECONDS
    config["run_retries"] = {"enabled": False}
    # A worker killed inside ml_models never gives back its slot of the one-slot `pocketai_catalog_merge` pool: without
    # this, the monitoring daemon never frees it and every later merge waits ("Step blocked by limit for pool") forever.
    # The project's dagster.yaml lacks it (see the report of issue 9); 5 s here to keep the test short.
    config["run_monitoring"]["free_slots_after_run_end_seconds"] = FREE_SLOTS_AFTER_SECONDS
    path.mkdir()
    (path / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def launch_sync_job(deployment: DagsterDeployment, partition: str) -> str:
    """Launch hf_litert_sync_job for `partition` as the job's launchpad does (the failure sensor watches this job)."""
    return launch_job_partition(deployment.graphql, SYNC_JOB, partition)


def run_messages(deployment: DagsterDeployment, run_id: str) -> list[tuple[str | None, str]]:
    """(event type, message) of every event of the run, as the run page shows them."""
    logs = deployment.graphql(RUN_LOG_QUERY, {"runId": run_id})["logsForRun"]
    assert logs["__typename"] == "EventConnection", logs
    return [(event.get("eventType"), event.get("message") or "") for event in logs["events"]]


def run_status(deployment: DagsterDeployment, run_id: str) -> str:
    return deployment.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]["status"]


def merge_pool_holders(deployment: DagsterDeployment) -> list[str]:
    """The runs holding a slot of the merge pool, as the UI's pool page shows them."""
    pool = deployment.graphql(POOL_QUERY)["instance"]["concurrencyLimit"]
    assert pool["slotCount"] == 1, pool
    return pool["activeRunIds"]


def libpq_url(database_url: str) -> str:
    return sa.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def blocked_merge(conn: psycopg.Connection, locker_pid: int) -> int | None:
    """The backend waiting, behind the test's lock, to record the applied listing; None while there is none."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND query LIKE %s AND %s = ANY(pg_blocking_pids(pid))",
        (f"%{RECORD_APPLIED_LISTING}%", locker_pid),
    ).fetchone()
    return row[0] if row else None


def granted_table_locks(conn: psycopg.Connection, pid: int) -> set[tuple[str, str]]:
    return set(conn.execute(
        "SELECT relation::regclass::text, mode FROM pg_locks WHERE pid = %s AND locktype = 'relation' AND granted",
        (pid,),
    ).fetchall())


def backend_alive(conn: psycopg.Connection, pid: int) -> bool:
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] > 0


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) from /proc, None once it is gone."""
    try:
        state, ppid, pgrp = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[:3]
    except OSError:
        return None
    return state, int(ppid), int(pgrp)


def process_dead(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is None or stat[0] in ("Z", "X")


def cmdline(pid: int) -> str:
    return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def dump_logs(deployment: DagsterDeployment | None) -> None:
    """The processes' logs (kept in test-artifacts/killed-run/) on the test's output, for a failed run of it."""
    for process in (deployment.webserver, deployment.daemon) if deployment else ():
        if process is not None:
            print(f"===== {process.log_path} (last 150 lines) =====\n{process.log_tail(150)}")


@pytest.mark.slow
def test_a_run_killed_with_sigkill_mid_merge_rolls_back_fails_alerts_and_the_next_sync_converges(
    database_url, dagster_pg_url, tmp_path
):
    today = datetime.now(UTC).date().isoformat()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(database_url)
    deployment = locker = observer = None
    timings: dict[str, float] = {}
    with FakeHub(HUB_MODELS, cards=synthetic_cards(HUB_MODELS), page_size=PAGE_SIZE) as hub, \
            WebhookReceiver() as receiver:
        env = deployment_env(
            DATABASE_URL=database_url,
            DAGSTER_PG_URL=dagster_pg_url,
            HF_ENDPOINT=hub.url,
            POCKETAI_HOME=str(tmp_path / "home"),
            POCKETAI_HUB_STEP_RETRIES="1",
            POCKETAI_HUB_STEP_RETRY_DELAY_SECONDS="0.1",
            POCKETAI_ALERT_WEBHOOK_URL=f"{receiver.url}/hooks/alerts",
            # One baseline tick, then quiet: no sync but the test's (downloads alone are no Hub "modification" anyway).
            POCKETAI_CHANGE_SENSOR_MINUTES="600",
        )
        (tmp_path / "home").mkdir()
        try:
            deployment = KilledRunDeployment(env, LOG_DIR, dagster_home(tmp_path / "dagster_home")).start()

            # (1) A first sync; the catalog as it left it.
            first_run = launch_sync_job(deployment, today)
            assert wait_for_run(deployment.graphql, first_run, RUN_TIMEOUT_SECONDS)["status"] == "SUCCESS"
            before, applied_before = snapshot(engine), applied_listings(engine)
            assert set(models(before)) == {model["id"] for model in HUB_MODELS}

            # (2) New downloads for every model: the next merge rewrites every row. The test's SHARE lock on
            # hf_sync_applied_listings lets the merge read that table and blocks its INSERT into it, the last write.
            new_hub = [model | {"downloads": model["downloads"] + 1000 + index}
                       for index, model in enumerate(HUB_MODELS)]
            hub.set_models(new_hub)
            observer = psycopg.connect(libpq_url(database_url), autocommit=True)
            locker = psycopg.connect(libpq_url(database_url))
            locker.execute("LOCK TABLE hf_sync_applied_listings IN SHARE MODE")
            locker_pid = locker.info.backend_pid

            # (3) The second sync, until its merge waits on the lock.
            killed_run = launch_sync_job(deployment, today)
            launched = time.monotonic()

            def merge_blocked() -> int | None:
                assert run_status(deployment, killed_run) not in RUN_DONE, run_messages(deployment, killed_run)[-5:]
                return blocked_merge(observer, locker_pid)

            assert wait_for(merge_blocked, BLOCK_TIMEOUT_SECONDS, 0.2), "the merge never blocked on the test's lock"
            merge_pid = blocked_merge(observer, locker_pid)
            timings["launch → merge blocked"] = time.monotonic() - launched
            # It has written ml_models in its transaction (rewritten every row), not committed.
            assert ("ml_models", "RowExclusiveLock") in granted_table_locks(observer, merge_pid)
            assert observer.execute("SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = %s",
                                    (merge_pid,)).fetchone()[0]
            assert snapshot(engine) == before  # nothing of it is visible

            # The run's worker: the process its run worker reported starting in, a child of the daemon's code
            # server (the daemon's run coordinator launched the run through it), in the daemon's process group.
            [worker_pid] = [int(match.group(1)) for _, message in run_messages(deployment, killed_run)
                            if (match := STARTED_PROCESS.search(message))]
            state, parent, group = proc_stat(worker_pid)
            assert state != "Z" and group == deployment.daemon.popen.pid, (state, group)
            assert "multiprocessing" in cmdline(worker_pid) and "api grpc" in cmdline(parent), \
                (cmdline(worker_pid), cmdline(parent))

            signal_sent = time.monotonic()
            os.kill(worker_pid, signal.SIGKILL)
            # The code server reaps it (a zombie counts as dead); then the test lets the blocked INSERT through.
            assert wait_for(lambda: process_dead(worker_pid), 10, 0.05), proc_stat(worker_pid)
            locker.rollback()
            # The INSERT finishes, then the backend finds its client gone and aborts the transaction.
            assert wait_for(lambda: not backend_alive(observer, merge_pid), 30, 0.1), "the merge's backend lingers"
            timings["SIGKILL → backend gone"] = time.monotonic() - signal_sent

            # (4) Rolled back: every row as the first sync left it, xmin included; no applied listing recorded.
            assert snapshot(engine) == before
            assert applied_listings(engine) == applied_before

            def failed() -> bool:
                return run_status(deployment, killed_run) in RUN_DONE

            assert wait_for(failed, FAIL_TIMEOUT_SECONDS, 0.2), run_messages(deployment, killed_run)[-5:]
            timings["SIGKILL → run FAILURE"] = time.monotonic() - signal_sent
            run = deployment.graphql(RUN_QUERY, {"runId": killed_run})["runOrError"]
            assert (run["status"], run["jobName"], tag(run, "dagster/partition")) == ("FAILURE", SYNC_JOB, today)
            # The dead run still holds the one slot of the merge pool (freed 5 s after its end, below).
            assert merge_pool_holders(deployment) == [killed_run]
            messages = run_messages(deployment, killed_run)
            # The code server's orphaned-run check (its engine event says [DagsterApiServer]) names the signal, then
            # fails the run.
            crashed = f"[DagsterApiServer] Run execution process for {killed_run} {KILLED_BY_SIGKILL}"
            crash = [i for i, (kind, message) in enumerate(messages)
                     if kind == "ENGINE_EVENT" and message.startswith(crashed)]
            failure = [i for i, (kind, _) in enumerate(messages) if kind == "RUN_FAILURE"]
            assert len(crash) == 1 and len(failure) == 1 and crash[0] < failure[0], "\n".join(map(repr, messages[-6:]))
            assert messages[failure[0]][1] == MARKED_FAILED_OUTSIDE
            assert not any(kind == "STEP_FAILURE" for kind, _ in messages)  # the step never got to fail
            assert not any(message.startswith("Detected run worker status") for _, message in messages)

            # The alert, once.
            assert wait_for(lambda: receiver.posts, ALERT_TIMEOUT_SECONDS), "no alert was posted"
            timings["SIGKILL → alert"] = time.monotonic() - signal_sent
            [post] = receiver.posts
            assert post.path == "/hooks/alerts"
            alert = json.loads(post.body)
            assert set(alert) == ALERT_FIELDS
            assert (alert["job"], alert["run_id"], alert["partition"], alert["failed_steps"]) == \
                (SYNC_JOB, killed_run, today, [])
            assert alert["error"].startswith(f"{OUTSIDE_ANY_STEP}{crashed}"), alert["error"]
            assert "SIGKILL" in alert["error"] and MARKED_FAILED_OUTSIDE in alert["error"], alert["error"]

            # The monitoring daemon frees the dead run's merge slot (without free_slots_after_run_end_seconds nothing
            # does, and the next merge waits forever).
            assert wait_for(lambda: not merge_pool_holders(deployment), FREE_SLOTS_AFTER_SECONDS + 20), \
                merge_pool_holders(deployment)
            timings["SIGKILL → merge slot freed"] = time.monotonic() - signal_sent

            # A next sync converges: every model's downloads as the Hub now says, every row rewritten once.
            next_run = launch_sync_job(deployment, today)
            started = time.monotonic()
            assert wait_for_run(deployment.graphql, next_run, RUN_TIMEOUT_SECONDS)["status"] == "SUCCESS"
            timings["next sync"] = time.monotonic() - started
            after = models(snapshot(engine))
            assert {model_id: row["downloads"] for model_id, row in after.items()} == \
                {model["id"]: model["downloads"] for model in new_hub}
            assert all(row["xmin"] != models(before)[model_id]["xmin"] for model_id, row in after.items())
            assert len(applied_listings(engine)) == len(applied_before) + 1
            runs = deployment.graphql(RUNS_QUERY)["runsOrError"]["results"]
            assert {(r["runId"], r["status"]) for r in runs} == \
                {(first_run, "SUCCESS"), (killed_run, "FAILURE"), (next_run, "SUCCESS")}  # no retry, no other run
            assert len(receiver.posts) == 1
            print("timings (s):", {name: round(seconds, 1) for name, seconds in timings.items()})
        except BaseException:
            dump_logs(deployment)
            print("timings (s):", {name: round(seconds, 1) for name, seconds in timings.items()})
            raise
        finally:
            try:
                if deployment is not None:
                    deployment.stop()
            finally:
                for conn in (locker, observer):
                    if conn is not None:
                        conn.close()
                engine.dispose()
