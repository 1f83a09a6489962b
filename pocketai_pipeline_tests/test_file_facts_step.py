"""ml_model_file_facts end to end (rules 13, 14): real `.litertlm` files built by litert-lm-builder, served by the
fake Hub through a redirect to its storage host, read by the real huggingface_hub session, into real PostgreSQL;
the app's view and the README's queries as written."""

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from pocketai_pipeline.defs.assets import SYNC_ASSETS
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline_tests.litertlm_files import build_litertlm

TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
README = Path(__file__).resolve().parents[1] / "README.md"
TOKEN = "hf_secret_file_facts_token"

GEMMA, GEMMA_SHA, GEMMA_NEXT_SHA = "litert-community/Gemma3-1B-IT", "42d538a932e8d5b12e6b3b455f5572560bd60b2c", "b7" * 20
GEMMA4, MIRROR, CLASSIFIER, BROKEN = (
    "litert-community/gemma-4-E2B-it-litert-lm", "org/gemma3-mirror", "org/classifier", "org/broken",
)
INT4 = "gemma3-1b-it-int4.litertlm"
TASK = "Gemma3-1B-IT_multi-prefill-seq_q4_ekv1280.task"
WEB = "gemma3-1b-it-int8-web.task"
NPU = "Gemma3-1B-IT_q4_ekv1280_sm8750.litertlm"
GEMMA4_FILE = "gemma-4-E2B-it.litertlm"

INT4_BYTES = build_litertlm(max_num_tokens=4096, backends="cpu,gpu", function_calling=True, min_runtime_version="0.7.0")
NPU_BYTES = build_litertlm(max_num_tokens=0, backends="npu")
GEMMA4_BYTES = build_litertlm(max_num_tokens=32000, vision=True, audio=True, drafter=True, thinking=True, backends="gpu,cpu")
GEMMA_FILES = {"README.md": b"# Gemma 3 1B\n\nA small model.\n", INT4: INT4_BYTES, TASK: b"task-bytes", WEB: b"web-bytes", NPU: NPU_BYTES}
SIZES = {INT4: 584_417_280, TASK: 554_661_243, WEB: 700_000_000, NPU: 650_000_000, GEMMA4_FILE: 2_588_147_712,
         "model.tflite": 5_000_000, "model.litertlm": 1_000_000}


def hub_model(model_id: str, sha: str, paths: list[str], **fields) -> dict:
    return {
        "_id": hashlib.sha1(model_id.encode()).hexdigest()[:24], "id": model_id, "modelId": model_id,
        "author": model_id.split("/")[0], "private": False, "disabled": False, "gated": False,
        "tags": ["litert-lm", "litert"], "pipeline_tag": "text-generation", "downloads": 10, "likes": 1, "sha": sha,
        "createdAt": "2025-03-04T05:06:07.000Z", "lastModified": "2025-06-07T08:09:10.000Z",
        "cardData": {"license": "gemma"}, "siblings": [{"rfilename": path} for path in paths], **fields,
    }  # fmt: skip


def serve_catalog(fake_hub, gemma_files: dict[str, bytes] = GEMMA_FILES, gemma_sha: str = GEMMA_SHA) -> None:
    served = {
        GEMMA: (gemma_sha, gemma_files, {"gated": "manual"}),
        GEMMA4: ("c4" * 20, {GEMMA4_FILE: GEMMA4_BYTES}, {"gated": "auto"}),
        MIRROR: ("d5" * 20, {INT4: INT4_BYTES}, {}),  # the same file as Gemma's: read once
        CLASSIFIER: ("e6" * 20, {"model.tflite": b"TFL3", "labels.txt": b"cat\ndog\n"}, {"pipeline_tag": "image-classification"}),
        BROKEN: ("f7" * 20, {"model.litertlm": b"PK\x03\x04 not a LiteRT-LM file" + bytes(64)}, {}),
    }
    fake_hub.set_models([hub_model(model_id, sha, list(files), **fields) for model_id, (sha, files, fields) in served.items()])
    for model_id, (sha, files, _) in served.items():
        fake_hub.set_file_contents(model_id, sha, files, sizes=SIZES)


def materialize(resources) -> dg.ExecuteInProcessResult:
    return dg.materialize(SYNC_ASSETS, partition_key=TODAY, resources=resources, raise_on_error=False)


def facts_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.asset_materializations_for_node("ml_model_file_facts")
    return {key: value.value for key, value in event.metadata.items()}


def rows(engine: sa.Engine, select: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(select), params).mappings()]


