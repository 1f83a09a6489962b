"""Turn the raw Hub listing into one validated catalog record per model (contract rules 2-4 and 8).

Every field is read by a small parser that returns the clean value or raises `_InvalidField`
with a sentence naming the field and the problem; the record is then reported as a `Reject`
and the rest of the listing still syncs.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from pocketai_pipeline.sync.files import runtime_formats
from pocketai_pipeline.sync.licenses import hub_license_id, license_name, license_type

# Chosen so the frame survives a Parquet round trip with missing values still missing.
RECORD_DTYPES: dict[str, str] = {
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
RECORD_COLUMNS = tuple(RECORD_DTYPES)


def _arrow_type(dtype: str) -> pa.DataType:
    if dtype == "object":  # the list columns (tags, base_models, runtime_formats)
        return pa.list_(pa.string())
    return pa.array(pd.Series([], dtype=dtype)).type


RECORD_SCHEMA = pa.schema([pa.field(column, _arrow_type(dtype)) for column, dtype in RECORD_DTYPES.items()])
_PANDAS_TYPES = {
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}

HUB_URL = "https://huggingface.co"
_BIGINT_MAX = 2**63 - 1
_GATED_MODES = {True: True, False: False, "auto": True, "manual": True}
_BASE_MODEL_TAG_PREFIX = "base_model:"


@dataclass(frozen=True)
class Reject:
    """A listing item that was not synced, and why."""

    hf_model_id: str | None
    reason: str


class _InvalidField(ValueError):
    """A listing item has a field that cannot be synced; the message says which and why."""


def _strip_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "")


def _text(item: dict, key: str) -> str | None:
    """An optional string field, NUL-stripped; absent, null or empty gives None."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _InvalidField(f"{key} is {type(value).__name__} {value!r}, expected a string")
    return _strip_nul(value) or None


def _count(item: dict, key: str) -> int | None:
    """An optional non-negative integer field (downloads, likes); absent or null gives None."""
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _InvalidField(f"{key} is {type(value).__name__} {value!r}, expected an integer")
    if not 0 <= value <= _BIGINT_MAX:
        raise _InvalidField(f"{key} is {value}, expected an integer from 0 to {_BIGINT_MAX}")
    return value


def _timestamp(item: dict, key: str) -> datetime | None:
    """An optional ISO-8601 timestamp with `Z` or an offset, in UTC; a time zone is never guessed."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _InvalidField(f"bad date: {key} is {type(value).__name__} {value!r}, expected an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _InvalidField(f"bad date: {key} is {value!r}, not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise _InvalidField(f"bad date: {key} is {value!r}, which has no time zone (expected 'Z' or an offset)")
    return parsed.astimezone(UTC)


def _model_id(item: dict) -> str:
    """The Hub id: `id`, or the legacy `modelId` only when `id` is absent or null."""
    key = "id" if item.get("id") is not None else "modelId"
    value = item.get(key)
    if value is None:
        raise _InvalidField("no id: neither id nor modelId is present")
    if not isinstance(value, str) or not _strip_nul(value).strip():
        raise _InvalidField(f"no id: {key} is {type(value).__name__} {value!r}, expected a non-empty string")
    return _strip_nul(value)


def _name(model_id: str) -> str:
    name = model_id.rsplit("/", 1)[-1]
    if not name.strip():
        raise _InvalidField(f"id {model_id!r} has no name after its last '/'")
    return name


def _tags(item: dict) -> list[str]:
    """The Hub tags, NUL-stripped, without blanks and repeats, in their order; absent gives []."""
    value = item.get("tags")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise _InvalidField(f"tags is {value!r}, expected a list of strings")
    cleaned = (_strip_nul(tag) for tag in value)
    return list(dict.fromkeys(tag for tag in cleaned if tag))


def _flag(item: dict, key: str) -> bool:
    """A yes/no field such as private or disabled; absent or null means no."""
    value = item.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _InvalidField(f"{key} is {type(value).__name__} {value!r}, expected true or false")
    return value


def _gated(item: dict) -> bool | None:
    """true, "auto" and "manual" mean gated; false means open; absent or null means not known."""
    value = item.get("gated")
    if value is None:
        return None
    if not isinstance(value, (bool, str)) or value not in _GATED_MODES:
        raise _InvalidField(f'gated is {value!r}, expected false, true, "auto" or "manual"')
    return _GATED_MODES[value]


def _gated_mode(item: dict) -> str | None:
    """How access is granted to a gated model: "auto" (at once) or "manual" (after review); None when it is
    not gated, or gated (`true`) without a mode. `_gated` has already refused any other value."""
    value = item.get("gated")
    return value if value in ("auto", "manual") else None


def _base_models(item: dict, tags: list[str]) -> list[str]:
    """`cardData.base_model` (a string or a list of strings), else the ids of `base_model:<id>` tags.

    Tags with a relation (`base_model:quantized:<id>`) are not read; repeats are dropped, order kept.
    """
    card_data = item.get("cardData")
    from_card = card_base_models(card_data.get("base_model") if isinstance(card_data, dict) else None)
    if from_card is not None:
        return from_card
    from_tags = [
        tag.removeprefix(_BASE_MODEL_TAG_PREFIX).strip()
        for tag in tags
        if tag.startswith(_BASE_MODEL_TAG_PREFIX) and ":" not in tag.removeprefix(_BASE_MODEL_TAG_PREFIX)
    ]
    return list(dict.fromkeys(value for value in from_tags if value))


def card_base_models(declared: object) -> list[str] | None:
    """The base models a card's `base_model` names, or None when it names none (the tags are read then)."""
    candidates = declared if isinstance(declared, list) else [declared]
    from_card = [_strip_nul(value).strip() for value in candidates if isinstance(value, str)]
    if not any(from_card):
        return None
    return list(dict.fromkeys(value for value in from_card if value))


