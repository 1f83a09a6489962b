"""refresh_file_facts on its own: which files cost a request, a sha256 read once, the budget and the rate limit."""

import threading

from pocketai_pipeline.sync.file_facts_refresh import (
    FileFacts,
    HeaderRead,
    KnownHeader,
    NewHeader,
    PendingFile,
    refresh_file_facts,
)
from pocketai_pipeline.sync.file_facts import HeaderFacts

FACTS = HeaderFacts("1.7.0", 4096, ["text"], ["cpu"], None, False, True, False, None)


def pending(file_id: int, path: str, sha256: str | None = None, known: KnownHeader | None = None) -> PendingFile:
    runtime = {"tflite": "litert", "litertlm": "litert-lm", "task": "mediapipe-task"}[path.rsplit(".", 1)[1]]
    return PendingFile(file_id, f"org/m{file_id}", "s" * 40, path, 1_000_000_000, sha256, runtime, known)


class Catalog:
    """What refresh_file_facts writes, as the catalog would take it."""

    def __init__(self) -> None:
        self.rows: dict[int, FileFacts] = {}
        self.headers: dict[str, KnownHeader] = {}

    def write(self, rows: list[FileFacts], new_header: NewHeader | None) -> None:
        self.rows.update({row.file_id: row for row in rows})
        if new_header is not None:
            self.headers[new_header.sha256] = new_header.header


def reader(outcomes: dict[str, str] | None = None):
    """A header reader that records what it was asked; `outcomes` maps a path to 'unreadable' or 'failed'."""
    asked: list[PendingFile] = []
    lock = threading.Lock()

    def read(file: PendingFile) -> HeaderRead:
        with lock:
            asked.append(file)
        outcome = (outcomes or {}).get(file.path)
        if outcome == "unreadable":
            return HeaderRead(file, unreadable="not a LiteRT-LM file", bytes_read=32, requests=1)
        if outcome in ("failed", "rate_limited"):
            return HeaderRead(file, error="HTTPError: 503", rate_limited=outcome == "rate_limited", requests=1)
        return HeaderRead(file, facts=FACTS, bytes_read=900, requests=3)

    return read, asked


def test_name_only_files_and_known_headers_cost_no_request():
    catalog, (read, asked) = Catalog(), reader()
    files = [pending(1, "a_q8.tflite"), pending(2, "b_ekv1280.task"), pending(3, "c.litertlm", "x" * 64, KnownHeader(FACTS, None)),
             pending(4, "d.litertlm", "y" * 64, KnownHeader(None, "not a LiteRT-LM file"))]

    report = refresh_file_facts(files, read, catalog.write, budget_seconds=60)

    assert asked == []
    assert {file_id: row.status for file_id, row in catalog.rows.items()} == {1: "name_only", 2: "name_only", 3: "read", 4: "unreadable"}
    assert catalog.rows[2].columns["max_context_tokens"] == 1280 and catalog.rows[3].columns["max_context_tokens"] == 4096
    assert catalog.rows[4].error == "not a LiteRT-LM file" and catalog.rows[4].columns["container_version"] is None
    assert (report.read, report.name_only, report.unreadable, report.reused, report.requests) == (1, 2, 1, 2, 0)


def test_a_sha256_is_read_once_for_every_file_that_holds_it():
    catalog, (read, asked) = Catalog(), reader({"bad.litertlm": "unreadable"})
    files = [pending(1, "a.litertlm", "s" * 64), pending(2, "b.litertlm", "s" * 64), pending(3, "bad.litertlm", "u" * 64),
             pending(4, "plain.litertlm")]  # no sha256 (a plain git file): read on its own

    report = refresh_file_facts(files, read, catalog.write, budget_seconds=60, workers=2)

    assert sorted(file.file_id for file in asked) in ([1, 3, 4], [2, 3, 4])
    assert {file_id: row.status for file_id, row in catalog.rows.items()} == {1: "read", 2: "read", 3: "unreadable", 4: "read"}
    assert catalog.headers == {"s" * 64: KnownHeader(FACTS, None), "u" * 64: KnownHeader(None, "not a LiteRT-LM file")}
    assert (report.read, report.unreadable, report.requests, report.bytes_read) == (3, 1, 7, 1832)


def test_a_failed_read_leaves_its_files_pending_and_writes_nothing_for_them():
    catalog, (read, _) = Catalog(), reader({"a.litertlm": "failed"})

    report = refresh_file_facts([pending(1, "a.litertlm", "s" * 64), pending(2, "b.litertlm", "t" * 64)], read,
                                catalog.write, budget_seconds=60)

    assert list(catalog.rows) == [2] and catalog.headers.keys() == {"t" * 64}
    assert report.failed == {"org/m1/a.litertlm": "HTTPError: 503"} and report.stopped_by is None


def test_the_rate_limit_stops_new_reads_and_leaves_the_rest_pending():
    catalog, (read, asked) = Catalog(), reader({"a.litertlm": "rate_limited"})
    files = [pending(n, f"{'abcd'[n - 1]}.litertlm", str(n) * 64) for n in range(1, 5)]

    report = refresh_file_facts(files, read, catalog.write, budget_seconds=60, workers=1)

    assert [file.file_id for file in asked] == [1]
    assert (report.pending, len(report.failed), report.stopped_by) == (3, 1, "the Hub's rate limit")
    assert catalog.rows == {}


def test_a_spent_budget_leaves_the_rest_pending_but_writes_what_needs_no_request():
    catalog, (read, asked) = Catalog(), reader()
    ticks = iter([0.0, 5.0, 11.0])  # the deadline, the first read's start (in time), the second's (too late)

    report = refresh_file_facts([pending(1, "a.tflite"), pending(2, "b.litertlm", "b" * 64), pending(3, "c.litertlm", "c" * 64)],
                                read, catalog.write, budget_seconds=10, workers=1, clock=lambda: next(ticks))

    assert [file.file_id for file in asked] == [2]
    assert set(catalog.rows) == {1, 2}
    assert (report.pending, report.stopped_by) == (1, "the time budget of 10s")
