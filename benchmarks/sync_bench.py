"""`make bench`: the old job, this pipeline, dlt and the COPY floor, side by side in one run.

    python -m benchmarks.sync_bench [--sizes 1000 2500 10000 100000 1000000] [--out benchmarks/results]

For each size N, a fake Hub (``benchmarks.hub_server``, a process of its own) serves N Hub-shaped models
(full objects with cardData and siblings, ``benchmarks.listings``) in pages of 1,000, and four scenarios
are applied in turn, each writer keeping its own fresh database of one embedded PostgreSQL (started in a
temp dir, stopped at the end, also on Ctrl-C/SIGTERM):

    first      the N models into an empty catalog
    identical  the same listing again
    changed    1% of the models changed and 1% new
    removed    10% of the models gone (the fake Hub answers 404 for them)

Writers, each a process of its own (so each has its own peak RSS):

    old        the old job re-created (benchmarks/rowwise_baseline.py): huggingface_hub's list_models, then
               an ORM SELECT + INSERT/UPDATE per model, one COMMIT; skipped at a size once the previous
               size's time, scaled linearly, is over --peer-max-seconds (300)
    pipeline   this pipeline's plain functions in one process (benchmarks/phases.py): fetch, normalize,
               lookups (rule 7: each missing model looked up on its own), merge
    dagster    end to end: `dagster asset materialize` of hf_litert_listing, litert_model_records and
               ml_models (not ml_model_details: 2 requests per model) on a temp DAGSTER_HOME; then the same
               of benchmarks.dagster_noop (those steps' Dagster shape, no work) on another: Dagster's own cost
    dlt        dlt's rest_api source → postgres, merge/upsert on hf_model_id, in its own venv
               (benchmarks/.venv-dlt, created on first use); skipped as the old job is
    floor      a binary COPY of the same rows into an empty UNLOGGED table (benchmarks/floor.py)

Per cell: seconds (the old job's and the pipeline's own timers; dagster and dlt: the whole process),
rows/s (listed models / seconds), ratio to the old job (old / this) and to the floor (this / floor), rows
written (pg_stat_user_tables n_tup_ins + n_tup_upd + n_tup_del of the writer's database), WAL bytes
(pg_current_wal_lsn before and after) and peak RSS (the process's and its children's, from wait4).
Prints one table and writes ``<out>/latest.md`` and ``<out>/latest.csv``.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.hub_server import HubProcess
from benchmarks.listings import FILTER, SCENARIOS
from pocketai_pipeline.catalog import embedded

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
DLT_VENV = BENCH_DIR / ".venv-dlt"
DLT_REQUIREMENT = "dlt[postgres]>=1.5"
PAGE_SIZE = 1000
ASSETS = "hf_litert_listing,litert_model_records,ml_models"
PARTITION = "2026-10-01"
WRITERS = ("old", "pipeline", "dagster", "dlt", "floor")
PEERS = ("old", "dlt")  # skipped once they would take too long
MB = 1_000_000

_children: set[subprocess.Popen] = set()


class Stopped(Exception):
    """SIGTERM: unwind so that every `finally` stops what was started."""


@dataclass
class Cell:
    size: int
    scenario: str
    writer: str
    listed: int = 0
    seconds: float | None = None
    wall_seconds: float | None = None
    rows_written: int | None = None
    wal_bytes: int | None = None
    peak_rss_bytes: int | None = None
    skipped: str = ""
    extra: dict = field(default_factory=dict)


# --- processes ----------------------------------------------------------------------------------


def python() -> str:
    return sys.executable


def run_measured(command: list[str], env: dict[str, str], timeout: float | None = None) -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS bytes of the process tree's largest process, stdout, stderr); raises on failure."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _children.add(process)
    try:
        out, err = communicate(process, timeout)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        _children.discard(process)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} … failed ({process.returncode}):\n{err[-4000:]}")
    return wall, usage.ru_maxrss * 1024, out, err


def communicate(process: subprocess.Popen, timeout: float | None) -> tuple[str, str]:
    """Read stdout and stderr to the end without reaping the process (wait4 does, for its rusage)."""
    outputs: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda name=name, stream=stream: outputs.__setitem__(name, stream.read()), daemon=True)
        for name, stream in (("out", process.stdout), ("err", process.stderr))
    ]
    for reader in readers:
        reader.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    for reader in readers:
        reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if reader.is_alive():
            process.kill()
            raise TimeoutError(f"{process.args[:4]} took longer than {timeout:.0f}s")
    return outputs["out"], outputs["err"]


def last_json(out: str) -> dict:
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def stop_children() -> None:
    for process in list(_children):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


# --- PostgreSQL -----------------------------------------------------------------------------------


class Server:
    def __init__(self, home: Path):
        self.home = home
        self.url = embedded.server_url(home)

    def create_database(self, name: str, migrate: bool) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = embedded.server_url(self.home, database=name, driver="psycopg")
        if migrate:
            from sqlalchemy import create_engine

            from pocketai_pipeline.catalog.schema import migrate_to_head

            engine = create_engine(url)
            migrate_to_head(engine)
            engine.dispose()
        return url

    def libpq_url(self, database: str) -> str:
        return embedded.server_url(self.home, database=database)

    def wal_lsn(self) -> int:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]

    def table_writes(self, database: str) -> dict[int, int]:
        """relid → n_tup_ins + n_tup_upd + n_tup_del, once no other session is connected (stats flushed)."""
        with psycopg.connect(self.libpq_url(database), autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]:
                time.sleep(0.05)
            time.sleep(0.05)
            conn.execute("SELECT pg_stat_clear_snapshot()")
            rows = conn.execute(
                "SELECT relid, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
                "WHERE schemaname NOT LIKE 'pg\\_temp%'"
            ).fetchall()
        return dict(rows)

    def version(self) -> str:
        with psycopg.connect(self.url) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]


# --- writers --------------------------------------------------------------------------------------


@dataclass
class Bench:
    server: Server
    tmp: Path
    hub: HubProcess
    size: int
    databases: dict[str, str] = field(default_factory=dict)  # writer → database name

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DAGSTER_", "POCKETAI_", "HF_"))}
        env |= {"HF_HUB_DISABLE_TELEMETRY": "1", "POCKETAI_EMBEDDED_MANAGED": "1", "PYTHONPATH": str(ROOT)}
        return env | extra

    def database_url(self, writer: str) -> str:
        return embedded.server_url(self.server.home, database=self.databases[writer], driver="psycopg")

    def prepare(self) -> None:
        for writer in WRITERS:
            name = f"bench_{writer}_{self.size}_{uuid.uuid4().hex[:6]}"
            self.server.create_database(name, migrate=writer in ("old", "pipeline", "dagster"))
            self.databases[writer] = name
        for home in (self.tmp / f"dagster-{self.size}", self.tmp / f"dagster-noop-{self.size}"):
            home.mkdir()
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")

    def measure(self, cell: Cell, command: list[str], env: dict[str, str]) -> dict:
        database = self.databases[cell.writer]
        before_rows, before_wal = self.server.table_writes(database), self.server.wal_lsn()
        wall, rss, out, err = run_measured(command, env)
        after_rows, after_wal = self.server.table_writes(database), self.server.wal_lsn()
        cell.wall_seconds, cell.peak_rss_bytes = wall, rss
        cell.rows_written = sum(count - before_rows.get(relid, 0) for relid, count in after_rows.items())
        cell.wal_bytes = after_wal - before_wal
        stats = self.hub.stats()
        cell.extra["lookups"] = stats["lookups"]
        cell.extra["listing_pages"] = stats["listing_pages"]
        cell.extra["stderr"] = err
        return last_json(out) if out.strip() else {}

    def old(self, cell: Cell) -> None:
        result = self.measure(cell, [python(), "-m", "benchmarks.rowwise_baseline", "--endpoint", self.hub.url,
                                     "--database-url", self.database_url("old"), "--filter", FILTER], self.env())
        cell.seconds = result["seconds"]
        cell.extra |= {"fetch_seconds": result["fetch_seconds"], "write_seconds": result["write_seconds"]}

    def pipeline(self, cell: Cell) -> None:
        result = self.measure(cell, [python(), "-m", "benchmarks.phases", "--endpoint", self.hub.url,
                                     "--database-url", self.database_url("pipeline"), "--partition", PARTITION],
                              self.env())
        phases = ("fetch", "normalize", "lookup", "merge")
        cell.seconds = sum(result[f"{phase}_seconds"] for phase in phases)
        cell.extra |= {f"{phase}_seconds": result[f"{phase}_seconds"] for phase in phases}
        cell.extra |= {key: result[key] for key in ("created", "updated", "unchanged", "removed", "records")}

    def dagster(self, cell: Cell) -> None:
        home = self.tmp / f"dagster-{self.size}"
        env = self.env(
            HF_ENDPOINT=self.hub.url, DATABASE_URL=self.database_url("dagster"), DAGSTER_HOME=str(home),
            POCKETAI_HOME=str(self.tmp / f"pocketai-{self.size}"),
            POCKETAI_STORAGE_URL=str(self.tmp / f"storage-{self.size}"), POCKETAI_HF_FILTER=FILTER,
        )
        materialize = [str(Path(python()).with_name("dagster")), "asset", "materialize", "--select", ASSETS,
                       "--partition", PARTITION, "-m"]
        self.measure(cell, [*materialize, "pocketai_pipeline.definitions"], env)
        cell.seconds = cell.wall_seconds
        cell.extra |= step_seconds(home)
        cell.extra.pop("stderr", None)
        # Dagster's own cost for this job: the same shape with no work (benchmarks/dagster_noop.py).
        noop_home = self.tmp / f"dagster-noop-{self.size}"
        cell.extra["noop_seconds"] = run_measured([*materialize, "benchmarks.dagster_noop"],
                                                  self.env(DAGSTER_HOME=str(noop_home)))[0]
        cell.extra["noop_steps_seconds"] = sum(value for key, value in step_seconds(noop_home).items()
                                               if key.startswith("step_"))

    def dlt(self, cell: Cell) -> None:
        # dlt wants a host name; libpq lets the `host` query parameter (the unix socket's directory) win.
        dsn = self.server.libpq_url(self.databases["dlt"]).replace("postgres:@/", "postgres:@localhost/", 1)
        result = self.measure(cell, [str(dlt_python()), str(BENCH_DIR / "dlt_peer.py"), "--endpoint", self.hub.url,
                                     "--dsn", dsn, "--pipelines-dir", str(self.tmp / f"dlt-{self.size}"),
                                     "--filter", FILTER], self.env())
        cell.seconds = cell.wall_seconds
        cell.extra["dlt_rows"] = result.get("rows")

    def floor(self, cell: Cell) -> None:
        result = self.measure(cell, [python(), "-m", "benchmarks.floor", "--endpoint", self.hub.url,
                                     "--database-url", self.database_url("floor")], self.env())
        cell.seconds = result["seconds"]


def step_seconds(dagster_home: Path) -> dict[str, float]:
    """Each step's duration in the latest run of that Dagster instance (its event log: STEP_SUCCESS)."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.get_runs(limit=1)[0]
        steps = {}
        for record in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS):
            event = record.dagster_event
            steps[f"step_{event.step_key}_seconds"] = event.event_specific_data.duration_ms / 1000
        return steps | {"run_status": run.status.value}


