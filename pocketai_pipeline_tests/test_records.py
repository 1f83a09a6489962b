from datetime import UTC, datetime

import pandas as pd
import pytest

from pocketai_pipeline.sync.normalize import NormalizedListing, normalize_listing
from pocketai_pipeline.sync.records import RECORD_COLUMNS, Reject

EXPECTED_DTYPES = {
    "hf_model_id": "string",
    "name": "string",
    "origin_repo_url": "string",
    "tags": "object",
    "task": "string",
    "license_type": "string",
    "downloads": "Int64",
    "likes": "Int64",
    "gated": "boolean",
    "hf_sha": "string",
    "hf_created_at": "datetime64[us, UTC]",
    "hf_last_modified": "datetime64[us, UTC]",
    "hf_license_id": "string",
    "hf_license_name": "string",
    "library_name": "string",
    "base_models": "object",
    "runtime_formats": "object",
    "hf_gated": "string",
}


def hub_model(model_id: str = "google/gemma-3n-E2B-it-litert-lm", **fields: object) -> dict:
    """A model as the Hub lists it with full=true&cardData=true; `fields` override or add keys."""
    return {
        "_id": "67c6a1b2c3d4e5f6a7b8c9d0",
        "id": model_id,
        "modelId": model_id,
        "author": model_id.split("/")[0],
        "private": False,
        "disabled": False,
        "gated": False,
        "tags": ["litert", "tflite", "license:apache-2.0"],
        "pipeline_tag": "text-generation",
        "library_name": "litert",
        "downloads": 1234,
        "likes": 56,
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "createdAt": "2025-03-04T05:06:07.000Z",
        "lastModified": "2025-06-07T08:09:10.000Z",
        "cardData": {"license": "gemma"},
        "siblings": [{"rfilename": "model.litertlm"}],
        **fields,
    }


def without(model: dict, *keys: str) -> dict:
    return {key: value for key, value in model.items() if key not in keys}


def only_record(listing: NormalizedListing) -> dict:
    assert listing.rejects == []
    assert len(listing.records) == 1
    return listing.records.iloc[0].to_dict()


def the_reject(listing: NormalizedListing) -> Reject:
    assert len(listing.records) == 0
    assert len(listing.rejects) == 1
    return listing.rejects[0]


def test_a_full_hub_model_becomes_one_record():
    listing = normalize_listing([hub_model()])

    assert list(listing.records.columns) == list(RECORD_COLUMNS)
    assert only_record(listing) == {
        "hf_model_id": "google/gemma-3n-E2B-it-litert-lm",
        "name": "gemma-3n-E2B-it-litert-lm",
        "origin_repo_url": "https://huggingface.co/google/gemma-3n-E2B-it-litert-lm",
        "tags": ["litert", "tflite", "license:apache-2.0"],
        "task": "text-generation",
        "license_type": "gemma",
        "downloads": 1234,
        "likes": 56,
        "gated": False,
        "hf_sha": "0123456789abcdef0123456789abcdef01234567",
        "hf_created_at": pd.Timestamp("2025-03-04T05:06:07", tz="UTC"),
        "hf_last_modified": pd.Timestamp("2025-06-07T08:09:10", tz="UTC"),
        "hf_license_id": "gemma",
        "hf_license_name": None,
        "library_name": "litert",
        "base_models": [],
        "runtime_formats": ["litert-lm"],
        "hf_gated": None,
    }
    assert (listing.skipped_private, listing.skipped_disabled, listing.duplicates) == (0, 0, 0)


def test_optional_fields_absent_are_missing_not_nan():
    model = without(hub_model(), "pipeline_tag", "downloads", "likes", "gated", "sha", "createdAt", "lastModified",
                    "library_name", "cardData", "siblings")
    records = normalize_listing([model]).records

    for column in ("task", "downloads", "likes", "gated", "hf_sha", "library_name", "hf_license_name"):
        assert records[column].iloc[0] is pd.NA, column
    assert records["hf_license_id"].iloc[0] == "apache-2.0"  # from the license: tag
    assert records["base_models"].iloc[0] == [] and records["runtime_formats"].iloc[0] == []
    assert records["hf_created_at"].iloc[0] is pd.NaT
    assert records["hf_last_modified"].iloc[0] is pd.NaT


