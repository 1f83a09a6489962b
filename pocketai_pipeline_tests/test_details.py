"""ml_model_details end to end: the real huggingface_hub-based client against the fake Hub, real PostgreSQL (rule 12)."""

from datetime import UTC, datetime

import dagster as dg
import pytest
import sqlalchemy as sa

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_model_details, ml_models
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

ASSETS = [hf_litert_listing, litert_model_records, ml_models, ml_model_details]
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
GEMMA = "litert-community/Gemma3-1B-IT"
GEMMA_SHA = "a1" * 20
SHA256 = "5e" * 32
GEMMA_CARD = """---
license: gemma
base_model: google/gemma-3-1b-it
tags: [litert-lm]
---
# Gemma 3 1B IT

[![License](https://img.shields.io/badge/license-gemma-blue)](https://ai.google.dev/gemma/terms)

<p align="center"><img src="banner.png"></p>

This model provides [Gemma 3 1B](https://ai.google.dev/gemma) ready for
on-device use with `LiteRT-LM`, **int4** quantized.

## Use it
"""
GEMMA_SUMMARY = "This model provides Gemma 3 1B ready for on-device use with LiteRT-LM, int4 quantized."
GEMMA_FILES = [
    {"path": ".gitattributes", "size": 1519, "sha256": None},
    {"path": "README.md", "size": len(GEMMA_CARD), "sha256": None},
    {"path": "Gemma3-1B-IT_multi-prefill-seq_q4_ekv1280.task", "size": 554_661_243, "sha256": SHA256},
    {"path": "int4/gemma3-1b-it-int4.litertlm", "size": 584_417_280, "sha256": "ab" * 32},
]


def gemma(sha: str = GEMMA_SHA, **fields) -> dict:
    return {
        "_id": "67c6a1b2c3d4e5f6a7b8c9d0", "id": GEMMA, "modelId": GEMMA, "author": "litert-community",
        "private": False, "disabled": False, "gated": "manual", "tags": ["litert-lm", "license:gemma"],
        "pipeline_tag": "text-generation", "library_name": "litert-lm", "downloads": 5000, "likes": 40, "sha": sha,
        "createdAt": "2025-03-04T05:06:07.000Z", "lastModified": "2025-06-07T08:09:10.000Z",
        "cardData": {"license": "gemma", "base_model": "google/gemma-3-1b-it"},
        "siblings": [{"rfilename": file["path"]} for file in GEMMA_FILES],
        **fields,
    }  # fmt: skip


def materialize(resources, run_config=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(ASSETS, partition_key=TODAY, resources=resources, raise_on_error=False, run_config=run_config)


def details_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.asset_materializations_for_node("ml_model_details")
    return {key: value.value for key, value in event.metadata.items()}


def detail_requests(fake_hub) -> list[str]:
    return [r.path for r in fake_hub.requests if "/revision/" in r.path or "/resolve/" in r.path]


def engine_of(resources) -> sa.Engine:
    return resources["catalog"].engine()


def manifest(engine: sa.Engine, hf_model_id: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT f.hf_sha, f.path, f.size_bytes, f.sha256, f.is_runtime_file FROM ml_model_files AS f"
            " JOIN ml_models AS m ON m.id = f.model_id WHERE m.hf_model_id = :id ORDER BY f.path"
        ), {"id": hf_model_id}).mappings().all()
    return [dict(row) for row in rows]


def model_row(engine: sa.Engine, hf_model_id: str):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM ml_models WHERE hf_model_id = :id"), {"id": hf_model_id}).one()


def row_versions(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT 'ml_models ' || id, xmin::text FROM ml_models"
            " UNION ALL SELECT 'ml_model_files ' || id, xmin::text FROM ml_model_files"
        )).all())


def expected_manifest(sha: str, files: list[dict]) -> list[dict]:
    runtime = (".tflite", ".litertlm", ".task")
    return sorted(
        ({"hf_sha": sha, "path": f["path"], "size_bytes": f["size"], "sha256": f["sha256"],
          "is_runtime_file": f["path"].lower().endswith(runtime)} for f in files),
        key=lambda row: row["path"],
    )  # fmt: skip


@pytest.fixture
def gemma_hub(fake_hub):
    fake_hub.set_models([gemma()], cards={GEMMA: GEMMA_CARD})
    fake_hub.set_files(GEMMA, GEMMA_SHA, GEMMA_FILES)
    return fake_hub