def dlt_python() -> Path:
    """benchmarks/.venv-dlt/bin/python, with dlt[postgres] installed on first use."""
    executable = DLT_VENV / "bin" / "python"
    if not (DLT_VENV / ".installed").exists():
        print(f"creating {DLT_VENV.relative_to(ROOT)} with {DLT_REQUIREMENT} ...", flush=True)
        if not executable.exists():
            subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
        subprocess.run([str(executable), "-m", "pip", "install", "--quiet", DLT_REQUIREMENT], check=True)
        (DLT_VENV / ".installed").touch()
    return executable


# --- the run --------------------------------------------------------------------------------------


def should_skip(writer: str, size: int, scenario: str, cells: list[Cell], peer_max_seconds: float) -> str:
    if writer not in PEERS:
        return ""
    measured = [c for c in cells if c.writer == writer and c.scenario == scenario and c.size < size and c.seconds is not None]
    if not measured:
        return ""
    previous = max(measured, key=lambda c: c.size)  # the largest size measured: a skipped one has no time
    estimate = (previous.wall_seconds or previous.seconds) * size / previous.size
    if estimate > peer_max_seconds:
        return f"est. {estimate:,.0f} s"
    return ""


def bench_size(server: Server, tmp: Path, size: int, cells: list[Cell], args: argparse.Namespace) -> None:
    hub = HubProcess("benchmarks.hub_server", "--models", str(size), "--page-size", str(PAGE_SIZE))
    _children.add(hub.process)
    try:
        bench = Bench(server, tmp, hub, size)
        bench.prepare()
        for scenario in SCENARIOS:
            listed = int(hub.command(f"serve {scenario}").removeprefix("ready "))
            for writer in args.writers:
                cell = Cell(size, scenario, writer, listed=listed)
                cell.skipped = should_skip(writer, size, scenario, cells, args.peer_max_seconds)
                if not cell.skipped:
                    print(f"  {size:>9,} {scenario:<9} {writer:<8} ...", end="", flush=True)
                    getattr(bench, writer)(cell)
                    print(f" {cell.seconds:8.2f} s", flush=True)
                cell.extra.pop("stderr", None)
                cells.append(cell)
    finally:
        hub.stop()
        _children.discard(hub.process)