def test_null_values_count_as_absent():
    model = hub_model(pipeline_tag=None, downloads=None, likes=None, gated=None, sha=None, lastModified=None, tags=None)
    records = normalize_listing([model]).records

    for column in ("task", "downloads", "likes", "gated", "hf_sha"):
        assert records[column].iloc[0] is pd.NA, column
    assert records["hf_last_modified"].iloc[0] is pd.NaT
    assert records["tags"].iloc[0] == []


def test_empty_text_is_missing():
    records = normalize_listing([hub_model(pipeline_tag="", sha="\x00")]).records

    assert records["task"].iloc[0] is pd.NA
    assert records["hf_sha"].iloc[0] is pd.NA


@pytest.mark.parametrize(
    ("model_id", "name", "url"),
    [
        ("google/gemma", "gemma", "https://huggingface.co/google/gemma"),
        ("litert-community/Qwen2.5-1.5B", "Qwen2.5-1.5B", "https://huggingface.co/litert-community/Qwen2.5-1.5B"),
        ("standalone-model", "standalone-model", "https://huggingface.co/standalone-model"),
        ("a/b/c", "c", "https://huggingface.co/a/b/c"),
        ("ユーザー/モデル-ü", "モデル-ü", "https://huggingface.co/ユーザー/モデル-ü"),
    ],
)
def test_name_and_url_come_from_the_id(model_id, name, url):
    record = only_record(normalize_listing([hub_model(model_id)]))

    assert (record["hf_model_id"], record["name"], record["origin_repo_url"]) == (model_id, name, url)


def test_id_is_preferred_and_model_id_is_the_fallback():
    with_both = hub_model("org/from-id", modelId="org/from-modelId")
    only_model_id = without(hub_model("org/legacy"), "id")
    null_id = hub_model(id=None, modelId="org/null-id")

    records = normalize_listing([with_both, only_model_id, null_id]).records

    assert list(records["hf_model_id"]) == ["org/from-id", "org/legacy", "org/null-id"]


def test_nul_characters_are_stripped_from_every_text():
    model = hub_model(
        "org\x00/mo\x00del",
        tags=["lit\x00ert", "litert", "\x00"],
        pipeline_tag="text-\x00generation",
        sha="abc\x00def",
        cardData={"license": "m\x00it"},
    )
    record = only_record(normalize_listing([model]))

    assert record["hf_model_id"] == "org/model"
    assert record["name"] == "model"
    assert record["origin_repo_url"] == "https://huggingface.co/org/model"
    assert record["tags"] == ["litert"]
    assert record["task"] == "text-generation"
    assert record["hf_sha"] == "abcdef"
    assert record["license_type"] == "mit"


def test_tags_are_deduplicated_in_their_order():
    model = hub_model(tags=["tflite", "litert", "tflite", "region:us", "litert", "", "android"])

    assert only_record(normalize_listing([model]))["tags"] == ["tflite", "litert", "region:us", "android"]


def test_absent_tags_are_an_empty_list():
    assert only_record(normalize_listing([without(hub_model(), "tags")]))["tags"] == []


@pytest.mark.parametrize(
    ("card_data", "tags", "expected"),
    [
        ({"license": "apache-2.0"}, ["license:mit"], "apache_2_0"),
        ({"license": ["CC-BY-NC-SA-4.0", "mit"]}, [], "cc_by_nc"),
        ({}, ["litert", "license:llama3.2"], "llama"),
        (None, ["license:wtfpl"], "other"),
        ({"license": ""}, ["license:mit"], "mit"),
        ({}, ["litert"], "unknown"),
    ],
)
def test_license_type_comes_from_card_data_then_tags(card_data, tags, expected):
    model = hub_model(cardData=card_data, tags=tags)

    assert only_record(normalize_listing([model]))["license_type"] == expected


def test_absent_card_data_gives_unknown_license():
    model = without(hub_model(tags=["litert"]), "cardData")

    assert only_record(normalize_listing([model]))["license_type"] == "unknown"