def view(engine: sa.Engine) -> dict[tuple[str, str], dict]:
    return {(row["hf_model_id"], row["path"]): row for row in rows(engine, "SELECT * FROM app_runtime_files")}


def readme_query(name: str) -> str:
    """The SQL block after `<!-- app-query: name -->` in the README, as written there."""
    match = re.search(rf"<!-- app-query: {re.escape(name)} -->\n```sql\n(.*?)```", README.read_text(), re.S)
    assert match, f"README has no app query {name}"
    return match[1]


def hub_with(fake_hub, **settings) -> HubResource:
    """The Hub resource of the sync, with a token and these settings (Dagster reads a resource's own arguments)."""
    return HubResource(**{"endpoint": fake_hub.url, "token": TOKEN, "max_retries": 1, "max_wait_seconds": 5, **settings})


@pytest.fixture
def resources(sync_resources: dict, fake_hub) -> dict:
    return {**sync_resources, "hub": hub_with(fake_hub)}


@pytest.fixture
def engine(resources: dict) -> sa.Engine:
    return resources["catalog"].engine()


FACT_NAMES = ("format", "quantization", "max_context_tokens", "input_modalities", "backends", "target_soc", "platform",
              "supports_thinking", "supports_function_calling", "supports_speculative_decoding", "min_runtime_version",
              "container_version", "min_device_memory_gb", "facts_status", "facts_error")  # fmt: skip
NO_HEADER = dict.fromkeys(("input_modalities", "backends", "supports_thinking", "supports_function_calling",
                           "supports_speculative_decoding", "min_runtime_version", "container_version"))  # fmt: skip
EXPECTED = {
    (GEMMA, INT4): dict(format="litert-lm", quantization="int4", max_context_tokens=4096, input_modalities=["text"],
                        backends=["cpu", "gpu"], target_soc=None, platform=None, supports_thinking=False,
                        supports_function_calling=True, supports_speculative_decoding=False, min_runtime_version="0.7.0",
                        container_version="1.7.0", min_device_memory_gb=6, facts_status="read", facts_error=None),
    (GEMMA, TASK): dict(NO_HEADER, format="mediapipe-task", quantization="int4", max_context_tokens=1280, target_soc=None,
                        platform=None, min_device_memory_gb=4, facts_status="name_only", facts_error=None),
    (GEMMA, WEB): dict(NO_HEADER, format="mediapipe-task", quantization="int8", max_context_tokens=None, target_soc=None,
                       platform="web", min_device_memory_gb=4, facts_status="name_only", facts_error=None),
    # No context and no chip in the header: the name's ekv1280 and sm8750 stand in.
    (GEMMA, NPU): dict(format="litert-lm", quantization="int4", max_context_tokens=1280, input_modalities=["text"],
                       backends=["npu"], target_soc="sm8750", platform=None, supports_thinking=False,
                       supports_function_calling=False, supports_speculative_decoding=False, min_runtime_version=None,
                       container_version="1.7.0", min_device_memory_gb=6, facts_status="read", facts_error=None),
    (GEMMA4, GEMMA4_FILE): dict(format="litert-lm", quantization=None, max_context_tokens=32000,
                                input_modalities=["audio", "text", "vision"], backends=["cpu", "gpu"], target_soc=None,
                                platform=None, supports_thinking=True, supports_function_calling=False,
                                supports_speculative_decoding=True, min_runtime_version=None, container_version="1.7.0",
                                min_device_memory_gb=8, facts_status="read", facts_error=None),
    (CLASSIFIER, "model.tflite"): dict(NO_HEADER, format="litert", quantization=None, max_context_tokens=None,
                                       target_soc=None, platform=None, min_device_memory_gb=4, facts_status="name_only",
                                       facts_error=None),
}


