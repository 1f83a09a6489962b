"""`make bench-hub`: a cold start of N models against a fake Hub that enforces the Hub's real quotas, scaled in time.

    python -m benchmarks.bench_hub [--models 2500] [--scale 15] [--workers 4] [--out benchmarks/results]

The Hub counts calls in fixed 5-minute windows per bucket: `api` 500 (anonymous) or 1,000 (free token),
`resolvers` 3,000 or 5,000. The fake Hub (in a process of its own) enforces exactly these quotas in
windows of 300 / `--scale` seconds (20 s by default), so the api:resolvers ratio and the number of windows
a cold start needs are the real ones, only each window is shorter.

A cold start is what the sync asks of the Hub for N new models (synthetic, the demo's mix of `litert`,
`litert-lm` and `tflite` models): the listing of the three filters (pages of 1,000), then per model its
revision (`api`) and its card (`resolvers`), 4 models at a time, then 3 Range reads of every `.litertlm`
file's header (`resolvers`, as `ml_model_file_facts` makes them). Each is run twice, anonymous and with a
token, by this pipeline's client with the pacer and by today's client (the same client without it, which
waits out each 429 as the Hub's headers say). The fake Hub restarts for every run, so each starts with
fresh windows.

The floor is the least time the quotas allow for the calls made: per bucket, (ceil(calls / quota) - 1)
windows (each window's quota at its start, the last window's calls at once); the run's floor is the
larger of the two. The table gives each run's seconds, its ratio to the floor, calls and 429s per bucket
(counted by the fake Hub), and an estimate at the real Hub's windows (the floor scaled back, plus the
seconds the run took beyond it).
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks.hub_server import HubProcess
from pocketai_pipeline.hub.file_reads import HEADER_READS

ROOT = Path(__file__).resolve().parent.parent
FILTERS = ("litert", "litert-lm", "tflite")
PAGE_SIZE = 1000
READ_BYTES = 16_384
REAL_WINDOW = 300
QUOTAS = {"anonymous": {"api": 500, "resolvers": 3000}, "token": {"api": 1000, "resolvers": 5000}}
TOKEN = "hf_BenchHubToken0123456789abcdef"


# --- the fake Hub, in its own process ---------------------------------------------------------------


def serve(argv: list[str]) -> None:
    """`python -m benchmarks.bench_hub serve --models N --api Q --resolvers Q --window S`: prints `url <url>`,
    then answers `stats` (calls and 429s per bucket, as JSON) and `quit` on stdin."""
    from pocketai_pipeline_tests.fake_hub import FakeHub
    from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

    parser = argparse.ArgumentParser()
    for name in ("--models", "--api", "--resolvers"):
        parser.add_argument(name, type=int, required=True)
    parser.add_argument("--window", type=float, required=True)
    args = parser.parse_args(argv)
    counts = {bucket: {"calls": 0, "429s": 0} for bucket in ("api", "resolvers")}

    class CountingHub(FakeHub):
        def _respond(self, method, path, query, host, headers, body):
            reply = super()._respond(method, path, query, host, headers, body)
            bucket = "api" if path.startswith("/api/") else "resolvers" if "/resolve/" in path else None
            if bucket is not None:
                with self._lock:
                    counts[bucket]["calls"] += 1
                    counts[bucket]["429s"] += reply.status == 429
            return reply

    models = synthetic_listing(args.models, seed=25)
    with CountingHub(models, cards=synthetic_cards(models), page_size=PAGE_SIZE) as hub:
        hub.set_quota(args.api, args.window, bucket="api")
        hub.set_quota(args.resolvers, args.window, bucket="resolvers")
        print(f"url {hub.url}", flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                print(json.dumps(counts), flush=True)
            elif line.strip() == "quit":
                break
    os._exit(0)


def hub_process(models: int, quotas: dict[str, int], window: float) -> HubProcess:
    return HubProcess("benchmarks.bench_hub", "serve", "--models", str(models), "--api", str(quotas["api"]),
                      "--resolvers", str(quotas["resolvers"]), "--window", str(window))


# --- a cold start ---------------------------------------------------------------------------------


@dataclass
class Run:
    access: str
    client: str
    seconds: float
    models: int
    runtime_files: int
    calls: dict[str, int]
    limited: dict[str, int]
    floor: float
    window: float
    failed: int


def cold_start(url: str, token: str | None, paced: bool, workers: int) -> tuple[float, int, int, int]:
    """(seconds, models, .litertlm files, failures) of the Hub's part of a first sync."""
    from pocketai_pipeline.hub.client import REQUEST_ERRORS, HubClient, HubRateLimitError
    from pocketai_pipeline.hub.details import fetch_details
    from pocketai_pipeline.hub.listing import stream_listing
    from pocketai_pipeline.hub.pacer import Pacer
    from pocketai_pipeline.sync.details import DetailsTarget, refresh_details

    pacer = Pacer(url, token=token is not None) if paced else None
    client = HubClient(endpoint=url, token=token, pacer=pacer)
    planned = (lambda **calls: pacer.meter(**calls)) if pacer is not None else (lambda **calls: _Nothing())
    started = time.monotonic()
    models: dict[str, dict[str, Any]] = {}
    for page in stream_listing(client, FILTERS).iter_pages():
        for line in page:
            model = json.loads(line)
            models[model["id"]] = model
    targets = [DetailsTarget(i, model_id, model["sha"]) for i, (model_id, model) in enumerate(sorted(models.items()))]
    with planned(api=len(targets), resolvers=len(targets)):
        report = refresh_details(targets, lambda target: fetch_details(client, target), lambda *_: True,
                                 budget_seconds=86_400, workers=workers)
    files = [(model_id, model["sha"], sibling["rfilename"]) for model_id, model in sorted(models.items())
             for sibling in model.get("siblings", []) if sibling["rfilename"].endswith(".litertlm")]

    def read_header(file: tuple[str, str, str]) -> bool:
        model_id, sha, path = file
        file_url = client.url(f"/{quote(model_id, safe='/')}/resolve/{sha}/{quote(path, safe='/')}")
        try:
            for read in range(HEADER_READS):
                first = read * READ_BYTES
                client.request(file_url, headers={"Range": f"bytes={first}-{first + READ_BYTES - 1}"},
                               max_bytes=READ_BYTES)
        except (*REQUEST_ERRORS, HubRateLimitError):
            return False
        return True

    with planned(resolvers=HEADER_READS * len(files)), ThreadPoolExecutor(workers) as pool:
        read = list(pool.map(read_header, files))
    failed = len(report.failed) + report.pending + read.count(False)
    return time.monotonic() - started, len(models), len(files), failed


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


