"""`make bench`: speed and memory of the sync, side by side with the old job's row-by-row writes.

    python -m benchmarks.sync_bench [--models 763 2100 10000] [--latency-ms 0 1]

For each listing size, a local fake Hub serves that many synthetic models in pages of 1,000 (the
Hub's), fetched by the pipeline's HubClient and normalized by ``normalize_listing``. The records are
written by ``merge_records`` and by the old job's per-row loop (``benchmarks.rowwise_baseline``),
each into its own fresh database of one embedded PostgreSQL in a temp dir (stopped at the end), and
then again with an identical listing (the re-sync).

PostgreSQL listens on a local unix socket here, where a round trip is far cheaper than to a remote
database. ``--latency-ms`` makes both writers wait that long before every statement round trip
(execute, COPY; the one BEGIN and COMMIT of each sync are not delayed); each value gets its own
columns. Peak memory (tracemalloc) and rows written (ml_models rows whose xmin changed) come from
separate runs without latency, as tracing slows Python down.
"""

import argparse
import os
import platform
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine, text

from benchmarks.rowwise_baseline import rowwise_sync
from pocketai_pipeline.catalog import embedded
from pocketai_pipeline.catalog.merge import merge_records
from pocketai_pipeline.catalog.schema import migrate_to_head
from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.listing import HubListing, fetch_listing
from pocketai_pipeline.sync.records import normalize_listing
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.synthetic import synthetic_listing

HUB_PAGE_SIZE = 1000
FILTERS = ("litert",)
SYNCS = ("first", "re-sync")
MIB = 2**20

Writer = Callable[[Engine, pd.DataFrame, datetime], None]


def write_merge(engine: Engine, records: pd.DataFrame, fetched_at: datetime) -> None:
    merge_records(engine, records, fetched_at=fetched_at, partition_key=fetched_at.date().isoformat())


def write_per_row(engine: Engine, records: pd.DataFrame, fetched_at: datetime) -> None:
    rowwise_sync(engine, records)


@dataclass(frozen=True)
class Sync:
    """One fetched and normalized listing, and how long each step took."""

    listing: HubListing
    records: pd.DataFrame
    fetch_seconds: float
    normalize_seconds: float


@dataclass
class Figures:
    """One row of the table: one sync of one listing size; pairs are (merge, per-row)."""

    models: int
    sync: str
    fetch_seconds: float
    normalize_seconds: float
    write_seconds: dict[float, tuple[float, float | None]] = field(default_factory=dict)
    """By latency in ms; None where the per-row loop was skipped."""
    peak_bytes: tuple[int, int] = (0, 0)
    rows_written: tuple[int, int] = (0, 0)


def fetch_and_normalize(client: HubClient) -> Sync:
    start = time.perf_counter()
    listing = fetch_listing(client, FILTERS)
    fetched = time.perf_counter()
    records = normalize_listing(listing.models).records
    return Sync(listing, records, fetched - start, time.perf_counter() - fetched)


def delayed_engine(url: str, latency_ms: float) -> Engine:
    """An engine that waits ``latency_ms`` before every statement round trip (execute, COPY)."""
    delay = latency_ms / 1000

    def wait() -> None:
        # Spinning, not time.sleep: a sleep overshoots by a tenth of a millisecond or more.
        deadline = time.perf_counter() + delay
        while time.perf_counter() < deadline:
            pass

    class DelayedCursor(psycopg.Cursor):
        def execute(self, *args, **kwargs):
            wait()
            return super().execute(*args, **kwargs)

        def copy(self, *args, **kwargs):
            wait()
            return super().copy(*args, **kwargs)

    return create_engine(url, connect_args={"cursor_factory": DelayedCursor} if delay else {})