@pytest.mark.parametrize(
    ("gated", "expected", "mode"),
    [(False, False, None), (True, True, None), ("auto", True, "auto"), ("manual", True, "manual")],
)
def test_gated_models_are_synced_and_flagged_with_the_hubs_mode(gated, expected, mode):
    record = only_record(normalize_listing([hub_model(gated=gated)]))
    assert record["gated"] is expected
    assert record["hf_gated"] == mode if mode else pd.isna(record["hf_gated"])


def test_absent_gated_is_unknown():
    assert normalize_listing([without(hub_model(), "gated")]).records["gated"].iloc[0] is pd.NA


def test_private_and_disabled_models_are_skipped_and_counted_not_rejected():
    listing = normalize_listing(
        [
            hub_model("org/private", private=True),
            hub_model("org/disabled", disabled=True),
            hub_model("org/both", private=True, disabled=True),
            hub_model("org/private-without-id", id=None, modelId=None, private=True),
            hub_model("org/public", private=False, disabled=False),
            without(hub_model("org/no-flags"), "private", "disabled"),
        ]
    )

    assert list(listing.records["hf_model_id"]) == ["org/no-flags", "org/public"]
    assert listing.rejects == []
    assert (listing.skipped_private, listing.skipped_disabled) == (3, 1)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("createdAt", "2025-03-04T05:06:07.000Z", pd.Timestamp("2025-03-04T05:06:07", tz="UTC")),
        ("createdAt", "2025-03-04T05:06:07Z", pd.Timestamp("2025-03-04T05:06:07", tz="UTC")),
        ("createdAt", "2025-03-04T05:06:07.123456Z", pd.Timestamp("2025-03-04T05:06:07.123456", tz="UTC")),
        ("createdAt", "2025-03-04T07:06:07+02:00", pd.Timestamp("2025-03-04T05:06:07", tz="UTC")),
        ("lastModified", "2025-03-04T00:30:00-05:30", pd.Timestamp("2025-03-04T06:00:00", tz="UTC")),
        ("lastModified", "2025-03-04T05:06:07+00:00", pd.Timestamp("2025-03-04T05:06:07", tz="UTC")),
    ],
)
def test_timestamps_with_a_zone_become_utc(field, raw, expected):
    column = {"createdAt": "hf_created_at", "lastModified": "hf_last_modified"}[field]
    value = only_record(normalize_listing([hub_model(**{field: raw})]))[column]

    assert value == expected
    assert str(value.tz) == "UTC"


@pytest.mark.parametrize(
    ("fields", "reason_parts"),
    [
        ({"createdAt": "2025-03-04T05:06:07"}, ["bad date", "createdAt", "no time zone"]),
        ({"lastModified": "2025-03-04"}, ["bad date", "lastModified", "no time zone"]),
        ({"lastModified": "yesterday"}, ["bad date", "lastModified", "'yesterday'"]),
        ({"lastModified": "2025-13-01T00:00:00Z"}, ["bad date", "lastModified"]),
        ({"createdAt": 1741064767}, ["bad date", "createdAt", "int"]),
        ({"createdAt": ""}, ["bad date", "createdAt"]),
        ({"downloads": "1234"}, ["downloads", "str", "expected an integer"]),
        ({"downloads": True}, ["downloads", "bool", "expected an integer"]),
        ({"likes": 5.0}, ["likes", "float", "expected an integer"]),
        ({"likes": -1}, ["likes", "-1"]),
        ({"downloads": 2**63}, ["downloads", str(2**63)]),
        ({"tags": "litert,tflite"}, ["tags", "list of strings"]),
        ({"tags": ["litert", 7]}, ["tags", "list of strings"]),
        ({"pipeline_tag": ["text-generation"]}, ["pipeline_tag", "list", "expected a string"]),
        ({"sha": 123}, ["sha", "int", "expected a string"]),
        ({"gated": "yes"}, ["gated", "'yes'"]),
        ({"gated": 1}, ["gated", "1"]),
        ({"private": "false"}, ["private", "str", "true or false"]),
        ({"disabled": 0}, ["disabled", "int", "true or false"]),
    ],
)
def test_a_malformed_field_rejects_the_record_and_names_the_field(fields, reason_parts):
    reject = the_reject(normalize_listing([hub_model("org/broken", **fields)]))

    # private and disabled are read before the id: a model is skipped for them whatever else it holds.
    assert reject.hf_model_id == (None if {"private", "disabled"} & fields.keys() else "org/broken")
    for part in reason_parts:
        assert part in reject.reason


