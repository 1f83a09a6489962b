"""The failure sensor on runs failed the ways Dagster fails them (a step, exhausted retries, a dead worker, a failed
launch, a start timeout, the max runtime), on a real instance, posting to a real local webhook receiver."""

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import CheckRunHealthResult, RunLauncher, WorkerStatus
from dagster._daemon.monitoring.run_monitoring import check_run_timeout, monitor_started_run, monitor_starting_run
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster_graphql.implementation.execution import _force_mark_as_canceled as force_mark_as_canceled

from pocketai_pipeline.defs import assets
from pocketai_pipeline.alerts import error_summary, redact, root_error
from pocketai_pipeline.defs.automation.failure_sensor import PARTITION_TAG, sync_failure_sensor
from pocketai_pipeline.settings import AutomationSettings, secret_values
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.defs.jobs import hf_litert_sync_job
from pocketai_pipeline.defs.io_managers import ListingIOManager, RecordsIOManager
from pocketai_pipeline_tests.fake_hub import FakeHub

HF_TOKEN = "hf_TestTokenThatMustNeverLeak0123456789"
DB_PASSWORD = "catalog-pw-never-leaks"
DAGSTER_URL = "http://dagster.example:3000"
ALERT_FIELDS = {"job", "run_id", "partition", "failed_steps", "error", "run_url"}
PARTITION = "2026-11-25"
OUTSIDE_ANY_STEP = "run failed outside any step: "
MONITORING = logging.getLogger("run_monitoring")


@dataclass(frozen=True)
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A real HTTP endpoint on 127.0.0.1 that records every POST and answers `status` after `delay_seconds`."""

    def __init__(self, status: int = 204, delay_seconds: float = 0.0) -> None:
        self.status = status
        self.delay_seconds = delay_seconds
        self.posts: list[ReceivedPost] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append(ReceivedPost(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay_seconds)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> "WebhookReceiver":
        threading.Thread(target=partial(self._server.serve_forever, poll_interval=0.05), daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def run_failing_sync(instance: dg.DagsterInstance, fake_hub: FakeHub, tmp_path: Path) -> dg.ExecuteInProcessResult:
    """A genuine failed run of hf_litert_sync_job: the Hub answers every request 500, with secrets in its message."""
    hub_message = f"bad token {HF_TOKEN} for postgres://sync:{DB_PASSWORD}@db"
    fake_hub.fail_next(500, count=100, body=json.dumps({"error": hub_message}))
    defs = dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        jobs=[hf_litert_sync_job],
        resources={
            "hub": HubResource(endpoint=fake_hub.url, token=HF_TOKEN, max_retries=0),
            # Never reached: the listing fails first.
            "catalog": CatalogResource(
                database_url=f"postgresql+psycopg://sync:{DB_PASSWORD}@127.0.0.1:9/none", home=str(tmp_path)
            ),
            "listing_io_manager": ListingIOManager(base_dir=str(tmp_path / "data")),
            "records_io_manager": RecordsIOManager(base_dir=str(tmp_path / "data")),
        },
    )
    today = datetime.now(UTC).date().isoformat()
    result = defs.resolve_job_def(hf_litert_sync_job.name).execute_in_process(
        instance=instance, partition_key=today, raise_on_error=False
    )
    assert not result.success
    return result


def failure_event(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterEvent:
    """The run's RUN_FAILURE event as the instance stored it: what the daemon hands the sensor."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return records[-1].event_log_entry.dagster_event


def evaluate(instance: dg.DagsterInstance, run_id: str, webhook_url: str | None, **options) -> None:
    sensor = sync_failure_sensor(webhook_url, DAGSTER_URL, (HF_TOKEN, DB_PASSWORD), **options)
    context = dg.build_run_status_sensor_context(
        sensor_name="hf_litert_sync_failure_sensor",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        dagster_event=failure_event(instance, run_id),
    ).for_run_failure()
    sensor(context)


