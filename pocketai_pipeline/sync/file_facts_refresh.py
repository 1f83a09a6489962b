"""Filling in the facts of pending runtime files within a time budget (contract rule 13).

Plain orchestration, like `details.refresh_details`: how a header is read and how facts are written are
passed in. A `.tflite` or `.task` file needs no request (its name says all that is known); a `.litertlm`
file whose sha256 was read before takes what was read then; every other one is read once per sha256,
a few at a time, and the result serves every pending file with that sha256.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pocketai_pipeline.sync.budgeted import run_within_budget
from pocketai_pipeline.sync.file_facts import HeaderFacts, file_facts


@dataclass(frozen=True)
class KnownHeader:
    """What an earlier run read from a file with this sha256: its facts, or why it is unreadable."""

    facts: HeaderFacts | None
    unreadable: str | None


@dataclass(frozen=True)
class PendingFile:
    file_id: int
    hf_model_id: str
    sha: str
    path: str
    size_bytes: int
    sha256: str | None
    format: str
    known: KnownHeader | None = None

    @property
    def needs_header(self) -> bool:
        return self.format == "litert-lm" and self.known is None


@dataclass(frozen=True)
class HeaderRead:
    """The outcome of reading one file's header: `facts`, `unreadable` (why it is no header), or `error` (a
    request failed; the file stays pending)."""

    file: PendingFile
    facts: HeaderFacts | None = None
    unreadable: str | None = None
    error: str | None = None
    rate_limited: bool = False
    bytes_read: int = 0
    requests: int = 0


@dataclass(frozen=True)
class FileFacts:
    """What to write for one file: its rule-13 columns, its status and why it is unreadable."""

    file_id: int
    columns: dict[str, Any]
    status: str
    error: str | None


@dataclass(frozen=True)
class NewHeader:
    """A header just read, to keep for every later file with the same sha256."""

    sha256: str
    header: KnownHeader


Write = Callable[[list[FileFacts], NewHeader | None], None]


@dataclass
class FactsReport:
    read: int = 0
    name_only: int = 0
    unreadable: int = 0
    reused: int = 0
    """Files that took the facts of an earlier read of their sha256, without a request."""
    failed: dict[str, str] = field(default_factory=dict)
    """`<id>/<path>` → why its header could not be read; it stays pending for the next run."""
    pending: int = 0
    """Files not tried: the time budget ran out or the rate limit was hit."""
    bytes_read: int = 0
    requests: int = 0
    stopped_by: str | None = None


def facts_of(file: PendingFile, header: KnownHeader | None) -> FileFacts:
    """The row to write for `file`, given its header (None for a file without one: name only)."""
    if header is None:
        return FileFacts(file.file_id, file_facts(file.path, file.size_bytes, None), "name_only", None)
    status = "read" if header.facts is not None else "unreadable"
    return FileFacts(file.file_id, file_facts(file.path, file.size_bytes, header.facts), status, header.unreadable)


def refresh_file_facts(
    files: Iterable[PendingFile],
    read_header: Callable[[PendingFile], HeaderRead],
    write: Write,
    *,
    budget_seconds: float,
    workers: int = 4,
    clock: Callable[[], float] = time.monotonic,
) -> FactsReport:
    """Write the facts of every pending file, reading each unknown header once, until done or the budget is spent."""
    report = FactsReport()
    to_read: dict[str | int, list[PendingFile]] = {}
    without_request = []
    for file in files:
        if file.needs_header:
            to_read.setdefault(file.sha256 or file.file_id, []).append(file)
        else:
            without_request.append(facts_of(file, file.known))
            if file.known is not None:
                report.reused += 1
            count(report, without_request[-1].status)
    if without_request:
        write(without_request, None)

    queue = list(to_read.values())
    started, report.stopped_by = run_within_budget(
        queue, lambda same_sha256: read_header(same_sha256[0]),
        lambda same_sha256, outcome: record(report, outcome, same_sha256, write),
        budget_seconds=budget_seconds, workers=workers, name="file-facts", clock=clock,
    )
    report.pending = sum(len(same_sha256) for same_sha256 in queue[started:])
    return report


def record(report: FactsReport, outcome: HeaderRead, same_sha256: list[PendingFile], write: Write) -> str | None:
    """Write the facts of every file with the header just read; the reason to stop reading more, if it met the
    Hub's rate limit."""
    report.bytes_read += outcome.bytes_read
    report.requests += outcome.requests
    if outcome.error is not None:
        for file in same_sha256:
            report.failed[f"{file.hf_model_id}/{file.path}"] = outcome.error
        return "the Hub's rate limit" if outcome.rate_limited else None
    header = KnownHeader(outcome.facts, outcome.unreadable)
    rows = [facts_of(file, header) for file in same_sha256]
    sha256 = same_sha256[0].sha256
    write(rows, NewHeader(sha256, header) if sha256 else None)
    for row in rows:
        count(report, row.status)
    return None


def count(report: FactsReport, status: str) -> None:
    setattr(report, status, getattr(report, status) + 1)
