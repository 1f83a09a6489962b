"""The bench's fake Hub, in a process of its own so it shares no interpreter (GIL) with what it serves.

    python -m benchmarks.hub_server --models N --page-size 1000

Prints `url <url>` once listening, then reads commands on stdin, one per line, answering one line each:

- `serve <scenario>`: serve that scenario's listing (benchmarks.listings); the listing index is built
  (every model serialized) before it answers `ready <count>`, so no writer pays for the fake Hub's work;
- `stats`: `{"listing_pages": n, "lookups": n}` since the last `stats` (lookups: `GET /api/models/<id>`);
- `quit` (or end of input): stop.
"""

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from benchmarks.listings import FILTER, scenario_listings
from pocketai_pipeline_tests.fake_hub import FakeHub


class HubProcess:
    """A bench's fake Hub in a process of its own (`python -m <module> <args>`), driven over its stdin: it
    prints `url <url>` once listening, then answers each command with one line, and stops on `quit`."""

    def __init__(self, module: str, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=Path(__file__).resolve().parent.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self._answer().removeprefix("url ")

    def _answer(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the bench's fake Hub stopped")
        return line.strip()

    def command(self, text: str) -> str:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self._answer()

    def stats(self) -> dict:
        return json.loads(self.command("stats"))

    def stop(self) -> None:
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(30)
        except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    listings = scenario_listings(args.models)
    with FakeHub(page_size=args.page_size) as hub:
        print(f"url {hub.url}", flush=True)
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "serve":
                hub.set_models(listings[argument])
                # The query every writer sends (the pipeline, huggingface_hub and dlt: filter, full, cardData).
                query = f"filter={FILTER}&full=true&cardData=true&limit=1"
                urllib.request.urlopen(f"{hub.url}/api/models?{query}", timeout=600).read()
                hub.requests.clear()
                print(f"ready {len(listings[argument])}", flush=True)
            elif command == "stats":
                requests, hub.requests = hub.requests, []
                pages = sum(request.path in ("/api/models", "/api/models/") for request in requests)
                lookups = sum(request.path.startswith("/api/models/") and request.path != "/api/models/"
                              for request in requests)
                print(json.dumps({"listing_pages": pages, "lookups": lookups}), flush=True)
            elif command == "quit":
                break
    os._exit(0)  # skip freeing a million dicts


if __name__ == "__main__":
    main()
