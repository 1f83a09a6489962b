"""Subprocesses for the end-to-end tests: each in its own process group, ready when it answers, always stopped.

`DagsterDeployment` runs what production runs, from the repo root with the project's dagster.yaml and
workspace.yaml: `dagster-webserver` (the UI and its GraphQL API) and `dagster-daemon` (run queue,
backfills, schedules, sensors). `running_end_to_end` puts it on its own databases and a fake Hub and
syncs today's partition through the UI's GraphQL, for the end-to-end and browser tests to share.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pocketai_pipeline_tests.dagster_ui import materialize_partition, wait_for_run
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.synthetic import synthetic_listing

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "test-artifacts"
READY_TIMEOUT_SECONDS = 180
RUN_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 20
HOST = "127.0.0.1"
PROC = Path("/proc")
# make's own status line, `make: *** [target] Error N` (`make[1]: ***` when the tests run under make test).
MAKE_STATUS_LINE = re.compile(r"^make(\[\d+\])?: \*\*\* ", re.M)
SYNC_ASSETS = ["hf_litert_listing", "litert_model_records", "ml_models", "ml_model_details", "ml_model_file_facts"]
HUB_MODELS = 150
HUB_PAGE_SIZE = 50  # three pages


def deployment_env(**settings: str) -> dict[str, str]:
    """This environment without the project's or Dagster's own settings (the defaults then apply), plus `settings`."""
    inherited = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("POCKETAI_", "HF_", "DAGSTER_")) and name != "DATABASE_URL"
    }
    return {**inherited, "HF_HUB_DISABLE_TELEMETRY": "1", **settings}


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout_seconds: float, interval_seconds: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_seconds)
    return condition()


def run_to_completion(args: list[str], *, timeout_seconds: float) -> subprocess.CompletedProcess[str]:
    """Run a command in a new process group and capture its output; nothing of the group outlives it."""
    popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = popen.communicate(timeout=timeout_seconds)
    finally:
        _signal_group(popen.pid, signal.SIGKILL)
        popen.communicate()
    return subprocess.CompletedProcess(args, popen.returncode, stdout, stderr)


class Process:
    """A command in a new process group (so its children can be stopped with it), its output in a log file."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def check_running(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; its log ends:\n{self.log_tail()}")

    def stop(self, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM to the group (code servers, run and step workers included), SIGKILL what is left after the timeout."""
        group = self.popen.pid  # a new session's group id is its leader's pid

        def gone() -> bool:
            return self.popen.poll() is not None and not group_alive(group)

        _signal_group(group, signal.SIGTERM)
        if not wait_for(gone, timeout_seconds, 0.2):
            _signal_group(group, signal.SIGKILL)
            if not wait_for(gone, timeout_seconds, 0.2):
                raise RuntimeError(f"{self.name} (process group {group}) survived SIGKILL for {timeout_seconds}s")


def _signal_group(group: int, signum: signal.Signals) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass


def group_alive(group: int) -> bool:
    """Whether a process of the group still runs; zombies (dead, waiting for init to reap them) do not count."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    if not PROC.is_dir():
        return True
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue  # exited meanwhile
        if int(pgrp) == group and state != "Z":
            return True
    return False


class GraphQLError(RuntimeError):
    pass


class DagsterDeployment:
    """The webserver on a free port and the daemon, with `env`; stop() ends both, also after a failed start."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**env, "DAGSTER_HOME": str(REPO)}
        self.log_dir = log_dir
        self.port = free_port()
        self.webserver: Process | None = None
        self.daemon: Process | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> "DagsterDeployment":
        try:
            self.daemon = Process("dagster-daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                                  env=self.env, log_dir=self.log_dir)
            self.start_webserver()
            self.wait_until_daemon_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def start_webserver(self, name: str = "dagster-webserver") -> None:
        args = [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", HOST, "-p", str(self.port)]
        self.webserver = Process(name, args, env=self.env, log_dir=self.log_dir)
        self.wait_until_loaded()

    def restart_webserver(self) -> None:
        """Stop the webserver and start a new one on the same port; the daemon keeps running."""
        self.webserver.stop()
        self.start_webserver("dagster-webserver-restarted")

    def stop(self) -> None:
        """Stop the webserver, then the daemon, even if stopping the webserver failed."""
        try:
            if self.webserver is not None:
                self.webserver.stop()
        finally:
            if self.daemon is not None:
                self.daemon.stop()

    def wait_until_loaded(self) -> None:
        """The UI answers and the code location is loaded (not just the HTTP server up)."""
        query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus locationOrLoadError { __typename } } } } }"

        def loaded() -> bool:
            self.webserver.check_running()
            try:
                entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
            except (OSError, GraphQLError):
                return False
            return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

        if not wait_for(loaded, READY_TIMEOUT_SECONDS):
            raise TimeoutError(f"the webserver did not load the workspace in {READY_TIMEOUT_SECONDS}s:\n"
                               f"{self.webserver.log_tail()}")
        errors = [e for e in self.graphql(query)["workspaceOrError"]["locationEntries"]
                  if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
        if errors:
            raise RuntimeError(f"the code location failed to load: {errors}\n{self.webserver.log_tail()}")

    def wait_until_daemon_healthy(self) -> None:
        """Every daemon the instance needs has sent a heartbeat to the storage."""
        query = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"

        def unhealthy() -> list[str]:
            self.daemon.check_running()
            statuses = self.graphql(query)["instance"]["daemonHealth"]["allDaemonStatuses"]
            return [s["daemonType"] for s in statuses if s["required"] and not s["healthy"]]

        if not wait_for(lambda: not unhealthy(), READY_TIMEOUT_SECONDS, 1):
            raise TimeoutError(f"daemons not healthy after {READY_TIMEOUT_SECONDS}s: {unhealthy()}\n{self.daemon.log_tail()}")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST /graphql as the UI does; the `data`, or GraphQLError with the server's errors."""
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            raise GraphQLError(f"HTTP {error.code}: {error.read().decode(errors='replace')[:2000]}") from None
        if body.get("errors"):
            raise GraphQLError(json.dumps(body["errors"], indent=1)[:4000])
        return body["data"]


@dataclass(frozen=True)
class EndToEnd:
    deployment: DagsterDeployment
    hub: FakeHub
    catalog_url: str
    dagster_pg_url: str
    today: str  # the UTC date when the deployment started: the partition synced first
    today_run: dict[str, Any]  # that run, finished (see dagster_ui.RUN_QUERY)


@contextmanager
def running_end_to_end(*, catalog_url: str, dagster_pg_url: str, home: Path) -> Iterator[EndToEnd]:
    """The deployment on these databases and a fake Hub, after today's partition was materialized through the UI's GraphQL."""
    today = datetime.now(UTC).date().isoformat()
    log_dir = ARTIFACTS / "deployment"
    log_dir.mkdir(parents=True, exist_ok=True)
    with FakeHub(synthetic_listing(HUB_MODELS), page_size=HUB_PAGE_SIZE) as hub:
        env = deployment_env(
            DATABASE_URL=catalog_url,
            DAGSTER_PG_URL=dagster_pg_url,
            HF_ENDPOINT=hub.url,
            POCKETAI_HOME=str(home),
            # One quick step retry, so a broken Hub fails the run in seconds rather than minutes.
            POCKETAI_HUB_STEP_RETRIES="1",
            POCKETAI_HUB_STEP_RETRY_DELAY_SECONDS="0.1",
        )
        deployment = DagsterDeployment(env, log_dir).start()
        try:
            run_id = materialize_partition(deployment.graphql, SYNC_ASSETS, today)
            run = wait_for_run(deployment.graphql, run_id, RUN_TIMEOUT_SECONDS)
            yield EndToEnd(deployment, hub, catalog_url, dagster_pg_url, today, run)
        finally:
            deployment.stop()


def program_lines(output: str) -> list[str]:
    """A make command's lines without make's own status line."""
    return [line for line in output.strip().splitlines() if not MAKE_STATUS_LINE.match(line)]