def test_a_new_model_gets_its_exact_manifest_and_card_summary(gemma_hub, sync_resources):
    result = materialize(sync_resources)

    assert result.success
    engine = engine_of(sync_resources)
    assert manifest(engine, GEMMA) == expected_manifest(GEMMA_SHA, GEMMA_FILES)
    row = model_row(engine, GEMMA)
    assert (row.description, row.files_synced_sha, row.runtime_formats) == (
        GEMMA_SUMMARY, GEMMA_SHA, ["litert-lm", "mediapipe-task"])
    metadata = details_metadata(result)
    assert (metadata["fetched"], metadata["failed"], metadata["pending"], metadata["unchanged"]) == (1, 0, 0, 0)
    assert metadata["requests"] == 2
    assert metadata["runtime_bytes_added"] == 554_661_243 + 584_417_280
    assert sorted(detail_requests(gemma_hub)) == [
        f"/api/models/{GEMMA}/revision/{GEMMA_SHA}", f"/{GEMMA}/resolve/{GEMMA_SHA}/README.md",
    ]  # fmt: skip
    assert next(r for r in gemma_hub.requests if "/revision/" in r.path).query["blobs"] == ["true"]


def test_an_identical_rerun_makes_no_detail_request_and_writes_no_row(gemma_hub, sync_resources):
    assert materialize(sync_resources).success
    engine = engine_of(sync_resources)
    before = row_versions(engine)
    gemma_hub.requests.clear()

    again = materialize(sync_resources)

    assert again.success
    assert detail_requests(gemma_hub) == []
    assert row_versions(engine) == before
    metadata = details_metadata(again)
    assert (metadata["fetched"], metadata["unchanged"], metadata["requests"]) == (0, 1, 0)


def test_a_new_revision_replaces_the_manifest(gemma_hub, sync_resources):
    assert materialize(sync_resources).success
    new_sha = "b2" * 20
    new_files = [GEMMA_FILES[0], {"path": "gemma3-1b-it-int8.litertlm", "size": 1_005_000_000, "sha256": "cd" * 32}]
    gemma_hub.set_models([gemma(new_sha, siblings=[{"rfilename": f["path"]} for f in new_files])])
    gemma_hub.set_files(GEMMA, new_sha, new_files)

    result = materialize(sync_resources)

    assert result.success
    engine = engine_of(sync_resources)
    assert manifest(engine, GEMMA) == expected_manifest(new_sha, new_files)
    assert model_row(engine, GEMMA).files_synced_sha == new_sha
    assert details_metadata(result)["runtime_bytes_added"] == 1_005_000_000


def test_a_card_that_is_absent_or_has_no_prose_gives_a_null_description(gemma_hub, sync_resources):
    gemma_hub.set_card(GEMMA, None)
    assert materialize(sync_resources).success
    assert model_row(engine_of(sync_resources), GEMMA).description is None
    assert model_row(engine_of(sync_resources), GEMMA).files_synced_sha == GEMMA_SHA


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [
        ("revision", {"status": 500}),
        ("revision", {"status": 404, "headers": {"X-Error-Code": "RevisionNotFound"}}),
        ("revision", {"status": 200, "body": "<html>not json</html>"}),
        ("revision", {"status": 200, "body": '{"sha": "x", "siblings": "none"}'}),
        ("readme", {"status": 503}),
        ("readme", {"status": 200, "body": "<!DOCTYPE html><html>captive portal</html>",
                    "headers": {"Content-Type": "text/html"}}),
    ],
)
def test_a_model_whose_details_fail_keeps_its_row_and_previous_details_and_is_retried(
    gemma_hub, sync_resources, endpoint, fault
):
    assert materialize(sync_resources).success
    engine = engine_of(sync_resources)
    new_sha = "c3" * 20
    gemma_hub.set_models([gemma(new_sha)])
    gemma_hub.set_files(GEMMA, new_sha, GEMMA_FILES)
    gemma_hub.set_card(GEMMA, "A new description.")
    gemma_hub.fail_model(GEMMA, endpoint, fault["status"], headers=fault.get("headers"), body=fault.get("body", ""))
    old_manifest, old_description = manifest(engine, GEMMA), model_row(engine, GEMMA).description

    failed = materialize(sync_resources)

    assert failed.success  # details never fail the run
    metadata = details_metadata(failed)
    assert (metadata["fetched"], metadata["failed"]) == (0, 1)
    assert GEMMA in metadata["first_failures"]
    row = model_row(engine, GEMMA)
    assert (row.hf_sha, row.files_synced_sha, row.description) == (new_sha, GEMMA_SHA, old_description)
    assert manifest(engine, GEMMA) == old_manifest

    gemma_hub.clear_model_faults()
    retried = materialize(sync_resources)

    assert details_metadata(retried)["fetched"] == 1
    assert model_row(engine, GEMMA).description == "A new description."
    assert manifest(engine, GEMMA) == expected_manifest(new_sha, GEMMA_FILES)


