"""Shared fixtures: one embedded PostgreSQL for the session, a clean database per test, a fake Hub."""

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

# huggingface_hub reads these at import: keep its telemetry off the network during tests.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# One quick step-level retry of the Hub fetch instead of minutes of backoff (read when defs/assets.py loads).
os.environ["POCKETAI_HUB_STEP_RETRIES"] = "1"
os.environ["POCKETAI_HUB_STEP_RETRY_DELAY_SECONDS"] = "0.1"

import psycopg
import pytest
from absl import logging as absl_logging
from psycopg import sql

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.processes import EndToEnd, running_end_to_end

# litert-lm-builder imports absl, whose logging handler keeps the sys.stderr of its import: during a test that
# is pytest's capture, which the handler closes when Dagster reconfigures logging (dictConfig closes every
# handler). The process's own stderr is never closed.
absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__


@pytest.fixture(scope="session")
def pg_home(tmp_path_factory) -> Iterator[Path]:
    """An embedded PostgreSQL server for the whole session, stopped at the end."""
    home = tmp_path_factory.mktemp("pocketai")
    embedded.server_url(home)
    yield home
    embedded.stop(home)


@pytest.fixture
def database_url(pg_home: Path) -> Iterator[str]:
    """A fresh, empty database (SQLAlchemy psycopg 3 URL), dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = embedded.database_url(pg_home, name)
    yield url
    drop_database(pg_home, name)


def drop_database(pg_home: Path, name: str) -> None:
    with psycopg.connect(embedded.server_url(pg_home), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def dagster_pg_url(pg_home: Path) -> Iterator[str]:
    """A fresh database for a Dagster instance's storage (psycopg2 URL, as dagster-postgres needs)."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    yield embedded.database_url(pg_home, name, driver="psycopg2")
    drop_database(pg_home, name)


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    """A local Hub speaking the real HTTP API, empty until the test gives it models."""
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def sync_resources(fake_hub: FakeHub, database_url: str, tmp_path: Path) -> dict[str, object]:
    """The real resources of the code location, pointed at the fake Hub, a fresh database and tmp storage."""
    from pocketai_pipeline.catalog.resource import CatalogResource
    from pocketai_pipeline.hub.resource import HubResource
    from pocketai_pipeline.defs.io_managers import ListingIOManager, RecordsIOManager

    return {
        "hub": HubResource(endpoint=fake_hub.url, max_retries=1, max_wait_seconds=5),
        "catalog": CatalogResource(database_url=database_url, home=str(tmp_path)),
        "listing_io_manager": ListingIOManager(base_dir=str(tmp_path / "data")),
        "records_io_manager": RecordsIOManager(base_dir=str(tmp_path / "data")),
    }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1 (a free port) for the session; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the S3 server, reached through the standard AWS_* environment; its storage URL."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for ambient in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(ambient, raising=False)
    bucket = f"pocketai-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/prefix"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the running deployment last and together, so its processes stop right after them."""
    items.sort(key=lambda item: "end_to_end" in item.fixturenames)


@pytest.fixture(scope="session")
def end_to_end(pg_home: Path, tmp_path_factory) -> Iterator[EndToEnd]:
    """The webserver and daemon on fresh databases and a fake Hub, after today's sync through the UI's GraphQL.

    Session-wide so that the end-to-end and browser tests share it: starting the processes and the first
    sync take a minute or more. See processes.py.
    """
    names = {kind: f"e2e_{kind}_{uuid.uuid4().hex[:12]}" for kind in ("catalog", "dagster")}
    try:
        with running_end_to_end(
            catalog_url=embedded.database_url(pg_home, names["catalog"]),
            dagster_pg_url=embedded.database_url(pg_home, names["dagster"], driver="psycopg2"),
            home=tmp_path_factory.mktemp("end_to_end"),
        ) as e2e:
            yield e2e
    finally:
        for name in names.values():
            drop_database(pg_home, name)
