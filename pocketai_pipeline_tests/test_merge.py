"""The merge into ml_models, on a real PostgreSQL: contract rules 1, 5, 6, 7, 9 and 10."""

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

from pocketai_pipeline.catalog import embedded, merge as merge_module
from pocketai_pipeline.catalog.audit import missing_synced_models
from pocketai_pipeline.catalog.merge import (
    STAGED_COLUMNS,
    MergeResult,
    merge_records,
)
from pocketai_pipeline.sync.content_hash import to_boolean, to_integer, to_text, to_text_array, to_timestamp
from pocketai_pipeline.catalog.queries import query
from pocketai_pipeline.catalog.schema import ensure_system_user
from pocketai_pipeline.defs.metadata import change_summary
from pocketai_pipeline.sync.records import RECORD_DTYPES
from pocketai_pipeline.sync.removals import RemovalCheck
from pocketai_pipeline_tests.catalog_helpers import catalog_engine, wait_for_lock_waiters
from pocketai_pipeline_tests.conftest import drop_database

FETCHED_AT = datetime(2025, 3, 1, 2, 0, 5, tzinfo=UTC)
NEXT_DAY = FETCHED_AT + timedelta(days=1)
SYSTEM_USER = "hf_sync_system"


@pytest.fixture
def engine(database_url: str):
    with catalog_engine(database_url) as engine:
        yield engine


def record(hf_model_id: str, **fields: object) -> dict[str, object]:
    """One normalized record as the records step produces it; ``fields`` override the defaults."""
    return {
        "hf_model_id": hf_model_id,
        "name": hf_model_id.rsplit("/", 1)[-1],
        "origin_repo_url": f"https://huggingface.co/{hf_model_id}",
        "tags": ["litert", "tflite"],
        "task": "image-classification",
        "license_type": "apache_2_0",
        "downloads": 10,
        "likes": 1,
        "gated": False,
        "hf_sha": "a" * 40,
        "hf_created_at": pd.Timestamp("2024-05-01T12:00:00Z"),
        "hf_last_modified": pd.Timestamp("2024-06-01T08:30:15.123456Z"),
        **fields,
    }


def records(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(RECORD_DTYPES)).astype(RECORD_DTYPES)


def numbered(count: int, **fields: object) -> list[dict[str, object]]:
    return [record(f"litert-community/model-{number:02d}", **fields) for number in range(count)]


def merge(engine: Engine, listing: pd.DataFrame, fetched_at: datetime = FETCHED_AT, **options) -> MergeResult:
    """A merge in which, unless `removals` says otherwise, the Hub confirmed every missing model gone."""
    options.setdefault("removals", RemovalCheck(confirmed=missing_synced_models(engine, listing["hf_model_id"].tolist())[1]))
    return merge_records(engine, listing, fetched_at=fetched_at, partition_key=fetched_at.date().isoformat(), **options)


