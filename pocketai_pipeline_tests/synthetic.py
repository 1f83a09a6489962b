"""Hub JSON for tests and the offline demo: a large realistic listing, and named edge cases.

Every object has the shape the Hub sends for `GET /api/models?full=true&cardData=true`.
Nothing here computes what the pipeline should make of a model: tests state that themselves.

Edge cases (`edge_case_models()`); every id starts with `edge/`, except the two whose id is the problem,
which are named by their `_id`:

| id (or `_id`)                            | what is odd                                                       |
|------------------------------------------|-------------------------------------------------------------------|
| edge/private-litert                      | `private: true`                                                   |
| edge/disabled-litert                     | `disabled: true`                                                  |
| edge/gated-manual-litert                 | `gated: "manual"`                                                 |
| edge/gated-auto-litert                   | `gated: "auto"`                                                   |
| `_id` 000000000000000000e00001           | no `id` (and no `modelId`)                                        |
| `_id` 000000000000000000e00002           | `id` (and `modelId`) is the number 12345                          |
| edge/date-without-z-litert               | `lastModified` "2025-03-04T05:06:07" (no time zone)               |
| edge/garbage-date-litert                 | `lastModified` "last tuesday"                                     |
| edge/downloads-string-litert             | `downloads` "1234" (a string)                                     |
| edge/tags-not-a-list-litert              | `tags` "litert,tflite" (a string: the litert filter cannot match) |
| edge/nul-in-text-litert                  | NUL characters in `pipeline_tag`, one of `tags`, and `sha`        |
| edge/模型-litert-ünï                      | non-ASCII id                                                      |
| edge/duplicate-tags-litert               | `tags` repeats "tflite" and "litert"                              |
| edge/license-<slug>-litert               | `cardData.license` = <id>, one per Hub id of CONTRACT.md rule 4   |
|                                          | (slug = the id with "+" spelled "plus", e.g. openrailplusplus)    |
| edge/license-spaced-apache-litert        | `cardData.license` " Apache-2.0 "                                 |
| edge/license-upper-mit-litert            | `cardData.license` "MIT"                                          |
| edge/license-upper-cc-by-nc-sa-litert    | `cardData.license` "CC-BY-NC-SA-4.0"                              |
| edge/license-list-litert                 | `cardData.license` ["mit", "apache-2.0"]                          |
| edge/license-tag-only-gemma-litert       | no `cardData`; tag "license:gemma"                                |
| edge/license-card-beats-tag-litert       | `cardData.license` "mit" but tag "license:apache-2.0"             |
| edge/license-unknown-litert              | `cardData.license` "unknown"                                      |
| edge/license-empty-litert                | `cardData.license` ""                                             |
| edge/license-other-litert                | `cardData.license` "other"                                        |
| edge/license-unmapped-wtfpl-litert       | `cardData.license` "wtfpl" (not in the table)                     |
| edge/license-none-litert                 | no `cardData`, no license tag                                     |

Apart from what the table names, every edge model is a valid public model with tags ending in "litert"
and a `cardData.license` of "apache-2.0" with the matching "license:apache-2.0" tag; the license models
whose table row does not mention a tag carry no license tag, so only `cardData.license` speaks.
"""

import copy
import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

# The left-hand column of the license table in CONTRACT.md rule 4, with concrete ids for `cc-by-nc-*`;
# "other" has its own edge case.
CONTRACT_LICENSE_IDS: tuple[str, ...] = (
    "apache-2.0",
    "mit",
    "bsd", "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear",
    "gpl", "gpl-2.0", "gpl-3.0",
    "lgpl", "lgpl-2.1", "lgpl-3.0", "lgpl-lr",
    "agpl-3.0",
    "mpl-2.0",
    "cc0-1.0",
    "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0",
    "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0",
    "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0",
    "cc-by-nd-4.0",
    "openrail", "openrail++", "bigscience-openrail-m", "creativeml-openrail-m", "bigcode-openrail-m",
    "bigscience-bloom-rail-1.0",
    "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4",
    "gemma",
)

