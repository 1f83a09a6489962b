"""Runtime-file facts (rule 13), pure: headers of real `.litertlm` files written by litert-lm-builder, the
name rules, the RAM rule against Gallery's own values, and the `ml_model_files` columns they make."""

import io
import re
import struct

import pytest
from litert_lm_builder import peek_litertlm_file
from litert_lm_builder.runtime.proto.llm_metadata_pb2 import LlmMetadata

from pocketai_pipeline.sync.file_facts import (
    FACT_COLUMNS,
    HeaderFacts,
    NameFacts,
    file_facts,
    min_device_memory_gb,
    name_facts,
)
from pocketai_pipeline.sync.litertlm_header import UnreadableHeader, read_header_facts
from pocketai_pipeline_tests.litertlm_files import aliased_litertlm, build_litertlm

MAX_BYTES = 4_194_304  # POCKETAI_FILE_FACTS_MAX_BYTES's default

# google-ai-edge/gallery model_allowlists/1_0_20.json, its 9 LLMs: (file, sizeInBytes, minDeviceMemoryInGb).
GALLERY_LLMS = [
    ("gemma-4-E2B-it.litertlm", 2588147712, 8),
    ("gemma-4-E4B-it.litertlm", 3659530240, 12),
    ("gemma-3n-E2B-it-int4.litertlm", 3655827456, 8),
    ("gemma-3n-E4B-it-int4.litertlm", 4919541760, 12),
    ("gemma3-1b-it-int4.litertlm", 584417280, 6),
    ("Qwen2.5-1.5B-Instruct_multi-prefill-seq_q8_ekv4096.litertlm", 1597931520, 6),
    ("DeepSeek-R1-Distill-Qwen-1.5B_multi-prefill-seq_q8_ekv4096.litertlm", 1833451520, 6),
    ("tiny_garden_q8_ekv1024.litertlm", 288964608, 6),
    ("mobile_actions_q8_ekv1024.litertlm", 288964608, 6),
]


class CountingReader:
    """A file's byte ranges, counting every byte asked for; `ignore_range` answers like a server that sends it all."""

    def __init__(self, data: bytes, ignore_range: bool = False) -> None:
        self.data = data
        self.ignore_range = ignore_range
        self.asked = 0

    def __call__(self, start: int, end: int) -> bytes:
        self.asked += end - start
        return self.data[start:] if self.ignore_range else self.data[start:end]


def facts_of(data: bytes, max_bytes: int = MAX_BYTES) -> HeaderFacts:
    return read_header_facts(CountingReader(data), max_bytes)


def header_end(data: bytes) -> int:
    return struct.unpack_from("<Q", data, 24)[0]


def test_a_plain_llm_bundle():
    assert facts_of(build_litertlm()) == HeaderFacts(
        container_version="1.7.0",
        max_context_tokens=4096,
        input_modalities=["text"],
        backends=["cpu", "gpu"],
        target_soc=None,
        supports_thinking=False,
        supports_function_calling=False,
        supports_speculative_decoding=False,
        min_runtime_version=None,
    )


def test_a_multimodal_bundle_with_every_field():
    data = build_litertlm(
        max_num_tokens=32768,
        vision=True,
        audio=True,
        drafter=True,
        backends="gpu, CPU",
        soc="SM8750",
        thinking=True,
        function_calling=True,
        min_runtime_version="0.10.1",
    )
    assert facts_of(data) == HeaderFacts(
        container_version="1.7.0",
        max_context_tokens=32768,
        input_modalities=["audio", "text", "vision"],
        backends=["cpu", "gpu"],
        target_soc="sm8750",
        supports_thinking=True,
        supports_function_calling=True,
        supports_speculative_decoding=True,
        min_runtime_version="0.10.1",
    )