def models(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {row.hf_model_id: row for row in conn.execute(text("SELECT * FROM ml_models"))}


def row_versions(engine: Engine) -> dict[str, str]:
    """The xmin (writing transaction) of every catalog row: any write to a row changes it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT 'ml_models ' || id, CAST(xmin AS text) FROM ml_models"
                " UNION ALL SELECT 'users ' || id, CAST(xmin AS text) FROM users"
                " UNION ALL SELECT 'model_versions ' || id, CAST(xmin AS text) FROM model_versions"
            )
        )
        return dict(rows.all())


def applied_listings(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM hf_sync_applied_listings ORDER BY id")).all()


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def add_person_with_model(engine: Engine, hf_model_id: str) -> int:
    with engine.begin() as conn:
        alice = conn.execute(
            text("INSERT INTO users (username, email, is_developer) VALUES ('alice', 'a@example.com', true) RETURNING id")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO ml_models (name, description, hf_model_id, author_id, tags, license_type, downloads)"
                " VALUES ('Mine', 'hand-written', :hf_model_id, :alice, '{mine}', 'mit', 5)"
            ),
            {"hf_model_id": hf_model_id, "alice": alice},
        )
    return alice


MISSING_VALUES = [None, pd.NA, pd.NaT, np.nan, float("nan"), np.float64("nan"), np.datetime64("NaT")]


@pytest.mark.parametrize("missing", MISSING_VALUES, ids=repr)
def test_every_kind_of_missing_value_becomes_null(missing):
    assert to_text(missing) is None
    assert to_integer(missing) is None
    assert to_boolean(missing) is None
    assert to_timestamp(missing) is None
    assert to_text_array(missing) == []


def test_values_become_plain_python():
    assert to_integer(np.int64(2**40)) == 2**40 and type(to_integer(np.int64(7))) is int
    assert to_boolean(np.bool_(False)) is False
    assert to_text(pd.array(["Ünï"], dtype="string")[0]) == "Ünï"
    assert to_text_array(np.array(["b", "a"], dtype=object)) == ["b", "a"]
    stamp = to_timestamp(pd.Timestamp("2024-06-01T08:30:15.123456Z"))
    assert type(stamp) is datetime and stamp == datetime(2024, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)
    with pytest.raises(ValueError, match="no time zone"):
        to_timestamp(pd.Timestamp("2024-06-01T08:30:15"))
    with pytest.raises(TypeError, match="list of strings"):
        to_text_array("litert")


# The records step writes "string" columns (missing = pd.NA); pandas 3's default "str" has NaN.
@pytest.mark.parametrize("text_dtype", ["string", "str", "object"])
def test_first_sync_creates_every_field(engine: Engine, text_dtype: str):
    gemma = record(
        "google/gemma-3n-E2B-it-litert-lm",
        tags=["z-last", "a-first", "litert", "NULL", 'a,"b"', "{c}", "back\\slash", " spaced "],
        license_type="gemma",
        gated=True,
        downloads=2**40,
    )
    bare = record(
        "litert-community/Ünïcode-模型",
        tags=[],
        task=None,
        license_type="unknown",
        downloads=None,
        likes=None,
        gated=None,
        hf_sha=None,
        hf_created_at=None,
        hf_last_modified=None,
    )
    listing = records(gemma, bare)
    text_columns = ["hf_model_id", "name", "origin_repo_url", "task", "license_type", "hf_sha"]
    listing = listing.astype(dict.fromkeys(text_columns, text_dtype))

    result = merge(engine, listing)

    assert result == MergeResult(
        created=2, updated=0, unchanged=0, removed=0, restored=0, skipped_not_owned=0, stale=False,
        removal_blocked=False, shrink_accepted=False, would_remove=0, removal_unverified=0, active_synced_before=0,
        row_count=2, active_count=2,
        created_ids=["google/gemma-3n-E2B-it-litert-lm", "litert-community/Ünïcode-模型"],
        updated_ids=[], removed_ids=[], restored_ids=[],
    )  # fmt: skip
    with engine.connect() as conn:
        users = conn.execute(text("SELECT * FROM users")).all()
    assert [(user.username, user.email, user.is_developer) for user in users] == [
        (SYSTEM_USER, "system@pocket-ai.local", True)
    ]
    rows = models(engine)
    for row in rows.values():
        assert row.author_id == users[0].id
        assert row.description is None and row.removed_upstream_at is None
        assert row.created_at == row.updated_at
    synced = rows["google/gemma-3n-E2B-it-litert-lm"]
    assert synced.name == "gemma-3n-E2B-it-litert-lm"
    assert synced.origin_repo_url == "https://huggingface.co/google/gemma-3n-E2B-it-litert-lm"
    assert synced.tags == ["z-last", "a-first", "litert", "NULL", 'a,"b"', "{c}", "back\\slash", " spaced "]
    assert (synced.task, synced.license_type, synced.downloads, synced.likes) == ("image-classification", "gemma", 2**40, 1)
    assert (synced.gated, synced.hf_sha) == (True, "a" * 40)
    assert synced.hf_created_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert synced.hf_last_modified == datetime(2024, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)
    empty = rows["litert-community/Ünïcode-模型"]
    assert empty.name == "Ünïcode-模型"
    assert empty.tags == [] and empty.license_type == "unknown"
    missing = ["task", "downloads", "likes", "gated", "hf_sha", "hf_created_at", "hf_last_modified"]
    assert {column: getattr(empty, column) for column in missing} == dict.fromkeys(missing)
    [applied] = applied_listings(engine)
    assert (applied.partition_key, applied.fetched_at, applied.listed, applied.created) == ("2025-03-01", FETCHED_AT, 2, 2)


def test_identical_resync_writes_no_row(engine: Engine):
    listing = records(*numbered(5), record("google/bare", task=None, downloads=None, gated=None, hf_last_modified=None))
    merge(engine, listing)
    before = row_versions(engine)
    user_ids_used = scalar(engine, "SELECT last_value FROM users_id_seq")

    result = merge(engine, listing, NEXT_DAY)

    assert (result.created, result.updated, result.unchanged, result.removed, result.restored) == (0, 0, 6, 0, 0)
    assert row_versions(engine) == before
    assert scalar(engine, "SELECT last_value FROM users_id_seq") == user_ids_used
    assert len(applied_listings(engine)) == 2


def test_records_read_back_from_parquet_are_identical(engine: Engine, tmp_path):
    listing = records(*numbered(3), record("google/bare", tags=[], task=None, likes=None, gated=None, hf_sha=None))
    merge(engine, listing)
    before = row_versions(engine)
    listing.to_parquet(tmp_path / "records.parquet")
    stored = pd.read_parquet(tmp_path / "records.parquet")
    assert isinstance(stored["tags"].iloc[0], np.ndarray)

    result = merge(engine, stored, NEXT_DAY)

    assert result.unchanged == 4 and result.updated_ids == []
    assert row_versions(engine) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "renamed"),
        ("origin_repo_url", "https://huggingface.co/elsewhere"),
        ("tags", ["tflite", "litert"]),
        ("task", None),
        ("license_type", "mit"),
        ("downloads", 11),
        ("likes", None),
        ("gated", None),
        ("hf_sha", "b" * 40),
        ("hf_created_at", None),
        ("hf_last_modified", pd.Timestamp("2024-06-01T08:30:15.123457Z")),
    ],
)
def test_a_changed_field_rewrites_only_that_row(engine: Engine, field: str, value: object):
    first = numbered(3)
    merge(engine, records(*first))
    changed_id = first[1]["hf_model_id"]
    with engine.begin() as conn:  # the app writes the description; the sync must keep it
        conn.execute(text("UPDATE ml_models SET description = 'by hand' WHERE hf_model_id = :id"), {"id": changed_id})
    before_rows, before = models(engine), row_versions(engine)
    first[1] = {**first[1], field: value}

    result = merge(engine, records(*first), NEXT_DAY)

    assert (result.updated_ids, result.unchanged, result.created, result.restored) == ([changed_id], 2, 0, 0)
    after_rows, after = models(engine), row_versions(engine)
    changed_key = f"ml_models {before_rows[changed_id].id}"
    assert after[changed_key] != before[changed_key]
    assert {key: version for key, version in after.items() if key != changed_key} == {
        key: version for key, version in before.items() if key != changed_key
    }
    changed, was = after_rows[changed_id], before_rows[changed_id]
    expected = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    assert getattr(changed, field) == expected
    assert changed.updated_at > was.updated_at
    assert (changed.created_at, changed.description, changed.id) == (was.created_at, "by hand", was.id)


def test_rows_owned_by_a_person_are_never_touched(engine: Engine):
    add_person_with_model(engine, "alice/own-model")
    before = row_versions(engine)

    first = merge(engine, records(record("alice/own-model", name="own-model"), *numbered(2)))
    without_it = merge(engine, records(*numbered(2)), NEXT_DAY)

    assert (first.skipped_not_owned, first.created, first.created_ids) == (1, 2, [r["hf_model_id"] for r in numbered(2)])
    assert (without_it.skipped_not_owned, without_it.would_remove, without_it.removed) == (0, 0, 0)
    after = row_versions(engine)
    assert {key: after[key] for key in before} == before
    own = models(engine)["alice/own-model"]
    assert (own.name, own.description, own.tags, own.license_type, own.downloads) == (
        "Mine", "hand-written", ["mine"], "mit", 5,
    )  # fmt: skip
    assert own.removed_upstream_at is None


def test_model_versions_survive_every_sync(engine: Engine):
    listing = numbered(6)
    merge(engine, records(*listing))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO model_versions (model_id, version, created_by)"
                " SELECT id, '1.0', author_id FROM ml_models WHERE hf_model_id = :id"
            ),
            {"id": listing[0]["hf_model_id"]},
        )
    version_before = scalar(engine, "SELECT CAST(xmin AS text) || ' ' || model_id FROM model_versions")

    merge(engine, records({**listing[0], "downloads": 99}, *listing[1:]), NEXT_DAY)
    merge(engine, records(*listing[1:]), NEXT_DAY + timedelta(days=1))

    assert models(engine)[listing[0]["hf_model_id"]].removed_upstream_at is not None
    assert scalar(engine, "SELECT CAST(xmin AS text) || ' ' || model_id FROM model_versions") == version_before


def test_a_model_missing_upstream_is_marked_once_and_restored_when_back(engine: Engine):
    listing = numbered(10)
    gone = listing[9]["hf_model_id"]
    merge(engine, records(*listing))

    removed = merge(engine, records(*listing[:9]), NEXT_DAY)
    marked = models(engine)[gone]
    before = row_versions(engine)
    again = merge(engine, records(*listing[:9]), NEXT_DAY + timedelta(hours=1))

    assert (removed.removed_ids, removed.would_remove, removed.active_synced_before) == ([gone], 1, 10)
    assert marked.removed_upstream_at is not None and marked.updated_at == marked.removed_upstream_at
    assert (again.removed, again.would_remove, again.active_synced_before, again.unchanged) == (0, 0, 9, 9)
    assert row_versions(engine) == before
    assert models(engine)[gone].removed_upstream_at == marked.removed_upstream_at

    back = merge(engine, records(*listing[:9], {**listing[9], "downloads": 77}), NEXT_DAY + timedelta(days=1))

    assert (back.restored_ids, back.updated, back.unchanged, back.removed) == ([gone], 0, 9, 0)
    restored = models(engine)[gone]
    assert (restored.removed_upstream_at, restored.downloads) == (None, 77)
    assert restored.updated_at > marked.updated_at


def test_a_suspicious_shrink_marks_nothing_but_applies_the_rest(engine: Engine):
    listing = numbered(10)
    merge(engine, records(*listing))
    shrunk = [*listing[:6], {**listing[6], "downloads": 500}, record("google/brand-new")]
    shrunk_ids = [row["hf_model_id"] for row in shrunk]

    assert missing_synced_models(engine, shrunk_ids) == (10, [row["hf_model_id"] for row in listing[7:]])
    result = merge(engine, records(*shrunk), NEXT_DAY)

    assert (result.removal_blocked, result.would_remove, result.active_synced_before) == (True, 3, 10)
    assert (result.removed, result.removed_ids) == (0, [])
    assert (result.updated_ids, result.created_ids) == ([listing[6]["hf_model_id"]], ["google/brand-new"])
    assert all(row.removed_upstream_at is None for row in models(engine).values())
    assert applied_listings(engine)[-1].removal_blocked is True


@pytest.mark.parametrize(("kept", "max_removed_fraction", "blocked"), [(8, 0.2, False), (8, 0.1, True), (0, 0.2, True)])
def test_the_shrink_threshold(engine: Engine, kept: int, max_removed_fraction: float, blocked: bool):
    listing = numbered(10)
    merge(engine, records(*listing))

    result = merge(engine, records(*listing[:kept]), NEXT_DAY, max_removed_fraction=max_removed_fraction)

    assert result.removal_blocked is blocked
    assert result.removed == (0 if blocked else 10 - kept)


def test_an_empty_catalog_has_nothing_to_remove(engine: Engine):
    assert missing_synced_models(engine, []) == (0, [])
    result = merge(engine, records())
    assert (result.removal_blocked, result.row_count, result.active_synced_before) == (False, 0, 0)


def test_an_older_listing_after_a_newer_one_is_stale(engine: Engine):
    listing = numbered(5)
    merge(engine, records(*listing), NEXT_DAY)
    before, before_models = row_versions(engine), models(engine)
    older = [{**row, "downloads": 1} for row in listing[:4]] + [record("google/only-in-the-old-listing")]

    result = merge(engine, records(*older), FETCHED_AT)

    assert (result.stale, result.row_count, result.created, result.updated, result.removed) == (True, 5, 0, 0, 0)
    assert row_versions(engine) == before and models(engine) == before_models
    assert len(applied_listings(engine)) == 1

    same_time = merge(engine, records(*older), NEXT_DAY)
    assert (same_time.stale, same_time.created, same_time.updated, same_time.removed) == (False, 1, 4, 1)


@pytest.mark.parametrize("newer_first", [True, False], ids=["newer-first", "older-first"])
def test_concurrent_merges_run_one_after_the_other(database_url: str, engine: Engine, newer_first: bool):
    older = (records(*numbered(10, downloads=1)), FETCHED_AT)
    newer_rows = [*numbered(9, downloads=2), record("google/new-in-newer")]
    # Looked up before either merge began: the Hub confirms that model-09 is gone.
    confirmed = RemovalCheck(confirmed=[numbered(10)[9]["hf_model_id"]])
    newer = (records(*newer_rows), NEXT_DAY)
    first, second = (newer, older) if newer_first else (older, newer)
    holding, release = threading.Event(), threading.Event()

    def hold_the_transaction_open(conn) -> None:
        holding.set()
        release.wait(timeout=30)

    with (
        catalog_engine(database_url) as first_engine,
        catalog_engine(database_url) as second_engine,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        event.listen(first_engine, "commit", hold_the_transaction_open)
        first_merge = pool.submit(merge, first_engine, *first, removals=confirmed)
        try:
            assert holding.wait(timeout=30), "the first merge never reached its commit"
            second_merge = pool.submit(merge, second_engine, *second, removals=confirmed)
            wait_for_lock_waiters(engine, count=1)  # the second merge waits for the first to end
            assert not second_merge.done()
        finally:
            release.set()
        first_result, second_result = first_merge.result(timeout=60), second_merge.result(timeout=60)

    assert not first_result.stale and second_result.stale is newer_first
    active = {hf_model_id: row.downloads for hf_model_id, row in models(engine).items() if row.removed_upstream_at is None}
    assert active == {row["hf_model_id"]: row["downloads"] for row in newer_rows}


def test_a_result_keeps_the_first_ids_of_each_change_in_code_point_order_and_exact_counts(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(merge_module, "IDS_KEPT", 2)
    ids = ["b/Zeta", "a/ünïcode", "a/Beta", "a/alpha"]  # a server collating by locale puts a/alpha first
    first = merge(engine, records(*(record(hf_model_id) for hf_model_id in ids)))
    assert (first.created, first.created_ids) == (4, ["a/Beta", "a/alpha"])

    changed = merge(engine, records(*(record(hf_model_id, likes=2) for hf_model_id in ids)), NEXT_DAY)
    assert (changed.updated, changed.updated_ids, changed.unchanged) == (4, ["a/Beta", "a/alpha"], 0)
    assert "| updated | 4 | a/Beta, a/alpha |" in change_summary(changed)


def test_concurrent_first_merges_create_the_system_user_once(database_url: str, engine: Engine):
    listing = records(*numbered(3))
    start = threading.Barrier(3)

    def merge_in_own_engine() -> MergeResult:
        with catalog_engine(database_url, migrated=False) as own_engine:
            start.wait(timeout=30)
            return merge(own_engine, listing)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = [future.result(timeout=60) for future in [pool.submit(merge_in_own_engine) for _ in range(3)]]

    assert sorted(result.created for result in results) == [0, 0, 3]
    assert scalar(engine, "SELECT count(*) FROM users") == 1
    assert scalar(engine, "SELECT count(*) FROM ml_models") == 3


def test_ensure_system_user_waits_for_a_concurrent_insert_and_reuses_it(engine: Engine):
    def ensure_in_own_transaction() -> int:
        with engine.begin() as conn:
            return ensure_system_user(conn)

    with engine.connect() as first, ThreadPoolExecutor(max_workers=1) as pool:
        first_id = ensure_system_user(first)  # inserted, not yet committed
        second = pool.submit(ensure_in_own_transaction)
        wait_for_lock_waiters(engine, count=1, wait_event="transactionid")
        first.commit()
        assert second.result(timeout=30) == first_id

    assert ensure_in_own_transaction() == first_id
    assert scalar(engine, "SELECT count(*) FROM users WHERE username = :name", name=SYSTEM_USER) == 1


@pytest.mark.parametrize(
    "bad_listing",
    [
        [record("google/weird-license", license_type="wtfpl")],
        [record("google/no-name", name=None)],
    ],
    ids=["unknown-license-type", "missing-name"],
)
def test_a_listing_the_database_rejects_changes_nothing(engine: Engine, bad_listing: list[dict[str, object]]):
    listing = numbered(5)
    merge(engine, records(*listing))
    before = row_versions(engine)

    with pytest.raises((psycopg.Error, DBAPIError)):
        merge(engine, records(*[{**row, "downloads": 0} for row in listing], *bad_listing), NEXT_DAY)

    assert row_versions(engine) == before
    assert len(applied_listings(engine)) == 1


def test_malformed_input_is_refused_before_touching_the_database(engine: Engine):
    naive = records(record("google/naive"))
    naive["hf_created_at"] = naive["hf_created_at"].dt.tz_localize(None)

    with pytest.raises(ValueError, match="google/naive.*no time zone"):
        merge(engine, naive)
    with pytest.raises(ValueError, match="google/twice.*twice"):
        merge(engine, records(record("google/twice"), record("google/other"), record("google/twice", downloads=2)))
    with pytest.raises(ValueError, match=r"lack the columns \['likes'\]"):
        merge(engine, records(record("google/x")).drop(columns=["likes"]))
    with pytest.raises(ValueError, match="fetched_at has no time zone"):
        merge(engine, records(record("google/x")), FETCHED_AT.replace(tzinfo=None))
    assert scalar(engine, "SELECT count(*) FROM users") == 0


def test_the_app_ready_columns_are_stored_exactly_and_an_identical_resync_writes_nothing(engine: Engine):
    lfm = record(
        "litert-community/LFM2-350M",
        license_type="other",
        hf_license_id="lfm-open-license-v1.0",
        hf_license_name="LFM Open License v1.0",
        library_name="litert-lm",
        base_models=["LiquidAI/LFM2-350M", "LiquidAI/LFM2-350M-Base"],
        runtime_formats=["litert-lm", "mediapipe-task"],
    )
    bare = record("litert-community/bare", hf_license_id=None, hf_license_name=None, library_name=None,
                  base_models=[], runtime_formats=[])
    merge(engine, records(lfm, bare))
    before = row_versions(engine)

    again = merge(engine, records(lfm, bare), NEXT_DAY)

    stored = models(engine)
    assert (stored[lfm["hf_model_id"]].hf_license_id, stored[lfm["hf_model_id"]].hf_license_name,
            stored[lfm["hf_model_id"]].library_name, stored[lfm["hf_model_id"]].base_models,
            stored[lfm["hf_model_id"]].runtime_formats) == (
        "lfm-open-license-v1.0", "LFM Open License v1.0", "litert-lm",
        ["LiquidAI/LFM2-350M", "LiquidAI/LFM2-350M-Base"], ["litert-lm", "mediapipe-task"],
    )  # fmt: skip
    assert (stored[bare["hf_model_id"]].hf_license_id, stored[bare["hf_model_id"]].library_name,
            stored[bare["hf_model_id"]].base_models, stored[bare["hf_model_id"]].files_synced_sha) == (None, None, [], None)
    assert (again.updated, again.unchanged) == (0, 2) and row_versions(engine) == before

    changed = merge(engine, records({**lfm, "base_models": ["LiquidAI/LFM2-350M"]}, bare), NEXT_DAY + timedelta(days=1))
    assert changed.updated_ids == [lfm["hf_model_id"]]


def test_a_missing_model_the_hub_does_not_confirm_gone_stays_and_is_counted(engine: Engine):
    listing = numbered(10)
    merge(engine, records(*listing))
    gone, unsure = listing[8]["hf_model_id"], listing[9]["hf_model_id"]
    removals = RemovalCheck(confirmed=[gone], unverified={unsure: "the Hub answered 503"})

    result = merge(engine, records(*listing[:8]), NEXT_DAY, removals=removals)

    assert (result.removed_ids, result.would_remove, result.removal_unverified) == ([gone], 2, 1)
    assert models(engine)[unsure].removed_upstream_at is None
    assert (applied_listings(engine)[-1].removal_unverified, applied_listings(engine)[-1].active) == (1, 9)


def test_a_confirmed_id_that_is_listed_or_not_synced_is_never_marked(engine: Engine):
    listing = numbered(3)
    merge(engine, records(*listing))
    add_person_with_model(engine, "alice/own")
    removals = RemovalCheck(confirmed=[listing[0]["hf_model_id"], "alice/own", "never/synced"])

    result = merge(engine, records(*listing), NEXT_DAY, removals=removals)

    assert result.removed == 0
    assert all(row.removed_upstream_at is None for row in models(engine).values())


def test_accept_shrink_lets_one_real_shrink_mark_the_confirmed_models(engine: Engine):
    listing = numbered(10)
    merge(engine, records(*listing))

    blocked = merge(engine, records(*listing[:5]), NEXT_DAY)
    accepted = merge(engine, records(*listing[:5]), NEXT_DAY + timedelta(hours=1), accept_shrink=True)

    assert (blocked.removal_blocked, blocked.removed, blocked.shrink_accepted) == (True, 0, False)
    assert (accepted.removal_blocked, accepted.shrink_accepted, accepted.removed, accepted.active_count) == (False, True, 5, 5)
    assert sorted(accepted.removed_ids) == sorted(row["hf_model_id"] for row in listing[5:])
    assert [row.shrink_accepted for row in applied_listings(engine)] == [False, False, True]


# Only what changed is shipped: the merge logs how many records it staged (extra "staged").


@pytest.fixture
def staged(caplog):
    """The number of records each merge of the test staged, in order."""
    caplog.set_level(logging.INFO, logger="pocketai_pipeline.catalog.merge")
    return lambda: [entry.staged for entry in caplog.records if hasattr(entry, "staged")]


def wal_bytes(engine: Engine, action) -> int:
    with engine.connect() as conn:
        before = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar()
    action()
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :before)"), {"before": before}).scalar()


def vacuum(engine: Engine) -> None:
    """Set the hint bits of freshly written rows now, so that a later read writes no page images to the WAL."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (FREEZE) ml_models"))
        conn.execute(text("CHECKPOINT"))