def test_a_detail_request_that_never_answers_times_out_and_fails_only_that_model(gemma_hub, sync_resources):
    hub = HubResource(endpoint=gemma_hub.url, timeout_seconds=0.5, max_retries=0)
    gemma_hub.hang_model(GEMMA, "readme", count=1)

    result = materialize({**sync_resources, "hub": hub})

    assert result.success
    assert details_metadata(result)["failed"] == 1
    assert model_row(engine_of(sync_resources), GEMMA).files_synced_sha is None


def test_rows_owned_by_people_get_no_detail_request(gemma_hub, sync_resources):
    engine = engine_of(sync_resources)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (username, is_developer) VALUES ('alice', true)"))
        conn.execute(sa.text(
            "INSERT INTO ml_models (name, hf_model_id, author_id, license_type, hf_sha)"
            " SELECT 'mine', :id, id, 'gemma', 'old' FROM users WHERE username = 'alice'"
        ), {"id": GEMMA})

    result = materialize(sync_resources)

    assert result.success
    assert detail_requests(gemma_hub) == []
    assert model_row(engine, GEMMA).files_synced_sha is None and manifest(engine, GEMMA) == []


def test_synthetic_models_of_all_three_filters_get_their_files_and_descriptions(fake_hub, sync_resources):
    models = synthetic_listing(60)
    cards = synthetic_cards(models)
    fake_hub.set_models(models, cards=cards)

    result = materialize(sync_resources)

    assert result.success
    engine = engine_of(sync_resources)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT hf_model_id, hf_sha, files_synced_sha, description FROM ml_models")).all()
    assert len(rows) == 60 and all(row.files_synced_sha == row.hf_sha for row in rows)
    for model in models:
        served = fake_hub.files(model["id"])
        assert manifest(engine, model["id"]) == expected_manifest(model["sha"], served), model["id"]
    described = {row.hf_model_id for row in rows if row.description}
    assert described and described <= {model_id for model_id, card in cards.items() if card}
    assert details_metadata(result)["requests"] == 120


def test_a_spent_quota_is_waited_out_within_the_bound(fake_hub, sync_resources):
    models = synthetic_listing(6)
    fake_hub.set_models(models, cards=synthetic_cards(models))
    fake_hub.set_quota(8, window_seconds=2)  # 3 listing pages + 6 lookups... the window refills mid-run

    result = materialize(sync_resources)

    assert result.success
    metadata = details_metadata(result)
    assert (metadata["fetched"], metadata["failed"], metadata["pending"]) == (6, 0, 0)
    assert any(r.path.startswith("/api/models/") for r in fake_hub.requests)


def test_a_quota_past_the_bound_leaves_the_rest_pending_and_never_fails_the_merge(fake_hub, sync_resources):
    models = synthetic_listing(12)
    fake_hub.set_models(models, cards=synthetic_cards(models))
    hub = HubResource(endpoint=fake_hub.url, max_retries=1, max_wait_seconds=1, details_workers=1)
    fake_hub.set_quota(8, window_seconds=60)

    result = materialize({**sync_resources, "hub": hub})

    assert result.success
    metadata = details_metadata(result)
    assert metadata["fetched"] + metadata["failed"] + metadata["pending"] == 12
    assert metadata["pending"] > 0 and metadata["stopped_by"] == "the Hub's rate limit"
    assert result.asset_materializations_for_node("ml_models")[0].metadata["created"].value == 12


def test_the_time_budget_leaves_the_rest_for_the_next_run(fake_hub, sync_resources):
    models = synthetic_listing(10)
    fake_hub.set_models(models, cards=synthetic_cards(models))
    spent = HubResource(endpoint=fake_hub.url, details_time_budget_seconds=0)

    first = materialize({**sync_resources, "hub": spent})

    assert first.success
    assert (details_metadata(first)["pending"], details_metadata(first)["fetched"]) == (10, 0)
    assert "time budget" in details_metadata(first)["stopped_by"]
    second = materialize(sync_resources)
    assert (details_metadata(second)["fetched"], details_metadata(second)["pending"]) == (10, 0)
