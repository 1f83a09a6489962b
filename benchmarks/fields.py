"""The 18 synced fields of one Hub listing object, in plain Python (standard library only).

For the peers that do not run the pipeline's ``normalize_listing``: dlt's ``rest_api`` source maps each
item with ``hub_fields`` (this file is imported by path inside dlt's own venv). It gives the same
values as the pipeline for well-formed models; malformed ones are not the bench's concern.
"""

from typing import Any

FIELDS = (
    "hf_model_id", "name", "origin_repo_url", "tags", "task", "license_type", "downloads", "likes", "gated",
    "hf_sha", "hf_created_at", "hf_last_modified", "hf_license_id", "hf_license_name", "library_name",
    "base_models", "runtime_formats", "hf_gated",
)
HUB_URL = "https://huggingface.co"
RUNTIME_FORMATS = {".tflite": "litert", ".litertlm": "litert-lm", ".task": "mediapipe-task"}
LICENSE_TYPES = {
    "apache-2.0": "apache_2_0", "mit": "mit", "gemma": "gemma", "llama3.2": "llama", "llama3": "llama",
    "other": "other",
}


def _license_type(license_id: str | None) -> str:
    if not license_id:
        return "unknown"
    if license_id.startswith("cc-by-nc-"):
        return "cc_by_nc"
    return LICENSE_TYPES.get(license_id, "other")


def hub_fields(item: dict[str, Any]) -> dict[str, Any]:
    model_id = item["id"]
    tags = list(dict.fromkeys(item.get("tags") or []))
    card = item.get("cardData") or {}
    license_id = card.get("license") or next((tag[8:] for tag in tags if tag.startswith("license:")), None)
    declared = card.get("base_model")
    base_models = declared if isinstance(declared, list) else [declared] if declared else [
        tag[11:] for tag in tags if tag.startswith("base_model:") and ":" not in tag[11:]
    ]
    formats = []
    for sibling in item.get("siblings") or []:
        name = sibling["rfilename"].lower()
        for suffix, runtime in RUNTIME_FORMATS.items():
            if name.endswith(suffix) and runtime not in formats:
                formats.append(runtime)
    gated = item.get("gated")
    return {
        "hf_model_id": model_id,
        "name": model_id.rsplit("/", 1)[-1],
        "origin_repo_url": f"{HUB_URL}/{model_id}",
        "tags": tags,
        "task": item.get("pipeline_tag"),
        "license_type": _license_type(license_id.strip().lower() if isinstance(license_id, str) else None),
        "downloads": item.get("downloads"),
        "likes": item.get("likes"),
        "gated": None if gated is None else gated is not False,
        "hf_sha": item.get("sha"),
        "hf_created_at": item.get("createdAt"),
        "hf_last_modified": item.get("lastModified"),
        "hf_license_id": license_id.strip().lower() if isinstance(license_id, str) else None,
        "hf_license_name": card.get("license_name"),
        "library_name": item.get("library_name"),
        "base_models": list(dict.fromkeys(base_models)),
        "runtime_formats": sorted(formats),
        "hf_gated": gated if gated in ("auto", "manual") else None,
    }