def test_only_new_changed_and_restored_records_are_staged(engine: Engine, staged):
    listing = numbered(20)
    add_person_with_model(engine, "alice/own-model")
    merge(engine, records(*listing, record("alice/own-model")))
    merge(engine, records(*listing, record("alice/own-model")), NEXT_DAY)
    merge(engine, records(*listing[:19]), NEXT_DAY + timedelta(days=1))  # model-19 marked removed
    changed = [{**listing[0], "likes": 2}, *listing[1:19], listing[19], record("google/brand-new")]
    result = merge(engine, records(*changed), NEXT_DAY + timedelta(days=2))

    assert staged() == [20, 0, 0, 3]
    assert (result.updated_ids, result.restored_ids, result.created_ids) == (
        [listing[0]["hf_model_id"]], [listing[19]["hf_model_id"]], ["google/brand-new"],
    )  # fmt: skip
    assert result.unchanged == 18


def test_an_identical_resync_of_many_models_ships_and_writes_nothing_and_barely_touches_the_wal(engine: Engine, staged):
    listing = records(*[record(f"org/model-{number:05d}", downloads=number) for number in range(3000)])
    merge(engine, listing)
    vacuum(engine)
    before, applied = row_versions(engine), len(applied_listings(engine))

    wal = wal_bytes(engine, lambda: merge(engine, listing, NEXT_DAY))

    assert staged() == [3000, 0]
    assert row_versions(engine) == before
    assert len(applied_listings(engine)) == applied + 1  # the sync history keeps its row
    assert wal < 64 * 1024, wal