@pytest.mark.parametrize(
    ("built_with", "field", "expected"),
    [
        ({"vision": True}, "input_modalities", ["text", "vision"]),
        ({"audio": True}, "input_modalities", ["audio", "text"]),
        ({"drafter": True}, "supports_speculative_decoding", True),
        ({"drafter": False}, "supports_speculative_decoding", False),
        ({"backends": None}, "backends", None),
        ({"backends": "npu"}, "backends", ["npu"]),
        ({"backends": "gpu,cpu,gpu"}, "backends", ["cpu", "gpu"]),
        ({"soc": "MT6991"}, "target_soc", "mt6991"),
        ({"soc": "SM8650", "soc_in_model_section": True}, "target_soc", "sm8650"),
        ({"soc": None}, "target_soc", None),
        ({"thinking": True}, "supports_thinking", True),
        ({"thinking": False}, "supports_thinking", False),
        ({"thinking": None}, "supports_thinking", None),
        ({"function_calling": True}, "supports_function_calling", True),
        ({"function_calling": False}, "supports_function_calling", False),
        ({"function_calling": None}, "supports_function_calling", None),
        ({"min_runtime_version": "0.9.0"}, "min_runtime_version", "0.9.0"),
        ({"min_runtime_version": None}, "min_runtime_version", None),
        ({"max_num_tokens": 1280}, "max_context_tokens", 1280),
        ({"max_num_tokens": 0}, "max_context_tokens", None),
        ({"max_num_tokens": None}, "max_context_tokens", None),
    ],
)
def test_each_header_fact(built_with, field, expected):
    assert getattr(facts_of(build_litertlm(**built_with)), field) == expected


def test_the_main_model_is_the_prefill_decode_section_not_the_first_model():
    facts = facts_of(build_litertlm(vision=True, audio=True, backends="npu"))
    assert facts.backends == ["npu"]  # the encoders before it are constrained to gpu and cpu


def test_strings_another_tool_wrote_in_capitals_or_with_nuls_are_lower_cased_and_cleaned():
    data = build_litertlm(backends="npu,gpu", soc="sm87500", min_runtime_version="0.9.0x")
    patched = data.replace(b"npu,gpu", b"NPU,GPU").replace(b"sm87500", b"SM8750\x00").replace(b"0.9.0x", b"0.9.0\x00")
    assert len(patched) == len(data) and b"SM8750\x00" in patched and b"0.9.0\x00" in patched
    facts = facts_of(patched)
    assert (facts.backends, facts.target_soc, facts.min_runtime_version) == (["gpu", "npu"], "sm8750", "0.9.0")


def test_without_a_prefill_decode_section_the_first_model_is_the_main_one():
    assert facts_of(build_litertlm(prefill_decode=False, vision=True)).backends == ["gpu"]


def test_without_llm_metadata_the_llm_facts_stay_unknown():
    facts = facts_of(build_litertlm(llm_metadata=False, thinking=True, min_runtime_version="1.0.0"))
    assert (facts.max_context_tokens, facts.supports_thinking, facts.supports_function_calling) == (None, None, None)
    assert facts.min_runtime_version is None
    assert (facts.container_version, facts.backends) == ("1.7.0", ["cpu", "gpu"])


def test_the_facts_are_what_the_formats_own_inspector_reports(tmp_path):
    data = build_litertlm(max_num_tokens=2048, drafter=True)
    path = tmp_path / "model.litertlm"
    path.write_bytes(data)
    report = io.StringIO()
    peek_litertlm_file(str(path), None, report)
    facts = facts_of(data)
    assert f"LiteRT-LM Version: {facts.container_version}" in report.getvalue()
    assert f"max_num_tokens: {facts.max_context_tokens}" in report.getvalue()
    assert "Value (String): tf_lite_mtp_drafter" in report.getvalue()


def test_reads_only_the_header_and_the_llm_metadata_of_a_big_file():
    data = build_litertlm(padding_bytes=5_000_000)
    reader = CountingReader(data)
    assert len(data) > MAX_BYTES
    assert read_header_facts(reader, MAX_BYTES).max_context_tokens == 4096
    llm_metadata = LlmMetadata(max_num_tokens=4096, supports_thinking=False, supports_function_calling=False)
    assert reader.asked == header_end(data) + len(llm_metadata.SerializeToString())


def test_never_asks_for_more_than_max_bytes_in_total():
    data = build_litertlm()
    needed = CountingReader(data)
    read_header_facts(needed, MAX_BYTES)
    assert read_header_facts(CountingReader(data), needed.asked) == facts_of(data)
    short = CountingReader(data)
    reason = rf"reading the LLM metadata \(bytes 16384\.\.\d+\) would pass the {needed.asked - 1}-byte bound"
    with pytest.raises(UnreadableHeader, match=reason):
        read_header_facts(short, needed.asked - 1)
    assert short.asked <= needed.asked - 1