def test_a_reject_names_the_model_when_its_id_is_readable():
    reject = the_reject(normalize_listing([hub_model("org/broken", lastModified="nope")]))

    assert reject == Reject("org/broken", "bad date: lastModified is 'nope', not an ISO-8601 timestamp")


@pytest.mark.parametrize(
    "model",
    [
        without(hub_model(), "id", "modelId"),
        hub_model(id=None, modelId=None),
        hub_model(id=""),
        hub_model(id="   "),
        hub_model(id="\x00"),
        hub_model(id=42),
        hub_model(id=["org/model"]),
        without(hub_model(), "id") | {"modelId": 42},
    ],
)
def test_a_model_without_a_usable_id_is_rejected(model):
    reject = the_reject(normalize_listing([model]))

    assert reject.hf_model_id is None
    assert reject.reason.startswith("no id:")


def test_an_id_with_nothing_after_the_last_slash_is_rejected():
    reject = the_reject(normalize_listing([hub_model("org/")]))

    assert reject == Reject("org/", "id 'org/' has no name after its last '/'")


@pytest.mark.parametrize("item", [None, "google/gemma", 42, ["google/gemma"], True])
def test_a_listing_item_that_is_not_an_object_is_rejected(item):
    reject = the_reject(normalize_listing([item]))

    assert reject.hf_model_id is None
    assert "expected a JSON object" in reject.reason


def test_rejects_keep_listing_order_and_the_rest_still_syncs():
    listing = normalize_listing(
        [
            hub_model("org/z-good"),
            hub_model("org/bad-date", createdAt="garbage"),
            "not an object",
            hub_model("org/a-good"),
            hub_model("org/bad-likes", likes="many"),
        ]
    )

    assert list(listing.records["hf_model_id"]) == ["org/a-good", "org/z-good"]
    assert [reject.hf_model_id for reject in listing.rejects] == ["org/bad-date", None, "org/bad-likes"]


def test_records_are_sorted_by_id_with_a_fresh_index():
    ids = ["zeta/m", "Alpha/m", "alpha/m", "beta/m"]
    records = normalize_listing(hub_model(model_id) for model_id in ids).records

    assert list(records["hf_model_id"]) == ["Alpha/m", "alpha/m", "beta/m", "zeta/m"]
    assert list(records.index) == [0, 1, 2, 3]


def test_of_duplicate_ids_the_newest_last_modified_wins():
    listing = normalize_listing(
        [
            hub_model("org/m", lastModified="2025-06-01T00:00:00Z", downloads=1),
            hub_model("org/m", lastModified="2025-06-03T00:00:00Z", downloads=3),
            hub_model("org/m", lastModified="2025-06-02T00:00:00Z", downloads=2),
        ]
    )

    assert list(listing.records["downloads"]) == [3]
    assert listing.duplicates == 2


def test_newest_is_compared_in_utc_not_as_text():
    listing = normalize_listing(
        [
            hub_model("org/m", lastModified="2025-06-01T10:00:00Z", downloads=1),
            hub_model("org/m", lastModified="2025-06-01T11:00:00+02:00", downloads=2),
        ]
    )

    assert list(listing.records["downloads"]) == [1]
    assert listing.duplicates == 1


def test_of_duplicates_with_the_same_last_modified_the_later_wins():
    listing = normalize_listing(
        [
            hub_model("org/m", downloads=1),
            hub_model("org/other"),
            hub_model("org/m", downloads=2),
        ]
    )

    assert list(listing.records["hf_model_id"]) == ["org/m", "org/other"]
    assert list(listing.records["downloads"]) == [2, 1234]
    assert listing.duplicates == 1


def test_a_duplicate_without_last_modified_loses_to_one_with_it():
    listing = normalize_listing(
        [
            hub_model("org/m", downloads=1),
            without(hub_model("org/m", downloads=2), "lastModified"),
        ]
    )

    assert list(listing.records["downloads"]) == [1]
    assert listing.duplicates == 1


