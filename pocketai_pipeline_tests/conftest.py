"""Shared fixtures: one embedded PostgreSQL for the session, a clean database per test, a fake Hub."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

# huggingface_hub reads these at import: keep its telemetry off the network during tests.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import psycopg
import pytest
from psycopg import sql

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline_tests.fake_hub import FakeHub


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
    with psycopg.connect(embedded.server_url(pg_home), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    """A local Hub speaking the real HTTP API, empty until the test gives it models."""
    with FakeHub() as hub:
        yield hub
