"""The records of many listing lines at once, parsed column by column: the fast way through rule 2-4 and 8.

`records.ItemNormalizer` stays the definition of a record. This reads a chunk of stored listing lines
(one Hub object each) with pyarrow's JSON reader and msgspec, vectorizes the parsing with
pyarrow.compute, and vouches only for the lines whose every field has the plain shape it can parse
exactly as the definition would. Any other line, and every line of a chunk that either reader
refuses (a field of an unexpected JSON type, a repeated key), is left to the definition:

- an object, not private or disabled, with no NUL in any text field it reads;
- an `id` (or, when `id` is null or absent, `modelId`) with a visible ASCII character before and
  after its last `/`; tags without blanks or repeats; downloads and likes from 0;
- gated a boolean, "auto" or "manual"; timestamps as the Hub writes them (`2024-05-01T12:00:00.000Z`
  or an offset); file names (`siblings`) in ASCII; `license:` and `base_model:` tags naming a
  plain ASCII id (`cardData`'s own fields are read as the definition reads them).
"""

from collections.abc import Callable
from typing import Any, Literal

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from pocketai_pipeline.sync.files import RUNTIME_FORMAT_BY_SUFFIX
from pocketai_pipeline.sync.json_lines import JsonLines
from pocketai_pipeline.sync.licenses import card_license, card_license_name, license_type
from pocketai_pipeline.sync.records import HUB_URL, RECORD_SCHEMA, card_base_models

TEXT = pa.string()
TEXT_LIST = pa.list_(pa.string())

# The fields read by pyarrow; every other field of the object is skipped.
_LISTING_SCHEMA = pa.schema([
    ("id", TEXT), ("modelId", TEXT), ("private", pa.bool_()), ("disabled", pa.bool_()), ("tags", TEXT_LIST),
    ("pipeline_tag", TEXT), ("downloads", pa.int64()), ("likes", pa.int64()), ("sha", TEXT),
    ("createdAt", TEXT), ("lastModified", TEXT), ("library_name", TEXT),
    ("siblings", pa.list_(pa.struct([("rfilename", TEXT)]))),
])  # fmt: skip
_PARSE_OPTIONS = pj.ParseOptions(explicit_schema=_LISTING_SCHEMA, unexpected_field_behavior="ignore")


class _Card(msgspec.Struct, gc=False):
    license: Any = None
    license_name: Any = None
    base_model: Any = None


class _Polymorphic(msgspec.Struct, gc=False):
    """The fields whose JSON type varies on the Hub (read by msgspec)."""

    gated: bool | Literal["auto", "manual"] | None = None
    cardData: _Card | None = None


_decode_polymorphic = msgspec.json.Decoder(_Polymorphic).decode_lines
_GATED = {None: None, True: True, False: False, "auto": True, "manual": True}

# A timestamp as the Hub writes it; datetime.fromisoformat and Arrow's cast read these alike.
_HUB_TIMESTAMP = r"^[1-9]\d{3}-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
_VISIBLE_ASCII = "[!-~]"  # a character str.strip() keeps
_PLAIN_ID = "^[!-~]+$"  # nothing for strip() or the NUL rule to change
_BASE_MODEL_TAG = "base_model:"
_LICENSE_TAG = "license:"

# runtime_formats, sorted, for each combination of the three formats (bit i: the i-th of _FORMATS).
_FORMATS = sorted(RUNTIME_FORMAT_BY_SUFFIX.values())
_SUFFIX_BY_FORMAT = {runtime: suffix for suffix, runtime in RUNTIME_FORMAT_BY_SUFFIX.items()}
_FORMAT_LISTS = pa.array(
    [[runtime for bit, runtime in enumerate(_FORMATS) if combination >> bit & 1] for combination in range(8)],
    TEXT_LIST,
)


def _per_value(function: Callable[[object], Any], values: list[object]) -> list[Any]:
    """`function` of each value, computed once per distinct value (most values repeat).

    Values that are equal but of different types (1, 1.0 and True) share one result: the card's
    functions read only strings."""
    keys = [tuple(value) if type(value) is list else value for value in values]
    try:
        results = dict.fromkeys(keys)
    except TypeError:  # an object in the card: no key
        return [function(value) for value in values]
    for key in results:
        results[key] = function(list(key) if type(key) is tuple else key)
    return [results[key] for key in keys]


class Refused(ValueError):
    """A reader refused the chunk; its lines are parsed one by one."""


