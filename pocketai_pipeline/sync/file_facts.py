"""What a runtime file is and needs (contract rule 13): facts from its name, the device RAM it needs,
and the `ml_model_files` columns they make together with its header's facts."""

import re
from dataclasses import dataclass
from typing import Any

from pocketai_pipeline.sync.files import runtime_format


@dataclass(frozen=True)
class HeaderFacts:
    """What a `.litertlm` file's header says (`sync.litertlm_header` reads it)."""

    container_version: str
    max_context_tokens: int | None
    input_modalities: list[str]
    backends: list[str] | None
    target_soc: str | None
    supports_thinking: bool | None
    supports_function_calling: bool | None
    supports_speculative_decoding: bool
    min_runtime_version: str | None


# The `ml_model_files` columns rule 13 fills, in the contract's order.
FACT_COLUMNS = (
    "format",
    "quantization",
    "max_context_tokens",
    "input_modalities",
    "backends",
    "target_soc",
    "platform",
    "supports_thinking",
    "supports_function_calling",
    "supports_speculative_decoding",
    "min_runtime_version",
    "container_version",
    "min_device_memory_gb",
)
_HEADER_ONLY = (
    "container_version",
    "input_modalities",
    "backends",
    "supports_thinking",
    "supports_function_calling",
    "supports_speculative_decoding",
    "min_runtime_version",
)

_QUANTIZATION_BY_TOKEN = (
    ("int4", re.compile(r"int4|q4|4bit|w4a[a-z0-9]*")),
    ("int8", re.compile(r"int8|q8|8bit|w8a[a-z0-9]*")),
    ("fp16", re.compile(r"fp16|f16|float16")),
    ("fp32", re.compile(r"fp32|f32|float32")),
)
_CONTEXT_TOKEN = re.compile(r"ekv([0-9]+)")
_SOC_TOKEN = re.compile(r"(?:sm|mt)[0-9]+")
_TOKEN_SEPARATOR = re.compile(r"[^A-Za-z0-9]+")
_MAX_INTEGER = 2**31 - 1  # max_context_tokens is a PostgreSQL integer

RAM_TIERS_GB = (4, 6, 8, 12, 16, 24, 32)
_RAM_PER_FILE_GIB = 2.5
_LLM_BUNDLE_FLOOR_GB = 6


@dataclass(frozen=True)
class NameFacts:
    quantization: str | None
    context_tokens: int | None
    target_soc: str | None
    platform: str | None


def name_tokens(path: str) -> list[str]:
    """The lower-cased parts of the base name between characters that are not ASCII letters or digits."""
    return [token for token in _TOKEN_SEPARATOR.split(path.rsplit("/", 1)[-1].lower()) if token]


def name_facts(path: str) -> NameFacts:
    """What a file's name says, token by token; when several tokens name a quantization, the first one
    in the name wins (`model_int8_fp16.tflite` is int8), and the same for context and SoC."""
    tokens = name_tokens(path)
    return NameFacts(
        quantization=next(filter(None, map(_quantization, tokens)), None),
        context_tokens=next(filter(None, map(_context_tokens, tokens)), None),
        target_soc=next((token for token in tokens if _SOC_TOKEN.fullmatch(token)), None),
        platform="web" if "web" in tokens else None,
    )


def _quantization(token: str) -> str | None:
    return next((quantization for quantization, rule in _QUANTIZATION_BY_TOKEN if rule.fullmatch(token)), None)


def _context_tokens(token: str) -> int | None:
    """`ekv4096` → 4096; `ekv0`, or more than the column holds, says nothing."""
    match = _CONTEXT_TOKEN.fullmatch(token)
    return int(match[1]) if match and 0 < int(match[1]) <= _MAX_INTEGER else None


def min_device_memory_gb(size_bytes: int, format: str | None) -> int:
    """The device RAM a file needs: the smallest tier in (4, 6, 8, 12, 16, 24, 32) GB that is at least 2.5 × the
    file's size in GiB, and at least 6 GB for a `.litertlm` file (an LLM bundle), at least 4 GB for any other
    runtime file; files too big for 32 GB get 32.

    Calibrated on Gallery's allowlist (`model_allowlists/1_0_20.json`): it agrees on 8 of its 9 LLMs. The one
    it does not is Gemma-3n-E2B (3.40 GiB): Gallery says 8 GB, the rule 12, the tier Gallery itself gives the
    same-sized Gemma-4-E4B (3.41 GiB), so no rule of size alone can match both.
    """
    floor = _LLM_BUNDLE_FLOOR_GB if format == "litert-lm" else RAM_TIERS_GB[0]
    need = max(_RAM_PER_FILE_GIB * size_bytes / 2**30, floor)
    return next((tier for tier in RAM_TIERS_GB if tier >= need), RAM_TIERS_GB[-1])


def file_facts(path: str, size_bytes: int, header: HeaderFacts | None) -> dict[str, Any]:
    """The rule-13 columns of a runtime file (keys: FACT_COLUMNS). The header, when read, wins over the name
    for context and SoC; the columns only a header gives are None without one (name_only, unreadable)."""
    name = name_facts(path)
    runtime = runtime_format(path)
    facts: dict[str, Any] = {
        "format": runtime,
        "quantization": name.quantization,
        "max_context_tokens": _first_known(header.max_context_tokens if header else None, name.context_tokens),
        "target_soc": _first_known(header.target_soc if header else None, name.target_soc),
        "platform": name.platform,
        **{column: getattr(header, column) if header else None for column in _HEADER_ONLY},
        "min_device_memory_gb": min_device_memory_gb(size_bytes, runtime),
    }
    return {column: facts[column] for column in FACT_COLUMNS}


def _first_known(from_header: Any, from_name: Any) -> Any:
    return from_header if from_header is not None else from_name