def test_a_rejected_copy_is_not_a_duplicate():
    listing = normalize_listing([hub_model("org/m", likes="x"), hub_model("org/m", likes=7)])

    assert list(listing.records["likes"]) == [7]
    assert listing.duplicates == 0
    assert [reject.hf_model_id for reject in listing.rejects] == ["org/m"]


def test_dtypes_hold_missing_values_as_missing():
    records = normalize_listing([hub_model("org/full"), hub_model("org/sparse", pipeline_tag=None, likes=None)]).records

    assert {column: str(dtype) for column, dtype in records.dtypes.items()} == EXPECTED_DTYPES
    assert records["task"].isna().tolist() == [False, True]
    assert records["likes"].isna().tolist() == [False, True]
    assert "nan" not in records["task"].astype(object).map(repr).tolist()


def test_the_empty_listing_gives_an_empty_frame_with_the_same_columns_and_dtypes():
    listing = normalize_listing([])

    assert list(listing.records.columns) == list(RECORD_COLUMNS)
    assert {column: str(dtype) for column, dtype in listing.records.dtypes.items()} == EXPECTED_DTYPES
    assert len(listing.records) == 0
    assert (listing.rejects, listing.skipped_private, listing.skipped_disabled, listing.duplicates) == ([], 0, 0, 0)


def test_records_survive_a_parquet_round_trip(tmp_path):
    sparse = without(hub_model("org/sparse", tags=[]), "pipeline_tag", "sha", "gated", "likes", "createdAt")
    records = normalize_listing([hub_model("org/full", gated="manual"), sparse]).records
    path = tmp_path / "records.parquet"

    records.to_parquet(path)
    loaded = pd.read_parquet(path)

    assert {column: str(dtype) for column, dtype in loaded.dtypes.items()} == EXPECTED_DTYPES
    assert loaded["hf_model_id"].tolist() == ["org/full", "org/sparse"]
    assert loaded["task"].tolist() == ["text-generation", pd.NA]
    assert loaded["hf_sha"].tolist() == ["0123456789abcdef0123456789abcdef01234567", pd.NA]
    assert loaded["gated"].tolist() == [True, pd.NA]
    assert loaded["likes"].tolist() == [56, pd.NA]
    assert loaded["downloads"].tolist() == [1234, 1234]
    assert loaded["hf_created_at"].tolist() == [pd.Timestamp("2025-03-04T05:06:07", tz="UTC"), pd.NaT]
    assert loaded["hf_last_modified"].iloc[1] == datetime(2025, 6, 7, 8, 9, 10, tzinfo=UTC)
    # pyarrow hands list columns back as arrays; the values, not the container type, must survive.
    assert [list(tags) for tags in loaded["tags"]] == [["litert", "tflite", "license:apache-2.0"], []]
    assert "nan" not in loaded.astype(object).map(repr).to_numpy().ravel().tolist()


def test_the_empty_frame_survives_a_parquet_round_trip(tmp_path):
    path = tmp_path / "empty.parquet"

    normalize_listing([]).records.to_parquet(path)
    loaded = pd.read_parquet(path)

    assert list(loaded.columns) == list(RECORD_COLUMNS)
    assert {column: str(dtype) for column, dtype in loaded.dtypes.items()} == EXPECTED_DTYPES
    assert len(loaded) == 0


# --- The columns an app needs beyond the first sync's: licence id and name, library, base models, runtimes.


@pytest.mark.parametrize(
    ("card_data", "tags", "license_id", "license_type"),
    [
        ({"license": "Other", "license_name": "lfm-open-license-v1.0"}, [], "other", "other"),
        ({"license": " Apache-2.0 "}, [], "apache-2.0", "apache_2_0"),
        ({"license": ["MIT", "apache-2.0"]}, [], "mit", "mit"),
        (None, ["license:LLAMA3.2"], "llama3.2", "llama"),
        ({"license": "unknown"}, [], "unknown", "unknown"),
        ({"license": ""}, ["license:gemma"], "gemma", "gemma"),
        (None, [], None, "unknown"),
    ],
)
def test_hf_license_id_is_what_rule_4_found_trimmed_and_lower_cased(card_data, tags, license_id, license_type):
    record = only_record(normalize_listing([hub_model(cardData=card_data, tags=["litert", *tags])]))

    assert (record["hf_license_id"], record["license_type"]) == (license_id, license_type)