def test_a_resync_with_one_percent_changed_writes_exactly_those_rows(engine: Engine, staged):
    listing = [record(f"org/model-{number:04d}", downloads=number) for number in range(500)]
    merge(engine, records(*listing))
    ids = {row.hf_model_id: row.id for row in models(engine).values()}
    before = row_versions(engine)
    changed = {f"org/model-{number:04d}" for number in range(0, 500, 100)}

    result = merge(engine, records(*[{**row, "downloads": -1} if row["hf_model_id"] in changed else row for row in listing]),
                   NEXT_DAY)

    assert staged()[-1] == 5 and sorted(result.updated_ids) == sorted(changed) and result.unchanged == 495
    after = row_versions(engine)
    assert {key for key in before if after[key] != before[key]} == {f"ml_models {ids[hf_model_id]}" for hf_model_id in changed}


def test_rows_synced_before_hashes_are_rewritten_once_then_left_alone(engine: Engine, staged):
    listing = records(*numbered(4))
    merge(engine, listing)
    with engine.begin() as conn:  # as migration 0004 leaves a catalog the older merge wrote
        conn.execute(text("UPDATE ml_models SET hf_sync_hash = NULL"))
    hashes_before = scalar(engine, "SELECT count(*) FROM ml_models WHERE hf_sync_hash IS NOT NULL")

    once = merge(engine, listing, NEXT_DAY)
    written = row_versions(engine)
    again = merge(engine, listing, NEXT_DAY + timedelta(days=1))

    assert hashes_before == 0
    assert (once.updated, once.unchanged, again.updated, again.unchanged) == (4, 0, 0, 4)
    assert staged() == [4, 4, 0]
    assert row_versions(engine) == written
    assert scalar(engine, "SELECT count(*) FROM ml_models WHERE octet_length(hf_sync_hash) = 16") == 4


