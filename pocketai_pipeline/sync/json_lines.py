"""Lines of JSON (one Hub object each) in one buffer, as the listing is stored and parsed.

Kept as one `bytes` with the offsets of its lines, so that the columnar readers take the buffer as it
is and no Python object is made per line, except for the lines parsed one by one.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

NEWLINE = ord("\n")


@dataclass(frozen=True)
class JsonLines:
    data: bytes
    """The lines, separated by a newline (none after the last)."""
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, data: bytes) -> "JsonLines":
        if not data:
            return cls(b"", np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == NEWLINE)
        return cls(data, np.concatenate([[0], newlines + 1]), np.concatenate([newlines, [len(data)]]))

    @classmethod
    def join(cls, lines: list[bytes]) -> "JsonLines":
        return cls.of(b"\n".join(lines))

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, position: int) -> bytes:
        return self.data[self.starts[position] : self.ends[position]]

    def first_bytes(self) -> np.ndarray:
        """The first byte of each line (a newline for an empty line)."""
        data = np.frombuffer(self.data, dtype=np.uint8)
        first = np.full(len(self.starts), NEWLINE, dtype=np.uint8)
        nonempty = self.starts < self.ends
        first[nonempty] = data[self.starts[nonempty]]
        return first

    def slice(self, start: int, end: int) -> "JsonLines":
        """Lines `start` to `end` (exclusive)."""
        if start >= end:
            return JsonLines.of(b"")
        if start == 0 and end == len(self):
            return self
        offset = self.starts[start]
        return JsonLines(self.data[offset : self.ends[end - 1]], self.starts[start:end] - offset, self.ends[start:end] - offset)

    def only(self, positions: np.ndarray) -> "JsonLines":
        """The lines at `positions`, in that order, in a buffer of their own."""
        return JsonLines.join([self.line(position) for position in positions])


def in_chunks(lines: Iterable[bytes], chunk_bytes: int) -> Iterator[JsonLines]:
    """Lines held in memory as buffers of about `chunk_bytes`, as the stored listing is read back."""
    batch, size = [], 0
    for line in lines:
        batch.append(line)
        size += len(line) + 1
        if size >= chunk_bytes:
            yield JsonLines.join(batch)
            batch, size = [], 0
    if batch:
        yield JsonLines.join(batch)
