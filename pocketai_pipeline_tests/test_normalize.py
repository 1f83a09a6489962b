"""The columnar reader against the definition of a record (`ItemNormalizer`), and the two streamed passes.

Every line the columnar reader vouches for must give exactly the record the definition gives; every
line the definition skips or rejects must be left to it. Checked on the synthetic Hub listing, the
edge cases and a field-by-field list of unusual values.
"""

import copy
import gc
import weakref
from pathlib import Path

import pyarrow as pa
import pytest

from pocketai_pipeline.hub.listing import json_text
from pocketai_pipeline.sync import normalize
from pocketai_pipeline.sync.columnar_records import Refused, columnar_records
from pocketai_pipeline.sync.json_lines import JsonLines, in_chunks
from pocketai_pipeline.sync.normalize import normalize_lines, normalize_listing
from pocketai_pipeline.sync.records import RECORD_COLUMNS, ItemNormalizer
from pocketai_pipeline_tests.synthetic import app_ready_edge_models, edge_case_models, synthetic_listing
from pocketai_pipeline_tests.test_records import hub_model

UNUSUAL_VALUES = {
    "id": ["", " ", "org/", "org/ ", " org/x", "org/x ", "é/x", "org/ñame", "a\x00b/c", None, 5, "org/x\ny", "/x", "x"],
    "modelId": ["org/legacy", None, ""],
    "private": [True, None, "yes", 1],
    "disabled": [True, None, 0],
    "tags": [
        ["a", "a"], ["", "x"], [" x"], ["license: mit"], ["license:"], ["license:MIT", "license:bsd"],
        ["license:é"], ["base_model:x", "base_model:x"], ["base_model: x"], ["base_model:quantized:x"],
        ["base_model:a", "base_model:b"], ["base_model:"], [None], [1], "litert", None, [], ["a\x00"],
        ["\x00"], ["tflite", "litert", "tflite"],
    ],
    "pipeline_tag": ["", " ", "\x00", None, 3, "text\x00gen"],
    "sha": ["", "a\x00", None, ["x"]],
    "library_name": ["", None, False],
    "downloads": [-1, 0, 2**63 - 1, 2**63, 1.0, True, "5", None],
    "likes": [-5, None, 1e3],
    "gated": ["auto", "manual", "yes", 1, 0, None, True, "", ["auto"]],
    "createdAt": [
        "2024-01-01T00:00:00Z", "2024-01-01T05:30:00+05:30", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.1234567Z", "2024-01-01 00:00:00Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00.5-01:00", "2024-01-01", "nope", "", None, 1700000000, "2024-01-01T00:00:00z",
    ],
    "lastModified": ["2026-01-01T00:00:00.000Z", None, "2026-13-01T00:00:00Z"],
    "siblings": [
        [{"rfilename": "A.TFLITE"}], [{"rfilename": "é.task"}], [{}], [None], [{"rfilename": 3}], "x", None, [],
        [{"rfilename": "m.litertlm"}, {"rfilename": "x.task"}, {"rfilename": "y.tflite"}], [{"rfilename": ""}],
        [{"rfilename": "model.tasK"}], {"rfilename": "x"},
    ],
    "cardData": [
        {"license": [" MIT ", "x"]}, {"license": ""}, {"license": " "}, {"license": ["", None, "bsd"]},
        {"base_model": ["a", "a", " b "]}, {"base_model": " "}, {"base_model": 5}, {"base_model": "g/x\x00"},
        "str", [], None, {"license_name": " x "}, {"license_name": 7}, {"license": None, "base_model": None},
        {"license": "Apache-2.0", "license_name": ""}, {"license": "cc-by-nc-sa-4.0"}, {"license": "éé"},
    ],
}


def unusual_models() -> list[dict]:
    models = []
    for field, values in UNUSUAL_VALUES.items():
        for value in values:
            models.append(hub_model(f"org/{field}-{len(models)}", **{field: copy.deepcopy(value)}))
    return models


def definition(item: object) -> dict | None:
    return ItemNormalizer().record(item)


def columnar(item: object) -> dict | None:
    """The columnar reader's record of one item, or None when it leaves the item to the definition."""
    try:
        table, others = columnar_records(JsonLines.join([json_text(item)]))
    except Refused:
        return None
    if len(others):
        return None
    [row] = table.drop_columns(["line"]).to_pylist()
    return row


def as_stored(record: dict) -> dict:
    """A definition record as the Arrow table holds it (timestamps in UTC, lists as lists)."""
    return pa.Table.from_pylist([record], schema=normalize.RECORD_SCHEMA).to_pylist()[0]


ALL_MODELS = synthetic_listing(300) + edge_case_models() + app_ready_edge_models() + unusual_models()


@pytest.mark.parametrize("item", ALL_MODELS, ids=lambda item: str(item.get("id")) if isinstance(item, dict) else "?")
def test_what_the_columnar_reader_vouches_for_is_what_the_definition_gives(item):
    expected, got = definition(copy.deepcopy(item)), columnar(item)
    if got is not None:
        assert expected is not None, "the definition skips or rejects this item"
        assert got == as_stored(expected)
        assert list(got) == list(RECORD_COLUMNS)