_ORGS = ("google", "litert-community", "qualcomm", "mediapipe", "pocket-labs", "edge-ml", "onnx-to-tflite", "kaggle")
_BASES = (
    "gemma-3-1b-it", "gemma-3n-e2b-it", "qwen2.5-0.5b-instruct", "qwen3-0.6b", "phi-4-mini", "smollm2-135m",
    "mobilenet-v3-small", "efficientdet-lite0", "whisper-tiny", "deeplab-v3", "yolov8n", "blazeface",
    "mobilebert", "tinyllama-1.1b-chat", "deepseek-r1-distill-qwen-1.5b", "paligemma-3b",
)
_QUANTS = ("q8", "q4", "int4", "int8", "fp16", "f32", "dynamic-int8")
_PIPELINES = (
    "text-generation", "image-classification", "object-detection", "automatic-speech-recognition",
    "image-segmentation", "feature-extraction", "image-text-to-text",
)
_LIBRARIES = ("litert", "litert-lm", "transformers", "mediapipe")
_LICENSES = ("apache-2.0", "apache-2.0", "apache-2.0", "mit", "gemma", "llama3.2", "cc-by-nc-4.0", "other")
_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


def synthetic_listing(count: int = 2100, seed: int = 7) -> list[dict[str, Any]]:
    """`count` valid, public LiteRT models with unique ids, the same for the same seed."""
    rng = random.Random(seed)
    return [_synthetic_model(rng, index) for index in range(count)]


def _synthetic_model(rng: random.Random, index: int) -> dict[str, Any]:
    org = rng.choice(_ORGS)
    name = f"{rng.choice(_BASES)}-{rng.choice(_QUANTS)}-{index:04d}-litert"
    license_id = rng.choice(_LICENSES)
    pipeline_tag = rng.choice(_PIPELINES) if rng.random() < 0.85 else None
    created = _EPOCH + timedelta(seconds=rng.randrange(3 * 365 * 86400))
    modified = created + timedelta(seconds=rng.randrange(120 * 86400))

    tags = ["litert"]
    if rng.random() < 0.7:
        tags.append("tflite")
    if pipeline_tag:
        tags.append(pipeline_tag)
    tags += ["en"] if rng.random() < 0.5 else []
    tags += [f"license:{license_id}", "region:us"]

    model: dict[str, Any] = {
        "_id": rng.randbytes(12).hex(),
        "id": f"{org}/{name}",
        "author": org,
        "gated": rng.choices([False, "auto", "manual"], weights=[90, 5, 5])[0],
        "lastModified": _hub_date(modified),
        "likes": rng.randrange(200),
        "trendingScore": rng.randrange(20),
        "private": False,
        "disabled": False,
        "sha": rng.randbytes(20).hex(),
        "downloads": rng.randrange(100_000),
        "tags": tags,
    }
    if pipeline_tag:
        model["pipeline_tag"] = pipeline_tag
    model |= {
        "library_name": rng.choice(_LIBRARIES),
        "createdAt": _hub_date(created),
        "modelId": f"{org}/{name}",
        "siblings": [{"rfilename": file} for file in (".gitattributes", "README.md", f"{name}.tflite")],
    }
    card_kind = rng.random()
    if card_kind < 0.6:
        model["cardData"] = {"license": license_id, "tags": ["litert"]}
    elif card_kind < 0.7:
        model["cardData"] = {"license": [license_id, "other"], "tags": ["litert"]}
    return model