def the_alert(receiver: WebhookReceiver) -> dict:
    """The one alert the receiver got, checked against the public JSON contract."""
    [post] = receiver.posts
    alert = json.loads(post.body)
    assert set(alert) == ALERT_FIELDS
    assert alert["run_url"] == f"{DAGSTER_URL}/runs/{alert['run_id']}"
    assert "\n" not in alert["error"] and len(alert["error"]) <= 500
    return alert


@dataclass(frozen=True)
class FailedSync:
    instance: dg.DagsterInstance
    result: dg.ExecuteInProcessResult

    @property
    def run_id(self) -> str:
        return self.result.run_id


@pytest.fixture(scope="module")
def failed_sync(tmp_path_factory) -> Iterator[FailedSync]:
    """One failed sync run, shared by the tests that only read it (a run costs seconds)."""
    with FakeHub() as hub, dg.instance_for_test() as instance:
        yield FailedSync(instance, run_failing_sync(instance, hub, tmp_path_factory.mktemp("failed_sync")))


# --- small runs of a job named like the sync job, failed the ways Dagster fails them ---


class GoneClusterLauncher(RunLauncher, ConfigurableClass):
    """A run launcher whose cluster is gone: a launch raises, and the worker of a started run is dead."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict) -> "GoneClusterLauncher":
        return cls(inst_data)

    def launch_run(self, context) -> None:
        raise ConnectionError(f"run cluster at k8s.example unreachable with token {HF_TOKEN}")

    def terminate(self, run_id: str) -> bool:
        return False

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return CheckRunHealthResult(WorkerStatus.FAILED, "exit code 137")

    def get_run_worker_debug_info(self, run: dg.DagsterRun, include_container_logs: bool | None = True) -> str:
        return "pod sync-worker-1\nOOMKilled"


GONE_CLUSTER = {
    "run_launcher": {"module": __name__, "class": GoneClusterLauncher.__name__},
    "run_monitoring": {"enabled": True, "start_timeout_seconds": 180},
}


def sync_named_job(op_def: dg.OpDefinition) -> dg.JobDefinition:
    """A one-op job named hf_litert_sync_job, so the sensor's monitored_jobs covers its runs."""

    def compose() -> None:
        op_def()

    return dg.job(name=hf_litert_sync_job.name)(compose)


@dg.op
def noop() -> None:
    pass


def report(instance: dg.DagsterInstance, run: dg.DagsterRun, event_type: dg.DagsterEventType, **kwargs) -> None:
    instance.report_dagster_event(dg.DagsterEvent(event_type.value, job_name=run.job_name), run.run_id, **kwargs)


def new_run(instance: dg.DagsterInstance, **kwargs) -> dg.DagsterRun:
    return instance.create_run_for_job(sync_named_job(noop), tags={PARTITION_TAG: PARTITION}, **kwargs)


def started_run(instance: dg.DagsterInstance, started_seconds_ago: float = 0, **tags: str) -> dg.DagsterRun:
    """A run as the launcher and its worker leave it once the worker started."""
    run = instance.create_run_for_job(sync_named_job(noop), tags={PARTITION_TAG: PARTITION, **tags})
    report(instance, run, dg.DagsterEventType.RUN_STARTING)
    report(instance, run, dg.DagsterEventType.RUN_START, timestamp=time.time() - started_seconds_ago)
    return instance.get_run_by_id(run.run_id)


def worker_died(instance: dg.DagsterInstance) -> str:
    """Run monitoring finds the run's worker dead and fails the run (`report_run_failed(run, msg)`)."""
    run = started_run(instance)
    monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), MONITORING)
    return run.run_id


# --- every way a sync run fails reaches the webhook ---


