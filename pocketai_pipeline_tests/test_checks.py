"""Every asset check passes on a sound sync and fails when the thing it guards is broken."""

from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_models
from pocketai_pipeline.catalog.audit import catalog_ids, null_license_rows
from pocketai_pipeline.catalog.merge import MergeResult
from pocketai_pipeline.defs.checks import license_check, match_listing_check, ownership_check, records_checks
from pocketai_pipeline.sync.removals import RemovalCheck
from pocketai_pipeline.sync.validation import RecordsAudit
from pocketai_pipeline_tests.synthetic import synthetic_listing

TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
SYSTEM = "hf_sync_system"
MODELS = synthetic_listing(100)
LISTED_IDS = [m["id"] for m in MODELS]
LISTED = pa.array(LISTED_IDS)
ALL_SYNCED = MergeResult(
    created=100, updated=0, unchanged=0, removed=0, restored=0, skipped_not_owned=0, stale=False,
    removal_blocked=False, shrink_accepted=False, would_remove=0, removal_unverified=0, active_synced_before=0,
    row_count=100, active_count=100,
    created_ids=sorted(LISTED_IDS), updated_ids=[], removed_ids=[], restored_ids=[],
)


NO_REMOVALS = RemovalCheck()
ACCEPT_SHRINK = {"ops": {"ml_models": {"config": {"accept_shrink": True}}}}


def run(resources, run_config=None) -> dg.ExecuteInProcessResult:
    return dg.materialize([hf_litert_listing, litert_model_records, ml_models], partition_key=TODAY,
                          resources=resources, raise_on_error=False, run_config=run_config)


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}


