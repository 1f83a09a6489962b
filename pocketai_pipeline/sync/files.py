"""A model's files: which are runtime files, which runtime formats a listing names, and the manifest
the Hub sends for one revision (`GET /api/models/<id>/revision/<sha>?blobs=true`)."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The file endings the app can run, and the runtime format each stands for (contract: runtime_formats).
RUNTIME_FORMAT_BY_SUFFIX = {".tflite": "litert", ".litertlm": "litert-lm", ".task": "mediapipe-task"}


class InvalidManifest(ValueError):
    """The Hub's revision answer is not a file list we can store; the message says why."""


@dataclass(frozen=True)
class ModelFile:
    path: str
    size_bytes: int
    sha256: str | None  # the LFS content hash; None for a plain git file
    is_runtime_file: bool


def runtime_format(path: str) -> str | None:
    """`litert`, `litert-lm` or `mediapipe-task` for a runtime file (any case of its ending), else None."""
    for suffix, runtime in RUNTIME_FORMAT_BY_SUFFIX.items():
        if path.lower().endswith(suffix):
            return runtime
    return None


def runtime_formats(paths: Iterable[str]) -> list[str]:
    """The distinct runtime formats of `paths`, sorted."""
    return sorted({runtime for runtime in map(runtime_format, paths) if runtime})


def parse_manifest(payload: Any, sha: str) -> list[ModelFile]:
    """The files of a model at revision `sha`, from the Hub's `?blobs=true` answer, sorted by path.

    Raises InvalidManifest when the answer is not for `sha` or a file lacks its path or size.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("siblings"), list):
        raise InvalidManifest("the revision answer has no list of siblings")
    if payload.get("sha") not in (None, sha):
        raise InvalidManifest(f"asked for revision {sha}, the Hub answered {payload.get('sha')!r}")
    files = {}
    for sibling in payload["siblings"]:
        file = _model_file(sibling)
        files[file.path] = file
    return [files[path] for path in sorted(files)]


def _model_file(sibling: Any) -> ModelFile:
    if not isinstance(sibling, dict) or not isinstance(sibling.get("rfilename"), str) or not sibling["rfilename"]:
        raise InvalidManifest(f"a sibling has no file name: {sibling!r:.200}")
    path = sibling["rfilename"].replace("\x00", "")
    lfs = sibling.get("lfs")
    size = lfs.get("size") if isinstance(lfs, dict) else sibling.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidManifest(f"{path} has no size (size {size!r}); was ?blobs=true sent?")
    sha256 = lfs.get("sha256") if isinstance(lfs, dict) else None
    if sha256 is not None and not (isinstance(sha256, str) and len(sha256) == 64):
        raise InvalidManifest(f"{path} has a malformed LFS sha256 {sha256!r:.80}")
    return ModelFile(path=path, size_bytes=size, sha256=sha256, is_runtime_file=runtime_format(path) is not None)
