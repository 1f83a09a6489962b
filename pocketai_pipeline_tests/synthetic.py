"""Hub JSON for tests and the offline demo: a large realistic listing, its model cards, and named edge cases.

Every object has the shape the Hub sends for `GET /api/models?full=true&cardData=true`.
Nothing here computes what the pipeline should make of a model: tests state that themselves.

- `synthetic_listing(count, seed)`: realistic valid public models under the three LiteRT filters of
  CONTRACT.md (`litert`, `litert-lm`, `tflite`; some under two), see its docstring.
- `synthetic_cards(models)`: id → README.md text (None: no card), for `FakeHub(models, cards=…)`.
- `edge_case_models()`: odd listing records (table below); `app_ready_edge_models()`: odd values of the
  columns the app reads (second table).

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

App-ready edge cases (`app_ready_edge_models()`); every id starts with `edge/app-`:

| id                                     | what is odd                                                            |
|----------------------------------------|------------------------------------------------------------------------|
| edge/app-base-model-string             | `cardData.base_model` "google/gemma-3-1b-it" (and its two tags)        |
| edge/app-base-model-list               | `cardData.base_model` [gemma, Qwen/Qwen2.5-0.5B-Instruct, gemma]       |
| edge/app-base-model-tags-only          | no `base_model` in the card; tags `base_model:Qwen/…`,                 |
|                                        | `base_model:quantized:google/…`, `base_model:google/…`, `base_model:Qwen/…` again |
| edge/app-base-model-relation-tags-only | only `base_model:quantized:<id>` and `base_model:finetune:<id>` tags   |
| edge/app-license-other-named           | `license: other`, `license_name` "lfm-open-license-v1.0", tag license:other |
| edge/app-license-name-with-apache      | `license: apache-2.0` with `license_name` " Apache License 2.0 "       |
| edge/app-license-name-empty            | `license: other`, `license_name` ""                                    |
| edge/app-files-tflite                  | files: model.tflite                                                    |
| edge/app-files-litertlm                | files: a `.litertlm`; tags litert and litert-lm                        |
| edge/app-files-task                    | files: a `.task`; tags litert and litert-lm                            |
| edge/app-files-every-format            | `.tflite`, `.litertlm`, `.task`, `.onnx`, `.safetensors`, `.bin`,       |
|                                        | config.json, labels.txt                                                |
| edge/app-files-nested                  | int8/model.tflite, fp16/model.tflite, assets/labels.txt, deep/er/still/model.tflite |
| edge/app-files-upper-case-extension    | MODEL.TFLITE                                                           |
| edge/app-files-none                    | `siblings` [] (no files at all, not even README.md)                    |
| edge/app-only-litert-lm                | tag `litert-lm` only (no litert, no tflite); `.litertlm` and `.task`   |
| edge/app-only-tflite                   | tag `tflite` only; image classification                                |
| edge/app-two-filters                   | tags `tflite` and `litert`: listed under both filters                  |

Apart from what the table names, each is a valid public model tagged `litert` (and not `tflite`), with
`cardData.license` "apache-2.0" and the tag license:apache-2.0, and files .gitattributes, README.md and
model.tflite; every one but edge/app-files-none has a README.md, so `synthetic_cards` gives it a card.
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
# Hub ids that `cardData.base_model` and `base_model:` tags name.
_BASE_MODEL_IDS = (
    "google/gemma-3-1b-it", "google/gemma-3n-E2B-it", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-0.6B",
    "microsoft/Phi-4-mini-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct", "google/mobilenet_v3_small_100_224",
    "openai/whisper-tiny", "LiquidAI/LFM2-350M", "google/medgemma-4b-it",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
)
_QUANTS = ("q8", "q4", "int4", "int8", "fp16", "f32", "dynamic-int8")
_PIPELINES = (
    "text-generation", "image-classification", "object-detection", "automatic-speech-recognition",
    "image-segmentation", "feature-extraction", "image-text-to-text",
)
_LICENSES = ("apache-2.0", "apache-2.0", "apache-2.0", "mit", "gemma", "llama3.2", "cc-by-nc-4.0", "other")
# `license_name` of `license: other` cards, as real LiteRT models use them.
_LICENSE_NAMES = ("lfm-open-license-v1.0", "health-ai-developer-foundations", "qualcomm-ai-hub-proprietary-license")
# (value, weight); None: no `library_name` key.
_LIBRARIES = {
    "litert": (("litert", 60), ("tflite", 15), ("transformers", 10), ("mediapipe", 5), (None, 10)),
    "litert-lm": (("litert-lm", 80), (None, 20)),
    "tflite": (("tflite", 50), ("tf-keras", 15), ("keras", 10), (None, 25)),
}
_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


def synthetic_listing(count: int = 2100, seed: int = 7, *, start: int = 0) -> list[dict[str, Any]]:
    """`count` valid, public LiteRT models with unique ids, the same for the same seed.

    About half are `litert` models (`.tflite` files, some nested like `int8/model.tflite`; some also
    tagged `tflite`, a few also `litert-lm` with a `.litertlm` bundle), a quarter `litert-lm` only
    (`.litertlm` and/or `.task` bundles, like litert-community's Gemma models), the rest `tflite` only.
    `library_name` varies (sometimes absent); `cardData.base_model` is a string, a list or absent, with
    `base_model:<id>` and `base_model:quantized:<id>`/`base_model:finetune:<id>` tags as the Hub adds
    them (some models have only tags); `license: other` mostly comes with a `license_name`. A few models
    have no README.md (their card, see `synthetic_cards`, is None).
    Ids carry their index (`start`, `start + 1`, …): lists with disjoint index ranges never share an id.
    """
    rng = random.Random(seed)
    return [_synthetic_model(rng, index) for index in range(start, start + count)]


def _synthetic_model(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choices(("litert", "litert-lm", "tflite"), weights=(50, 25, 25))[0]
    org = "litert-community" if kind == "litert-lm" and rng.random() < 0.6 else rng.choice(_ORGS)
    base, quant = rng.choice(_BASES), rng.choice(_QUANTS)
    name = f"{base}-{quant}-{index:04d}-{kind}"
    license_id = rng.choice(_LICENSES)
    if kind == "litert-lm":
        pipeline_tag = "text-generation" if rng.random() < 0.8 else rng.choice((None, "image-text-to-text"))
    else:
        pipeline_tag = rng.choice(_PIPELINES) if rng.random() < 0.85 else None
    created = _EPOCH + timedelta(seconds=rng.randrange(3 * 365 * 86400))
    modified = created + timedelta(seconds=rng.randrange(120 * 86400))

    runtime_files = _runtime_files(rng, kind, name, base, quant)
    filter_tags = [kind]
    if kind == "litert" and rng.random() < 0.3:
        filter_tags.append("tflite")
    if kind == "litert" and rng.random() < 0.08:
        filter_tags.append("litert-lm")
        runtime_files.append(f"{base}_{quant}.litertlm")
    extra_files = rng.choice(([], [], ["config.json"], ["labels.txt"], ["tokenizer.json", "tokenizer_config.json"]))

    card_kind = rng.random()
    card: dict[str, Any] | None = None
    if card_kind < 0.6:
        card = {"license": license_id}
    elif card_kind < 0.7:
        card = {"license": [license_id, "other"]}
    if card is not None and card["license"] == "other" and rng.random() < 0.8:
        card["license_name"] = rng.choice(_LICENSE_NAMES)
        card["license_link"] = "LICENSE"
        extra_files.append("LICENSE")
    base_model_tags = _base_model(rng, card)

    tags = list(filter_tags)
    if pipeline_tag:
        tags.append(pipeline_tag)
    tags += ["en"] if rng.random() < 0.5 else []
    tags += base_model_tags
    tags += [f"license:{license_id}", "region:us"]

    library = rng.choices(*zip(*_LIBRARIES[kind]))[0]
    if card is not None:
        if library is not None:
            card["library_name"] = library
        card["tags"] = list(filter_tags)
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
    if library is not None:
        model["library_name"] = library
    readme = [] if rng.random() < 0.04 else ["README.md"]
    model |= {
        "createdAt": _hub_date(created),
        "modelId": f"{org}/{name}",
        "siblings": [{"rfilename": file} for file in [".gitattributes", *readme, *extra_files, *runtime_files]],
    }
    if card is not None:
        model["cardData"] = card
    return model


def _runtime_files(rng: random.Random, kind: str, name: str, base: str, quant: str) -> list[str]:
    if kind == "litert-lm":
        bundle = rng.choices(("litertlm", "task", "both"), weights=(50, 25, 25))[0]
        litertlm = [f"{base}_{quant}_ekv{rng.choice((1280, 2048, 4096))}.litertlm"]
        task = [f"{base}_multi-prefill-seq_{quant}_ekv1280.task"]
        return {"litertlm": litertlm, "task": task, "both": litertlm + task}[bundle]
    layout = rng.random()
    if layout < 0.7:
        return [f"{name}.tflite"]
    if layout < 0.9:
        return [f"{quant}/model.tflite"] + (["fp16/model.tflite"] if quant != "fp16" and rng.random() < 0.5 else [])
    return [f"{name}.tflite", "model.onnx"]


def _base_model(rng: random.Random, card: dict[str, Any] | None) -> list[str]:
    """Set `cardData.base_model` (maybe) and return the `base_model:` tags the Hub would add."""
    relation = rng.choice(("quantized", "quantized", "finetune"))
    roll = rng.random()
    if card is not None and roll < 0.45:
        bases = [rng.choice(_BASE_MODEL_IDS)]
        card["base_model"] = bases[0]
    elif card is not None and roll < 0.65:
        bases = rng.sample(_BASE_MODEL_IDS, 2)
        card["base_model"] = list(bases)
    elif roll < 0.8:
        bases = [rng.choice(_BASE_MODEL_IDS)]  # tags only: the card says nothing (or there is no card)
    elif roll < 0.9:
        return [f"base_model:{relation}:{rng.choice(_BASE_MODEL_IDS)}"]  # only a relation tag
    else:
        return []
    return [f"base_model:{base}" for base in bases] + [f"base_model:{relation}:{base}" for base in bases]


def synthetic_cards(models: list[dict[str, Any]]) -> dict[str, str | None]:
    """A realistic README.md per model id, None for a model whose siblings have no README.md.

    Deterministic per model (from its id and stored metadata), whatever list it comes in. A card is
    YAML front matter (mostly), then variously a heading, badges (`[![x](img)](link)`), an HTML block
    (`<p align="center"><img …></p>`), then a prose paragraph with a link, `inline code` and
    **emphasis**, then usage sections (code block, list). About 4% have no prose paragraph at all,
    about 0.2% a prose paragraph of over 1,000 characters.
    """
    cards: dict[str, str | None] = {}
    for model in models:
        model_id = model.get("id")
        if not isinstance(model_id, str):
            continue
        siblings = model.get("siblings")
        files = [s.get("rfilename") for s in siblings if isinstance(s, dict)] if isinstance(siblings, list) else []
        cards[model_id] = _card(model, files) if "README.md" in files else None
    return cards


def _card(model: dict[str, Any], files: list[str]) -> str:
    model_id = model["id"]
    rng = random.Random(f"card:{model_id}")
    roll = int(hashlib.sha1(model_id.encode()).hexdigest()[:8], 16) % 1000
    title = model_id.split("/")[-1]
    runtime_file = next((f for f in files if f.lower().endswith((".tflite", ".litertlm", ".task"))), "model.tflite")
    blocks = []
    if rng.random() < 0.93:
        blocks.append(_front_matter(model))
    if rng.random() < 0.8:
        blocks.append(f"# {title}")
    if rng.random() < 0.4:
        blocks.append(
            "[![License](https://img.shields.io/badge/license-apache--2.0-blue)](https://www.apache.org/licenses/LICENSE-2.0) "
            "[![LiteRT](https://img.shields.io/badge/runtime-LiteRT-orange)](https://ai.google.dev/edge/litert)"
        )
    if rng.random() < 0.3:
        blocks.append(f'<p align="center">\n  <img src="https://huggingface.co/{model_id}/resolve/main/banner.png" width="480">\n</p>')
    if roll >= 40:
        blocks.append(_prose(model, title, runtime_file, rng, long=roll in (40, 41)))
    blocks.append(
        "## Usage\n\n"
        "- Download the model file\n- Load it with the LiteRT interpreter\n\n"
        f"```python\nfrom ai_edge_litert.interpreter import Interpreter\n\ninterpreter = Interpreter(\"{runtime_file}\")\n```"
    )
    return "\n\n".join(blocks) + "\n"


def _front_matter(model: dict[str, Any]) -> str:
    card = model.get("cardData") or {}
    lines = ["---"]
    for key in ("license", "license_name", "license_link", "base_model", "library_name"):
        value = card.get(key)
        if isinstance(value, list):
            lines += [f"{key}:"] + [f"- {item}" for item in value]
        elif value is not None:
            lines.append(f"{key}: {value}")
    if model.get("pipeline_tag"):
        lines.append(f"pipeline_tag: {model['pipeline_tag']}")
    lines += ["tags:"] + [f"- {tag}" for tag in card.get("tags", ["litert"])]
    return "\n".join(lines + ["---"])


_MORE_PROSE = (
    "It was exported with the AI Edge Torch converter and checked against the original on a held-out set; "
    "accuracy stays within one point of the floating-point model on every benchmark we ran.",
    "Memory use peaks at about a third of the unquantized model, so it fits mid-range phones comfortably.",
    "The signature runner exposes `prefill` and `decode` entry points, and the bundle carries its tokenizer.",
    "We test every release on a Pixel 8, a Galaxy S23 and an iPhone 15 before it is published here.",
    "Please read the licence of the **base model** as well: it applies to these weights too.",
)


def _prose(model: dict[str, Any], title: str, runtime_file: str, rng: random.Random, *, long: bool) -> str:
    card = model.get("cardData") or {}
    base = card.get("base_model")
    base = base[0] if isinstance(base, list) else base
    source = f"[{base}](https://huggingface.co/{base})" if isinstance(base, str) else "the original model"
    task = (model.get("pipeline_tag") or "inference").replace("-", " ")
    runtime = "LiteRT-LM" if runtime_file.lower().endswith((".litertlm", ".task")) else "LiteRT"
    sentences = [
        f"{title} is {source} converted for on-device {task} with [{runtime}](https://ai.google.dev/edge/litert).",
        f"Load `{runtime_file}` and it runs **entirely offline** on Android, iOS and the web.",
    ]
    extra = list(_MORE_PROSE)
    rng.shuffle(extra)
    sentences += extra if long else extra[: rng.randrange(3)]
    while long and len(" ".join(sentences)) <= 1000:
        sentences += extra
    # A paragraph may wrap over lines, as cards do.
    return "\n".join(sentences) if rng.random() < 0.3 else " ".join(sentences)


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


def app_ready_edge_models() -> list[dict[str, Any]]:
    """The app-ready edge cases tabled in this module's docstring, in that order (ids `edge/app-…`)."""
    gemma, qwen = "google/gemma-3-1b-it", "Qwen/Qwen2.5-0.5B-Instruct"

    def files(*paths: str) -> list[dict[str, str]]:
        return [{"rfilename": path} for path in (".gitattributes", "README.md", *paths)]

    def tagged(*filter_tags: str, more: tuple[str, ...] = ()) -> list[str]:
        return [*filter_tags, "text-generation", *more, "license:apache-2.0", "region:us"]

    return [
        _app_model("edge/app-base-model-string", cardData={"license": "apache-2.0", "base_model": gemma},
                   tags=tagged("litert", more=(f"base_model:{gemma}", f"base_model:quantized:{gemma}"))),
        _app_model("edge/app-base-model-list", cardData={"license": "apache-2.0", "base_model": [gemma, qwen, gemma]},
                   tags=tagged("litert", more=(f"base_model:{gemma}", f"base_model:{qwen}", f"base_model:finetune:{gemma}"))),
        _app_model("edge/app-base-model-tags-only",
                   tags=tagged("litert", more=(f"base_model:{qwen}", f"base_model:quantized:{gemma}", f"base_model:{gemma}",
                                               f"base_model:{qwen}"))),
        _app_model("edge/app-base-model-relation-tags-only",
                   tags=tagged("litert", more=(f"base_model:quantized:{gemma}", f"base_model:finetune:{qwen}"))),
        _app_model("edge/app-license-other-named",
                   cardData={"license": "other", "license_name": "lfm-open-license-v1.0", "license_link": "LICENSE"},
                   tags=["litert", "text-generation", "license:other", "region:us"]),
        _app_model("edge/app-license-name-with-apache", cardData={"license": "apache-2.0", "license_name": " Apache License 2.0 "}),
        _app_model("edge/app-license-name-empty", cardData={"license": "other", "license_name": ""},
                   tags=["litert", "text-generation", "license:other", "region:us"]),
        _app_model("edge/app-files-tflite", siblings=files("model.tflite")),
        _app_model("edge/app-files-litertlm", siblings=files("gemma3-1b-it-int4.litertlm"),
                   tags=tagged("litert", "litert-lm"), library_name="litert-lm"),
        _app_model("edge/app-files-task", siblings=files("Gemma3-1B-IT_multi-prefill-seq_q4_ekv1280.task"),
                   tags=tagged("litert", "litert-lm"), library_name="litert-lm"),
        _app_model("edge/app-files-every-format",
                   siblings=files("config.json", "model.tflite", "model.litertlm", "model.task", "model.onnx",
                                  "model.safetensors", "weights.bin", "labels.txt"),
                   tags=tagged("litert", "litert-lm")),
        _app_model("edge/app-files-nested", siblings=files("int8/model.tflite", "fp16/model.tflite", "assets/labels.txt",
                                                           "deep/er/still/model.tflite")),
        _app_model("edge/app-files-upper-case-extension", siblings=files("MODEL.TFLITE")),
        _app_model("edge/app-files-none", siblings=[]),
        _app_model("edge/app-only-litert-lm", siblings=files("gemma3-1b-it-int4.litertlm", "gemma3-1b-it-int4.task"),
                   tags=tagged("litert-lm"), library_name="litert-lm"),
        _app_model("edge/app-only-tflite", siblings=files("mobilenet_v3_small.tflite"), tags=tagged("tflite"),
                   library_name="tflite", pipeline_tag="image-classification"),
        _app_model("edge/app-two-filters", siblings=files("model.tflite"), tags=tagged("tflite", "litert")),
    ]


def _app_model(model_id: str, **overrides: Any) -> dict[str, Any]:
    """An edge model with a README.md (so `synthetic_cards` gives it a card) and only the `litert` filter tag."""
    defaults: dict[str, Any] = {
        "tags": ["litert", "text-generation", "license:apache-2.0", "region:us"],
        "siblings": [{"rfilename": name} for name in (".gitattributes", "README.md", "model.tflite")],
    }
    return _edge_model(model_id, **(defaults | overrides))


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