def test_a_server_that_ignores_range_changes_nothing():
    data = build_litertlm(soc="sm8750")
    assert read_header_facts(CountingReader(data, ignore_range=True), MAX_BYTES) == facts_of(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04" + bytes(60), r"not a LiteRT-LM file \(magic b'PK\\x03\\x04\\x00\\x00\\x00\\x00'\)"),
        (b"\x1c\x00\x00\x00TFL3" + bytes(60), r"not a LiteRT-LM file \(magic b'\\x1c\\x00\\x00\\x00TFL3'\)"),
        (b"LITERTLM\x01\x00", r"the file ends at byte 10, inside the file's prefix \(bytes 0\.\.32\)"),
        (b"", r"the file ends at byte 0, inside the file's prefix"),
    ],
)
def test_not_a_litertlm_file(data, reason):
    with pytest.raises(UnreadableHeader, match=reason):
        facts_of(data)


def _with_header_end(data: bytes, end: int) -> bytes:
    return data[:24] + struct.pack("<Q", end) + data[32:]


def test_a_header_claiming_to_end_past_the_bound_is_refused_after_32_bytes():
    reader = CountingReader(_with_header_end(build_litertlm(), 2**40))
    reason = r"^the header claims to end at byte 1099511627776, past the 4194304-byte bound$"
    with pytest.raises(UnreadableHeader, match=reason):
        read_header_facts(reader, MAX_BYTES)
    assert reader.asked == 32


def test_a_header_ending_before_it_begins_is_refused():
    with pytest.raises(UnreadableHeader, match="the header claims to end at byte 16, before it begins"):
        facts_of(_with_header_end(build_litertlm(), 16))


def test_a_file_cut_inside_its_header_is_refused():
    data = build_litertlm()
    reason = rf"the file ends at byte 100, inside the header \(bytes 32\.\.{header_end(data)}\)"
    with pytest.raises(UnreadableHeader, match=reason):
        facts_of(data[:100])


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda data: _with_header_end(data, 40), id="truncated"),
        pytest.param(lambda data: data[:32] + b"\xff" * (header_end(data) - 32) + data[header_end(data) :], id="ff"),
    ],
)
def test_a_corrupt_flatbuffer_is_refused(corrupt):
    with pytest.raises(UnreadableHeader, match="the header is not a readable LiteRT-LM FlatBuffer"):
        facts_of(corrupt(build_litertlm()))


def test_a_header_naming_more_entries_than_its_bytes_hold_is_refused_without_walking_them():
    assert facts_of(aliased_litertlm(sections=3, items=3)).container_version == "1.7.0"
    with pytest.raises(UnreadableHeader, match="more entries than the buffer can hold"):
        facts_of(aliased_litertlm(sections=2000, items=2000))  # 4 million entries in 16 kB


def test_corrupt_llm_metadata_is_refused():
    data = build_litertlm(max_num_tokens=4096, thinking=None, function_calling=None)
    llm_metadata = LlmMetadata(max_num_tokens=4096).SerializeToString()
    at = data.index(llm_metadata, header_end(data))
    corrupt = data[:at] + b"\xff" * len(llm_metadata) + data[at + len(llm_metadata) :]
    with pytest.raises(UnreadableHeader, match="the LLM metadata is not a valid LlmMetadata protobuf"):
        facts_of(corrupt)


def test_llm_metadata_ending_before_it_begins_is_refused():
    data = build_litertlm(max_num_tokens=4096, thinking=None, function_calling=None)
    begin = data.index(LlmMetadata(max_num_tokens=4096).SerializeToString(), header_end(data))
    end = begin + len(LlmMetadata(max_num_tokens=4096).SerializeToString())
    header = data[: header_end(data)]
    assert header.count(struct.pack("<Q", end)) == 1
    swapped = header.replace(struct.pack("<Q", end), struct.pack("<Q", begin - 1)) + data[header_end(data) :]
    reason = rf"the LLM metadata section ends \(byte {begin - 1}\) before it begins \({begin}\)"
    with pytest.raises(UnreadableHeader, match=reason):
        facts_of(swapped)