def test_plain_hub_objects_are_all_read_column_by_column():
    lines = [json_text(model) for model in synthetic_listing(500)]

    table, others = columnar_records(JsonLines.join(lines))

    assert len(others) == 0 and table.num_rows == 500
    assert table.column("line").to_pylist() == list(range(500))


def test_some_unusual_values_are_still_read_column_by_column():
    # The fast path must not be a mere "anything odd goes slow": these shapes are common on the Hub.
    vouched = [
        hub_model(tags=["litert", "license:MIT", "base_model:g/x", "base_model:finetune:g/x"]),
        hub_model(gated="manual", createdAt="2024-01-01T05:30:00+05:30", siblings=[{"rfilename": "A.TFLITE"}]),
        hub_model(cardData={"license": [" MIT ", "x"], "base_model": ["a", "a", " b "], "license_name": " x "}),
        hub_model(pipeline_tag="", downloads=None, cardData=None, tags=None, siblings=None),
    ]
    assert all(columnar(model) is not None for model in vouched)


class CountingNormalizer(ItemNormalizer):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def record(self, item):
        self.calls += 1
        return super().record(item)


def test_a_refused_line_costs_only_a_small_chunk_of_one_by_one_parsing():
    models = synthetic_listing(1000)
    models[617] = {**models[617], "downloads": "5"}  # pyarrow refuses a string for a number: the chunk is halved
    lines = [json_text(model) for model in models]
    items = CountingNormalizer()

    table = normalize._chunk_records(JsonLines.join(lines), 0, items)

    assert items.calls <= normalize.SMALLEST_COLUMNAR_CHUNK
    assert [reject.hf_model_id for reject in items.rejects] == [models[617]["id"]]
    assert table.num_rows == 999 and table.column("seq").to_pylist() == [i for i in range(1000) if i != 617]
    whole = normalize_listing(models)
    assert sorted(table.column("hf_model_id").to_pylist()) == whole.records["hf_model_id"].tolist()


def test_lines_parsed_one_by_one_keep_their_place_in_the_chunk():
    models = synthetic_listing(300)
    models[40] = {**models[40], "tags": [*models[40]["tags"], models[40]["tags"][0]]}  # a repeat: not plain
    items = CountingNormalizer()

    table = normalize._chunk_records(JsonLines.join([json_text(model) for model in models]), 1000, items)

    assert items.calls == 1 and not items.rejects
    seqs = table.column("seq").to_pylist()
    assert seqs == sorted(seqs) and table.column("hf_model_id")[seqs.index(1040)].as_py() == models[40]["id"]


def test_pass_one_lets_go_of_each_chunk_once_it_is_parsed(no_cycle_collector):
    models = synthetic_listing(1500)
    models[17] = {**models[17], "downloads": "5"}  # the first chunk is refused and halved
    chunks = [JsonLines.join([json_text(model) for model in models[i : i + 500]]) for i in range(0, 1500, 500)]
    alive = [weakref.ref(chunk) for chunk in chunks]
    freed_before_the_third = []

    def one_at_a_time():
        yield chunks.pop(0)
        yield chunks.pop(0)
        freed_before_the_third.append(alive[0]() is None)  # by reference counting alone: no cycle is collected
        yield chunks.pop(0)

    with normalize_lines(one_at_a_time()) as normalized:
        assert normalized.records == 1499
    assert freed_before_the_third == [True]


@pytest.fixture
def no_cycle_collector():
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


def test_lines_in_memory_are_cut_into_buffers_of_about_the_chunk_size():
    lines = [b"x" * size for size in (5, 0, 7, 3, 9)]
    chunks = list(in_chunks(lines, chunk_bytes=8))
    assert [[chunk.line(i) for i in range(len(chunk))] for chunk in chunks] == [[lines[0], lines[1], lines[2]], [lines[3], lines[4]]]
    assert list(in_chunks([], chunk_bytes=8)) == []


def test_duplicates_across_chunks_are_dropped_as_in_one_chunk_and_the_spool_is_deleted():
    models = synthetic_listing(30)
    newer = {**models[3], "lastModified": "2030-01-01T00:00:00.000Z", "likes": 999}
    listing = models + [newer, models[5], {**models[7], "lastModified": None}]
    lines = [json_text(model) for model in listing]

    with normalize_lines([JsonLines.join(lines[i : i + 4]) for i in range(0, len(lines), 4)]) as normalized:
        spool = Path(normalized.spool)
        tables = list(normalized.tables())
        ids = normalized.ids().to_pylist()
    rows = [row for table in tables for row in table.to_pylist()]

    assert not spool.exists()
    assert normalized.duplicates == 3 and normalized.records == 30 == len(rows)
    assert ids == [row["hf_model_id"] for row in rows]  # listing order of the copy kept
    by_id = {row["hf_model_id"]: row for row in rows}
    assert by_id[models[3]["id"]]["likes"] == 999
    assert ids[-2:] == [models[3]["id"], models[5]["id"]]  # the copies kept were listed last
    assert by_id[models[7]["id"]]["hf_last_modified"] is not None  # an unknown lastModified is the oldest
    in_one = normalize_listing(listing)
    assert sorted(by_id) == in_one.records["hf_model_id"].tolist() and in_one.duplicates == 3
    assert normalized.audit.duplicate_ids() == [] and normalized.audit.rows == 30
