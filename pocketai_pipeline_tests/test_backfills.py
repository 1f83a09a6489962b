"""Failures and backfills: re-execution from a failed merge, and partitions re-run in any order."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_models
from pocketai_pipeline_tests.reexecution_job import sync_job
from pocketai_pipeline_tests.synthetic import synthetic_listing

TODAY = datetime.now(UTC).date()
DAYS = [str(TODAY - timedelta(days=n)) for n in (2, 1, 0)]  # oldest first
ASSETS = [hf_litert_listing, litert_model_records, ml_models]

FAIL_INSERTS = """
CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'simulated catalog outage'; END $$;
CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE ON ml_models FOR EACH ROW EXECUTE FUNCTION refuse_writes();
"""


def catalog_state(engine: sa.Engine) -> list:
    """Every synced field of every row: what the app sees."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT hf_model_id, name, tags, task, license_type, downloads, likes, gated, hf_sha, hf_last_modified,"
            " removed_upstream_at IS NOT NULL AS removed FROM ml_models ORDER BY hf_model_id"
        )).all()


def hub_requests(fake_hub) -> list:
    """Requests for the listing (per-model details and lookups are not the listing)."""
    return [r for r in fake_hub.requests if r.path in ("/api/models", "/api/models/")]


@pytest.fixture
def worker_env(monkeypatch, fake_hub, database_url, tmp_path):
    monkeypatch.setenv("TEST_HUB_URL", fake_hub.url)
    monkeypatch.setenv("TEST_DATABASE_URL", database_url)
    monkeypatch.setenv("TEST_STORAGE_DIR", str(tmp_path))


@pytest.mark.slow
def test_reexecution_from_the_failed_merge_reuses_stored_data(worker_env, fake_hub, sync_resources):
    fake_hub.set_models(synthetic_listing(80))
    engine = sync_resources["catalog"].engine()
    with engine.begin() as conn:
        conn.execute(sa.text(FAIL_INSERTS))
    job = dg.reconstructable(sync_job)

    with dg.instance_for_test() as instance:
        failed = dg.execute_job(job, instance=instance, tags={"dagster/partition": DAYS[-1]})
        assert not failed.success
        assert [e.step_key for e in failed.get_step_failure_events()] == ["ml_models"]
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER refuse_writes ON ml_models"))
        requests_before = len(hub_requests(fake_hub))

        retried = dg.execute_job(job, instance=instance, tags={"dagster/partition": DAYS[-1]},
                                 reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance))

        assert retried.success
        assert [e.step_key for e in retried.get_step_success_events()] == ["ml_models", "ml_model_details", "ml_model_file_facts"]
    assert len(hub_requests(fake_hub)) == requests_before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ml_models")).scalar() == 80


def test_partitions_rerun_in_any_order_leave_the_newest_listing(fake_hub, sync_resources):
    models = synthetic_listing(60)
    engine = sync_resources["catalog"].engine()
    # Three daily snapshots, fetched in date order, each a little different.
    for day, listing in zip(DAYS, [models[:55], models[:58], models[2:]], strict=True):
        fake_hub.set_models([{**m, "downloads": m["downloads"] + len(day)} for m in listing] if day == DAYS[1] else listing)
        assert dg.materialize(ASSETS, partition_key=day, resources=sync_resources).success
    newest = catalog_state(engine)
    fake_hub.requests.clear()

    # A backfill from stored data, newest first then the older ones: the older merges are stale.
    for day in [DAYS[2], DAYS[0], DAYS[1]]:
        result = dg.materialize(ASSETS, partition_key=day, resources=sync_resources, selection=[ml_models])
        [event] = result.asset_materializations_for_node("ml_models")
        assert event.metadata["stale"].value is (day != DAYS[2]), day

    assert catalog_state(engine) == newest
    assert hub_requests(fake_hub) == []
    assert sum(1 for row in newest if row.removed) == 2