def test_a_file_cut_inside_its_llm_metadata_is_refused():
    data = build_litertlm()
    with pytest.raises(UnreadableHeader, match=r"the file ends at byte 16386, inside the LLM metadata \(bytes 16384\."):
        facts_of(data[:16386])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("gemma3-1b-it-int4.litertlm", NameFacts("int4", None, None, None)),
        ("Gemma3-1B-IT_multi-prefill-seq_q4_ekv1280.task", NameFacts("int4", 1280, None, None)),
        ("Qwen2.5-1.5B-Instruct_multi-prefill-seq_q8_ekv4096.litertlm", NameFacts("int8", 4096, None, None)),
        ("model_4bit.tflite", NameFacts("int4", None, None, None)),
        ("model_W4A8.tflite", NameFacts("int4", None, None, None)),
        ("model_w4a16.tflite", NameFacts("int4", None, None, None)),
        ("model_INT8.tflite", NameFacts("int8", None, None, None)),
        ("model_8bit.tflite", NameFacts("int8", None, None, None)),
        ("model_w8a8.tflite", NameFacts("int8", None, None, None)),
        ("model_w8a16.tflite", NameFacts("int8", None, None, None)),
        ("model_fp16.tflite", NameFacts("fp16", None, None, None)),
        ("model_f16.tflite", NameFacts("fp16", None, None, None)),
        ("model_float16.tflite", NameFacts("fp16", None, None, None)),
        ("model_fp32.tflite", NameFacts("fp32", None, None, None)),
        ("model.f32.tflite", NameFacts("fp32", None, None, None)),
        ("model-Float32.tflite", NameFacts("fp32", None, None, None)),
        ("model_int8_fp16.tflite", NameFacts("int8", None, None, None)),  # the first token wins
        ("gemma3-1b-it-int4-fp16.litertlm", NameFacts("int4", None, None, None)),
        ("Gemma3-1B-IT_q4_ekv1280_sm8750.litertlm", NameFacts("int4", 1280, "sm8750", None)),
        ("Gemma3-1B-IT_q4_ekv1280_MT6991.litertlm", NameFacts("int4", 1280, "mt6991", None)),
        ("gemma3-1b-it-int4-Web.task", NameFacts("int4", None, None, "web")),
        ("q8/web/model.tflite", NameFacts(None, None, None, None)),  # only the base name counts
        ("int4/gemma3-1b-it.litertlm", NameFacts(None, None, None, None)),
        ("model_ekv4096_ekv1024.tflite", NameFacts(None, 4096, None, None)),
        ("model_ekv0.tflite", NameFacts(None, None, None, None)),
        ("model_ekv99999999999.tflite", NameFacts(None, None, None, None)),  # more than the integer column holds
        # near misses
        ("model_int44.tflite", NameFacts(None, None, None, None)),
        ("model_q4k.tflite", NameFacts(None, None, None, None)),
        ("model_q4_K_M.tflite", NameFacts("int4", None, None, None)),
        ("model_webgpu.tflite", NameFacts(None, None, None, None)),
        ("model_ekv.tflite", NameFacts(None, None, None, None)),
        ("model_ekv4096x.tflite", NameFacts(None, None, None, None)),
        ("model_sm.tflite", NameFacts(None, None, None, None)),
        ("model_smx8750.tflite", NameFacts(None, None, None, None)),
        ("model_sm8750x.tflite", NameFacts(None, None, None, None)),
        ("gemma3-1b.litertlm", NameFacts(None, None, None, None)),
        ("model_w4.tflite", NameFacts(None, None, None, None)),
        ("model_float16x.tflite", NameFacts(None, None, None, None)),
        ("model_xint8.tflite", NameFacts(None, None, None, None)),
        ("model_fp16x2.tflite", NameFacts(None, None, None, None)),
        ("model_é_int8.tflite", NameFacts("int8", None, None, None)),  # a non-ASCII letter separates tokens
    ],
)
def test_name_facts(path, expected):
    assert name_facts(path) == expected


@pytest.mark.parametrize(
    ("size_bytes", "format", "expected"),
    [
        (0, "litert-lm", 6),
        (0, "litert", 4),
        (0, "mediapipe-task", 4),
        (int(1.6 * 2**30), "litert", 4),  # 4.0 GiB of RAM: exactly the tier
        (int(1.61 * 2**30), "litert", 6),
        (int(2.4 * 2**30), "mediapipe-task", 6),
        (int(2.41 * 2**30), "litert-lm", 8),
        (5 * 2**30, "litert-lm", 16),
        (9 * 2**30, "litert-lm", 24),
        (12 * 2**30, "litert-lm", 32),
        (100 * 2**30, "litert-lm", 32),
    ],
)
def test_min_device_memory_gb(size_bytes, format, expected):
    assert min_device_memory_gb(size_bytes, format) == expected


