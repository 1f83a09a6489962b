"""No secret leaves the process (issue 9, item 5): with HF_TOKEN, a catalog password that the server really
checks, and a webhook URL holding its own token, none of them appears in any byte of the run's event log
(every event: messages, metadata, error infos), the instance's directory (compute logs included), the
materialization metadata, the stored listings and records (decompressed), the step errors, the console
output, or the alert the failure sensor posts to a real receiver; after a good run and after failed ones
(Hub 500, catalog refused, token refused with 401).
"""

import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._serdes import serialize_value

from pocketai_pipeline.defs.automation.failure_sensor import sync_failure_sensor
from pocketai_pipeline.settings import AutomationSettings
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.defs.io_managers import ListingIOManager, RecordsIOManager
from pocketai_pipeline_tests.stored_files import zstd_text
from pocketai_pipeline_tests.catalog_snapshot import password_role, snapshot, sync, with_login
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing
from pocketai_pipeline_tests.test_failure_sensor import WebhookReceiver

HF_TOKEN = "hf_SecretsSuiteToken9f8e7d6c5b4a3210"
DB_PASSWORD = "Db-Secret-Pw-31415926"
WEBHOOK_TOKEN = "T0K3N-secret"
ROLE = "h8_secrets_login"
SECRETS = (HF_TOKEN, DB_PASSWORD, WEBHOOK_TOKEN)
HUB_MODELS = synthetic_listing(8)


def leaks(data: bytes | str, where: str) -> list[str]:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return [f"{secret} in {where}" for secret in SECRETS if secret in text]


def readable(path: Path) -> bytes:
    """A stored file's bytes, and its decompressed content for zstd and Parquet files."""
    raw = path.read_bytes()
    if path.name.endswith(".zst"):
        raw += zstd_text(path).encode()
    if path.name.endswith(".parquet"):
        table = pq.read_table(path)
        raw += repr(table.to_pylist()).encode() + repr(table.schema.metadata).encode()
    return raw


def every_leak(instance: dg.DagsterInstance, run_id: str, result, storage: Path) -> list[str]:
    found = []
    for entry in instance.all_logs(run_id):
        found += leaks(serialize_value(entry), f"event {entry.dagster_event_type or entry.user_message[:40]}")
    for path in Path(instance.root_directory).rglob("*"):
        if path.is_file():
            found += leaks(path.read_bytes(), f"instance file {path.name}")
    for path in storage.rglob("*") if storage.exists() else []:
        if path.is_file():
            found += leaks(readable(path), f"stored {path.name}")
    found += leaks(json.dumps(result.errors) + repr(result.metadata), "step errors and metadata")
    return found


@pytest.fixture
def secured(pg_home, database_url, tmp_path, fake_hub):
    """Resources holding all three secrets: a token, a password the server checks, and the webhook URL."""
    fake_hub.set_models(HUB_MODELS, cards=synthetic_cards(HUB_MODELS))
    catalog_url = with_login(database_url, ROLE, DB_PASSWORD)
    with password_role(pg_home, ROLE, DB_PASSWORD), WebhookReceiver() as receiver:
        webhook_url = f"{receiver.url}/hooks/{WEBHOOK_TOKEN}"
        settings = AutomationSettings.from_env({
            "HF_TOKEN": HF_TOKEN, "DATABASE_URL": catalog_url, "POCKETAI_ALERT_WEBHOOK_URL": webhook_url,
        })
        resources = {
            "hub": HubResource(endpoint=fake_hub.url, token=HF_TOKEN, max_retries=1, max_wait_seconds=5),
            "catalog": CatalogResource(database_url=catalog_url, home=str(tmp_path)),
            "listing_io_manager": ListingIOManager(base_dir=str(tmp_path / "data")),
            "records_io_manager": RecordsIOManager(base_dir=str(tmp_path / "data")),
        }
        yield resources, settings, receiver, tmp_path / "data", catalog_url
        resources["catalog"].engine().dispose()


def test_a_good_run_leaks_no_secret_anywhere(secured, fake_hub, capfd):
    resources, settings, receiver, storage, _ = secured
    with dg.instance_for_test() as instance:
        result = sync(resources, instance=instance)
        assert result.success, result.errors
        assert all(r.headers.get("authorization") == f"Bearer {HF_TOKEN}" for r in fake_hub.requests
                   if r.path.startswith("/api/"))  # the token was really used
        assert len(snapshot(resources["catalog"].engine())["ml_models"]) == len(HUB_MODELS)  # and the password
        found = every_leak(instance, result.result.run_id, result, storage)
    console = capfd.readouterr()
    found += leaks(console.out + console.err, "console output")
    assert found == []


def refused_catalog(catalog_url: str) -> CatalogResource:
    """The same login, with its password, on a host where nothing listens."""
    import sqlalchemy as sa

    url = sa.make_url(catalog_url).set(host="127.0.0.1", port=9, query={})
    return CatalogResource(database_url=url.render_as_string(hide_password=False), home="/nonexistent")


FAILURES = {
    "hub-500": lambda hub, resources: (hub.fail_next(500, count=50), resources),
    "token-refused-401": lambda hub, resources: (hub.fail_next(401, count=50), resources),
    "catalog-refused": lambda hub, resources: (None, {**resources, "catalog": refused_catalog(
        resources["catalog"].database_url)}),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_run_and_its_alert_leak_no_secret(secured, fake_hub, capfd, failure):
    resources, settings, receiver, storage, _ = secured
    _, resources = FAILURES[failure](fake_hub, resources)
    with dg.instance_for_test() as instance:
        result = sync(resources, instance=instance)
        assert not result.success
        run_id = result.result.run_id
        sensor = sync_failure_sensor(settings.alert_webhook_url, settings.dagster_url, settings.secrets)
        [failure_record] = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        context = dg.build_run_status_sensor_context(
            sensor_name="hf_litert_sync_failure_sensor", dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run_id), dagster_event=failure_record.event_log_entry.dagster_event,
        ).for_run_failure()
        sensor(context)
        found = every_leak(instance, run_id, result, storage)

    [post] = receiver.posts
    assert post.path == f"/hooks/{WEBHOOK_TOKEN}"  # the alert went to the webhook's own URL, token and all
    alert = json.loads(post.body)
    assert alert["run_id"] == run_id and alert["failed_steps"] == result.failed_steps
    found += leaks(post.body, "alert payload")
    console = capfd.readouterr()
    found += leaks(console.out + console.err, "console output and sensor log")
    assert found == []