def synced_values(engine: Engine) -> dict[str, tuple[object, ...]]:
    """hf_model_id → the synced fields, the hash and whether the row is active."""
    columns = [*STAGED_COLUMNS, "hf_sync_hash"]
    return {
        hf_model_id: (*(getattr(row, column) for column in columns), row.removed_upstream_at is None)
        for hf_model_id, row in models(engine).items()
    }


def test_chunked_records_merge_exactly_like_one_frame(engine: Engine, pg_home, staged):
    first = [*numbered(7), record("google/bare", tags=[], task=None, downloads=None, gated=None, hf_last_modified=None)]
    second = [{**first[0], "downloads": 99}, *first[2:], record("google/new")]
    other_name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        with catalog_engine(embedded.database_url(pg_home, other_name)) as one_frame:
            results = {}
            for target, as_chunks in ((engine, True), (one_frame, False)):
                for listing, fetched_at in ((first, FETCHED_AT), (second, NEXT_DAY)):
                    frame = records(*listing)
                    given = (frame.iloc[start : start + 3] for start in range(0, len(frame), 3)) if as_chunks else frame
                    removals = RemovalCheck(confirmed=[first[1]["hf_model_id"]])
                    results.setdefault(as_chunks, []).append(
                        merge_records(target, given, fetched_at=fetched_at, partition_key="p", removals=removals)
                    )
            synced = [synced_values(target) for target in (engine, one_frame)]
    finally:
        drop_database(pg_home, other_name)

    assert results[True] == results[False]
    assert (results[True][1].created, results[True][1].updated, results[True][1].removed) == (1, 1, 1)
    assert synced[0] == synced[1]
    assert staged() == [8, 2, 8, 2]