# --- output ---------------------------------------------------------------------------------------


def find(cells: list[Cell], size: int, scenario: str, writer: str) -> Cell | None:
    return next((c for c in cells if (c.size, c.scenario, c.writer) == (size, scenario, writer)), None)


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def fmt_count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def fmt_mb(value: int | None) -> str:
    return "-" if value is None else f"{value / MB:,.1f}" if value < 100 * MB else f"{value / MB:,.0f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}x" if value < 100 else f"{value:,.0f}x"


def table(cells: list[Cell]) -> tuple[list[str], list[list[str]]]:
    """One row per (size, scenario); every writer's columns side by side."""
    headers = ["models", "scenario"]
    for writer in WRITERS:
        headers += [f"{writer} s", f"{writer} rows/s"]
        if writer == "pipeline":
            headers += ["fetch s", "normalize rec/s", "lookups (n, s)", "merge s", "merge x old write", "merge x floor"]
        if writer == "dagster":
            headers += ["dagster steps s", "dagster x dlt", "dagster steps x dlt", "no-op s", "no-op steps s"]
        if writer != "old":
            headers += [f"{writer} x old"]
        if writer != "floor":
            headers += [f"{writer} x floor"]
        headers += [f"{writer} rows written", f"{writer} WAL MB", f"{writer} RSS MB"]
    rows = []
    keys = sorted({(c.size, SCENARIOS.index(c.scenario)) for c in cells})
    for size, scenario_index in keys:
        scenario = SCENARIOS[scenario_index]
        old, floor = find(cells, size, scenario, "old"), find(cells, size, scenario, "floor")
        listed = next(c.listed for c in cells if (c.size, c.scenario) == (size, scenario))
        row = [f"{size:,}", scenario]
        for writer in WRITERS:
            cell = find(cells, size, scenario, writer)
            if cell is None or cell.seconds is None:
                width = 2 + (6 if writer == "pipeline" else 0) + (5 if writer == "dagster" else 0) + (writer != "old") \
                    + (writer != "floor") + 3
                row += [cell.skipped if cell else "-"] + ["-"] * (width - 1)
                continue
            row += [fmt_seconds(cell.seconds), fmt_count(round(listed / cell.seconds))]
            if writer == "pipeline":
                merge = cell.extra["merge_seconds"]
                row += [
                    fmt_seconds(cell.extra["fetch_seconds"]),
                    fmt_count(round(cell.extra["records"] / cell.extra["normalize_seconds"])),
                    f"{cell.extra['lookups']:,}, {cell.extra['lookup_seconds']:.2f}",
                    fmt_seconds(merge),
                    fmt_ratio(old.extra["write_seconds"] / merge if old and old.seconds else None),
                    fmt_ratio(merge / floor.seconds if floor and floor.seconds else None),
                ]
            if writer == "dagster":
                # The steps alone (their STEP_SUCCESS durations), without the process's start-up and event log.
                steps = sum(value for key, value in cell.extra.items() if key.startswith("step_") and key.endswith("_seconds"))
                dlt = find(cells, size, scenario, "dlt")
                dlt_seconds = dlt.seconds if dlt is not None and dlt.seconds else None
                row += [
                    fmt_seconds(steps or None),
                    fmt_ratio(dlt_seconds / cell.seconds if dlt_seconds else None),
                    fmt_ratio(dlt_seconds / steps if dlt_seconds and steps else None),
                    fmt_seconds(cell.extra.get("noop_seconds")),
                    fmt_seconds(cell.extra.get("noop_steps_seconds")),
                ]
            if writer != "old":
                row.append(fmt_ratio(old.seconds / cell.seconds if old and old.seconds else None))
            if writer != "floor":
                row.append(fmt_ratio(cell.seconds / floor.seconds if floor and floor.seconds else None))
            row += [fmt_count(cell.rows_written), fmt_mb(cell.wal_bytes), fmt_mb(cell.peak_rss_bytes)]
        rows.append(row)
    return headers, rows


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine(server_version: str, load: tuple[float, float]) -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({cpu}), {ram:.0f} GiB RAM; load average "
            f"{load[0]:.1f} at start, {load[1]:.1f} at end; PostgreSQL {server_version} (embedded, unix socket); "
            f"Python {platform.python_version()}")


