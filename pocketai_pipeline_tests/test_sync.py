"""The three assets end to end: fake Hub → listing → records → ml_models in real PostgreSQL."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_models
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline_tests.stored_files import zstd_text
from pocketai_pipeline_tests.synthetic import edge_case_models, synthetic_listing, with_duplicates_across_pages

ASSETS = [hf_litert_listing, litert_model_records, ml_models]
FILTERS = ("litert", "litert-lm", "tflite")  # the contract's default POCKETAI_HF_FILTER
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")

# Expected license_type per edge model, written out by hand from CONTRACT.md rule 4.
EXPECTED_LICENSES = {
    "edge/license-apache-2.0-litert": "apache_2_0",
    "edge/license-mit-litert": "mit",
    "edge/license-bsd-litert": "bsd",
    "edge/license-bsd-3-clause-clear-litert": "bsd",
    "edge/license-gpl-3.0-litert": "gpl",
    "edge/license-lgpl-lr-litert": "lgpl",
    "edge/license-agpl-3.0-litert": "agpl",
    "edge/license-mpl-2.0-litert": "mpl_2_0",
    "edge/license-cc0-1.0-litert": "cc0",
    "edge/license-cc-by-4.0-litert": "cc_by",
    "edge/license-cc-by-sa-3.0-litert": "cc_by_sa",
    "edge/license-cc-by-nc-4.0-litert": "cc_by_nc",
    "edge/license-cc-by-nc-nd-4.0-litert": "cc_by_nc",
    "edge/license-cc-by-nd-4.0-litert": "cc_by_nd",
    "edge/license-openrailplusplus-litert": "openrail",
    "edge/license-bigscience-bloom-rail-1.0-litert": "openrail",
    "edge/license-llama3.2-litert": "llama",
    "edge/license-gemma-litert": "gemma",
    "edge/license-spaced-apache-litert": "apache_2_0",
    "edge/license-upper-mit-litert": "mit",
    "edge/license-upper-cc-by-nc-sa-litert": "cc_by_nc",
    "edge/license-list-litert": "mit",
    "edge/license-tag-only-gemma-litert": "gemma",
    "edge/license-card-beats-tag-litert": "mit",
    "edge/license-unknown-litert": "unknown",
    "edge/license-empty-litert": "unknown",
    "edge/license-other-litert": "other",
    "edge/license-unmapped-wtfpl-litert": "other",
    "edge/license-none-litert": "unknown",
}
NOT_SYNCED = {
    "edge/private-litert",
    "edge/disabled-litert",
    "edge/date-without-z-litert",
    "edge/garbage-date-litert",
    "edge/downloads-string-litert",
    "edge/tags-not-a-list-litert",
}


def materialize(resources, partition_key=TODAY, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(ASSETS, partition_key=partition_key, resources=resources, selection=selection,
                          raise_on_error=False)


def merge_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.asset_materializations_for_node("ml_models")
    return {key: value.value for key, value in event.metadata.items()}


def catalog(resources) -> sa.Engine:
    return resources["catalog"].engine()


def row_versions(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT hf_model_id, xmin::text FROM ml_models")).all())


def models_by_id(engine: sa.Engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM ml_models")).mappings().all()
    return {row["hf_model_id"]: dict(row) for row in rows}


@pytest.fixture
def listing(fake_hub):
    models = with_duplicates_across_pages(synthetic_listing(300) + edge_case_models(), page_size=50)
    fake_hub.set_models(models)
    fake_hub.page_size = 50
    return models


def test_first_sync_creates_every_public_model_then_an_identical_resync_writes_nothing(sync_resources, listing):
    result = materialize(sync_resources)
    assert result.success

    engine = catalog(sync_resources)
    rows = models_by_id(engine)
    synced_ids = {m["id"] for m in listing if isinstance(m.get("id"), str) and set(FILTERS) & set(m.get("tags") or [])}
    assert set(rows) == synced_ids - NOT_SYNCED
    assert len(rows) == 300 + len(edge_case_models()) - len(NOT_SYNCED) - 2  # two edge models have no usable id
    with engine.connect() as conn:
        users = conn.execute(sa.text("SELECT id, username, email, is_developer FROM users")).all()
    [(system_id, username, email, is_developer)] = users
    assert (username, email, is_developer) == ("hf_sync_system", "system@pocket-ai.local", True)
    assert {row["author_id"] for row in rows.values()} == {system_id}
    counts = merge_metadata(result)
    assert counts["created"] == len(rows)
    assert (counts["skipped_private_or_disabled"], counts["skipped_invalid"], counts["skipped_not_owned"]) == (2, 5, 0)
    assert counts["dagster/row_count"] == len(rows) and counts["duration_seconds"] > 0

    for model_id, license_type in EXPECTED_LICENSES.items():
        assert rows[model_id]["license_type"] == license_type, model_id
    assert rows["edge/gated-manual-litert"]["gated"] is True
    assert rows["edge/gated-auto-litert"]["gated"] is True
    unicode_model = rows["edge/模型-litert-ünï"]
    assert unicode_model["name"] == "模型-litert-ünï"
    assert unicode_model["origin_repo_url"] == "https://huggingface.co/edge/模型-litert-ünï"
    nul_model = rows["edge/nul-in-text-litert"]
    assert "\x00" not in nul_model["task"] + nul_model["hf_sha"] + "".join(nul_model["tags"])
    assert rows["edge/duplicate-tags-litert"]["tags"].count("tflite") == 1
    some_model = next(m for m in listing if m["id"] in rows and m.get("pipeline_tag") is None)
    assert rows[some_model["id"]]["task"] is None
    assert rows[some_model["id"]]["hf_last_modified"].tzinfo is not None

    before = row_versions(engine)
    again = materialize(sync_resources)
    assert again.success
    assert row_versions(engine) == before
    counts = merge_metadata(again)
    assert (counts["created"], counts["updated"], counts["unchanged"]) == (0, 0, len(rows))


def test_listing_is_stored_losslessly_with_fetch_metadata(sync_resources, listing, fake_hub):
    # A new resource, not model_copy: Dagster builds resources from their config, which model_copy leaves as it was.
    hub = HubResource(endpoint=fake_hub.url, token="hf_secret_token", max_retries=1, max_wait_seconds=5)
    result = materialize({**sync_resources, "hub": hub}, selection=[hf_litert_listing])
    assert result.success

    served_by_filter = [[m for m in listing if isinstance(m.get("tags"), list) and f in m["tags"]] for f in FILTERS]
    served = [m for models in served_by_filter for m in models]  # a model under two filters is listed twice
    [event] = result.asset_materializations_for_node("hf_litert_listing")
    metadata = {key: value.value for key, value in event.metadata.items()}
    assert metadata["count"] == len(served)
    assert metadata["pages"] == sum(-(-len(models) // 50) for models in served_by_filter)
    assert metadata["endpoint"] == fake_hub.url
    assert "hf_secret_token" not in repr(metadata)
    assert all(r.headers.get("authorization") == "Bearer hf_secret_token" for r in fake_hub.requests)
    path = Path(sync_resources["listing_io_manager"].base_dir, "hf_litert_listing", f"{TODAY}.jsonl.zst")
    header, *objects = [json.loads(line) for line in zstd_text(path).splitlines()]
    assert objects == served
    assert header["count"] == len(served) and "hf_secret_token" not in json.dumps(header)


def test_a_listing_that_cannot_be_fetched_fails_the_run_and_changes_nothing(sync_resources, listing, fake_hub):
    assert materialize(sync_resources).success
    engine = catalog(sync_resources)
    before = row_versions(engine)
    fake_hub.set_models(listing[:100])  # would mark most models removed, if it got that far
    fake_hub.page_size = 10  # every filter has a page 2
    fake_hub.fail_on_page(2, status=500)

    fake_hub.requests.clear()

    result = materialize(sync_resources)

    assert not result.success
    assert [event.step_key for event in result.all_events if event.is_step_failure] == ["hf_litert_listing"]
    assert row_versions(engine) == before
    first_pages = [r for r in fake_hub.requests
                   if r.path == "/api/models" and "cursor" not in r.query and r.query["filter"] == ["litert"]]
    assert len(first_pages) == 2  # the step was retried once (POCKETAI_HUB_STEP_RETRIES=1 in tests)


def test_an_older_partition_rerun_after_a_newer_one_is_stale_and_changes_nothing(sync_resources, listing, fake_hub):
    assert materialize(sync_resources, partition_key=YESTERDAY).success
    changed = [{**m, "downloads": 10**9} if m.get("id") == listing[0]["id"] else m for m in listing]
    fake_hub.set_models(changed)
    assert materialize(sync_resources, partition_key=TODAY).success
    engine = catalog(sync_resources)
    before = row_versions(engine)

    old = materialize(sync_resources, partition_key=YESTERDAY, selection=[ml_models])

    assert old.success
    assert merge_metadata(old)["stale"] is True
    assert row_versions(engine) == before
    assert models_by_id(engine)[listing[0]["id"]]["downloads"] == 10**9
