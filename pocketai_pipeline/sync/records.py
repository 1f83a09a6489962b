"""Turn the raw Hub listing into one validated catalog record per model (contract rules 2-4 and 8).

Every field is read by a small parser that returns the clean value or raises `_InvalidField`
with a sentence naming the field and the problem; the record is then reported as a `Reject`
and the rest of the listing still syncs.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

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
}
RECORD_COLUMNS = tuple(RECORD_DTYPES)

HUB_URL = "https://huggingface.co"
_BIGINT_MAX = 2**63 - 1
_GATED_MODES = {True: True, False: False, "auto": True, "manual": True}
_BASE_MODEL_TAG_PREFIX = "base_model:"


@dataclass(frozen=True)
class Reject:
    """A listing item that was not synced, and why."""

    hf_model_id: str | None
    reason: str


@dataclass(frozen=True)
class NormalizedListing:
    records: pd.DataFrame
    """One row per synced model, columns `RECORD_COLUMNS` with `RECORD_DTYPES`, sorted by `hf_model_id`."""
    rejects: list[Reject]
    """Malformed items, in listing order."""
    skipped_private: int
    skipped_disabled: int
    duplicates: int
    """Extra copies of an id that were dropped."""


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


def _base_models(item: dict, tags: list[str]) -> list[str]:
    """`cardData.base_model` (a string or a list of strings), else the ids of `base_model:<id>` tags.

    Tags with a relation (`base_model:quantized:<id>`) are not read; repeats are dropped, order kept.
    """
    card_data = item.get("cardData")
    declared = card_data.get("base_model") if isinstance(card_data, dict) else None
    candidates = declared if isinstance(declared, list) else [declared]
    from_card = [_strip_nul(value).strip() for value in candidates if isinstance(value, str)]
    from_tags = [
        tag.removeprefix(_BASE_MODEL_TAG_PREFIX).strip()
        for tag in tags
        if tag.startswith(_BASE_MODEL_TAG_PREFIX) and ":" not in tag.removeprefix(_BASE_MODEL_TAG_PREFIX)
    ]
    return list(dict.fromkeys(value for value in (from_card if any(from_card) else from_tags) if value))


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
    }


def _is_newer_or_same(candidate: dict[str, object], kept: dict[str, object]) -> bool:
    """Whether a later copy of the same id replaces the kept one: unknown `lastModified` is oldest."""
    candidate_time, kept_time = candidate["hf_last_modified"], kept["hf_last_modified"]
    if kept_time is None:
        return True
    return candidate_time is not None and candidate_time >= kept_time


def records_frame(records: list[dict[str, object]]) -> pd.DataFrame:
    """A frame of `RECORD_COLUMNS` with `RECORD_DTYPES`, one row per record dict, in the given order."""
    return pd.DataFrame(
        {
            column: pd.Series([record[column] for record in records], dtype=dtype)
            for column, dtype in RECORD_DTYPES.items()
        }
    )


def normalize_listing(raw_models: Iterable[object]) -> NormalizedListing:
    """Validate, clean and de-duplicate the raw Hub listing.

    Private and disabled models are skipped and counted. A malformed item becomes a `Reject`.
    When an id appears more than once (a model listed under several filters, or pages shifting
    while the Hub is paginated), the copy with the newest `lastModified` is kept, the later copy
    on a tie; a model skipped or rejected is counted once however often it is listed.
    """
    kept_by_id: dict[str, dict[str, object]] = {}
    rejects: list[Reject] = []
    not_kept: set[tuple[str, str]] = set()  # (identity, why): what was skipped or rejected already
    skipped_private = skipped_disabled = duplicates = 0
    for item in raw_models:
        if not isinstance(item, dict):
            rejects.append(Reject(None, f"listing item is {type(item).__name__} {item!r}, expected a JSON object"))
            continue
        model_id = None
        identity = repr((item.get("_id"), item.get("id"), item.get("modelId")))
        try:
            if _flag(item, "private") or _flag(item, "disabled"):
                why = "private" if item.get("private") else "disabled"
                if (identity, why) not in not_kept:
                    not_kept.add((identity, why))
                    skipped_private += why == "private"
                    skipped_disabled += why == "disabled"
                continue
            model_id = _model_id(item)
            record = _record(item, model_id)
        except _InvalidField as invalid:
            if (identity, str(invalid)) not in not_kept:
                not_kept.add((identity, str(invalid)))
                rejects.append(Reject(model_id, str(invalid)))
            continue
        kept = kept_by_id.get(model_id)
        if kept is not None:
            duplicates += 1
            if not _is_newer_or_same(record, kept):
                continue
        kept_by_id[model_id] = record
    return NormalizedListing(
        records=records_frame([kept_by_id[model_id] for model_id in sorted(kept_by_id)]),
        rejects=rejects,
        skipped_private=skipped_private,
        skipped_disabled=skipped_disabled,
        duplicates=duplicates,
    )