def test_every_runtime_file_gets_its_facts_in_the_apps_view(fake_hub, resources, engine):
    serve_catalog(fake_hub)

    result = materialize(resources)

    assert result.success
    files = view(engine)
    for key, expected in EXPECTED.items():
        assert {name: files[key][name] for name in FACT_NAMES} == expected, key
    assert {name: files[(MIRROR, INT4)][name] for name in FACT_NAMES} == EXPECTED[(GEMMA, INT4)]
    broken = files[(BROKEN, "model.litertlm")]
    assert (broken["facts_status"], broken["container_version"], broken["min_device_memory_gb"]) == ("unreadable", None, 6)
    assert broken["facts_error"].startswith("not a LiteRT-LM file")
    assert (files[(GEMMA, INT4)]["hf_gated"], files[(GEMMA4, GEMMA4_FILE)]["hf_gated"], files[(MIRROR, INT4)]["hf_gated"]) == ("manual", "auto", None)
    assert files[(GEMMA, INT4)]["download_url"] == f"https://huggingface.co/{GEMMA}/resolve/{GEMMA_SHA}/{INT4}"
    # Files that are no runtime files keep NULL facts.
    assert rows(engine, "SELECT DISTINCT facts_status, format, min_device_memory_gb FROM ml_model_files WHERE NOT is_runtime_file") == [
        {"facts_status": None, "format": None, "min_device_memory_gb": None}
    ]
    # Three range reads per readable header, one for the file that is none; the shared file's sha256 read once.
    int4_key = f"/{hashlib.sha256(INT4_BYTES).hexdigest()}"
    assert len([r for r in fake_hub.storage.requests if r.path == int4_key]) == 3
    assert len(fake_hub.storage.requests) == 3 * 3 + 1
    assert all("authorization" not in r.headers for r in fake_hub.storage.requests)
    resolves = [r for r in fake_hub.requests if "/resolve/" in r.path and not r.path.endswith("README.md")]
    assert resolves and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in resolves)
    metadata = facts_metadata(result)
    assert {key: metadata[key] for key in ("read", "name_only", "unreadable", "reused", "failed", "pending", "requests")} == {
        "read": 4, "name_only": 3, "unreadable": 1, "reused": 0, "failed": 0, "pending": 0, "requests": 10,
    }
    assert 0 < metadata["bytes_read"] < 3 * 16 * 1024
    assert TOKEN not in str(metadata)


def test_the_readme_queries_answer_as_written(fake_hub, resources, engine):
    serve_catalog(fake_hub)
    assert materialize(resources).success

    vision = rows(engine, readme_query("vision-on-8gb"))
    assert [(row["hf_model_id"], row["path"], row["min_device_memory_gb"]) for row in vision] == [(GEMMA4, GEMMA4_FILE, 8)]
    text = rows(engine, readme_query("text-4k-on-cpu"))
    assert [(row["hf_model_id"], row["path"], row["max_context_tokens"]) for row in text] == [
        (GEMMA, INT4, 4096), (MIRROR, INT4, 4096), (GEMMA4, GEMMA4_FILE, 32000),
    ]  # the NPU build and the .task files have no CPU backend from a header

    # A new revision: the int4 file changes, the .task stays, the web build is gone.
    changed = {**GEMMA_FILES, INT4: build_litertlm(max_num_tokens=8192, backends="cpu,gpu")}
    del changed[WEB]
    serve_catalog(fake_hub, changed, GEMMA_NEXT_SHA)
    assert materialize(resources).success

    update = readme_query("update-for-held-file")
    [int4] = rows(engine, update)
    assert (int4["status"], int4["latest_sha"], int4["held_size_bytes"], int4["latest_size_bytes"]) == (
        "updated", GEMMA_NEXT_SHA, SIZES[INT4], SIZES[INT4])
    assert int4["latest_sha256"] == hashlib.sha256(changed[INT4]).hexdigest()
    [task] = rows(engine, update.replace(INT4, TASK))
    [web] = rows(engine, update.replace(INT4, WEB))
    assert (task["status"], web["status"], web["latest_size_bytes"]) == ("current", "gone", None)
    history = rows(engine, "SELECT r.hf_sha, count(*) AS files FROM ml_model_file_revisions AS r JOIN ml_models AS m"
                           " ON m.id = r.model_id WHERE m.hf_model_id = :id GROUP BY r.hf_sha ORDER BY files", id=GEMMA)
    assert history == [{"hf_sha": GEMMA_NEXT_SHA, "files": 4}, {"hf_sha": GEMMA_SHA, "files": 5}]
    assert view(engine)[(GEMMA, INT4)]["max_context_tokens"] == 8192


def test_an_identical_rerun_reads_no_byte_and_writes_no_row(fake_hub, resources, engine):
    serve_catalog(fake_hub)
    assert materialize(resources).success
    tables = ("ml_models", "ml_model_files", "ml_model_file_revisions", "litertlm_headers")
    before = {table: rows(engine, f"SELECT xmin::text AS xmin, * FROM {table} ORDER BY 2, 3") for table in tables}
    fake_hub.requests.clear()
    fake_hub.storage.requests.clear()

    result = materialize(resources)

    assert result.success
    assert {table: rows(engine, f"SELECT xmin::text AS xmin, * FROM {table} ORDER BY 2, 3") for table in tables} == before
    assert [r.path for r in fake_hub.requests if "/resolve/" in r.path or "/revision/" in r.path] == []
    assert fake_hub.storage.requests == []
    metadata = facts_metadata(result)
    assert (metadata["read"], metadata["requests"], metadata["bytes_read"]) == (0, 0, 0)