NOTES = """\
- Scenarios run in order on one database per writer: first = N models into an empty catalog; identical = the
  same listing again; changed = 1% changed + 1% new; removed = 10% of the models gone (404 each).
- old = the old job re-created (huggingface_hub list_models + SQLAlchemy ORM, SELECT then INSERT/UPDATE per
  model, one COMMIT; its own timer, fetch included). pipeline = fetch + normalize + lookups + merge in one process
  (the plain functions); lookups = the rule-7 `GET /api/models/<id>` of each missing model. dagster = the whole
  `dagster asset materialize` process (hf_litert_listing, litert_model_records, ml_models). dlt = the whole dlt
  process (rest_api, merge/upsert). floor = binary COPY of the same rows into an empty UNLOGGED table.
- dagster steps = the three steps' own durations (STEP_SUCCESS in the run's event log), without the process's
  start-up; dagster x dlt and steps x dlt = dlt's whole process / those (higher is faster). no-op = the same
  `dagster asset materialize` of a job of the same shape that does no work (benchmarks/dagster_noop.py: the
  three assets, partitions, checks, pool and executor, on a DAGSTER_HOME of its own): what Dagster itself costs.
- x old = old seconds / this writer's (higher is faster); x floor = this writer's seconds / floor's (lower is
  closer to the floor); merge x old write = the old job's write time (its loop minus list_models) / merge.
- rows written = n_tup_ins + n_tup_upd + n_tup_del (pg_stat_user_tables) of the writer's database; WAL MB =
  pg_current_wal_lsn() difference; RSS MB = peak RSS of the writer's process (largest in its tree, wait4).
  The pipeline worker holds the whole listing (JSON text) and its records in memory, the floor worker the parsed
  listing (untimed): their RSS is not the pipeline's; the dagster column is (it streams through storage).
- "est. N s": the old job or dlt was not run, as its time at the largest size it ran, scaled linearly, exceeds the limit."""