def row_versions(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT hf_model_id, xmin::text FROM ml_models ORDER BY 1")).all()


@pytest.fixture
def synced(fake_hub, sync_resources) -> sa.Engine:
    fake_hub.set_models(MODELS)
    result = run(sync_resources)
    assert result.success
    assert check_outcomes(result) == {
        "listing_not_suspiciously_shrunk": True,
        "records_have_unique_ids": True,
        "records_have_required_fields": True,
        "ml_models_match_listing": True,
        "ml_models_synced_rows_owned_by_system_user": True,
        "ml_models_have_licenses": True,
    }
    return sync_resources["catalog"].engine()


def execute(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def test_a_suspicious_shrink_blocks_everything_downstream(synced, fake_hub, sync_resources):
    fake_hub.set_models(MODELS[:70])  # 30% would be marked removed
    before = row_versions(synced)

    result = run(sync_resources)

    assert not result.success
    assert check_outcomes(result) == {
        "listing_not_suspiciously_shrunk": False, "records_have_unique_ids": True, "records_have_required_fields": True,
    }  # fmt: skip
    assert result.asset_materializations_for_node("ml_models") == []
    assert row_versions(synced) == before


def test_accept_shrink_lets_one_real_shrink_through_and_says_so(synced, fake_hub, sync_resources):
    fake_hub.set_models(MODELS[:70])

    result = run(sync_resources, ACCEPT_SHRINK)

    assert result.success and all(check_outcomes(result).values())
    shrink = next(e for e in result.get_asset_check_evaluations() if e.check_name == "listing_not_suspiciously_shrunk")
    assert (shrink.metadata["suspicious"].value, shrink.metadata["accept_shrink"].value) == (True, True)
    merged = result.asset_materializations_for_node("ml_models")[0].metadata
    assert (merged["shrink_accepted"].value, merged["removed"].value, merged["active"].value) == (True, 30, 70)
    lookups = [r.path for r in fake_hub.requests if r.path.startswith("/api/models/")]
    assert len(lookups) == 30  # each missing model looked up on its own


def test_a_misspelt_accept_shrink_is_refused_before_anything_runs(synced, fake_hub, sync_resources):
    with pytest.raises(dg.DagsterInvalidConfigError, match="accept_shrnk"):
        run(sync_resources, {"ops": {"ml_models": {"config": {"accept_shrnk": True}}}})


def test_a_small_shrink_passes_and_marks_the_missing_models(synced, fake_hub, sync_resources):
    fake_hub.set_models(MODELS[:90])

    result = run(sync_resources)

    assert result.success and all(check_outcomes(result).values())
    with synced.connect() as conn:
        removed = conn.execute(sa.text("SELECT count(*) FROM ml_models WHERE removed_upstream_at IS NOT NULL")).scalar()
    assert removed == 10


def test_match_check_fails_when_a_listed_model_lost_its_row(synced):
    assert match_listing_check(catalog_ids(synced, SYSTEM), LISTED, ALL_SYNCED, NO_REMOVALS).passed
    execute(synced, "UPDATE ml_models SET removed_upstream_at = now() WHERE id = (SELECT min(id) FROM ml_models)")

    result = match_listing_check(catalog_ids(synced, SYSTEM), LISTED, ALL_SYNCED, NO_REMOVALS)

    assert not result.passed and result.metadata["missing"].value == 1


def test_match_check_fails_on_an_active_synced_row_the_listing_lacks(synced):
    execute(synced, """INSERT INTO ml_models (name, hf_model_id, author_id, tags, license_type, created_at, updated_at)
                       SELECT 'ghost', 'ghost/model', id, '{}', 'mit', now(), now() FROM users""")

    result = match_listing_check(catalog_ids(synced, SYSTEM), LISTED, ALL_SYNCED, NO_REMOVALS)

    assert not result.passed and result.metadata["unexpected_examples"].value == ["ghost/model"]
    unverified = RemovalCheck(unverified={"ghost/model": "the Hub answered 503"})
    assert match_listing_check(catalog_ids(synced, SYSTEM), LISTED, ALL_SYNCED, unverified).passed


def test_ownership_check_fails_when_a_synced_row_belongs_to_someone_else(synced):
    assert ownership_check(catalog_ids(synced, SYSTEM), LISTED, ALL_SYNCED).passed
    execute(synced,
            "INSERT INTO users (username, is_developer, created_at) VALUES ('alice', false, now())",
            "UPDATE ml_models SET author_id = (SELECT id FROM users WHERE username = 'alice') "
            "WHERE id = (SELECT min(id) FROM ml_models)")

    assert not ownership_check(catalog_ids(synced, SYSTEM), LISTED, ALL_SYNCED).passed


def test_checks_against_a_stale_merge_do_not_compare(synced):
    execute(synced, "UPDATE ml_models SET removed_upstream_at = now()")
    stale = replace(ALL_SYNCED, stale=True, created=0)

    assert match_listing_check(catalog_ids(synced, SYSTEM), LISTED, stale, NO_REMOVALS).passed
    assert ownership_check(catalog_ids(synced, SYSTEM), LISTED, stale).passed


def test_license_check_fails_on_a_null_license(synced):
    assert license_check(null_license_rows(synced)).passed
    execute(synced, "ALTER TABLE ml_models ALTER COLUMN license_type DROP NOT NULL",
            "UPDATE ml_models SET license_type = NULL WHERE id = (SELECT min(id) FROM ml_models)")

    assert not license_check(null_license_rows(synced)).passed


def test_record_checks_fail_on_duplicate_ids_and_missing_fields():
    frame = pd.DataFrame({
        "hf_model_id": ["a/x", "a/x", None],
        "name": ["x", "x", None],
        "origin_repo_url": ["https://huggingface.co/a/x"] * 3,
        "license_type": ["mit", "not-a-license", "mit"],
        "tags": [["litert"], ["litert"], ["litert"]],
    })
    unique, required = records_checks(RecordsAudit.of(frame))
    assert not unique.passed and unique.metadata["examples"].value == ["a/x"]
    assert not required.passed
    assert required.metadata["rows_missing"].value == {"hf_model_id": 1, "name": 1, "license_type": 1}
    assert all(result.passed for result in records_checks(RecordsAudit.of(frame.iloc[:1])))
