"""The content hash of a record over the synced fields: equal exactly when the stored values are equal."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pocketai_pipeline.catalog.merge import STAGED_COLUMNS
from pocketai_pipeline.sync.content_hash import (
    HASH_BYTES,
    SYNCED_FIELDS,
    content_hashes,
    row_hashes,
    staged_form,
    synced_table,
)
from pocketai_pipeline.sync.normalize import normalize_listing
from pocketai_pipeline.sync.records import RECORD_DTYPES
from pocketai_pipeline_tests.synthetic import edge_case_models, synthetic_listing

BASE: dict[str, object] = {
    "hf_model_id": "litert-community/model",
    "name": "model",
    "origin_repo_url": "https://huggingface.co/litert-community/model",
    "tags": ["litert", "tflite"],
    "task": "image-classification",
    "license_type": "apache_2_0",
    "downloads": 10,
    "likes": 1,
    "gated": False,
    "hf_sha": "a" * 40,
    "hf_created_at": pd.Timestamp("2024-05-01T12:00:00Z"),
    "hf_last_modified": pd.Timestamp("2024-06-01T08:30:15.123456Z"),
    "hf_license_id": "apache-2.0",
    "hf_license_name": "Apache",
    "library_name": "litert",
    "base_models": ["google/gemma-3-1b-it"],
    "runtime_formats": ["litert"],
    "hf_gated": None,
}


def frame(*rows: dict[str, object], dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **row} for row in rows], columns=list(RECORD_DTYPES)).astype(dtypes or RECORD_DTYPES)


def hash_of(dtypes: dict[str, str] | None = None, **fields: object) -> bytes:
    [content_hash] = content_hashes(frame(fields, dtypes=dtypes))
    return content_hash


def test_the_hash_covers_exactly_the_fields_the_merge_writes():
    assert list(SYNCED_FIELDS) == list(STAGED_COLUMNS) == list(RECORD_DTYPES)
    assert len(hash_of()) == HASH_BYTES
    assert hash_of() == hash_of()


CHANGES = [
    ("hf_model_id", "litert-community/other"),
    ("name", "renamed"),
    ("origin_repo_url", "https://huggingface.co/elsewhere"),
    ("tags", ["litert"]),
    ("task", None),
    ("license_type", "mit"),
    ("downloads", 11),
    ("likes", None),
    ("gated", True),
    ("gated", None),
    ("hf_sha", "b" * 40),
    ("hf_created_at", None),
    ("hf_last_modified", pd.Timestamp("2024-06-01T08:30:15.123457Z")),
    ("hf_license_id", None),
    ("hf_license_name", "Apache 2"),
    ("library_name", None),
    ("base_models", []),
    ("runtime_formats", ["litert", "litert-lm"]),
    ("hf_gated", "manual"),
]


@pytest.mark.parametrize(("field", "value"), CHANGES, ids=[f"{field}={value!r}" for field, value in CHANGES])
def test_every_field_changes_the_hash(field: str, value: object):
    assert hash_of(**{field: value}) != hash_of()


def test_null_empty_and_nan_text_differ():
    hashes = {hash_of(task=value) for value in (None, "", "nan", "None", "NULL", "N", "0:")}
    assert len(hashes) == 7


@pytest.mark.parametrize("missing", [None, pd.NA, np.nan], ids=repr)
def test_every_kind_of_missing_text_is_null(missing: object):
    assert hash_of(dtypes={**RECORD_DTYPES, "task": "object"}, task=missing) == hash_of(task=None)


def test_values_do_not_run_into_each_other():
    assert hash_of(name="ab", task="c") != hash_of(name="a", task="bc")
    assert hash_of(tags=["a,b"]) != hash_of(tags=["a", "b"])
    assert hash_of(tags=['a","b']) != hash_of(tags=["a", "b"])
    assert hash_of(tags=["a\\", "b"]) != hash_of(tags=["a\\\\", "b"])
    assert hash_of(tags=[]) != hash_of(tags=[""])
    assert hash_of(tags=["NULL"]) != hash_of(tags=[])
    assert hash_of(downloads=1, likes=12) != hash_of(downloads=11, likes=2)
    assert hash_of(downloads=None, likes=1) != hash_of(downloads=1, likes=None)


def test_list_order_matters():
    assert hash_of(tags=["litert", "tflite"]) != hash_of(tags=["tflite", "litert"])
    assert hash_of(base_models=["a", "b"]) != hash_of(base_models=["b", "a"])


def test_a_missing_list_is_the_empty_list_it_is_stored_as():
    assert hash_of(dtypes={**RECORD_DTYPES}, tags=None) == hash_of(tags=[])
    assert hash_of(tags=np.nan) == hash_of(tags=[])


def test_numpy_arrays_and_lists_hash_alike():
    as_arrays = {field: np.array(BASE[field], dtype=object) for field in ("tags", "base_models", "runtime_formats")}
    assert hash_of(**as_arrays) == hash_of()


def test_the_same_instant_in_any_zone_or_unit_hashes_alike():
    paris = frame({}).astype({"hf_created_at": "datetime64[ns, Europe/Paris]", "hf_last_modified": "datetime64[ms, UTC]"})
    utc = frame({}).astype({"hf_last_modified": "datetime64[ms, UTC]"})
    assert content_hashes(paris) == content_hashes(utc)
    as_datetimes = frame({}).astype({"hf_created_at": "object"})
    as_datetimes["hf_created_at"] = [datetime(2024, 5, 1, 14, 0, tzinfo=datetime.fromisoformat("2024-05-01T14:00+02:00").tzinfo)]
    assert content_hashes(as_datetimes) == content_hashes(frame({}))


@pytest.mark.parametrize("text_dtype", ["string", "str", "object"])
def test_text_dtypes_hash_alike(text_dtype: str):
    text_columns = [field for field, dtype in RECORD_DTYPES.items() if dtype == "string"]
    rows = [{}, {"task": None, "hf_license_name": None}, {"name": "Ünï-模型", "tags": []}]
    assert content_hashes(frame(*rows).astype(dict.fromkeys(text_columns, text_dtype))) == content_hashes(frame(*rows))


def test_numbers_and_flags_of_any_dtype_hash_alike():
    as_objects = frame({}, {"downloads": None, "gated": None}).astype({"downloads": "object", "likes": "object", "gated": "object"})
    assert content_hashes(as_objects) == content_hashes(frame({}, {"downloads": None, "gated": None}))
    as_numpy = frame({}).astype({"downloads": "int64", "likes": "int32", "gated": "bool"})
    assert content_hashes(as_numpy) == content_hashes(frame({}))


def test_a_parquet_round_trip_keeps_the_hashes(tmp_path):
    records = frame({}, {"hf_model_id": "b/c", "tags": [], "task": None, "downloads": None, "hf_last_modified": None})
    records.to_parquet(tmp_path / "records.parquet")
    assert content_hashes(pd.read_parquet(tmp_path / "records.parquet")) == content_hashes(records)


def test_values_that_cannot_be_converted_name_their_record():
    naive = frame({}, {"hf_model_id": "google/naive"}).astype({"hf_created_at": "object"})
    naive.loc[1, "hf_created_at"] = pd.Timestamp("2024-05-01T12:00:00")
    with pytest.raises(ValueError, match="'google/naive' cannot be merged: .*no time zone"):
        synced_table(naive)
    tags_as_text = frame({}, {"hf_model_id": "google/text-tags"}).astype({"tags": "object"})
    tags_as_text.loc[1, "tags"] = "litert,tflite"
    with pytest.raises(ValueError, match="'google/text-tags' cannot be merged: .*list of strings"):
        synced_table(tags_as_text)
    huge = frame({}, {"hf_model_id": "google/huge"}).astype({"downloads": "object"})
    huge.loc[1, "downloads"] = 2**64
    with pytest.raises(ValueError, match="'google/huge' cannot be merged"):
        synced_table(huge)
    with pytest.raises(ValueError, match=r"lack the columns \['likes'\]"):
        synced_table(frame({}).drop(columns=["likes"]))


def test_the_canonical_table_keeps_every_value():
    table = synced_table(frame({"tags": np.array(["a,\"b\"", "{c}", "back\\slash", "NULL"], dtype=object), "likes": None}))
    row = table.to_pylist()[0]
    assert row["tags"] == ["a,\"b\"", "{c}", "back\\slash", "NULL"]
    assert row["likes"] is None and row["downloads"] == 10
    assert row["hf_last_modified"] == datetime(2024, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)


def test_the_staged_form_hashes_as_the_synced_table():
    records = normalize_listing(synthetic_listing(50) + edge_case_models()).records
    table = synced_table(records)

    assert row_hashes(staged_form(table)) == row_hashes(table)


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({}, "ba942d383e9773cbc195a6d0e17545a2"),
        ({"tags": ["NULL", 'a,"b"', "{c}", "back\\slash", " spaced ", ""], "base_models": [], "runtime_formats": None},
         "20025c34d210df4bbedfea7ad65b6b1b"),
        ({"task": None, "hf_sha": None, "downloads": None, "gated": None, "hf_created_at": None},
         "eaa88ad617ba611d6ff02bf734eb8506"),
    ],
)
def test_hashes_stay_those_already_stored_in_catalogs(fields: dict, stored: str):
    # ml_models.hf_sync_hash holds these: a change of the encoding would rewrite every row on the next sync.
    # (Migration 0005 added hf_gated to the synced fields, so these moved once: that upgrade's one rewrite.)
    assert hash_of(**fields).hex() == stored
