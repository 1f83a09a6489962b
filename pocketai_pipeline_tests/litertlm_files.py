"""Real, tiny `.litertlm` files, written by the format's own builder (`litert_lm_builder`), for header tests.

Sections hold a few dummy bytes: the builder copies a model's bytes without reading them, so no real
TFLite FlatBuffer is needed. `prefer_activation_type` is never set (the builder prints it to stdout).
"""

import functools
import hashlib
import re
import struct
import tempfile
from pathlib import Path

import flatbuffers
from litert_lm_builder import DType, LitertLmFileBuilder, Metadata, TfLiteModelType
from litert_lm_builder import litertlm_header_schema_py_generated as schema
from litert_lm_builder.runtime.proto.llm_metadata_pb2 import LlmMetadata


@functools.cache
def build_litertlm(
    *,
    llm_metadata: bool = True,
    prefill_decode: bool = True,
    max_num_tokens: int | None = 4096,
    vision: bool = False,
    audio: bool = False,
    drafter: bool = False,
    backends: str | None = "cpu,gpu",
    soc: str | None = None,
    soc_in_model_section: bool = False,
    thinking: bool | None = False,
    function_calling: bool | None = False,
    min_runtime_version: str | None = None,
    padding_bytes: int = 0,
) -> bytes:
    """The bytes of a `.litertlm` file with LLM metadata, a tokenizer and a prefill-decode model, plus the sections
    asked for, in the order Google's own files have them: the LLM metadata first, right after the header, and
    the encoders (vision, audio) and drafter before the main model.

    `llm_metadata=False` leaves out the LlmMetadata section and `prefill_decode=False` the main model;
    `max_num_tokens=None` leaves its field unset.
    `soc` is a string item `soc_model`, in the system metadata or (`soc_in_model_section`) the main model's
    section. `padding_bytes` adds a weights section of that many bytes, for a file of a given size.
    """
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)

        def dummy(name: str, size: int = 16) -> str:
            path = root / name
            path.write_bytes(b"\xab" * size)
            return str(path)

        soc_item = [Metadata(key="soc_model", value=soc, dtype=DType.STRING)] if soc else []
        builder = LitertLmFileBuilder()
        builder.add_system_metadata(Metadata(key="Authors", value="pocketai tests", dtype=DType.STRING))
        if soc_item and not soc_in_model_section:
            builder.add_system_metadata(soc_item[0])
        if llm_metadata:
            proto = root / "llm_metadata.pb"
            proto.write_bytes(LlmMetadata(max_num_tokens=max_num_tokens or 0).SerializeToString())
            builder.add_llm_metadata(
                str(proto),
                min_runtime_version=min_runtime_version,
                supports_thinking=thinking,
                supports_function_calling=function_calling,
            )
        builder.add_sentencepiece_tokenizer(dummy("tokenizer.spiece"))
        if vision:
            builder.add_tflite_model(dummy("vision.tflite"), TfLiteModelType.VISION_ENCODER, backend_constraint="gpu")
        if audio:
            builder.add_tflite_model(dummy("audio.tflite"), TfLiteModelType.AUDIO_ENCODER_HW, backend_constraint="cpu")
        if drafter:
            builder.add_tflite_model(dummy("drafter.tflite"), TfLiteModelType.MTP_DRAFTER)
        if prefill_decode:
            builder.add_tflite_model(
                dummy("prefill_decode.tflite"),
                TfLiteModelType.PREFILL_DECODE,
                backend_constraint=backends,
                additional_metadata=soc_item if soc_in_model_section else None,
            )
        if padding_bytes:
            builder.add_tflite_weights(dummy("weights.bin", padding_bytes), TfLiteModelType.PREFILL_DECODE)
        output = root / "model.litertlm"
        with output.open("wb") as stream:
            builder.build(stream)
        return output.read_bytes()


def aliased_litertlm(sections: int, items: int) -> bytes:
    """A file whose header lists one section `sections` times, each with the same item `items` times: a few
    bytes per entry, `sections × items` entries for a reader that walks them all (the builder never writes this)."""
    builder = flatbuffers.Builder(0)
    key, text = builder.CreateString("model_type"), builder.CreateString(TfLiteModelType.PREFILL_DECODE.value)
    schema.StringValueStart(builder)
    schema.StringValueAddValue(builder, text)
    value = schema.StringValueEnd(builder)
    schema.KeyValuePairStart(builder)
    schema.KeyValuePairAddKey(builder, key)
    schema.KeyValuePairAddValueType(builder, schema.VData.StringValue)
    schema.KeyValuePairAddValue(builder, value)
    item_vector = _repeated(builder, schema.KeyValuePairEnd(builder), items)
    schema.SectionObjectStart(builder)
    schema.SectionObjectAddItems(builder, item_vector)
    schema.SectionObjectAddDataType(builder, schema.AnySectionDataType.TFLiteModel)
    objects = _repeated(builder, schema.SectionObjectEnd(builder), sections)
    schema.SectionMetadataStart(builder)
    schema.SectionMetadataAddObjects(builder, objects)
    section_metadata = schema.SectionMetadataEnd(builder)
    schema.LiteRTLMMetaDataStart(builder)
    schema.LiteRTLMMetaDataAddSectionMetadata(builder, section_metadata)
    builder.Finish(schema.LiteRTLMMetaDataEnd(builder))
    header = bytes(builder.Output())
    return b"LITERTLM" + struct.pack("<IIIIQ", 1, 7, 0, 0, 32 + len(header)) + header


def _repeated(builder: flatbuffers.Builder, table: int, count: int) -> int:
    builder.StartVector(4, count, 4)
    for _ in range(count):
        builder.PrependUOffsetTRelative(table)
    return builder.EndVector()


def synthetic_litertlm(model_id: str, path: str) -> bytes:
    """A header for a synthetic model's `.litertlm` file, its facts drawn from a hash of id and path (the
    context length from an `ekv<N>` in the name when there is one, as in real files): what the fake Hub
    serves for files it was not given."""
    digest = hashlib.sha256(f"{model_id}\0{path}".encode()).digest()
    context = re.search(r"ekv(\d+)", path.lower())
    return build_litertlm(
        max_num_tokens=int(context[1]) if context else (1024, 4096, 32768)[digest[0] % 3],
        vision=digest[1] % 3 == 0,
        audio=digest[2] % 4 == 0,
        drafter=digest[3] % 5 == 0,
        backends=("cpu,gpu", "cpu", "npu")[digest[4] % 3],
        soc="SM8750" if digest[4] % 3 == 2 else None,
        thinking=digest[5] % 2 == 0,
        function_calling=digest[6] % 2 == 0,
        min_runtime_version=("0.7.0", None)[digest[7] % 2],
    )