def columnar_records(lines: JsonLines) -> tuple[pa.Table, np.ndarray]:
    """The records of the plain lines (`RECORD_SCHEMA` plus `line`, the position in `lines`) and the
    positions of the other lines, for the definition. Raises `Refused` when a reader refuses the chunk."""
    objects = np.flatnonzero(lines.first_bytes() == ord("{"))  # pyarrow reads only objects
    data = lines.data if len(objects) == len(lines) else lines.only(objects).data
    try:
        listed = pj.read_json(pa.BufferReader(data), parse_options=_PARSE_OPTIONS)
        polymorphic = _decode_polymorphic(data)
    except (pa.ArrowException, msgspec.MsgspecError, UnicodeDecodeError, ValueError) as error:
        raise Refused(str(error)) from error
    if listed.num_rows != len(objects) or len(polymorphic) != len(objects):
        raise Refused("a reader skipped or split a line")
    plain, columns = _columns(listed, polymorphic, has_nul=b"\\u0000" in data)
    table = pa.Table.from_arrays(columns, schema=RECORD_SCHEMA).filter(plain)
    table = table.append_column("line", pa.array(objects[plain]))
    return table, np.setdiff1d(np.arange(len(lines)), objects[plain])


def _columns(listed: pa.Table, polymorphic: list[_Polymorphic], has_nul: bool) -> tuple[np.ndarray, list[pa.Array]]:
    """The record columns, and which rows are plain. `has_nul`: whether any line has a NUL (JSON's \\u0000)."""
    rows = listed.num_rows
    plain = np.ones(rows, dtype=bool)

    def keep(condition: pa.Array) -> None:
        """Rows where `condition` is false or null are not plain."""
        plain[~_mask(condition)] = False

    def column(name: str) -> pa.Array:
        return listed.column(name).combine_chunks()

    def text(name: str) -> pa.Array:
        """An optional text field: no NUL; "" is missing."""
        values = column(name)
        if has_nul:
            keep(pc.fill_null(pc.invert(pc.match_substring(values, "\x00")), True))
        return pc.if_else(pc.equal(values, ""), pa.scalar(None, TEXT), values)

    keep(pc.invert(pc.fill_null(column("private"), False)))
    keep(pc.invert(pc.fill_null(column("disabled"), False)))

    model_id = pc.coalesce(column("id"), column("modelId"))
    name = pc.replace_substring_regex(model_id, "(?s)^.*/", "")
    keep(pc.is_valid(model_id))
    if has_nul:
        keep(pc.invert(pc.match_substring(model_id, "\x00")))
    keep(pc.match_substring_regex(model_id, _VISIBLE_ASCII))
    keep(pc.match_substring_regex(name, _VISIBLE_ASCII))

    tags = pc.fill_null(column("tags"), pa.scalar([], TEXT_LIST))
    flat_tags = pc.list_flatten(tags)
    tag_rows = pc.list_parent_indices(tags).to_numpy()
    _drop_rows(plain, tag_rows, pc.or_(pc.is_null(flat_tags), pc.equal(flat_tags, "")))
    if has_nul:
        _drop_rows(plain, tag_rows, pc.match_substring(flat_tags, "\x00"))
    plain[_repeated(tag_rows, flat_tags)] = False

    gated = [_GATED[item.gated] for item in polymorphic]
    cards = [item.cardData for item in polymorphic]
    card_licenses = _per_value(card_license, [None if card is None else card.license for card in cards])
    license_names = _per_value(card_license_name, [None if card is None else card.license_name for card in cards])
    card_bases = _per_value(card_base_models, [None if card is None else card.base_model for card in cards])

    license_id = pc.coalesce(pa.array(card_licenses, TEXT), _first_license_tag(plain, tag_rows, flat_tags, rows))
    ids = pc.unique(license_id).to_pylist()
    known = pc.index_in(license_id, value_set=pa.array(ids, TEXT))
    license_types = pc.take(pa.array([license_type(value) for value in ids], TEXT), known)
    license_types = pc.fill_null(license_types, license_type(None))
    lower_ids = pc.take(pa.array([value.lower() if value else None for value in ids], TEXT), known)

    columns = {
        "hf_model_id": model_id,
        "name": name,
        "origin_repo_url": pc.binary_join_element_wise(f"{HUB_URL}/", model_id, ""),
        "tags": tags,
        "task": text("pipeline_tag"),
        "license_type": license_types,
        "downloads": _count(plain, column("downloads")),
        "likes": _count(plain, column("likes")),
        "gated": pa.array(gated, pa.bool_()),
        "hf_sha": text("sha"),
        "hf_created_at": _timestamp(plain, column("createdAt")),
        "hf_last_modified": _timestamp(plain, column("lastModified")),
        "hf_license_id": lower_ids,
        "hf_license_name": pa.array(license_names, TEXT),
        "library_name": text("library_name"),
        "base_models": _base_models(plain, tag_rows, flat_tags, card_bases, rows),
        "runtime_formats": _runtime_formats(plain, column("siblings"), rows),
        "hf_gated": pa.array([item.gated if isinstance(item.gated, str) else None for item in polymorphic], TEXT),
    }
    return plain, [columns[field.name].cast(field.type) for field in RECORD_SCHEMA]


