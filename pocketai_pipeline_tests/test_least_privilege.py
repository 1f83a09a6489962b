"""The sync runs as a role that may only read and write the catalog's rows; the owner runs the migrations."""

import uuid
from datetime import UTC, datetime

import dagster as dg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from pocketai_pipeline.defs.assets import SYNC_ASSETS
from pocketai_pipeline.catalog.migrate import grant_sync_role
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.catalog.schema import migrate_to_head
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

TODAY = datetime.now(UTC).strftime("%Y-%m-%d")


@pytest.fixture
def owner(database_url):
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def new_role(owner: sa.Engine) -> str:
    role = f"sync_{uuid.uuid4().hex[:8]}"
    with owner.begin() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    return role


def as_role(database_url: str, role: str) -> str:
    return sa.make_url(database_url).set(username=role).render_as_string(hide_password=False)


def materialize(sync_resources, database_url: str, tmp_path) -> dg.ExecuteInProcessResult:
    catalog = CatalogResource(database_url=database_url, home=str(tmp_path))
    return dg.materialize(SYNC_ASSETS, partition_key=TODAY, resources={**sync_resources, "catalog": catalog},
                          raise_on_error=False)


def snapshot(owner: sa.Engine) -> list:
    with owner.connect() as conn:
        return conn.execute(sa.text(
            "SELECT 'm', hf_model_id, xmin::text FROM ml_models UNION ALL SELECT 'f', path || model_id, xmin::text"
            " FROM ml_model_files UNION ALL SELECT 'u', username, xmin::text FROM users"
            " UNION ALL SELECT 'r', hf_sha || path || model_id, xmin::text FROM ml_model_file_revisions"
            " UNION ALL SELECT 'h', sha256, xmin::text FROM litertlm_headers ORDER BY 1, 2"
        )).all()


def failure_description(result: dg.ExecuteInProcessResult) -> str:
    [failure] = result.get_step_failure_events()
    data = failure.step_failure_data
    return data.user_failure_data.description if data.user_failure_data else data.error.message


def test_a_sync_role_syncs_resyncs_and_fails_cleanly_without_any_ddl_right(fake_hub, sync_resources, database_url,
                                                                          owner, tmp_path):
    migrate_to_head(owner)
    role = new_role(owner)
    grant_sync_role(owner, role)
    with owner.begin() as conn:
        conn.execute(sa.text("CREATE TABLE app_secrets (v text)"))
    models = synthetic_listing(30)
    fake_hub.set_models(models, cards=synthetic_cards(models))
    sync_url = as_role(database_url, role)

    first = materialize(sync_resources, sync_url, tmp_path)
    assert first.success
    with owner.connect() as conn:
        counts = conn.execute(sa.text("SELECT (SELECT count(*) FROM ml_models), (SELECT count(*) FROM ml_models"
                                      " WHERE files_synced_sha = hf_sha)")).one()
    assert tuple(counts) == (30, 30)
    with owner.connect() as conn:
        statuses = set(conn.execute(sa.text("SELECT facts_status FROM ml_model_files WHERE is_runtime_file")).scalars())
    assert statuses <= {"read", "name_only"} and "read" in statuses  # the facts step wrote as the sync role
    before = snapshot(owner)

    assert materialize(sync_resources, sync_url, tmp_path).success
    assert snapshot(owner) == before
    fake_hub.fail_on_page(1, status=500)
    assert not materialize(sync_resources, sync_url, tmp_path).success
    assert snapshot(owner) == before

    role_engine = sa.create_engine(sync_url)
    try:
        for forbidden in ("DROP TABLE ml_models", "ALTER TABLE ml_models ADD COLUMN x int", "CREATE TABLE t (x int)",
                          "SELECT * FROM app_secrets", "DELETE FROM ml_models", "INSERT INTO model_versions"
                          " (model_id, version) SELECT id, '1' FROM ml_models LIMIT 1", "TRUNCATE users",
                          "UPDATE ml_model_file_revisions SET size_bytes = 0", "DELETE FROM ml_model_file_revisions",
                          "DELETE FROM litertlm_headers"):
            with pytest.raises(ProgrammingError, match="permission denied|must be owner"), role_engine.begin() as conn:
                conn.execute(sa.text(forbidden))
    finally:
        role_engine.dispose()


def test_a_role_without_the_grants_fails_at_once_naming_the_missing_privilege(fake_hub, sync_resources, database_url,
                                                                              owner, tmp_path):
    migrate_to_head(owner)
    role = new_role(owner)
    with owner.begin() as conn:
        conn.execute(sa.text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(sa.text(f'GRANT SELECT ON pocketai_pipeline_alembic_version TO "{role}"'))
    fake_hub.set_models(synthetic_listing(5))

    result = materialize(sync_resources, as_role(database_url, role), tmp_path)

    assert not result.success
    message = failure_description(result)
    assert "permission denied for table ml_models" in message and "Least privilege" in message  # the first read
    assert "Query was" not in message and "SELECT" not in message  # PostgreSQL's words, not the driver's echo


def test_a_role_that_cannot_migrate_a_catalog_behind_head_says_to_migrate_as_the_owner(fake_hub, sync_resources,
                                                                                    database_url, owner, tmp_path):
    role = new_role(owner)  # the catalog is not migrated at all
    fake_hub.set_models(synthetic_listing(5))

    result = materialize(sync_resources, as_role(database_url, role), tmp_path)

    message = failure_description(result)
    assert "permission denied for schema public" in message and "make migrate" in message