def test_a_failed_sync_run_posts_the_alert_json_without_secrets(failed_sync, receiver, capfd):
    evaluate(failed_sync.instance, failed_sync.run_id, f"{receiver.url}/hooks/alerts")

    [post] = receiver.posts
    assert post.path == "/hooks/alerts"
    assert post.headers["content-type"] == "application/json"
    alert = the_alert(receiver)
    assert alert["job"] == "hf_litert_sync_job"
    assert alert["run_id"] == failed_sync.run_id
    assert alert["partition"] == datetime.now(UTC).date().isoformat()
    assert alert["failed_steps"] == ["hf_litert_listing"]
    # The Hub's own error, not Dagster's retry wrapper around it.
    assert "HfHubHTTPError" in alert["error"] and "500" in alert["error"]
    assert "Exceeded max_retries" not in alert["error"]
    assert "bad token ***" in alert["error"]
    logs = capfd.readouterr().err
    assert failed_sync.run_id in logs and "hf_litert_listing" in logs
    for secret in (HF_TOKEN, DB_PASSWORD):
        assert secret.encode() not in post.body
        assert secret not in logs


def test_without_a_webhook_the_failure_is_only_logged(failed_sync, receiver, capfd):
    evaluate(failed_sync.instance, failed_sync.run_id, None)

    assert receiver.posts == []
    logs = capfd.readouterr().err
    assert f"run {failed_sync.run_id}" in logs and "HfHubHTTPError" in logs


def test_a_step_whose_retries_are_exhausted_alerts_with_its_own_error(receiver):
    attempts = []

    @dg.op(retry_policy=dg.RetryPolicy(max_retries=2))
    def merge_catalog() -> None:
        attempts.append(1)
        raise ConnectionError(f"catalog at postgres://sync:{DB_PASSWORD}@db is down")

    with dg.instance_for_test() as instance:
        result = sync_named_job(merge_catalog).execute_in_process(
            instance=instance, tags={PARTITION_TAG: PARTITION}, raise_on_error=False
        )
        evaluate(instance, result.run_id, receiver.url)

    assert len(attempts) == 3
    alert = the_alert(receiver)
    assert (alert["run_id"], alert["partition"]) == (result.run_id, PARTITION)
    assert alert["failed_steps"] == ["merge_catalog"]
    assert alert["error"] == "ConnectionError: catalog at postgres://sync:***@db is down"


def test_a_run_whose_worker_died_alerts_with_run_monitorings_reason(receiver):
    with dg.instance_for_test(overrides=GONE_CLUSTER) as instance:
        run_id = worker_died(instance)
        assert failure_event(instance, run_id).event_specific_data is None  # what broke the sensor
        evaluate(instance, run_id, receiver.url)

    alert = the_alert(receiver)
    assert (alert["run_id"], alert["partition"], alert["failed_steps"]) == (run_id, PARTITION, [])
    assert alert["error"] == (
        f"{OUTSIDE_ANY_STEP}Detected run worker status FAILED: 'exit code 137'. Marking run {run_id} as failed. "
        "pod sync-worker-1 OOMKilled"
    )


def test_a_run_whose_launch_failed_alerts_with_the_launch_error(receiver):
    with dg.instance_for_test(overrides=GONE_CLUSTER) as instance:
        run = new_run(instance)
        with pytest.raises(ConnectionError):
            instance.launch_run(run.run_id, workspace=None)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        evaluate(instance, run.run_id, receiver.url)

    alert = the_alert(receiver)
    assert (alert["run_id"], alert["failed_steps"]) == (run.run_id, [])
    assert alert["error"] == (
        f"{OUTSIDE_ANY_STEP}ConnectionError: run cluster at k8s.example unreachable with token *** — "
        "This run has been marked as failed from outside the execution context."
    )


def test_a_run_that_never_started_alerts_with_the_start_timeout(receiver):
    with dg.instance_for_test(overrides=GONE_CLUSTER) as instance:
        run = new_run(instance)
        report(instance, run, dg.DagsterEventType.RUN_STARTING, timestamp=time.time() - 600)
        monitor_starting_run(instance, instance.get_run_record_by_id(run.run_id), MONITORING)
        evaluate(instance, run.run_id, receiver.url)

    alert = the_alert(receiver)
    assert (alert["run_id"], alert["failed_steps"]) == (run.run_id, [])
    assert alert["error"] == (
        f"{OUTSIDE_ANY_STEP}Run timed out due to taking longer than 180 seconds to start. "
        "pod sync-worker-1 OOMKilled"
    )


