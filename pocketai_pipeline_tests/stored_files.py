"""Reading the stored listing as a user would (`zstdcat`), without the pipeline's own reader."""

from pathlib import Path

import pyarrow as pa


def zstd_text(path: Path) -> str:
    """A `.zst` file decompressed (all its frames, as one stream) and decoded as UTF-8."""
    with pa.OSFile(str(path)) as raw, pa.CompressedInputStream(raw, "zstd") as stream:
        return stream.read().decode("utf-8")
