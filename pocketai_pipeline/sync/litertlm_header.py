"""What a `.litertlm` file's header says about it (contract rule 13), read the way the format's own
inspector (`litert_lm_builder.litertlm_peek`) reads it, from a few byte ranges of the file.

The layout is the tool's, not ours: the magic and the `major.minor.patch` version, the end of the
header as a uint64 at `HEADER_END_LOCATION_BYTE_OFFSET`, the `LiteRTLMMetaData` FlatBuffer from
`HEADER_BEGIN_BYTE_OFFSET` to that end, and the `LlmMetadata` protobuf in the byte range its section
object names. Item values are decoded with `litertlm_peek.kvp_to_dict`.

Choices the format leaves open:
- The main model is the first `TFLiteModel` section of an LLM model type (`tf_lite_prefill_decode`, then
  `tf_lite_artisan_text_decoder`, the two the builder's `is_llm_model` counts), else the first
  `TFLiteModel` section; its `backend_constraint` gives the backends.
- A file takes `vision` for any section of a vision model type (encoder, adapter or end-of-vision: the
  builder's `is_vision_model`) and `audio` for any section of an audio model type; `text` always.
- litert-lm-builder 0.18 has no fixed key for the target SoC, so it is a string item `soc_model` or
  `target_soc`, in the system metadata first, then in the main model section.
"""

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from litert_lm_builder.litertlm_builder import TfLiteModelType
from litert_lm_builder.litertlm_core import (
    HEADER_BEGIN_BYTE_OFFSET,
    HEADER_END_LOCATION_BYTE_OFFSET,
    HEADER_MAGIC_BYTES,
)
from litert_lm_builder.litertlm_header_schema_py_generated import AnySectionDataType, LiteRTLMMetaData
from litert_lm_builder.litertlm_peek import kvp_to_dict
from litert_lm_builder.runtime.proto.llm_metadata_pb2 import LlmMetadata

from pocketai_pipeline.sync.file_facts import HeaderFacts

_MAIN_MODEL_TYPES = (TfLiteModelType.PREFILL_DECODE.value, TfLiteModelType.ARTISAN_TEXT_DECODER.value)
_VISION_MODEL_TYPES = frozenset(
    t.value for t in (TfLiteModelType.VISION_ENCODER, TfLiteModelType.VISION_ADAPTER, TfLiteModelType.END_OF_VISION)
)
_AUDIO_MODEL_TYPES = frozenset(
    t.value
    for t in (
        TfLiteModelType.AUDIO_FRONTEND,
        TfLiteModelType.AUDIO_ENCODER_HW,
        TfLiteModelType.AUDIO_ADAPTER,
        TfLiteModelType.END_OF_AUDIO,
    )
)
_DRAFTER_MODEL_TYPE = TfLiteModelType.MTP_DRAFTER.value
_SOC_KEYS = ("soc_model", "target_soc")


class UnreadableHeader(ValueError):
    """The file is not a LiteRT-LM file we can read within the byte bound; the message says why."""


@dataclass(frozen=True)
class _Section:
    data_type: int
    items: dict[str, Any]
    begin: int
    end: int

    @property
    def model_type(self) -> str | None:
        value = self.items.get("model_type")
        return value if isinstance(value, str) else None


class _BoundedReader:
    """Hands out byte ranges of the file while the bytes asked for, all ranges together, stay within `max_bytes`."""

    def __init__(self, read: Callable[[int, int], bytes], max_bytes: int) -> None:
        self._read = read
        self._left = max_bytes
        self._max_bytes = max_bytes

    def read(self, start: int, end: int, what: str) -> bytes:
        if end - start > self._left:
            raise UnreadableHeader(f"reading {what} (bytes {start}..{end}) would pass the {self._max_bytes}-byte bound")
        self._left -= end - start
        data = self._read(start, end)[: end - start]
        if len(data) < end - start:
            raise UnreadableHeader(f"the file ends at byte {start + len(data)}, inside {what} (bytes {start}..{end})")
        return data