def test_a_run_monitoring_stopped_past_its_max_runtime_is_alerted_a_cancel_by_a_person_is_not(receiver):
    """What the daemon does: sensor ticks over the instance's run status events."""
    with dg.instance_for_test() as instance:
        sensor = sync_failure_sensor(receiver.url, DAGSTER_URL, ())
        first_tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        # A person terminates a run from the UI ("mark as canceled immediately"), as dagster-graphql does it.
        canceled = started_run(instance)
        instance.run_coordinator.cancel_run(canceled.run_id)
        force_mark_as_canceled(instance, canceled.run_id)
        # Run monitoring stops a run that ran past its max runtime: it cancels it, then marks it failed.
        overdue = started_run(instance, started_seconds_ago=120, **{"dagster/max_runtime": "60"})
        check_run_timeout(instance, instance.get_run_record_by_id(overdue.run_id), MONITORING, 3600)
        sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first_tick.cursor))

        assert instance.get_run_by_id(canceled.run_id).status == dg.DagsterRunStatus.CANCELED
        assert instance.get_run_by_id(overdue.run_id).status == dg.DagsterRunStatus.FAILURE
    alert = the_alert(receiver)
    assert (alert["run_id"], alert["failed_steps"]) == (overdue.run_id, [])
    assert alert["error"] == (
        f"{OUTSIDE_ANY_STEP}Canceling due to exceeding maximum runtime of 60 seconds. — This job is being forcibly "
        "marked as failed. The computational resources created by the run may not have been fully cleaned up."
    )


# --- a webhook that fails never breaks the sensor nor leaks its URL ---


@pytest.fixture(scope="module")
def dead_worker_run() -> Iterator[tuple[dg.DagsterInstance, str]]:
    with dg.instance_for_test(overrides=GONE_CLUSTER) as instance:
        yield instance, worker_died(instance)


@pytest.mark.parametrize(
    ("down", "options", "reason"),
    [
        pytest.param(False, {"status": 500}, "HTTPError: HTTP Error 500", id="answers-500"),
        pytest.param(False, {"delay_seconds": 3}, "timed out", id="never-answers"),
        pytest.param(True, {}, "Connection refused", id="down"),
    ],
)
def test_a_failing_webhook_is_logged_by_host_only_and_never_raises(dead_worker_run, down, options, reason, capfd):
    instance, run_id = dead_worker_run

    def post_alert(url: str) -> float:
        started = time.monotonic()
        evaluate(instance, run_id, url, webhook_timeout_seconds=0.3)
        return time.monotonic() - started

    with WebhookReceiver(**options) as webhook:
        url = f"{webhook.url}/hooks/T0KEN-IN-URL"
        if not down:
            elapsed = post_alert(url)
    if down:  # nothing listens on its port any more
        elapsed = post_alert(url)

    assert elapsed < 2
    assert len(webhook.posts) == (0 if down else 1)
    logs = capfd.readouterr().err
    assert "could not post the failure alert to the webhook at 127.0.0.1: " in logs and reason in logs
    assert "T0KEN-IN-URL" not in logs and webhook.url not in logs


def test_a_run_dagster_will_retry_is_logged_but_not_alerted(fake_hub, tmp_path, receiver, capfd):
    with dg.instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 2}}) as retrying:
        result = run_failing_sync(retrying, fake_hub, tmp_path)
        assert retrying.get_run_by_id(result.run_id).tags["dagster/will_retry"] == "true"
        evaluate(retrying, result.run_id, receiver.url)

    assert receiver.posts == []
    logs = capfd.readouterr().err
    assert result.run_id in logs and "retries this run automatically" in logs


