"""The newcomer's commands: `make dev`, `make demo-dev`, `make viewer`, `make sync`, `make demo`, `make psql`
and the Dagster CLI.

They fail loudly on a busy port, stop everything they started on SIGINT (Ctrl-C) and SIGTERM (a clean stop
exits 0, so make prints no error), leave no embedded PostgreSQL running unless `embedded url` pinned it (and
then say so), and `make sync` stays quiet. Each test uses its own POCKETAI_HOME and
free ports; every process is found by that home (in its environment or command line), so the checks
see Dagster's webserver, daemon, code servers and PostgreSQL, whichever process group they are in.
"""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline_tests.dagster_ui import (
    launch_job_partition, materialize_partition, wait_for_run,
)
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.processes import (
    ARTIFACTS, BIN, MAKE_STATUS_LINE, REPO, RUN_TIMEOUT_SECONDS, SYNC_ASSETS, DagsterDeployment, Process, deployment_env,
    free_port, program_lines, wait_for,
)
from pocketai_pipeline_tests.synthetic import synthetic_listing

STOP_SECONDS = 90  # dagster dev's own shutdown, then the group's, then PostgreSQL's
UNREACHABLE_HUB = "http://127.0.0.1:9"  # the sensors' Hub calls fail at once instead of waiting on DNS
LOG_DIR = ARTIFACTS / "dev_commands"


def processes_of(home: Path) -> list[str]:
    """Live processes whose environment names POCKETAI_HOME=home or whose command line mentions home."""
    marker = str(home).encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] in {"Z", "X"}:
                continue
            cmdline = proc.joinpath("cmdline").read_bytes()
            environ = proc.joinpath("environ").read_bytes()
        except (OSError, IndexError):
            continue
        if marker in cmdline or b"POCKETAI_HOME=" + marker + b"\0" in environ + b"\0":
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
            found.append(f"{proc.name}: {command}")
    return found


def environ_of(line: str) -> dict[str, str]:
    """The environment of a process listed by processes_of."""
    raw = Path(f"/proc/{line.split(':')[0]}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def assert_nothing_left(home: Path) -> None:
    leftovers: list[str] = []

    def gone() -> bool:
        leftovers[:] = processes_of(home)
        return not leftovers and embedded.running_url(home) is None

    assert wait_for(gone, 15, 0.5), f"still running for {home}: {leftovers}; PostgreSQL: {embedded.running_url(home)}"


def run(args: list[str], env: dict[str, str], timeout_seconds: float) -> subprocess.CompletedProcess[str]:
    """Run a command from the repo root in a new process group; nothing of the group outlives it."""
    popen = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        stdout, stderr = popen.communicate(timeout=timeout_seconds)
    finally:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        popen.communicate()
    return subprocess.CompletedProcess(args, popen.returncode, stdout, stderr)


def make_env(home: Path, **settings: str) -> dict[str, str]:
    return deployment_env(**{"POCKETAI_HOME": str(home), "HF_ENDPOINT": UNREACHABLE_HUB, **settings})


def started(name: str, args: list[str], env: dict[str, str], port: int) -> tuple[Process, DagsterDeployment]:
    """`make …` in its own process group, and a handle on its UI once the code location is loaded."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    make = Process(name, args, env=env, log_dir=LOG_DIR)
    ui = DagsterDeployment(env, LOG_DIR)
    ui.port, ui.webserver, ui.daemon = port, make, make  # the UI's GraphQL helpers, on make's process
    return make, ui


def stop_make(make: Process, signum: signal.Signals, *, group: bool) -> float:
    """Send `signum` to make (or to its whole group, as a terminal's Ctrl-C does); how long make took to exit."""
    began = time.monotonic()
    if make.popen.poll() is None:
        if group:
            os.killpg(make.popen.pid, signum)
        else:
            make.popen.send_signal(signum)
    try:
        make.popen.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{make.name} did not exit {STOP_SECONDS}s after {signum.name}; its log ends:\n{make.log_tail()}")
    return time.monotonic() - began


def test_a_busy_port_fails_loudly_within_seconds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        began = time.monotonic()
        result = run(["make", "--no-print-directory", "dev", f"DAGSTER_PORT={port}"], make_env(home), 60)
        took = time.monotonic() - began
    assert result.returncode != 0
    assert took < 15, f"took {took:.1f}s"
    assert f"port {port} is already in use" in result.stderr and "DAGSTER_PORT" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (home / "pg").exists(), "PostgreSQL was started before the port was checked"
    assert_nothing_left(home)


def embedded_command(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "python"), "-m", "pocketai_pipeline.catalog.embedded", *args, "--home", str(home)],
               make_env(home), 120)


@pytest.mark.slow
@pytest.mark.parametrize("signum, to_group, pinned", [(signal.SIGTERM, False, True), (signal.SIGINT, True, False)],
                         ids=["SIGTERM-to-make-with-a-pinned-server", "SIGINT-to-the-terminal-group"])
