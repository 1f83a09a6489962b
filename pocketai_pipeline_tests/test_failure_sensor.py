"""The failure sensor on a real failed run of hf_litert_sync_job, posting to a real local webhook receiver."""

import json
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

from pocketai_pipeline.assets import hf_litert_listing, litert_model_records, ml_models
from pocketai_pipeline.automation.alerts import error_summary, redact, root_error
from pocketai_pipeline.automation.failure_sensor import sync_failure_sensor
from pocketai_pipeline.automation.settings import AutomationSettings, secret_values
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.jobs import hf_litert_sync_job
from pocketai_pipeline.storage import ListingIOManager, RecordsIOManager
from pocketai_pipeline_tests.fake_hub import FakeHub

HF_TOKEN = "hf_TestTokenThatMustNeverLeak0123456789"
DB_PASSWORD = "catalog-pw-never-leaks"
DAGSTER_URL = "http://dagster.example:3000"
ALERT_FIELDS = {"job", "run_id", "partition", "failed_steps", "error", "run_url"}


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
        assets=[hf_litert_listing, litert_model_records, ml_models],
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


def failure_context(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> dg.RunFailureSensorContext:
    return dg.build_run_status_sensor_context(
        sensor_name="hf_litert_sync_failure_sensor",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


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


def evaluate(failed: FailedSync, webhook_url: str | None, **options) -> None:
    sensor = sync_failure_sensor(webhook_url, DAGSTER_URL, (HF_TOKEN, DB_PASSWORD), **options)
    sensor(failure_context(failed.instance, failed.result))


def test_a_failed_sync_run_posts_the_alert_json_without_secrets(failed_sync, receiver, capfd):
    evaluate(failed_sync, f"{receiver.url}/hooks/alerts")

    [post] = receiver.posts
    assert post.path == "/hooks/alerts"
    assert post.headers["content-type"] == "application/json"
    alert = json.loads(post.body)
    assert set(alert) == ALERT_FIELDS
    assert alert["job"] == "hf_litert_sync_job"
    assert alert["run_id"] == failed_sync.run_id
    assert alert["partition"] == datetime.now(UTC).date().isoformat()
    assert alert["failed_steps"] == ["hf_litert_listing"]
    assert alert["run_url"] == f"{DAGSTER_URL}/runs/{failed_sync.run_id}"
    # The Hub's own error, not Dagster's retry wrapper around it.
    assert "HfHubHTTPError" in alert["error"] and "500" in alert["error"]
    assert "Exceeded max_retries" not in alert["error"]
    assert "bad token ***" in alert["error"]
    assert "\n" not in alert["error"] and len(alert["error"]) <= 500
    logs = capfd.readouterr().err
    assert failed_sync.run_id in logs and "hf_litert_listing" in logs
    for secret in (HF_TOKEN, DB_PASSWORD):
        assert secret.encode() not in post.body
        assert secret not in logs


def test_without_a_webhook_the_failure_is_only_logged(failed_sync, receiver, capfd):
    evaluate(failed_sync, None)

    assert receiver.posts == []
    logs = capfd.readouterr().err
    assert f"run {failed_sync.run_id}" in logs and "HfHubHTTPError" in logs


def test_a_webhook_that_fails_is_logged_not_raised_and_its_url_stays_out_of_the_log(failed_sync, capfd):
    with WebhookReceiver(status=500) as failing:
        evaluate(failed_sync, f"{failing.url}/hooks/T0KEN-IN-URL")
    assert len(failing.posts) == 1
    logs = capfd.readouterr().err
    assert "could not post the failure alert to the webhook at 127.0.0.1" in logs and "500" in logs
    assert "T0KEN-IN-URL" not in logs


def test_an_unreachable_webhook_is_logged_not_raised(failed_sync, capfd):
    with WebhookReceiver() as gone:
        url = gone.url
    evaluate(failed_sync, url)
    assert "could not post the failure alert" in capfd.readouterr().err


def test_a_slow_webhook_is_cut_off_by_the_timeout(failed_sync, capfd):
    with WebhookReceiver(delay_seconds=3) as slow:
        started = time.monotonic()
        evaluate(failed_sync, slow.url, webhook_timeout_seconds=0.3)
        elapsed = time.monotonic() - started
    assert elapsed < 2
    assert "could not post the failure alert" in capfd.readouterr().err


def test_a_run_dagster_will_retry_is_logged_but_not_alerted(fake_hub, tmp_path, receiver, capfd):
    with dg.instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 2}}) as retrying:
        result = run_failing_sync(retrying, fake_hub, tmp_path)
        assert retrying.get_run_by_id(result.run_id).tags["dagster/will_retry"] == "true"
        evaluate(FailedSync(retrying, result), receiver.url)

    assert receiver.posts == []
    logs = capfd.readouterr().err
    assert result.run_id in logs and "retries this run automatically" in logs


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
