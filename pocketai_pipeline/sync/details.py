"""Refreshing per-model details within a time budget, a few models at once (contract rule 12).

Plain orchestration: how one model's details are fetched and written is passed in, so this runs the
same against the Hub and the catalog as against a test's functions.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pocketai_pipeline.sync.budgeted import run_within_budget
from pocketai_pipeline.sync.card_summary import card_summary
from pocketai_pipeline.sync.files import ModelFile


@dataclass(frozen=True)
class DetailsTarget:
    """A synced model whose files are not those of its current revision."""

    model_id: int
    hf_model_id: str
    sha: str


@dataclass(frozen=True)
class ModelDetails:
    files: list[ModelFile]
    card: str | None
    """The README.md text; None when the model has none."""


@dataclass(frozen=True)
class Fetched:
    """The outcome of fetching one model's details: `details`, or `error` saying why not."""

    target: DetailsTarget
    details: ModelDetails | None
    error: str | None
    requests: int
    rate_limited: bool = False
    """The Hub's rate limit stopped it: fetching more this run is pointless."""


@dataclass
class DetailsReport:
    fetched: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """Hub id → why its details could not be fetched; it is tried again next run."""
    moved_on: int = 0
    """Fetched, but the row changed revision (or owner) meanwhile: nothing written, tried again next run."""
    pending: int = 0
    """Not tried: the time budget ran out or the rate limit was hit."""
    requests: int = 0
    runtime_bytes_added: int = 0
    stopped_by: str | None = None


def refresh_details(
    targets: Iterable[DetailsTarget],
    fetch: Callable[[DetailsTarget], Fetched],
    write: Callable[[DetailsTarget, list[ModelFile], str | None], bool],
    *,
    budget_seconds: float,
    workers: int = 4,
    clock: Callable[[], float] = time.monotonic,
) -> DetailsReport:
    """Fetch and write each target's details, `workers` at a time, until done or `budget_seconds` is spent.

    Writes happen one at a time in the calling thread. A rate-limited fetch stops new ones; the
    targets never started are counted as pending.
    """
    report = DetailsReport()
    queue = list(targets)
    started, report.stopped_by = run_within_budget(
        queue, fetch, lambda _, fetched: record(report, fetched, write),
        budget_seconds=budget_seconds, workers=workers, name="details", clock=clock,
    )
    report.pending = len(queue) - started
    return report


def record(
    report: DetailsReport, fetched: Fetched, write: Callable[[DetailsTarget, list[ModelFile], str | None], bool]
) -> str | None:
    """Write one fetched model's details; the reason to stop fetching more, if it met the Hub's rate limit."""
    report.requests += fetched.requests
    if fetched.details is None:
        report.failed[fetched.target.hf_model_id] = fetched.error or "unknown error"
        return "the Hub's rate limit" if fetched.rate_limited else None
    files = fetched.details.files
    if write(fetched.target, files, card_summary(fetched.details.card)):
        report.fetched += 1
        report.runtime_bytes_added += sum(file.size_bytes for file in files if file.is_runtime_file)
    else:
        report.moved_on += 1
    return None
