"""Odd records in an otherwise good listing, on a synced catalog (issue 9, item 2; rules 3 and 8).

Each case adds one odd model to the Hub and syncs: it is either stored exactly as stated here (and gets
its details), or rejected by name in `litert_model_records`' `first_rejects`. Either way every other
row of the catalog keeps its xmin, and nothing else is written.
"""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from pocketai_pipeline_tests.catalog_snapshot import (
    TODAY,
    content,
    models,
    public_ids,
    snapshot,
    sync,
)
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

HUB_MODELS = synthetic_listing(12)
SQL_ID = "org/'; DROP TABLE ml_models; --"
LONG_ID = "org/" + "a" * 1996  # 2,000 characters
UNICODE_ID = "组织/模型-ünï-😀-litert"
# About 5 MB of distinct tags (the Hub caps nothing in the JSON it sends).
HUGE_TAGS = ["litert"] + [f"tag-{i:06d}-" + "x" * 40 for i in range(100_000)]


def odd_model(model_id="org/odd-litert", **fields) -> dict:
    model = {
        "_id": "0d" * 12, "id": model_id, "modelId": model_id, "author": "org", "private": False, "disabled": False,
        "gated": False, "tags": ["litert", "license:mit"], "pipeline_tag": "image-classification",
        "library_name": "litert", "downloads": 7, "likes": 1, "sha": "ab" * 20,
        "createdAt": "2025-01-02T03:04:05.000Z", "lastModified": "2025-02-03T04:05:06.000Z",
        "cardData": {"license": "mit"}, "siblings": [{"rfilename": "model.tflite"}],
    }  # fmt: skip
    model.update(fields)
    return {k: v for k, v in model.items() if v is not DROP}


DROP = object()


@pytest.fixture
def synced(fake_hub, sync_resources):
    fake_hub.set_models(HUB_MODELS, cards=synthetic_cards(HUB_MODELS))
    assert sync(sync_resources).success
    engine = sync_resources["catalog"].engine()
    return engine, snapshot(engine)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


KEPT = [
    pytest.param(odd_model(lastModified="2025-03-04T05:06:07+02:00"),
                 {"hf_last_modified": utc("2025-03-04T03:06:07+00:00")}, id="date-with-plus-offset-in-utc"),
    pytest.param(odd_model(createdAt="2025-03-04T05:06:07.123456-05:30"),
                 {"hf_created_at": utc("2025-03-04T10:36:07.123456+00:00")}, id="date-with-minus-offset-in-utc"),
    pytest.param(odd_model(id=None, modelId="org/legacy-id-litert"),
                 {"hf_model_id": "org/legacy-id-litert", "name": "legacy-id-litert"}, id="legacy-modelId"),
    pytest.param(odd_model("org/nul\x00-litert", pipeline_tag="image\x00-classification", sha="ab\x00" * 20,
                           tags=["litert", "x\x00y"]),
                 {"hf_model_id": "org/nul-litert", "task": "image-classification", "hf_sha": "ab" * 20,
                  "tags": ("litert", "xy")}, id="nul-characters-stripped"),
    pytest.param(odd_model(UNICODE_ID), {"hf_model_id": UNICODE_ID, "name": "模型-ünï-😀-litert",
                                         "origin_repo_url": f"https://huggingface.co/{UNICODE_ID}"}, id="unicode-id"),
    pytest.param(odd_model(SQL_ID), {"hf_model_id": SQL_ID, "name": "'; DROP TABLE ml_models; --"}, id="sql-shaped-id"),
    pytest.param(odd_model(LONG_ID), {"hf_model_id": LONG_ID, "name": "a" * 1996}, id="2000-character-id"),
    pytest.param(odd_model(pipeline_tag="'); DELETE FROM users; --"), {"task": "'); DELETE FROM users; --"},
                 id="sql-shaped-text"),
    pytest.param(odd_model(tags=HUGE_TAGS), {"tags": tuple(HUGE_TAGS)}, id="5-MB-tag-list-stored-exactly"),
]