def _file_names(item: dict) -> list[str]:
    """The `rfilename` of every listed file (`siblings`); absent gives []."""
    siblings = item.get("siblings")
    if siblings is None:
        return []
    if not isinstance(siblings, list) or not all(
        isinstance(sibling, dict) and isinstance(sibling.get("rfilename"), str) for sibling in siblings
    ):
        raise _InvalidField(f"siblings is {siblings!r:.200}, expected a list of {{'rfilename': ...}} objects")
    return [sibling["rfilename"] for sibling in siblings]


def _record(item: dict, model_id: str) -> dict[str, object]:
    tags = _tags(item)
    license_id = hub_license_id(item.get("cardData"), tags)
    return {
        "hf_model_id": model_id,
        "name": _name(model_id),
        "origin_repo_url": f"{HUB_URL}/{model_id}",
        "tags": tags,
        "task": _text(item, "pipeline_tag"),
        "license_type": license_type(license_id),
        "downloads": _count(item, "downloads"),
        "likes": _count(item, "likes"),
        "gated": _gated(item),
        "hf_sha": _text(item, "sha"),
        "hf_created_at": _timestamp(item, "createdAt"),
        "hf_last_modified": _timestamp(item, "lastModified"),
        "hf_license_id": license_id.lower() if license_id else None,
        "hf_license_name": license_name(item.get("cardData")),
        "library_name": _text(item, "library_name"),
        "base_models": _base_models(item, tags),
        "runtime_formats": runtime_formats(_file_names(item)),
        "hf_gated": _gated_mode(item),
    }


def records_frame(records: list[dict[str, object]]) -> pd.DataFrame:
    """A frame of `RECORD_COLUMNS` with `RECORD_DTYPES`, one row per record dict, in the given order."""
    return pd.DataFrame(
        {
            column: pd.Series([record[column] for record in records], dtype=dtype)
            for column, dtype in RECORD_DTYPES.items()
        }
    )


def records_frame_from_arrow(table: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """Exactly `RECORD_DTYPES`: missing values stay pd.NA (NaT for timestamps), timestamps UTC."""
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    return frame.astype({column: RECORD_DTYPES[column] for column in frame.columns})


class ItemNormalizer:
    """Validates and cleans listing items one at a time, counting what it skips and rejects.

    The definition of a record: the columnar reader (`sync.columnar_records`) parses the plain items
    of a listing faster, and leaves everything else to this. Private and disabled models are skipped
    and counted; a malformed item becomes a `Reject`. An item skipped or rejected is counted once
    however often it is listed.
    """

    def __init__(self) -> None:
        self.rejects: list[Reject] = []
        self.skipped_private = 0
        self.skipped_disabled = 0
        self._not_kept: set[tuple[str, str]] = set()  # (identity, why): what was skipped or rejected already

    def record(self, item: object) -> dict[str, object] | None:
        """The item's record, or None when it is skipped or rejected."""
        if not isinstance(item, dict):
            self.rejects.append(Reject(None, f"listing item is {type(item).__name__} {item!r}, expected a JSON object"))
            return None
        model_id = None
        identity = repr((item.get("_id"), item.get("id"), item.get("modelId")))
        try:
            if _flag(item, "private") or _flag(item, "disabled"):
                why = "private" if item.get("private") else "disabled"
                if self._first_time(identity, why):
                    self.skipped_private += why == "private"
                    self.skipped_disabled += why == "disabled"
                return None
            model_id = _model_id(item)
            return _record(item, model_id)
        except _InvalidField as invalid:
            if self._first_time(identity, str(invalid)):
                self.rejects.append(Reject(model_id, str(invalid)))
            return None

    def _first_time(self, identity: str, why: str) -> bool:
        if (identity, why) in self._not_kept:
            return False
        self._not_kept.add((identity, why))
        return True
