"""CatalogResource: which URLs it accepts, one migrated engine per URL, errors that never show a password."""

import traceback
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from sqlalchemy import make_url, text

from pocketai_pipeline.catalog import resource as catalog_resource
from pocketai_pipeline.catalog.queries import read_arrow
from pocketai_pipeline.catalog.resource import CatalogConnectionError, CatalogResource, catalog_url
from pocketai_pipeline_tests.catalog_helpers import catalog_engine

PASSWORD = "s3cret-pw"


@pytest.fixture(autouse=True)
def forget_engines():
    """Engines are cached per process; each test's database is dropped after it, so drop its engine too."""
    yield
    while catalog_resource._engines:
        catalog_resource._engines.popitem()[1].dispose()


def without_driver(database_url: str, scheme: str) -> str:
    return scheme + database_url.removeprefix("postgresql+psycopg")


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql", "postgres"])
def test_postgres_urls_use_psycopg_3(scheme: str):
    url = catalog_url(f"{scheme}://pocket:{PASSWORD}@db.example:5432/catalog")

    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "pocket", PASSWORD, "db.example", 5432, "catalog",
    )  # fmt: skip


@pytest.mark.parametrize(
    "database_url",
    [
        f"mysql://pocket:{PASSWORD}@db.example/catalog",
        f"postgresql+psycopg2://pocket:{PASSWORD}@db.example/catalog",
        f"pocket:{PASSWORD}@db.example/catalog",
        f"postgresql://pocket:{PASSWORD}@db.example:no-port/catalog",
    ],
)
def test_other_urls_are_refused_naming_database_url(database_url: str):
    with pytest.raises(ValueError, match="DATABASE_URL") as refused:
        catalog_url(database_url)

    assert PASSWORD not in "".join(traceback.format_exception(refused.value))


def test_engine_is_migrated_and_shared_by_every_resource_with_that_url(database_url: str):
    engine = CatalogResource(database_url=database_url).engine()

    assert CatalogResource(database_url=database_url).engine() is engine
    assert engine.pool._pre_ping
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ml_models")).scalar_one() == 0


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_engine_accepts_a_url_without_driver(database_url: str, scheme: str):
    engine = CatalogResource(database_url=without_driver(database_url, scheme)).engine()

    assert engine.url.drivername == "postgresql+psycopg"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('ml_models') IS NOT NULL")).scalar_one()


def test_unreachable_database_is_named_without_its_password():
    unreachable = f"postgresql://pocket:{PASSWORD}@127.0.0.1:1/catalog"  # nothing listens on port 1

    with pytest.raises(CatalogConnectionError, match="DATABASE_URL") as failed:
        CatalogResource(database_url=unreachable).engine()

    assert "127.0.0.1:1/catalog" in str(failed.value)
    assert PASSWORD not in "".join(traceback.format_exception(failed.value))
    assert not catalog_resource._engines, "a failed engine must not be cached"


def test_without_database_url_the_embedded_server_under_home_is_used(pg_home: Path):
    engine = CatalogResource(home=str(pg_home)).engine()

    assert make_url(engine.url).query["host"].startswith(str(pg_home))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar_one() == "pocketai"
        assert conn.execute(text("SELECT to_regclass('ml_models') IS NOT NULL")).scalar_one()


def test_an_unusable_home_is_named(tmp_path: Path):
    not_a_directory = tmp_path / "home"
    not_a_directory.write_text("")

    with pytest.raises(CatalogConnectionError, match=rf"{not_a_directory}.*POCKETAI_HOME.*DATABASE_URL"):
        CatalogResource(home=str(not_a_directory)).engine()


def test_an_asset_uses_the_resource(database_url: str):
    @dg.asset
    def catalog_size(catalog: CatalogResource) -> int:
        with catalog.engine().connect() as conn:
            return conn.execute(text("SELECT count(*) FROM ml_models")).scalar_one()

    result = dg.materialize([catalog_size], resources={"catalog": CatalogResource(database_url=database_url)})

    assert result.success and result.output_for_node("catalog_size") == 0


PID = pa.schema([("pid", pa.int32())])


def reader_pid(engine) -> int:
    return read_arrow(engine, "SELECT pg_backend_pid() AS pid", PID).column("pid")[0].as_py()


def sessions(engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalars())


def test_catalog_reads_keep_one_connection_until_the_engine_is_disposed(database_url: str):
    with catalog_engine(database_url, migrated=False) as engine, catalog_engine(database_url, migrated=False) as other:
        first = reader_pid(engine)

        assert reader_pid(engine) == first, "each read opened a connection of its own (~60 ms each)"
        assert reader_pid(other) != first, "a connection is kept per engine"
        other.dispose()
        assert first in sessions(engine)
        engine.dispose()
        assert first not in sessions(other), "the read connection outlived its engine"


def test_a_catalog_read_reconnects_when_its_kept_connection_was_closed(database_url: str):
    with catalog_engine(database_url, migrated=False) as engine:
        first = reader_pid(engine)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})

        assert reader_pid(engine) not in (first, None)
