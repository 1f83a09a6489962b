"""Verified removals (rule 7): a synced model the listing lacks is looked up on its own, and only a
definite answer marks it. The real client against the fake Hub, and the pure verdict."""

from datetime import UTC, datetime

import dagster as dg
import pytest
import sqlalchemy as sa

from pocketai_pipeline.defs.assets import hf_litert_listing, litert_model_records, ml_models
from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.removals import RATE_LIMITED, check_removals
from pocketai_pipeline.sync.removals import removal_verdict
from pocketai_pipeline_tests.synthetic import synthetic_listing

FILTERS = ("litert", "litert-lm", "tflite")
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")


def hub_model(model_id: str, tags: list[str], **fields) -> dict:
    return {"_id": "0" * 24, "id": model_id, "tags": tags, "private": False, "sha": "a" * 40,
            "lastModified": "2026-11-01T00:00:00.000Z", **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "removed"),
    [
        (404, b'{"error": "Repository not found"}', True),
        (401, b'{"error": "Repository not found"}', True),
        (403, b"", True),
        (200, b'{"id": "a/b", "tags": ["onnx", "license:mit"]}', True),
        (200, b'{"id": "a/b", "tags": ["LiteRT-LM"]}', False),  # case-insensitive: still tagged
        (200, b'{"id": "a/b", "tags": ["tflite"]}', False),
        (200, b'{"id": "a/b"}', False),
        (200, b"<html>maintenance</html>", False),
        (200, b"\xff\xfe", False),
        (429, b"", False),
        (500, b"", False),
        (503, b"", False),
    ],
)
def test_only_a_definite_answer_is_a_removal(status, body, removed):
    verdict, reason = removal_verdict(status, body, FILTERS)
    assert verdict is removed and reason


def test_each_missing_model_is_looked_up_once_with_the_real_client(fake_hub):
    fake_hub.set_models([
        hub_model("org/retagged", ["onnx"]),
        hub_model("org/still-there", ["litert"]),
        hub_model("org/private", ["litert"], private=True),
        hub_model("org/flaky", ["litert"]),
        hub_model("org/hangs", ["litert"]),
        hub_model("org/limited", ["litert"]),
    ])  # fmt: skip
    fake_hub.fail_model("org/flaky", "info", 503)
    fake_hub.hang_model("org/hangs", "info")
    fake_hub.fail_model("org/limited", "info", 429, headers={"Retry-After": "3600"})
    client = HubClient(endpoint=fake_hub.url, timeout_seconds=0.5, max_retries=1, max_wait_seconds=1)
    ids = ["org/deleted", "org/retagged", "org/still-there", "org/private", "org/flaky", "org/hangs", "org/limited"]

    check = check_removals(client, ids, FILTERS)

    assert sorted(check.confirmed) == ["org/deleted", "org/private", "org/retagged"]
    assert sorted(check.unverified) == ["org/flaky", "org/hangs", "org/limited", "org/still-there"]
    assert "503" in check.unverified["org/flaky"] and "Timeout" in check.unverified["org/hangs"]
    assert "rate limit" in check.unverified["org/limited"]
    lookups = [r.path for r in fake_hub.requests if r.path.startswith("/api/models/")]
    assert lookups.count("/api/models/org/deleted") == 1


def test_the_sync_marks_only_what_the_hub_confirmed_and_counts_the_rest(fake_hub, sync_resources):
    models = synthetic_listing(20)
    fake_hub.set_models(models)
    assets = [hf_litert_listing, litert_model_records, ml_models]
    assert dg.materialize(assets, partition_key=TODAY, resources=sync_resources).success
    gone, unsure = models[0]["id"], models[1]["id"]
    fake_hub.set_models(models[2:] + [{**models[1], "private": True}])  # models[1] is unlisted, but lookups fail
    fake_hub.fail_model(unsure, "info", 503)

    result = dg.materialize(assets, partition_key=TODAY, resources=sync_resources)

    assert result.success
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("ml_models")[0].metadata.items()}
    assert (metadata["removed"], metadata["removal_unverified"], metadata["active"]) == (1, 1, 19)
    with sync_resources["catalog"].engine().connect() as conn:
        removed = dict(conn.execute(sa.text(
            "SELECT hf_model_id, removed_upstream_at IS NOT NULL FROM ml_models WHERE hf_model_id IN (:a, :b)"
        ), {"a": gone, "b": unsure}).all())
    assert removed == {gone: True, unsure: False}
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["ml_models_match_listing"] is True

    fake_hub.clear_model_faults()
    fake_hub.set_models(models)  # both are back
    third = dg.materialize(assets, partition_key=TODAY, resources=sync_resources)
    history = third.asset_materializations_for_node("ml_models")[0].metadata["history"].value.splitlines()
    assert history[0] == "| date | listed | created | updated | removed | restored | active | duration |"
    assert [row.split(" | ")[:7] for row in history[2:]] == [
        [f"| {TODAY}", "20", "0", "0", "0", "1", "20"],
        [f"| {TODAY}", "18", "0", "0", "1", "0", "19"],
        [f"| {TODAY}", "20", "20", "0", "0", "0", "20"],
    ]  # newest first
    assert all(row.endswith(" s |") for row in history[2:])


def test_once_the_rate_limit_stops_a_lookup_the_rest_are_not_made(fake_hub):
    fake_hub.set_models([])
    fake_hub.fail_model("org/limited", "info", 429, headers={"Retry-After": "3600"})
    client = HubClient(endpoint=fake_hub.url, timeout_seconds=0.5, max_retries=1, max_wait_seconds=1)

    check = check_removals(client, ["org/limited", "org/a", "org/b"], FILTERS, workers=1)

    assert check.confirmed == []
    assert "rate limit" in check.unverified["org/limited"]
    assert check.unverified["org/a"] == check.unverified["org/b"] == RATE_LIMITED
    assert [r.path for r in fake_hub.requests if r.path.startswith("/api/models/")] == ["/api/models/org/limited"]