def edge_case_models() -> list[dict[str, Any]]:
    """The edge cases tabled in this module's docstring, in that order."""
    no_id = _edge_model("no-id")
    del no_id["id"], no_id["modelId"]
    number_id = _edge_model("number-id") | {"id": 12345, "modelId": 12345}

    return [
        _edge_model("edge/private-litert", private=True),
        _edge_model("edge/disabled-litert", disabled=True),
        _edge_model("edge/gated-manual-litert", gated="manual"),
        _edge_model("edge/gated-auto-litert", gated="auto"),
        no_id | {"_id": "000000000000000000e00001"},
        number_id | {"_id": "000000000000000000e00002"},
        _edge_model("edge/date-without-z-litert", lastModified="2025-03-04T05:06:07"),
        _edge_model("edge/garbage-date-litert", lastModified="last tuesday"),
        _edge_model("edge/downloads-string-litert", downloads="1234"),
        _edge_model("edge/tags-not-a-list-litert", tags="litert,tflite"),
        _edge_model(
            "edge/nul-in-text-litert",
            pipeline_tag="text-\u0000generation",
            tags=["tflite", "con\u0000versational", "region:us", "litert"],
            sha="\u0000" + "ab" * 19 + "a",
        ),
        _edge_model("edge/模型-litert-ünï"),
        _edge_model("edge/duplicate-tags-litert", tags=["tflite", "litert", "region:us", "tflite", "litert"]),
        *(_license_model(f"edge/license-{hub_id.replace('+', 'plus')}-litert", hub_id) for hub_id in CONTRACT_LICENSE_IDS),
        _license_model("edge/license-spaced-apache-litert", " Apache-2.0 "),
        _license_model("edge/license-upper-mit-litert", "MIT"),
        _license_model("edge/license-upper-cc-by-nc-sa-litert", "CC-BY-NC-SA-4.0"),
        _license_model("edge/license-list-litert", ["mit", "apache-2.0"]),
        _edge_model("edge/license-tag-only-gemma-litert", cardData=None, tags=["tflite", "license:gemma", "litert"]),
        _edge_model("edge/license-card-beats-tag-litert", cardData={"license": "mit"}),
        _license_model("edge/license-unknown-litert", "unknown"),
        _license_model("edge/license-empty-litert", ""),
        _license_model("edge/license-other-litert", "other"),
        _license_model("edge/license-unmapped-wtfpl-litert", "wtfpl"),
        _edge_model("edge/license-none-litert", cardData=None, tags=["tflite", "region:us", "litert"]),
    ]


def _license_model(model_id: str, license_value: str | list[str]) -> dict[str, Any]:
    return _edge_model(model_id, cardData={"license": license_value}, tags=["tflite", "region:us", "litert"])


def _edge_model(model_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid public model named `model_id`; an override of None removes that key."""
    digest = hashlib.sha1(model_id.encode()).hexdigest()
    model: dict[str, Any] = {
        "_id": digest[:24],
        "id": model_id,
        "author": "edge",
        "gated": False,
        "lastModified": "2025-03-04T05:06:07.000Z",
        "likes": 3,
        "trendingScore": 0,
        "private": False,
        "disabled": False,
        "sha": digest,
        "downloads": 42,
        "tags": ["tflite", "text-generation", "license:apache-2.0", "region:us", "litert"],
        "pipeline_tag": "text-generation",
        "library_name": "litert",
        "createdAt": "2025-01-02T03:04:05.000Z",
        "modelId": model_id,
        "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "model.tflite"}],
        "cardData": {"license": "apache-2.0"},
    }
    model.update(overrides)
    return {key: value for key, value in model.items() if value is not None}


def with_duplicates_across_pages(models: list[dict[str, Any]], page_size: int) -> list[dict[str, Any]]:
    """`models` with the last model of each page repeated as the first of the next page.

    Served unfiltered with this `page_size`, the same id then appears on two pages, as when a model
    moves in the Hub's order while a client is paginating.
    """
    if page_size < 2 or len(models) <= page_size:
        raise ValueError("need a page size of at least 2 and more than one page of models")
    result = list(models[:page_size])
    rest = models[page_size:]
    while rest:
        result.append(copy.deepcopy(result[-1]))
        result += rest[: page_size - 1]
        rest = rest[page_size - 1 :]
    return result


def _hub_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