def test_a_dead_worker_run_dagster_will_retry_is_logged_but_not_alerted(receiver, capfd):
    with dg.instance_for_test(overrides={**GONE_CLUSTER, "run_retries": {"enabled": True, "max_retries": 2}}) as inst:
        run_id = worker_died(inst)
        assert inst.get_run_by_id(run_id).tags["dagster/will_retry"] == "true"
        evaluate(inst, run_id, receiver.url)

    assert receiver.posts == []
    logs = capfd.readouterr().err
    assert run_id in logs and "Marking run" in logs and "retries this run automatically" in logs


def test_the_code_location_runs_the_failure_sensor_on_the_sync_job():
    from pocketai_pipeline.definitions import defs

    sensor = defs.resolve_sensor_def("hf_litert_sync_failure_sensor")
    assert isinstance(sensor, dg.RunStatusSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


# --- pure parts ---


def test_redact_replaces_every_secret_longest_first_and_url_passwords():
    text = "token abcdef and abc, url postgresql+psycopg://me:hunter2@db:5432/x and https://u:p@w@h/"
    assert redact(text, ["abc", "abcdef", ""]) == (
        "token *** and ***, url postgresql+psycopg://me:***@db:5432/x and https://u:***@h/"
    )
    assert redact("nothing secret at http://host:8080/path", []) == "nothing secret at http://host:8080/path"


def test_error_summary_is_one_line_redacted_before_truncation():
    secret = "S" * 40
    # The secret straddles the 500th character: truncating first would leave its first 20 characters.
    message = "HfHubHTTPError: first\n\n  second line\n" + "x" * 445 + secret + "y" * 100
    summary = error_summary(message, [secret])
    assert summary.startswith("HfHubHTTPError: first second line xxx")
    assert len(summary) == 500 and summary.endswith("…")
    assert "S" not in summary and "***yyy" in summary


def test_root_error_unwraps_dagster_wrappers_only():
    @dataclass
    class Error:
        cls_name: str
        message: str
        cause: "Error | None" = None

    hub_error = Error("HfHubHTTPError", "500", Error("HTTPStatusError", "500 raw"))
    step_error = Error("DagsterExecutionStepExecutionError", "Error occurred while executing op", hub_error)
    wrapped = Error("RetryRequestedFromPolicy", "Exceeded max_retries of 1", step_error)
    assert root_error(wrapped) is hub_error
    assert root_error(hub_error) is hub_error


def test_secret_values_come_from_hf_token_and_the_database_url_passwords():
    environ = {
        "HF_TOKEN": HF_TOKEN,
        "DATABASE_URL": "postgresql+psycopg://app:p%40ss@db/catalog",
        "DAGSTER_PG_URL": "postgresql+psycopg2://dagster:dagster-pw@db/dagster",
        "POCKETAI_HOME": "/not/a/secret",
    }
    assert set(secret_values(environ)) == {HF_TOKEN, "p%40ss", "p@ss", "dagster-pw"}
    assert secret_values({"DATABASE_URL": "postgresql://nopassword@db/x"}) == ()


def test_alert_settings_from_the_environment():
    settings = AutomationSettings.from_env({
        "POCKETAI_ALERT_WEBHOOK_URL": "https://hooks.example/T0KEN/",
        "POCKETAI_DAGSTER_URL": "https://dagster.example/",
    })
    assert settings.alert_webhook_url == "https://hooks.example/T0KEN"
    assert settings.dagster_url == "https://dagster.example"
    assert "T0KEN" not in repr(settings)
    defaults = AutomationSettings.from_env({})
    assert (defaults.alert_webhook_url, defaults.dagster_url) == (None, "http://127.0.0.1:3000")
    with pytest.raises(ValueError, match="POCKETAI_ALERT_WEBHOOK_URL must be an http") as raised:
        AutomationSettings.from_env({"POCKETAI_ALERT_WEBHOOK_URL": "hooks.example/T0KEN"})
    assert "T0KEN" not in str(raised.value)