def test_the_memory_rule_agrees_with_gallery_on_8_of_its_9_llms():
    ours = {name: min_device_memory_gb(size, "litert-lm") for name, size, _ in GALLERY_LLMS}
    for name, size, gallery in GALLERY_LLMS:
        print(f"{name:70} {size / 2**30:5.2f} GiB  Gallery {gallery:2} GB  ours {ours[name]:2} GB")
    differing = [name for name, _, gallery in GALLERY_LLMS if ours[name] != gallery]
    assert differing == ["gemma-3n-E2B-it-int4.litertlm"]
    assert ours["gemma-3n-E2B-it-int4.litertlm"] == 12


def test_file_facts_of_a_tflite_file_come_from_its_name():
    assert file_facts("gpu/model_fp16_sm8750_web.tflite", 50 * 2**20, None) == {
        "format": "litert",
        "quantization": "fp16",
        "max_context_tokens": None,
        "input_modalities": None,
        "backends": None,
        "target_soc": "sm8750",
        "platform": "web",
        "supports_thinking": None,
        "supports_function_calling": None,
        "supports_speculative_decoding": None,
        "min_runtime_version": None,
        "container_version": None,
        "min_device_memory_gb": 4,
    }


def test_file_facts_of_a_task_file_come_from_its_name():
    facts = file_facts("Gemma3-1B-IT_multi-prefill-seq_q4_ekv1280.TASK", 554_661_243, None)
    assert tuple(facts) == FACT_COLUMNS
    assert (facts["format"], facts["quantization"], facts["max_context_tokens"]) == ("mediapipe-task", "int4", 1280)
    assert (facts["min_device_memory_gb"], facts["supports_speculative_decoding"], facts["backends"]) == (4, None, None)


def test_file_facts_of_a_litertlm_file_with_its_header():
    header = facts_of(build_litertlm(max_num_tokens=32768, vision=True, drafter=True, soc="SM8650", thinking=True))
    facts = file_facts("litert/gemma-4-E2B-it_q4_ekv1024_sm8750.litertlm", 2588147712, header)
    assert facts == {
        "format": "litert-lm",
        "quantization": "int4",
        "max_context_tokens": 32768,  # the header wins over the name
        "input_modalities": ["text", "vision"],
        "backends": ["cpu", "gpu"],
        "target_soc": "sm8650",
        "platform": None,
        "supports_thinking": True,
        "supports_function_calling": False,
        "supports_speculative_decoding": True,
        "min_runtime_version": None,
        "container_version": "1.7.0",
        "min_device_memory_gb": 8,
    }


def test_the_name_fills_in_what_the_header_does_not_say():
    header = facts_of(build_litertlm(max_num_tokens=0, soc=None))
    facts = file_facts("model_q8_ekv4096_mt6991.litertlm", 288964608, header)
    assert (facts["max_context_tokens"], facts["target_soc"], facts["container_version"]) == (4096, "mt6991", "1.7.0")


def test_an_unreadable_litertlm_file_keeps_only_its_name_facts():
    facts = file_facts("tiny_garden_q8_ekv1024.litertlm", 288964608, None)
    header_only = {"container_version", "input_modalities", "backends", "supports_thinking",
                   "supports_function_calling", "supports_speculative_decoding", "min_runtime_version"}  # fmt: skip
    assert {column for column, value in facts.items() if value is None} == header_only | {"target_soc", "platform"}
    assert (facts["quantization"], facts["max_context_tokens"], facts["min_device_memory_gb"]) == ("int8", 1024, 6)


def test_the_keys_are_the_contract_columns():
    assert FACT_COLUMNS == (
        "format", "quantization", "max_context_tokens", "input_modalities", "backends", "target_soc", "platform",
        "supports_thinking", "supports_function_calling", "supports_speculative_decoding", "min_runtime_version",
        "container_version", "min_device_memory_gb",
    )  # fmt: skip
    assert re.fullmatch(r"\d+\.\d+\.\d+", facts_of(build_litertlm()).container_version)
