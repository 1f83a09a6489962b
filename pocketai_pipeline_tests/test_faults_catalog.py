"""Catalog database faults, each ending with the whole catalog compared (issue 9, item 2; rules 8 and 10).

A database that cannot be reached or refuses the login fails at once, in one sentence that names the host
and database and never the password. A merge whose connection dies mid-transaction leaves no partial row,
and the next run converges to exactly the catalog a fault-free run builds (a twin database).
Two syncs at once give one exact catalog. Migrations racing each other: test_migrations.py
(test_concurrent_migrations_of_a_fresh_database_both_succeed, ..._without_help_both_succeed).
"""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline_tests.catalog_snapshot import (
    TODAY,
    YESTERDAY,
    applied_listings,
    content,
    models,
    partition_files,
    password_role,
    public_ids,
    snapshot,
    sync,
    with_login,
)
from pocketai_pipeline_tests.conftest import drop_database
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

HUB_MODELS = synthetic_listing(20)
PASSWORD = "Catalog-Pw-7f3a9c"
ROLE = "h8_catalog_login"


@pytest.fixture
def synced(fake_hub, sync_resources):
    fake_hub.set_models(HUB_MODELS, cards=synthetic_cards(HUB_MODELS))
    fake_hub.page_size = 10
    first = sync(sync_resources)
    assert first.success, first.errors
    engine = sync_resources["catalog"].engine()
    return engine, snapshot(engine)


@pytest.fixture
def twin(pg_home, tmp_path, fake_hub, sync_resources):
    """Resources on a second fresh database and storage dir, to replay the same Hub states without faults."""
    name = f"twin_{uuid.uuid4().hex[:12]}"
    url = embedded.database_url(pg_home, name)
    resources = {**sync_resources, "catalog": CatalogResource(database_url=url, home=str(tmp_path))}
    for key in ("listing_io_manager", "records_io_manager"):
        resources[key] = type(sync_resources[key])(base_dir=str(tmp_path / "twin-data"))
    yield resources
    resources["catalog"].engine().dispose()
    drop_database(pg_home, name)


# --- a database that cannot be used ---


def bad_catalogs(database_url: str) -> dict[str, str]:
    real = sa.make_url(database_url)
    return {
        "unreachable": f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:9/db",
        "wrong-password": with_login(database_url, ROLE, "Not-" + PASSWORD),
        "unknown-role": with_login(database_url, "h8_nobody", PASSWORD),
        "unknown-database": real.set(database="no_such_catalog", password=PASSWORD).render_as_string(False),
    }


@pytest.mark.parametrize("case", ["unreachable", "wrong-password", "unknown-role", "unknown-database"])
def test_a_database_that_cannot_be_used_fails_at_once_naming_it_never_the_password(
    pg_home, synced, sync_resources, database_url, tmp_path, case
):
    engine, before = synced
    url = bad_catalogs(database_url)[case]
    resources = {**sync_resources, "catalog": CatalogResource(database_url=url, home=str(tmp_path))}
    started = time.monotonic()

    with password_role(pg_home, ROLE, PASSWORD):
        result = sync(resources, YESTERDAY)

    assert not result.success
    assert time.monotonic() - started < 20
    assert result.retried_steps == []
    # The first step that needs the catalog (the shrink check of the records) fails; nothing after it runs.
    assert result.failed_steps == ["litert_model_records"]
    message = result.error
    parsed = sa.make_url(url)
    assert message.startswith("cannot connect to or migrate the catalog database at DATABASE_URL"), message
    assert parsed.database in message
    assert (parsed.host or parsed.query["host"]) in message
    assert "***" in message and PASSWORD not in message and "Not-" + PASSWORD not in message
    assert "\n" not in message.strip()
    assert snapshot(engine) == before
    assert partition_files(sync_resources["records_io_manager"].base_dir, YESTERDAY) == \
        [f"hf_litert_listing/{YESTERDAY}.jsonl.zst"]  # the listing is stored for a re-execution from failure


