"""What one lookup of a model (`GET /api/models/<id>`) says about its removal (contract rule 7)."""

import json
from dataclasses import dataclass, field

# Gone (404), or private/deleted as an anonymous client sees it (401/403).
GONE_STATUSES = frozenset({401, 403, 404})


@dataclass(frozen=True)
class RemovalCheck:
    """What the Hub said, one lookup per model, of the synced models a listing lacks (contract rule 7)."""

    confirmed: list[str] = field(default_factory=list)
    """Gone, private, or no longer tagged for any synced filter: to be marked removed."""
    unverified: dict[str, str] = field(default_factory=dict)
    """Hub id → why it could not be confirmed (429, 5xx, timeout, garbage, still tagged): left as it is."""


def removal_verdict(status: int, body: bytes, filters: tuple[str, ...]) -> tuple[bool, str]:
    """(whether the model is definitely removed, why) from the lookup's status and body.

    A 200 for a model that no longer carries any of the synced `filters` as a tag (compared
    case-insensitively) is removed too; every other answer is no proof either way.
    """
    if status in GONE_STATUSES:
        return True, f"the Hub answered {status}"
    if status != 200:
        return False, f"the Hub answered {status}"
    try:
        model = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False, "the Hub answered 200 with a body that is not JSON"
    tags = model.get("tags") if isinstance(model, dict) else None
    if not isinstance(tags, list):
        return False, "the Hub answered 200 without a list of tags"
    wanted = {hub_filter.lower() for hub_filter in filters}
    if wanted.isdisjoint(tag.lower() for tag in tags if isinstance(tag, str)):
        return True, "no longer tagged " + " or ".join(filters)
    return False, "still on the Hub with a synced tag"