def _mask(condition: pa.Array | np.ndarray, null: bool = False) -> np.ndarray:
    if isinstance(condition, np.ndarray):
        return condition
    return pc.fill_null(condition, null).to_numpy(zero_copy_only=False)


def _drop_rows(plain: np.ndarray, element_rows: np.ndarray, bad: pa.Array | np.ndarray) -> None:
    """Rows with at least one bad (or null) element are not plain."""
    plain[element_rows[_mask(bad, null=True)]] = False


def _repeated(element_rows: np.ndarray, values: pa.Array) -> np.ndarray:
    """The rows in which some value appears twice."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    codes = pc.fill_null(pc.dictionary_encode(values).indices, 0).to_numpy().astype(np.int64)  # null: not plain anyway
    keys = np.sort(element_rows * (int(codes.max()) + 1) + codes)
    return keys[1:][keys[1:] == keys[:-1]] // (int(codes.max()) + 1)


def _count(plain: np.ndarray, values: pa.Array) -> pa.Array:
    plain &= _mask(pc.greater_equal(values, 0), null=True)
    return values


def _timestamp(plain: np.ndarray, values: pa.Array) -> pa.Array:
    hub_shaped = _mask(pc.match_substring_regex(values, _HUB_TIMESTAMP), null=True)
    plain &= hub_shaped
    readable = pc.if_else(pa.array(hub_shaped), values, pa.scalar(None, TEXT))
    try:
        return pc.cast(readable, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid as error:  # a Hub-shaped impossible date (2024-02-30): the definition rejects it
        raise Refused(str(error)) from error


def _prefixed(plain: np.ndarray, tag_rows: np.ndarray, flat_tags: pa.Array, prefix: str) -> tuple[np.ndarray, pa.Array]:
    """The rows and remainders of the tags starting with `prefix`; a remainder that strip() would change
    makes its row not plain."""
    mask = _mask(pc.starts_with(flat_tags, prefix))
    rows, remainders = tag_rows[mask], pc.utf8_slice_codeunits(flat_tags.filter(pa.array(mask)), len(prefix))
    plain[rows[~_mask(pc.match_substring_regex(remainders, _PLAIN_ID))]] = False
    return rows, remainders


def _first_license_tag(plain: np.ndarray, tag_rows: np.ndarray, flat_tags: pa.Array, rows: int) -> pa.Array:
    tagged_rows, licenses = _prefixed(plain, tag_rows, flat_tags, _LICENSE_TAG)
    first = np.full(rows, -1, dtype=np.int64)
    tagged, first_tag = np.unique(tagged_rows, return_index=True)
    first[tagged] = first_tag
    return pc.take(licenses, pa.array(first, mask=first < 0))


def _base_models(
    plain: np.ndarray, tag_rows: np.ndarray, flat_tags: pa.Array, from_card: list[list[str] | None], rows: int
) -> pa.Array:
    tagged_rows, bases = _prefixed(plain, tag_rows, flat_tags, _BASE_MODEL_TAG)
    direct = ~_mask(pc.match_substring(bases, ":"), null=True)  # not base_model:<relation>:<id>
    tagged_rows, bases = tagged_rows[direct], bases.filter(pa.array(direct))
    plain[_repeated(tagged_rows, bases)] = False
    offsets = np.concatenate([[0], np.cumsum(np.bincount(tagged_rows, minlength=rows))]).astype(np.int32)
    from_tags = pa.ListArray.from_arrays(pa.array(offsets), bases.cast(TEXT))
    carded = [position for position, value in enumerate(from_card) if value is not None]
    if not carded:
        return from_tags
    choice = np.arange(rows)
    choice[carded] = rows + np.arange(len(carded))
    return pc.take(pa.concat_arrays([from_tags, pa.array([from_card[p] for p in carded], TEXT_LIST)]), choice)


def _runtime_formats(plain: np.ndarray, siblings: pa.Array, rows: int) -> pa.Array:
    siblings = pc.fill_null(siblings, pa.scalar([], siblings.type))
    files = pc.list_flatten(siblings)
    file_rows = pc.list_parent_indices(siblings).to_numpy()
    names = pc.struct_field(files, "rfilename")
    _drop_rows(plain, file_rows, pc.or_(pc.is_null(files), pc.invert(pc.string_is_ascii(names))))
    lower = pc.ascii_lower(pc.fill_null(names, ""))
    combination = np.zeros(rows, dtype=np.int64)
    for bit, runtime in enumerate(_FORMATS):
        ends = _mask(pc.ends_with(lower, _SUFFIX_BY_FORMAT[runtime]))
        combination |= (np.bincount(file_rows[ends], minlength=rows) > 0).astype(np.int64) << bit
    return pc.take(_FORMAT_LISTS, pa.array(combination))