def test_a_chunk_iterator_is_read_once_and_a_repeat_across_chunks_is_refused(engine: Engine):
    chunks = iter([records(*numbered(2)), records(), records(record("google/x"))])
    assert merge_records(engine, chunks, fetched_at=FETCHED_AT, partition_key="p").created == 3

    repeated = iter([records(*numbered(2)), records(numbered(2)[1])])
    with pytest.raises(ValueError, match="model-01.*twice"):
        merge_records(engine, repeated, fetched_at=NEXT_DAY, partition_key="p")


def test_a_person_owned_listed_row_is_never_staged_nor_touched(engine: Engine, staged):
    add_person_with_model(engine, "alice/own-model")
    before = row_versions(engine)

    results = [merge(engine, records(record("alice/own-model", downloads=downloads)), FETCHED_AT + timedelta(days=day))
               for day, downloads in enumerate([1, 2, 2])]

    assert staged() == [0, 0, 0]
    assert [result.skipped_not_owned for result in results] == [1, 1, 1]
    after = row_versions(engine)
    assert {key: after[key] for key in before} == before


def test_a_merge_that_another_merge_overtook_while_it_staged_fails_and_succeeds_when_run_again(
    database_url: str, engine: Engine
):
    listing = records(*numbered(3))
    merge(engine, listing)
    changed_id = numbered(3)[0]["hf_model_id"]
    with engine.connect() as holder, ThreadPoolExecutor(max_workers=1) as pool:
        holder.execute(query("lock_merge"))
        overtaken = pool.submit(merge, engine, listing, NEXT_DAY)  # stages nothing, then waits for the lock
        wait_for_lock_waiters(engine, count=1)
        # Meanwhile an older listing is applied: it changes a row this merge left unstaged.
        holder.execute(text("UPDATE ml_models SET downloads = 1, hf_sync_hash = NULL WHERE hf_model_id = :id"),
                       {"id": changed_id})
        holder.execute(text(
            "INSERT INTO hf_sync_applied_listings (partition_key, fetched_at, listed, created, updated, unchanged,"
            " restored, removed, skipped_not_owned, removal_blocked) VALUES ('old', :at, 3, 0, 1, 2, 0, 0, 0, false)"
        ), {"at": FETCHED_AT})
        holder.commit()
        with pytest.raises(RuntimeError, match=f"{changed_id}.*run this merge again"):
            overtaken.result(timeout=60)

    again = merge(engine, listing, NEXT_DAY)

    assert again.updated_ids == [changed_id]
    assert models(engine)[changed_id].downloads == 10