def read_header_facts(read: Callable[[int, int], bytes], max_bytes: int) -> HeaderFacts:
    """The facts of a `.litertlm` file's header; `read(start, end)` returns bytes [start, end) of the file (it
    may return fewer bytes at EOF). Never asks `read` for more than `max_bytes` bytes in total.

    Raises UnreadableHeader when the file is not LiteRT-LM, its header lies past `max_bytes`, or it does not parse;
    what `read` raises passes through, since a failed request says nothing about the file.
    """
    reader = _BoundedReader(read, max_bytes)
    prefix = reader.read(0, HEADER_BEGIN_BYTE_OFFSET, "the file's prefix")
    if prefix[: len(HEADER_MAGIC_BYTES)] != HEADER_MAGIC_BYTES:
        raise UnreadableHeader(f"not a LiteRT-LM file (magic {prefix[: len(HEADER_MAGIC_BYTES)]!r})")
    major, minor, patch = struct.unpack_from("<III", prefix, len(HEADER_MAGIC_BYTES))
    (header_end,) = struct.unpack_from("<Q", prefix, HEADER_END_LOCATION_BYTE_OFFSET)
    if header_end > max_bytes:
        raise UnreadableHeader(f"the header claims to end at byte {header_end}, past the {max_bytes}-byte bound")
    if header_end <= HEADER_BEGIN_BYTE_OFFSET:
        raise UnreadableHeader(f"the header claims to end at byte {header_end}, before it begins")
    system, sections = _parse_metadata(reader.read(HEADER_BEGIN_BYTE_OFFSET, header_end, "the header"))
    llm = _llm_metadata(reader, sections)
    main = _main_model(sections)
    model_types = {section.model_type for section in sections}
    return HeaderFacts(
        container_version=f"{major}.{minor}.{patch}",
        max_context_tokens=llm.max_num_tokens if llm and llm.max_num_tokens > 0 else None,
        input_modalities=sorted(
            {"text"}
            | ({"vision"} if model_types & _VISION_MODEL_TYPES else set())
            | ({"audio"} if model_types & _AUDIO_MODEL_TYPES else set())
        ),
        backends=_backends(main.items.get("backend_constraint") if main else None),
        target_soc=_target_soc(system, main.items if main else {}),
        supports_thinking=_optional(llm, "supports_thinking"),
        supports_function_calling=_optional(llm, "supports_function_calling"),
        supports_speculative_decoding=_DRAFTER_MODEL_TYPE in model_types,
        min_runtime_version=_text(_optional(llm, "min_runtime_version")),
    )


def _parse_metadata(header: bytes) -> tuple[dict[str, Any], list[_Section]]:
    """The system metadata items and the section objects of the `LiteRTLMMetaData` FlatBuffer.

    The generated Python classes do not verify a buffer, so a corrupt one fails anywhere as it is walked; a
    buffer also cannot hold more entries than it has 4-byte offsets, which stops a loop of aliased vectors early.
    """
    try:
        metadata = LiteRTLMMetaData.GetRootAs(header, 0)
        entry_budget = len(header) // 4
        system_table = metadata.SystemMetadata()
        entries = [system_table.Entries(i) for i in range(system_table.EntriesLength())] if system_table else []
        section_table = metadata.SectionMetadata()
        objects = [section_table.Objects(i) for i in range(section_table.ObjectsLength())] if section_table else []
        entry_budget -= len(entries) + len(objects)
        sections = []
        for section in objects:
            entry_budget -= section.ItemsLength()
            if entry_budget < 0:
                raise ValueError("more entries than the buffer can hold")
            items = _items(section.Items(i) for i in range(section.ItemsLength()))
            sections.append(_Section(section.DataType(), items, section.BeginOffset(), section.EndOffset()))
        return _items(entries), sections
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise UnreadableHeader(f"the header is not a readable LiteRT-LM FlatBuffer ({reason})") from exc


def _items(pairs: Any) -> dict[str, Any]:
    """Key → value of FlatBuffer KeyValuePairs, decoded as `litertlm_peek` does; the first of a repeated key wins."""
    items: dict[str, Any] = {}
    for pair in pairs:
        item = kvp_to_dict(pair)
        if item["key"] is not None:
            items.setdefault(item["key"], item["value"])
    return items


def _llm_metadata(reader: _BoundedReader, sections: list[_Section]) -> LlmMetadata | None:
    """The first `LlmMetadataProto` section, parsed; None when the file has none (not an error)."""
    section = next((s for s in sections if s.data_type == AnySectionDataType.LlmMetadataProto), None)
    if section is None:
        return None
    if section.end < section.begin:
        raise UnreadableHeader(f"the LLM metadata section ends (byte {section.end}) before it begins ({section.begin})")
    llm = LlmMetadata()
    try:
        llm.ParseFromString(reader.read(section.begin, section.end, "the LLM metadata"))
    except DecodeError as exc:
        raise UnreadableHeader(f"the LLM metadata is not a valid LlmMetadata protobuf ({exc})") from exc
    return llm


def _main_model(sections: list[_Section]) -> _Section | None:
    models = [s for s in sections if s.data_type == AnySectionDataType.TFLiteModel]
    for model_type in _MAIN_MODEL_TYPES:
        for model in models:
            if model.model_type == model_type:
                return model
    return models[0] if models else None


def _backends(constraint: Any) -> list[str] | None:
    """`"cpu, GPU"` → `["cpu", "gpu"]`; None when the main model has no (string) constraint."""
    if not isinstance(constraint, str):
        return None
    return sorted({backend.lower() for part in constraint.split(",") if (backend := _text(part))}) or None


def _target_soc(*item_sets: dict[str, Any]) -> str | None:
    for items in item_sets:
        for key in _SOC_KEYS:
            if soc := _text(items.get(key)):
                return soc.lower()
    return None


def _optional(llm: LlmMetadata | None, field: str) -> Any:
    """A proto3 `optional` field's value, or None when the file does not set it."""
    return getattr(llm, field) if llm is not None and llm.HasField(field) else None


def _text(value: Any) -> str | None:
    """A string the catalog can store: trimmed, without NULs (PostgreSQL text holds none); None when empty."""
    return (value.replace("\x00", "").strip() or None) if isinstance(value, str) else None