def test_make_dev_stops_everything_it_started(
    tmp_path: Path, signum: signal.Signals, to_group: bool, pinned: bool
) -> None:
    home = tmp_path / "home"
    port = free_port()
    if pinned:  # `embedded url` pins the server: make dev uses it, leaves it running, and says so
        assert embedded_command(home, "url").returncode == 0
    make, ui = started(f"make-dev-{signum.name}", ["make", "--no-print-directory", "dev", f"DAGSTER_PORT={port}"],
                       make_env(home), port)
    try:
        ui.wait_until_loaded()
        assert embedded.running_url(home) is not None
        running = processes_of(home)
        assert len(running) >= 5, running  # make, the launcher, dagster dev, webserver, daemon, code server, postgres
        webservers = [line for line in running if "dagster_webserver" in line]
        assert webservers, running
        # Alert links follow the port, and the server is managed by the launcher, not by Dagster's processes.
        assert environ_of(webservers[0])["POCKETAI_DAGSTER_URL"] == f"http://127.0.0.1:{port}"
        assert environ_of(webservers[0])[embedded.MANAGED_ENV] == "1"
        took = stop_make(make, signum, group=to_group)
        assert took < STOP_SECONDS
        log = make.log_path.read_text(errors="replace")
        assert "SupersessionWarning" not in log, log[-3000:]
        # A clean stop is a success (devserver exits 0), so make prints no `make: *** [dev] Error 130`; make itself,
        # sent SIGINT by the terminal too, then ends by that signal, as Ctrl-C'd commands do.
        assert not MAKE_STATUS_LINE.search(log), log[-3000:]
        assert make.popen.returncode in (0, -signum), log[-3000:]
        if pinned:
            assert "keeps running: pinned by `embedded url`" in make.log_tail(20)
            assert "stopped the embedded PostgreSQL" not in log
            assert embedded.running_url(home) is not None
            assert "stopped the embedded PostgreSQL" in embedded_command(home, "stop").stdout
        else:
            assert "stopped the embedded PostgreSQL" in make.log_tail(20)
        assert_nothing_left(home)
    finally:
        make.stop()
        embedded.stop(home)


