"""A wrong setting fails at once, in one sentence naming it, without step retries; transient faults are retried."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_models
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline_tests.synthetic import synthetic_listing

REPO = Path(__file__).resolve().parents[1]
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
ASSETS = [hf_litert_listing, litert_model_records, ml_models]
REFUSED_DATABASE = "postgresql+psycopg://nouser:s3cret-pw@127.0.0.1:9/nodb"


def materialize(resources) -> dg.ExecuteInProcessResult:
    return dg.materialize(ASSETS, partition_key=TODAY, resources=resources, raise_on_error=False)


def step_errors(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """What the UI shows first for each failed step: a Failure's description, else the error's message."""
    def shown(data) -> str:
        return data.user_failure_data.description if data.user_failure_data else data.error.message
    return {event.step_key: shown(event.step_failure_data) for event in result.get_step_failure_events()}


def retries(result: dg.ExecuteInProcessResult) -> list[str]:
    return [event.step_key for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


@pytest.mark.parametrize(
    ("endpoint", "named"),
    [("http://127.0.0.1:9", "HF_ENDPOINT=http://127.0.0.1:9 could not be reached"),
     ("http://no-such-host.invalid", "HF_ENDPOINT=http://no-such-host.invalid could not be reached")],
)
def test_an_unreachable_endpoint_fails_the_listing_at_once(sync_resources, endpoint, named):
    started = time.monotonic()
    result = materialize({**sync_resources, "hub": HubResource(endpoint=endpoint)})

    assert not result.success and time.monotonic() - started < 30
    assert retries(result) == []
    [message] = step_errors(result).values()
    assert message.startswith(named) and "make demo" in message and "\n" not in message.strip()


@pytest.mark.parametrize(
    ("status", "named"), [(401, "refused by HF_ENDPOINT"), (403, "refused by HF_ENDPOINT"), (404, "has no model listing")]
)
def test_an_endpoint_that_refuses_the_listing_fails_at_once(fake_hub, sync_resources, status, named):
    fake_hub.fail_next(status, count=10)

    result = materialize(sync_resources)

    assert retries(result) == [] and named in step_errors(result)["hf_litert_listing"]


def test_a_transient_server_error_is_still_retried(fake_hub, sync_resources):
    fake_hub.set_models(synthetic_listing(5))
    fake_hub.fail_next(503, count=2)  # the client's one retry, then the step's one retry (conftest)

    result = materialize(sync_resources)

    assert result.success and retries(result) == ["hf_litert_listing"]


def test_a_refused_database_fails_the_first_step_that_needs_it_once_naming_it_never_the_password(
    fake_hub, sync_resources, tmp_path
):
    fake_hub.set_models(synthetic_listing(5))
    catalog = CatalogResource(database_url=REFUSED_DATABASE, home=str(tmp_path))

    result = materialize({**sync_resources, "catalog": catalog})

    assert retries(result) == []
    errors = step_errors(result)
    assert list(errors) == ["litert_model_records"]
    message = errors["litert_model_records"]
    assert "DATABASE_URL = postgresql+psycopg://nouser:***@127.0.0.1:9/nodb" in message
    assert "s3cret-pw" not in message and "check the host, port, database, user and password" in message


@pytest.mark.slow
def test_make_sync_with_an_unreachable_endpoint_ends_in_seconds_with_one_sentence(tmp_path, dagster_pg_url):
    """The default step retries (3, from 30 s) stay: only a transient error would use them."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("POCKETAI_HUB_STEP_RETR")}
    env |= {"POCKETAI_HOME": str(tmp_path), "DAGSTER_PG_URL": dagster_pg_url, "HF_ENDPOINT": "http://127.0.0.1:9",
            "DAGSTER_HOME": str(REPO)}  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pocketai_pipeline.devserver", "sync"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started

    assert done.returncode != 0 and took < 60, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert any("HF_ENDPOINT=http://127.0.0.1:9 could not be reached" in line for line in lines[-3:]), done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "will retry" not in done.stdout


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("HF_ENDPOINT", "huggingface.co", "HF_ENDPOINT='huggingface.co' is not an http(s) URL; use e.g. HF_ENDPOINT=https://huggingface.co"),
        ("HF_ENDPOINT", "ftp://mirror.example", "use e.g. HF_ENDPOINT=https://huggingface.co"),
        ("POCKETAI_HF_FILTER", ",,", "POCKETAI_HF_FILTER=',,' names no filter; use e.g. 'litert'"),
        ("POCKETAI_DETAILS_TIME_BUDGET_SECONDS", "soon", "POCKETAI_DETAILS_TIME_BUDGET_SECONDS=1800"),
        ("POCKETAI_DETAILS_TIME_BUDGET_SECONDS", "-5", "POCKETAI_DETAILS_TIME_BUDGET_SECONDS='-5' must not be negative"),
    ],
)
def test_a_bad_hub_setting_stops_the_code_location_from_loading(variable, value, named):
    env = {**os.environ, variable: value}
    done = subprocess.run([sys.executable, "-c", "import pocketai_pipeline.definitions"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode != 0 and named in done.stderr, done.stderr
