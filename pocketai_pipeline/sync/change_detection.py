"""Has anything on the Hub changed since the last look? Pure decisions on the change sensor's cursor.

The cursor is the newest `lastModified` seen and the ids modified at exactly that instant, so a
model modified in the same millisecond as the previous newest one still counts as a change.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ChangeCursor:
    last_modified: datetime | None  # None: nothing seen yet (the Hub listed no model)
    ids: frozenset[str] = frozenset()

    def to_json(self) -> str:
        last_modified = self.last_modified.isoformat() if self.last_modified else None
        return json.dumps({"last_modified": last_modified, "ids": sorted(self.ids)})

    @classmethod
    def from_json(cls, text: str) -> "ChangeCursor":
        """Raises ValueError for anything `to_json` did not write."""
        try:
            data = json.loads(text)
            last_modified = data["last_modified"]
            ids = data["ids"]
        except (json.JSONDecodeError, TypeError, KeyError) as error:
            raise ValueError(f"unreadable change cursor: {error}") from None
        if not isinstance(ids, list) or not all(isinstance(model_id, str) for model_id in ids):
            raise ValueError("unreadable change cursor: `ids` is not a list of model ids")
        if last_modified is None:
            return cls(None, frozenset(ids))
        parsed = parse_timestamp(last_modified)
        if parsed is None:
            raise ValueError(f"unreadable change cursor: bad last_modified {last_modified!r}")
        return cls(parsed, frozenset(ids))


@dataclass(frozen=True)
class ChangeDecision:
    cursor: ChangeCursor  # the cursor to store: unchanged when nothing changed
    changed_ids: tuple[str, ...]  # models modified since the old cursor, newest first; empty: no change


def parse_timestamp(value: Any) -> datetime | None:
    """A Hub `lastModified` with a time zone, else None (the sync rejects zone-less dates too)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def modified_at(models: Iterable[Any]) -> dict[str, datetime]:
    """Model id → newest `lastModified`, for the well-formed entries of a Hub listing page."""
    newest: dict[str, datetime] = {}
    for model in models:
        if not isinstance(model, dict) or not isinstance(model.get("id"), str) or not model["id"]:
            continue
        moment = parse_timestamp(model.get("lastModified"))
        if moment is not None and (model["id"] not in newest or moment > newest[model["id"]]):
            newest[model["id"]] = moment
    return newest


def detect_change(cursor: ChangeCursor, models: Iterable[Any]) -> ChangeDecision:
    """Which of `models` were modified after the cursor (or at its instant under a new id), and the next cursor."""
    changed = {
        model_id: moment
        for model_id, moment in modified_at(models).items()
        if cursor.last_modified is None
        or moment > cursor.last_modified
        or (moment == cursor.last_modified and model_id not in cursor.ids)
    }
    if not changed:
        return ChangeDecision(cursor, ())
    newest = max(changed.values())
    ids_at_newest = {model_id for model_id, moment in changed.items() if moment == newest}
    if newest == cursor.last_modified:
        ids_at_newest |= cursor.ids
    changed_ids = tuple(sorted(changed, key=lambda model_id: (-changed[model_id].timestamp(), model_id)))
    return ChangeDecision(ChangeCursor(newest, frozenset(ids_at_newest)), changed_ids)


def baseline(models: Iterable[Any]) -> ChangeCursor:
    """The first cursor: everything listed now counts as seen."""
    return detect_change(ChangeCursor(None), models).cursor


def run_key(cursor: ChangeCursor) -> str:
    """The same cursor always gives the same key, so Dagster never launches two runs for one change."""
    return "hub-change-" + hashlib.sha256(cursor.to_json().encode()).hexdigest()[:16]