def test_the_right_password_is_checked_and_accepted(pg_home, synced, sync_resources, database_url, tmp_path):
    """The control of the wrong-password case: the same role with its password syncs."""
    engine, before = synced
    url = with_login(database_url, ROLE, PASSWORD)
    with password_role(pg_home, ROLE, PASSWORD):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(sa.make_url(url).set(drivername="postgresql", password="nope")
                            .render_as_string(False)).close()
        result = sync({**sync_resources, "catalog": CatalogResource(database_url=url, home=str(tmp_path))}, YESTERDAY)
        CatalogResource(database_url=url, home=str(tmp_path)).engine().dispose()
    assert result.success, result.errors
    assert snapshot(engine) == before  # the same listing again: nothing to write


# --- the merge's connection dies mid-transaction ---

KILL_POINTS = {
    "holding-the-merge-lock": "pg_advisory_xact_lock",
    "after-inserting-new-models": "INSERT INTO ml_models",
    "after-updating-changed-models": "WITH changed AS",
    "after-recording-the-listing": "INSERT INTO hf_sync_applied_listings",
}


def terminate(pid: int, pg_home) -> None:
    with psycopg.connect(embedded.server_url(pg_home), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_merge_whose_connection_is_killed_mid_transaction_leaves_no_partial_row_and_the_next_run_converges(
    pg_home, fake_hub, synced, sync_resources, twin, point
):
    engine, before = synced
    applied_before = applied_listings(engine)
    changes = fake_hub.mutate(add=3, change=4, remove=0)
    hub_now = list(fake_hub._models)
    marker = KILL_POINTS[point]
    killed: list[int] = []

    def kill_once(conn, cursor, statement, parameters, context, executemany) -> None:
        if not killed and marker in statement:
            killed.append(conn.connection.driver_connection.info.backend_pid)
            terminate(killed[0], pg_home)  # from a second connection, while this transaction is open

    event.listen(engine, "after_cursor_execute", kill_once)
    try:
        result = sync(sync_resources, YESTERDAY)
    finally:
        event.remove(engine, "after_cursor_execute", kill_once)

    assert killed, f"the merge never ran {marker!r}"
    assert not result.success
    assert result.failed_steps == ["ml_models"]
    assert "terminating connection" in result.error or "server closed the connection" in result.error, result.error
    assert snapshot(engine) == before  # no partial row: every row keeps its xmin
    assert applied_listings(engine) == applied_before

    converged = sync(sync_resources, YESTERDAY)  # a re-run of the same partition, from a healthy connection

    assert converged.success, converged.errors
    merge = converged.metadata["ml_models"]
    assert (merge["created"], merge["updated"], merge["removed"]) == (3, 4, 0)
    # Exactly the catalog a run without the fault builds from the same two Hub states.
    replay(fake_hub, [HUB_MODELS, hub_now], twin)
    assert content(snapshot(engine)) == content(snapshot(twin["catalog"].engine()))
    assert set(changes["added"]) <= set(models(snapshot(engine)))


def replay(fake_hub, states: list[list[dict]], resources) -> None:
    for index, models_now in enumerate(states):
        fake_hub.set_models(models_now)
        outcome = sync(resources, [TODAY, YESTERDAY][index % 2])
        assert outcome.success, outcome.errors


# --- two syncs at once ---


@pytest.mark.slow
def test_two_syncs_at_once_give_one_exact_catalog(fake_hub, synced, sync_resources, twin):
    engine, before = synced
    fake_hub.mutate(add=3, change=4, remove=0)
    hub_now = list(fake_hub._models)
    start = threading.Barrier(2)

    def one_sync(partition_key: str):
        start.wait(timeout=30)
        return sync(sync_resources, partition_key)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(one_sync, p) for p in (TODAY, YESTERDAY)]]

    assert all(r.success for r in results), [r.errors for r in results]
    merges = [r.metadata["ml_models"] for r in results]
    # One merge applied the changes; the other found them applied (or its listing stale).
    assert sorted(m["created"] for m in merges) == [0, 3]
    assert sorted(m["updated"] for m in merges) == [0, 4]
    after = snapshot(engine)
    assert set(models(after)) == public_ids(hub_now)
    replay(fake_hub, [HUB_MODELS, hub_now], twin)
    assert content(after) == content(snapshot(twin["catalog"].engine()))