@pytest.mark.slow
def test_validate_leaves_no_postgres_running_and_never_stops_one_in_use(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = make_env(home, DAGSTER_HOME=str(REPO))
    validate = [str(BIN / "dagster"), "definitions", "validate", "-m", "pocketai_pipeline.definitions"]

    result = run(validate, env, 180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (home / "pg").is_dir()  # it did start the embedded PostgreSQL, for Dagster's storage
    assert_nothing_left(home)

    # While another process (this one) uses the server, validate leaves it running.
    embedded.server_url(home)
    try:
        result = run(validate, env, 180)
        assert result.returncode == 0, result.stderr[-3000:]
        assert embedded.running_url(home) is not None
        assert embedded.live_users(home) == [os.getpid()]
        assert embedded.release(home)  # the last user out stops it
        assert embedded.running_url(home) is None
    finally:
        embedded.stop(home)


@pytest.mark.slow
def test_make_sync_is_quiet_and_stops_what_it_started(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeHub(synthetic_listing(60), page_size=25) as hub:
        result = run(["make", "--no-print-directory", "sync"], make_env(home, HF_ENDPOINT=hub.url), 300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    lines = output.strip().splitlines()
    assert len(lines) <= 10, output
    assert "DEBUG" not in output and "Warning" not in output and "not running" not in output, output
    assert any(re.search(r"listing: \d+ models in \d+ pages", line) for line in lines), output
    assert any("records: 60 records" in line for line in lines), output
    assert any("merge:   60 created" in line for line in lines), output
    assert lines[-1].startswith("partition=") and "created=60" in lines[-1], output
    assert_nothing_left(home)


def launch_sync_job(ui: DagsterDeployment, partition: str) -> str:
    """Launch hf_litert_sync_job for `partition` as the job page's launchpad does; the run id."""
    return launch_job_partition(ui.graphql, "hf_litert_sync_job", partition)


def catalog_counts(home: Path) -> tuple[int, int]:
    """Active and removed synced models, read without starting the server or becoming its user."""
    url = embedded.running_url(home, driver=None)
    assert url is not None
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FILTER (WHERE removed_upstream_at IS NULL), count(*) FILTER (WHERE removed_upstream_at IS NOT NULL)"
            " FROM ml_models"
        ).fetchone()


@pytest.mark.slow
def test_make_demo_dev_serves_the_ui_syncs_through_it_and_stops_on_sigterm(tmp_path: Path) -> None:
    demo_home = tmp_path / "demo"
    port = free_port()
    env = make_env(tmp_path / "unused", DEMO_HOME=str(demo_home))
    make, ui = started("make-demo-dev", ["make", "--no-print-directory", "demo-dev", f"DAGSTER_PORT={port}"], env, port)
    try:
        ui.wait_until_loaded()
        ui.wait_until_daemon_healthy()
        hub_url = (demo_home / "fake-hub.url").read_text().strip()
        with urllib.request.urlopen(f"{hub_url}/api/models?filter=litert&limit=1", timeout=10) as response:
            assert response.status == 200

        today = datetime.now(UTC).date().isoformat()
        run_id = launch_sync_job(ui, today)
        finished = wait_for_run(ui.graphql, run_id, RUN_TIMEOUT_SECONDS)
        assert finished["status"] == "SUCCESS", (finished, make.log_tail())
        assert finished["jobName"] == "hf_litert_sync_job"
        active, removed = catalog_counts(demo_home)
        assert active > 2000 and removed == 0

        # make demo-change changes the running fake Hub's models; the next sync shows it.
        change = run(["make", "--no-print-directory", "demo-change", "ADD=4", "CHANGE=3", "REMOVE=2"], env, 60)
        assert change.returncode == 0, change.stdout + change.stderr
        run_id = launch_sync_job(ui, today)
        assert wait_for_run(ui.graphql, run_id, RUN_TIMEOUT_SECONDS)["status"] == "SUCCESS", make.log_tail()
        assert catalog_counts(demo_home) == (active + 4 - 2, 2)

        # make demo syncs from this fake Hub, not a fresh one that would bring the removed models back.
        demo = run(["make", "--no-print-directory", "demo"], env, RUN_TIMEOUT_SECONDS)
        assert demo.returncode == 0, (demo.stdout + demo.stderr)[-3000:]
        assert f"using the fake Hub of the running make demo-dev at {hub_url}" in demo.stdout, demo.stdout
        # Every runtime file has its facts (the new and changed models' too); the second sync reads nothing.
        first_facts, again_facts = [line for line in demo.stdout.splitlines() if line.startswith("  facts:")]
        assert " 0 pending" in first_facts and ", 0 requests, 0 bytes read" in again_facts, demo.stdout
        [files] = re.findall(r"^app_runtime_files: .*$", demo.stdout, re.M)
        assert re.search(r"[1-9][\d,]* read", files) and "pending" not in files, demo.stdout
        assert catalog_counts(demo_home) == (active + 4 - 2, 2)

        stop_make(make, signal.SIGTERM, group=False)
        assert_nothing_left(demo_home)
        assert not (demo_home / "fake-hub.url").exists()
    finally:
        make.stop()


@pytest.mark.slow
def test_the_read_only_viewer_refuses_to_launch_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    make, ui = started("make-viewer", ["make", "--no-print-directory", "viewer", f"DAGSTER_VIEWER_PORT={port}"],
                       make_env(home), port)
    try:
        ui.wait_until_loaded()
        today = datetime.now(UTC).date().isoformat()
        with pytest.raises(AssertionError, match="UnauthorizedError"):
            launch_sync_job(ui, today)  # the launchpad's way
        with pytest.raises(AssertionError, match="UnauthorizedError"):
            materialize_partition(ui.graphql, SYNC_ASSETS, today)  # the asset page's Materialize
        runs = ui.graphql("{ runsOrError { ... on Runs { results { runId } } } }")["runsOrError"]["results"]
        assert runs == []
        stop_make(make, signal.SIGTERM, group=False)
        assert_nothing_left(home)
    finally:
        make.stop()


def test_embedded_url_is_one_psql_takes_as_is(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        printed = embedded_command(home, "url")
        url = printed.stdout.strip()
        assert printed.returncode == 0 and url.startswith("postgresql://"), printed.stdout + printed.stderr
        result = run(["psql", url, "-Atc", "SELECT current_database()"], make_env(home), 60)
        assert result.returncode == 0 and result.stdout.strip() == "pocketai", result.stdout + result.stderr
        sqlalchemy = embedded_command(home, "url", "--driver", "psycopg").stdout.strip()
        assert sqlalchemy.startswith("postgresql+psycopg://")
        assert embedded.running_url(home) is not None  # pinned until make stop
    finally:
        embedded.stop(home)
    assert_nothing_left(home)


def test_make_psql_opens_the_catalog_of_pocketai_home_and_of_the_demo(tmp_path: Path) -> None:
    home, demo_home = tmp_path / "home", tmp_path / "demo"
    env = make_env(home, DEMO_HOME=str(demo_home))
    for target, data_home in ((["psql"], home), (["psql", "DEMO=1"], demo_home)):
        popen = subprocess.Popen(["make", "--no-print-directory", *target], cwd=REPO, env=env, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = popen.communicate("SELECT 'catalog:' || current_database();\n", timeout=120)
        assert popen.returncode == 0, stdout + stderr
        assert "catalog:pocketai" in stdout, stdout + stderr
        assert (data_home / "pg").is_dir()  # that home's server, not another one
        assert_nothing_left(data_home)  # it started the server, so it stopped it


def test_make_demo_refuses_database_url_in_one_sentence(tmp_path: Path) -> None:
    demo_home = tmp_path / "demo"
    env = make_env(tmp_path / "home", DEMO_HOME=str(demo_home),
                   DATABASE_URL="postgresql+psycopg://app:pw-in-url@db.example:5432/catalog")
    result = run(["make", "--no-print-directory", "demo"], env, 120)
    lines = program_lines(result.stdout + result.stderr)
    assert result.returncode != 0
    assert len(lines) == 1 and "DATABASE_URL" in lines[0] and "unset it" in lines[0], lines
    assert "pw-in-url" not in result.stdout + result.stderr
    assert not (demo_home / "pg").exists()