@pytest.mark.parametrize(("model", "expected"), KEPT)
def test_an_odd_but_valid_record_is_stored_exactly_and_nothing_else_moves(fake_hub, sync_resources, synced, model,
                                                                          expected):
    engine, before = synced
    fake_hub.set_models(HUB_MODELS + [model])

    result = sync(sync_resources)

    assert result.success, result.errors
    assert result.metadata["litert_model_records"]["rejected"] == 0
    assert (result.metadata["ml_models"]["created"], result.metadata["ml_models"]["updated"]) == (1, 0)
    after = snapshot(engine)
    rows = models(after)
    new_id = expected.get("hf_model_id", model.get("id"))
    assert set(rows) == public_ids(HUB_MODELS) | {new_id}
    new = rows[new_id]
    for column, value in expected.items():
        assert new[column] == value, column
    new_files = [k for k in content(after)["ml_model_files"] if k[0] == new_id]
    if model.get("id") == new_id:  # the fake Hub serves details under the id it lists
        assert new["files_synced_sha"] == new["hf_sha"] and new_files == [(new_id, "model.tflite")]
    else:  # the legacy modelId and the NUL-stripped id are unknown to its detail routes: counted, never fatal
        assert new["files_synced_sha"] is None and new_files == []
        assert result.metadata["ml_model_details"]["failed"] == 1
    # Every row that was there is untouched; no other table moved but the new model's files.
    assert {i: r for i, r in rows.items() if i != new_id} == models(before)
    assert (after["users"], after["model_versions"]) == (before["users"], before["model_versions"])
    with engine.connect() as conn:  # the SQL-shaped values were data, never statements
        assert conn.execute(sa.text("SELECT count(*) FROM ml_models")).scalar_one() == len(rows)

    again = sync(sync_resources)
    assert again.success and snapshot(engine) == after  # an identical re-sync writes nothing, even 5 MB of tags


REJECTED = [
    pytest.param(odd_model(id=DROP, modelId=DROP), None, "no id", id="no-id"),
    pytest.param(odd_model(id=12345, modelId=12345), None, "no id", id="numeric-id"),
    pytest.param(odd_model(id=["org/x"], modelId=DROP), None, "no id", id="list-id"),
    pytest.param(odd_model(id="   ", modelId=DROP), None, "no id", id="blank-id"),
    pytest.param(odd_model(downloads="1234"), "org/odd-litert", "downloads", id="downloads-a-string"),
    pytest.param(odd_model(likes=-1), "org/odd-litert", "likes", id="likes-negative"),
    pytest.param(odd_model(downloads=2**63), "org/odd-litert", "downloads", id="downloads-past-bigint"),
    pytest.param(odd_model(gated="sometimes"), "org/odd-litert", "gated", id="gated-unknown"),
    pytest.param(odd_model(tags=["litert", 5]), "org/odd-litert", "tags", id="tags-with-a-number"),
    pytest.param(odd_model(lastModified="last tuesday"), "org/odd-litert", "bad date", id="date-garbage"),
    pytest.param(odd_model(createdAt="2025-13-45T00:00:00Z"), "org/odd-litert", "bad date", id="date-impossible"),
    pytest.param(odd_model(lastModified="2025-03-04T05:06:07"), "org/odd-litert", "time zone", id="date-no-zone"),
    pytest.param(odd_model(lastModified=1735700000), "org/odd-litert", "bad date", id="date-a-number"),
    pytest.param(odd_model(siblings="model.tflite"), "org/odd-litert", "siblings", id="siblings-a-string"),
]


@pytest.mark.parametrize(("model", "named", "reason"), REJECTED)
def test_a_malformed_record_is_rejected_by_name_and_the_catalog_is_untouched(fake_hub, sync_resources, synced,
                                                                              model, named, reason):
    engine, before = synced
    fake_hub.set_models(HUB_MODELS + [model])

    result = sync(sync_resources, TODAY)

    assert result.success, result.errors
    records = result.metadata["litert_model_records"]
    assert (records["rejected"], records["records"]) == (1, len(HUB_MODELS))
    [row] = records["first_rejects"].splitlines()[2:]
    assert (named or "(no id)") in row and reason in row, row
    assert result.metadata["ml_models"]["skipped_invalid"] == 1
    assert snapshot(engine) == before