def test_a_header_read_before_under_the_same_sha256_costs_no_request(fake_hub, resources, engine):
    serve_catalog(fake_hub)
    assert materialize(resources).success
    # Another model with the Gemma file, synced later: its facts come from litertlm_headers.
    late = hub_model("org/late-copy", "a9" * 20, [INT4])
    fake_hub.set_models([*fake_hub._models, late])
    fake_hub.set_file_contents(late["id"], late["sha"], {INT4: INT4_BYTES}, sizes=SIZES)
    fake_hub.storage.requests.clear()

    result = materialize(resources)

    assert result.success and fake_hub.storage.requests == []
    assert facts_metadata(result)["reused"] == 1
    assert view(engine)[("org/late-copy", INT4)]["max_context_tokens"] == 4096


def test_a_server_that_ignores_range_and_streams_gigabytes_is_read_within_the_byte_bound(fake_hub, resources, engine):
    serve_catalog(fake_hub)
    fake_hub.storage.ignore_range()  # every read answers 200 with the whole (multi-GB) file
    bound = 64 * 1024
    hub = hub_with(fake_hub, file_facts_max_bytes=bound)

    result = materialize({**resources, "hub": hub})

    assert result.success
    assert view(engine)[(GEMMA4, GEMMA4_FILE)]["facts_status"] == "read"
    metadata = facts_metadata(result)
    assert metadata["bytes_read"] <= 4 * bound  # four files read, each within its bound


def test_a_header_that_claims_a_terabyte_is_unreadable_after_one_read(fake_hub, resources, engine):
    lie = bytearray(INT4_BYTES)
    lie[24:32] = (2**40).to_bytes(8, "little")
    serve_catalog(fake_hub, {**GEMMA_FILES, INT4: bytes(lie)})

    assert materialize(resources).success

    row = view(engine)[(GEMMA, INT4)]
    assert row["facts_status"] == "unreadable" and "1099511627776" in row["facts_error"]
    assert (row["quantization"], row["container_version"]) == ("int4", None)  # the name's facts still apply
    assert len([r for r in fake_hub.storage.requests if r.path == f"/{hashlib.sha256(bytes(lie)).hexdigest()}"]) == 1


def test_a_503_and_a_429_that_resets_soon_are_waited_for_and_read(fake_hub, resources, engine):
    serve_catalog(fake_hub)
    fake_hub.storage.fail_next(503)
    fake_hub.fail_model(GEMMA, "file", 429, count=1, headers={
        "Retry-After": "1", "RateLimit": '"resolvers";r=0;t=1', "RateLimit-Policy": '"fixed window";"resolvers";q=3000;w=300',
    })

    result = materialize(resources)

    assert result.success
    assert facts_metadata(result)["failed"] == 0
    assert {row["facts_status"] for row in view(engine).values()} == {"read", "name_only", "unreadable"}


def test_reads_the_rate_limit_stops_stay_pending_never_fail_the_sync_and_are_read_next_run(fake_hub, resources, engine):
    serve_catalog(fake_hub)
    fake_hub.fail_model(GEMMA4, "file", 429, count=1, headers={
        "Retry-After": "60", "RateLimit": '"resolvers";r=0;t=60', "RateLimit-Policy": '"fixed window";"resolvers";q=3000;w=300',
    })

    result = materialize({**resources, "hub": hub_with(fake_hub, max_wait_seconds=2)})

    assert result.success
    assert all(result.asset_materializations_for_node(step) for step in ("ml_models", "ml_model_details"))
    metadata = facts_metadata(result)
    assert metadata["failed"] >= 1 and "rate limit" in str(metadata["first_failures"]).lower()
    assert "rate limit" in metadata["stopped_by"]
    assert view(engine)[(GEMMA4, GEMMA4_FILE)]["facts_status"] == "pending"

    result = materialize({**resources, "hub": hub_with(fake_hub, max_wait_seconds=2)})  # a new run, a new window

    assert result.success and facts_metadata(result)["failed"] == 0
    assert "pending" not in {row["facts_status"] for row in view(engine).values()}