@contextmanager
def fresh_catalog(home: Path, latency_ms: float = 0) -> Iterator[Engine]:
    """An engine with the latency on a new migrated catalog database, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    engine = delayed_engine(embedded.database_url(home, name), latency_ms)
    try:
        migrate_to_head(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(embedded.server_url(home), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def timed_writes(home: Path, write: Writer, syncs: list[Sync], latency_ms: float) -> list[float]:
    """Seconds ``write`` takes for each sync in turn, on one fresh database."""
    seconds = []
    with fresh_catalog(home, latency_ms) as engine:
        for sync in syncs:
            start = time.perf_counter()
            write(engine, sync.records, sync.listing.fetched_at)
            seconds.append(time.perf_counter() - start)
    return seconds


def traced_writes(home: Path, write: Writer, syncs: list[Sync]) -> list[tuple[int, int]]:
    """(peak traced bytes of normalize + ``write``, rows written) for each sync in turn, on one fresh database."""
    results = []
    with fresh_catalog(home) as engine:
        for sync in syncs:
            before = row_versions(engine)
            tracemalloc.start()
            try:
                write(engine, normalize_listing(sync.listing.models).records, sync.listing.fetched_at)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            after = row_versions(engine)
            results.append((peak, sum(before.get(row_id) != xmin for row_id, xmin in after.items())))
    return results


def row_versions(engine: Engine) -> dict[int, str]:
    """The xmin (writing transaction) of every ml_models row: any write to a row changes it."""
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, xmin::text FROM ml_models")).all())


def bench_size(
    home: Path, hub: FakeHub, models: int, latencies: list[float], per_row_latency_max_models: int
) -> list[Figures]:
    """The figures of a first sync and an identical re-sync of ``models`` synthetic models."""
    hub.set_models(synthetic_listing(models))
    client = HubClient(endpoint=hub.url)
    syncs = [fetch_and_normalize(client) for _ in SYNCS]
    figures = [Figures(models, name, sync.fetch_seconds, sync.normalize_seconds) for name, sync in zip(SYNCS, syncs)]
    for latency in latencies:
        merge_seconds = timed_writes(home, write_merge, syncs, latency)
        if latency and models > per_row_latency_max_models:
            per_row_seconds = [None] * len(syncs)
        else:
            per_row_seconds = timed_writes(home, write_per_row, syncs, latency)
        for row, pair in zip(figures, zip(merge_seconds, per_row_seconds)):
            row.write_seconds[latency] = pair
    traced = zip(traced_writes(home, write_merge, syncs), traced_writes(home, write_per_row, syncs))
    for row, ((merge_peak, merge_rows), (per_row_peak, per_row_rows)) in zip(figures, traced):
        row.peak_bytes = (merge_peak, per_row_peak)
        row.rows_written = (merge_rows, per_row_rows)
    return figures


def ratio(per_row: float | None, merge: float) -> str:
    return "-" if per_row is None else f"{per_row / merge:.1f}x"


def seconds(value: float | None) -> str:
    return "skipped" if value is None else f"{value:.3f}"


def print_table(figures: list[Figures], latencies: list[float]) -> None:
    """The figures as one table, its columns in titled groups."""
    groups: list[tuple[str, list[tuple[str, list[str]]]]] = [
        ("", [
            ("models", [f"{row.models:,}" for row in figures]),
            ("sync", [row.sync for row in figures]),
            ("fetch s", [f"{row.fetch_seconds:.3f}" for row in figures]),
            ("normalize s", [f"{row.normalize_seconds:.3f}" for row in figures]),
        ]),
    ]  # fmt: skip
    for latency in latencies:
        pairs = [row.write_seconds[latency] for row in figures]
        groups.append((f"write s, +{latency:g} ms per round trip", [
            ("merge", [seconds(merge) for merge, _ in pairs]),
            ("per-row", [seconds(per_row) for _, per_row in pairs]),
            ("ratio", [ratio(per_row, merge) for merge, per_row in pairs]),
        ]))  # fmt: skip
    groups += [
        ("peak MiB, normalize+write", [
            ("merge", [f"{row.peak_bytes[0] / MIB:.1f}" for row in figures]),
            ("per-row", [f"{row.peak_bytes[1] / MIB:.1f}" for row in figures]),
            ("ratio", [ratio(row.peak_bytes[1], row.peak_bytes[0]) for row in figures]),
        ]),
        ("rows written", [
            ("merge", [f"{row.rows_written[0]:,}" for row in figures]),
            ("per-row", [f"{row.rows_written[1]:,}" for row in figures]),
        ]),
    ]  # fmt: skip
    widths = [[max(len(header), *map(len, cells)) for header, cells in columns] for _, columns in groups]
    for (title, _), group_widths in zip(groups, widths):  # a long title widens its group's last column
        group_widths[-1] += max(0, len(title) - sum(group_widths) - 2 * (len(group_widths) - 1))

    def line(cells_by_group: list[list[str]]) -> str:
        return " | ".join(
            "  ".join(cell.rjust(width) for cell, width in zip(cells, group_widths))
            for cells, group_widths in zip(cells_by_group, widths)
        )

    print(" | ".join(title.center(sum(w) + 2 * (len(w) - 1)) for (title, _), w in zip(groups, widths)))
    print(line([[header for header, _ in columns] for _, columns in groups]))
    for index in range(len(figures)):
        print(line([[cells[index] for _, cells in columns] for _, columns in groups]))


def print_notes(latencies: list[float], skipped_above: int | None) -> None:
    notes = [
        "ratio = per-row / merge: above 1x, merge_records is faster (or needs less memory).",
        f"fetch: HubClient through the local fake Hub, pages of {HUB_PAGE_SIZE:,}; fetch and normalize are shared "
        "by both writers.",
        "merge = merge_records; per-row = benchmarks/rowwise_baseline.py, the old job's loop (SELECT, then INSERT "
        "or UPDATE, per model; one COMMIT at the end).",
        "first = into a fresh database; re-sync = the identical listing again. rows written = ml_models rows "
        "whose xmin changed.",
        "peak MiB: tracemalloc peak of normalize_listing + write, in separate runs without latency "
        "(the raw listing is not counted).",
        "PostgreSQL is embedded, on a local unix socket: its round trips are far cheaper than a remote "
        f"database's. The +N ms columns ({', '.join(f'{latency:g}' for latency in latencies)}) add that wait "
        "before every statement (execute, COPY) of both writers.",
    ]
    if skipped_above is not None:
        notes.append(
            f"per-row with latency skipped above {skipped_above:,} models, to keep `make bench` short; it sends "
            "2 statements per model, so expect about its +0 ms time + 2 x models x latency."
        )
    print("\n".join(f"- {note}" for note in notes))


def postgres_version(home: Path) -> str:
    with psycopg.connect(embedded.server_url(home)) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, nargs="+", default=[763, 2100, 10000], help="listing sizes")
    parser.add_argument(
        "--latency-ms", type=float, nargs="+", default=[0.0], help="simulated wait per statement round trip"
    )
    parser.add_argument(
        "--per-row-latency-max-models", type=int, default=2100,
        help="skip the per-row loop with latency above this many models (it takes minutes)",
    )  # fmt: skip
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pocketai-bench-") as tmp, FakeHub(page_size=HUB_PAGE_SIZE) as hub:
        home = Path(tmp)
        try:
            version = postgres_version(home)
            hub.set_models(synthetic_listing(10))
            fetch_listing(HubClient(endpoint=hub.url), FILTERS)  # warm-up: huggingface_hub's first-use lookups
            figures = []
            for models in args.models:
                print(f"benchmarking {models:,} models ...", flush=True)
                figures += bench_size(home, hub, models, args.latency_ms, args.per_row_latency_max_models)
        finally:
            embedded.stop(home)

    print(
        f"\nmachine: {os.cpu_count()} cores ({cpu_model()}), load average {load_at_start:.1f} at start and "
        f"{os.getloadavg()[0]:.1f} at end; PostgreSQL {version} (embedded, local unix socket); "
        f"Python {platform.python_version()}\n"
    )
    print_table(figures, args.latency_ms)
    print()
    skipped = any(per_row is None for row in figures for _, per_row in row.write_seconds.values())
    print_notes(args.latency_ms, args.per_row_latency_max_models if skipped else None)


if __name__ == "__main__":
    main()
