"""The bench's listings: N Hub-shaped models (full objects, cardData, siblings) and the four scenarios.

``synthetic_listing`` takes ~1 ms per model, too slow for a million: the bench draws a pool of
templates from it and makes model i a shallow copy of template ``i % POOL`` with its own id, ``_id``,
``sha``, downloads and likes (nested tags/cardData/siblings are shared, read-only). Every model carries
the ``litert`` tag, so the one filter all four writers use (``litert``) lists exactly N models.

Scenarios, applied in this order to one database per writer:

- ``first``: the N models into an empty catalog;
- ``identical``: the same N models again;
- ``changed``: 1% of them changed (new sha, lastModified, more downloads/likes) and 1% new ones;
- ``removed``: 10% of the models of ``changed`` gone (the Hub answers 404 for each).
"""

import hashlib
from typing import Any

from pocketai_pipeline_tests.synthetic import synthetic_listing

FILTER = "litert"
POOL = 2000
SCENARIOS = ("first", "identical", "changed", "removed")
CHANGED_AT = "2026-01-02T03:04:05.000Z"


def _templates(size: int) -> list[dict[str, Any]]:
    templates = synthetic_listing(size, seed=11)
    for model in templates:
        if FILTER not in model["tags"]:
            model["tags"] = [FILTER, *model["tags"]]
    return templates


def _model(template: dict[str, Any], index: int) -> dict[str, Any]:
    model = dict(template)
    org = template["id"].split("/", 1)[0]
    model_id = f"{org}/bench-{index:07d}-litert"
    model["id"] = model["modelId"] = model_id
    model["_id"] = f"{index:024x}"
    model["sha"] = hashlib.sha1(model_id.encode()).hexdigest()
    model["downloads"] = template["downloads"] + index % 1000
    model["likes"] = template["likes"] + index % 7
    return model


def base_listing(count: int) -> list[dict[str, Any]]:
    templates = _templates(min(POOL, max(count, 1)))
    return [_model(templates[index % len(templates)], index) for index in range(count)]


def scenario_listings(count: int) -> dict[str, list[dict[str, Any]]]:
    """Each scenario's listing (sharing model objects)."""
    first = base_listing(count)
    changed = list(first)
    step = 100
    for index in range(0, count, step):  # 1% changed
        model = dict(changed[index])
        model["sha"] = hashlib.sha1(f"{model['sha']}:changed".encode()).hexdigest()
        model["lastModified"] = CHANGED_AT
        model["downloads"] += 1000
        model["likes"] += 3
        changed[index] = model
    new = max(1, count // 100) if count >= 100 else 1
    templates = _templates(min(POOL, new))
    changed += [_model(templates[index % len(templates)], count + index) for index in range(new)]  # 1% new
    removed = [model for index, model in enumerate(changed) if index % 10 != 5]  # 10% removed
    return {"first": first, "identical": first, "changed": changed, "removed": removed}