def write_outputs(out: Path, cells: list[Cell], header: str) -> str:
    headers, rows = table(cells)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(f"# `make bench`\n\n{header}\n\n{markdown_table(headers, rows)}\n\n{NOTES}\n")
    columns = ["size", "scenario", "writer", "listed", "seconds", "wall_seconds", "rows_written", "wal_bytes",
               "peak_rss_bytes", "skipped"]
    extras = sorted({key for cell in cells for key in cell.extra})
    with open(out / "latest.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns + extras)
        for cell in cells:
            writer.writerow([getattr(cell, name) for name in columns] + [cell.extra.get(key, "") for key in extras])
    return text_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2500, 10_000, 100_000, 1_000_000])
    parser.add_argument("--writers", nargs="+", default=list(WRITERS), choices=WRITERS)
    parser.add_argument("--peer-max-seconds", type=float, default=300,
                        help="skip the old job and dlt at a size once their estimate (linear) is over this")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)

    def on_sigterm(*_: object) -> None:
        raise Stopped()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    load_at_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="pocketai-bench-"))
    cells: list[Cell] = []
    server = None
    try:
        if "dlt" in args.writers:
            dlt_python()
        server = Server(tmp / "pg-home")
        version = server.version()
        for size in sorted(args.sizes):
            print(f"{size:,} models:", flush=True)
            bench_size(server, tmp, size, cells, args)
            # Written after every size, so that an interrupted run keeps what it measured.
            write_outputs(args.out, cells, f"Machine: {machine(version, (load_at_start, os.getloadavg()[0]))}.")
    except (KeyboardInterrupt, Stopped):
        print(f"\nstopped; cleaning up (the sizes done are in {args.out / 'latest.md'})", file=sys.stderr)
        return 130
    finally:
        stop_children()
        if server is not None:
            embedded.stop(server.home)
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
    header = f"Machine: {machine(version, (load_at_start, os.getloadavg()[0]))}."
    printed = write_outputs(args.out, cells, header)
    print(f"\n{header}\n\n{printed}\n\n{NOTES}\n\nwritten: {args.out / 'latest.md'}, {args.out / 'latest.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