def floor_seconds(calls: dict[str, int], quotas: dict[str, int], window: float) -> float:
    return max((math.ceil(calls[bucket] / quotas[bucket]) - 1) * window for bucket in quotas if calls[bucket])


def bench(models: int, scale: float, workers: int) -> list[Run]:
    window = REAL_WINDOW / scale
    runs = []
    for access, token in (("anonymous", None), ("token", TOKEN)):
        for client_name, paced in (("paced (this pipeline)", True), ("today's client (no pacer)", False)):
            hub = hub_process(models, QUOTAS[access], window)
            try:
                print(f"  {models:,} models, {access:<9} {client_name:<26} ...", end="", flush=True)
                seconds, listed, files, failed = cold_start(hub.url, token, paced, workers)
                stats = hub.stats()
            finally:
                hub.stop()
            calls = {bucket: stats[bucket]["calls"] for bucket in ("api", "resolvers")}
            limited = {bucket: stats[bucket]["429s"] for bucket in ("api", "resolvers")}
            run = Run(access, client_name, seconds, listed, files, calls, limited,
                      floor_seconds(calls, QUOTAS[access], window), window, failed)
            print(f" {seconds:7.1f} s (floor {run.floor:.0f} s), 429s {limited}", flush=True)
            runs.append(run)
    return runs


def table(runs: list[Run], scale: float) -> str:
    lines = [
        "| access | client | models | .litertlm files | seconds | floor s | x floor | api calls | api 429s "
        "| resolvers calls | resolvers 429s | est. at the real Hub | failed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        ratio = f"{run.seconds / run.floor:.2f}x" if run.floor else "-"
        # The waiting scales with the windows, the work does not: the floor at 300 s windows plus the rest.
        real_minutes = (run.floor * scale + max(0.0, run.seconds - run.floor)) / 60
        lines.append(
            f"| {run.access} | {run.client} | {run.models:,} | {run.runtime_files:,} | {run.seconds:.1f} | "
            f"{run.floor:.0f} | {ratio} | {run.calls['api']:,} | {run.limited['api']} | {run.calls['resolvers']:,} | "
            f"{run.limited['resolvers']} | {real_minutes:.0f} min | {run.failed} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        serve(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=2500)
    parser.add_argument("--scale", type=float, default=15.0, help="windows of 300/scale seconds (default 20 s)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    print(f"cold start of {args.models:,} models, windows of {REAL_WINDOW / args.scale:g} s "
          f"(the Hub's 300 s / {args.scale:g})", flush=True)
    runs = bench(args.models, args.scale, args.workers)
    text = (
        f"Cold start of {args.models:,} models against the Hub's quotas in windows of {REAL_WINDOW / args.scale:g} s "
        f"(300 s / {args.scale:g}); {args.workers} workers; {started:%Y-%m-%d %H:%M} UTC; "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}); Python {platform.python_version()}.\n\n"
        + table(runs, args.scale) + "\n"
    )
    print()
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hub_latest.md").write_text(text)


if __name__ == "__main__":
    main()