@pytest.mark.parametrize(
    ("card_data", "license_name"),
    [
        ({"license": "other", "license_name": " health-ai-developer-foundations "}, "health-ai-developer-foundations"),
        ({"license": "apache-2.0", "license_name": "Apache License 2.0"}, "Apache License 2.0"),
        ({"license": "other", "license_name": ""}, None),
        ({"license": "other", "license_name": "  "}, None),
        ({"license": "other", "license_name": 2}, None),
        ({"license": "other"}, None),
        (None, None),
    ],
)
def test_hf_license_name_is_the_card_license_name_trimmed_whatever_the_licence(card_data, license_name):
    record = only_record(normalize_listing([hub_model(cardData=card_data)]))

    assert record["hf_license_name"] == license_name


def test_library_name_is_the_hubs_and_a_non_string_is_rejected():
    assert only_record(normalize_listing([hub_model(library_name="litert-lm")]))["library_name"] == "litert-lm"
    assert "library_name" in the_reject(normalize_listing([hub_model(library_name=["litert"])])).reason


@pytest.mark.parametrize(
    ("card_data", "tags", "base_models"),
    [
        ({"base_model": "google/gemma-3-1b-it"}, [], ["google/gemma-3-1b-it"]),
        ({"base_model": ["Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B-Base", "Qwen/Qwen3-0.6B"]}, [],
         ["Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B-Base"]),
        # the card wins over the tags
        ({"base_model": "a/card"}, ["base_model:b/tag"], ["a/card"]),
        # tags only: the plain form, in order, without repeats; relation tags are not read
        ({}, ["base_model:google/gemma-3n-E2B-it", "base_model:quantized:google/gemma-3n-E2B-it",
              "base_model:finetune:x/y", "base_model:z/w", "base_model:google/gemma-3n-E2B-it"],
         ["google/gemma-3n-E2B-it", "z/w"]),
        (None, ["base_model:quantized:google/gemma-3-1b-it"], []),
        ({"base_model": ""}, ["base_model:from/tag"], ["from/tag"]),
        ({"base_model": [None, 3]}, ["base_model:from/tag"], ["from/tag"]),
        ({"base_model": [" spaced/id "]}, [], ["spaced/id"]),
        (None, [], []),
    ],
)
def test_base_models_from_the_card_else_plain_base_model_tags(card_data, tags, base_models):
    record = only_record(normalize_listing([hub_model(cardData=card_data, tags=["litert", *tags])]))

    assert record["base_models"] == base_models


@pytest.mark.parametrize(
    ("files", "runtime_formats"),
    [
        (["model.tflite"], ["litert"]),
        (["gemma3-1b-it-int4.litertlm", "gemma3-1b-it-int4.task", "README.md"], ["litert-lm", "mediapipe-task"]),
        (["int8/encoder.tflite", "fp16/decoder.tflite", "tokenizer.json"], ["litert"]),
        (["MODEL.TFLITE"], ["litert"]),
        (["model.task", "model.litertlm", "model.tflite"], ["litert", "litert-lm", "mediapipe-task"]),
        (["model.onnx", "config.json", "tflite.md"], []),
        ([], []),
    ],
)
def test_runtime_formats_come_from_the_listed_file_names_sorted(files, runtime_formats):
    siblings = [{"rfilename": name} for name in files]
    record = only_record(normalize_listing([hub_model(siblings=siblings)]))

    assert record["runtime_formats"] == runtime_formats


@pytest.mark.parametrize("siblings", ["model.tflite", [{"name": "model.tflite"}], [{"rfilename": 7}], ["model.tflite"]])
def test_malformed_siblings_reject_the_record(siblings):
    assert "siblings" in the_reject(normalize_listing([hub_model(siblings=siblings)])).reason


def test_a_model_listed_under_two_filters_is_one_record_and_a_skip_or_reject_counts_once():
    both = hub_model("org/both", tags=["litert", "tflite"])
    private = hub_model("org/private", private=True)
    broken = hub_model("org/broken", downloads="many")

    listing = normalize_listing([both, private, broken, both, private, broken])

    assert list(listing.records["hf_model_id"]) == ["org/both"]
    assert (listing.skipped_private, len(listing.rejects), listing.duplicates) == (1, 1, 1)
