"""The Makefile's commands for a developer's machine: `python -m pocketai_pipeline.devserver COMMAND`.

- ``dev``: ``dg dev`` on workspace.yaml (Dagster's webserver, daemon, code servers) on 127.0.0.1, after checking
  that the port is free. Ctrl-C or SIGTERM stops Dagster's whole process group first, then the embedded
  PostgreSQL, and exits 0 when that went cleanly.
- ``viewer``: ``dagster-webserver --read-only`` the same way (nobody can launch or change anything in it).
- ``sync``: materialize one partition (today's) through the Dagster instance, printing a line per step,
  once the catalog database and the Hub both answered.
- ``demo``: ``sync`` twice against a local fake Hub (the one ``demo-dev`` runs, if it does); ``demo-dev``:
  ``dev`` against a local fake Hub.

Every command first checks every setting: a bad one ends it with one sentence per setting naming it and a
valid example, the traceback going to logs/devserver-debug.log.

Dagster's processes get ``POCKETAI_EMBEDDED_MANAGED=1``: this process starts the embedded PostgreSQL,
they only attach to it, and it stops it once they are gone (see catalog/embedded.py).
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pocketai_pipeline import settings
from pocketai_pipeline.catalog import embedded

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
LEADER_STOP_SECONDS = 30  # dagster dev asks its webserver and daemon to shut down, then waits for them
GROUP_STOP_SECONDS = 10
FAKE_HUB_ARGS = ["--models", "2100", "--page-size", "500", "--edge-cases"]
DEMO_IGNORES = ("DAGSTER_PG_URL", "HF_TOKEN", "HF_ENDPOINT", "POCKETAI_STORAGE_URL")
LAUNCHED_BY_TAG = "pocketai/launched_by"
DEBUG_LOG = REPO / "logs" / "devserver-debug.log"
PREFLIGHT_TIMEOUT_SECONDS = 10
_signals_received: list[int] = []  # once one arrived, stopping is under way: later ones change nothing


class Stop(Exception):
    """SIGINT or SIGTERM arrived: stop what was started, then exit."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """The first SIGINT/SIGTERM raises Stop; later ones (make forwards SIGTERM; a terminal sends SIGINT to
    make and to us) are ignored while stopping, which is bounded by timeouts anyway."""
    def handler(signum: int, _frame: object) -> None:
        _signals_received.append(signum)
        if len(_signals_received) == 1:
            raise Stop(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def log_debug(error: BaseException) -> None:
    """The traceback of `error` appended to DEBUG_LOG, for whoever wants more than the sentence on the console."""
    try:
        DEBUG_LOG.parent.mkdir(parents=True, exist_ok=True)
        with DEBUG_LOG.open("a") as log:
            log.write(f"--- {datetime.now(UTC).isoformat()} {' '.join(sys.argv)}\n")
            log.write("".join(traceback.format_exception(error)))
    except OSError:
        pass  # the console's sentence is what matters


def require_good_settings() -> None:
    """Exit 2 with one line per bad setting (naming it, with a valid example) as the last lines."""
    try:
        settings.check_settings()
    except settings.SettingsError as error:
        log_debug(error)
        print(*error.sentences, sep="\n", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on host:port (binding as the webserver would, with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_port(host: str, port: int, variable: str, command: str) -> None:
    if port_in_use(host, port):
        raise SystemExit(
            f"port {port} is already in use (another Dagster?): stop it or run make {command} {variable}={port + 1}"
        )


def uses_embedded() -> bool:
    return not (os.environ.get("DATABASE_URL") and os.environ.get("DAGSTER_PG_URL"))


def start_embedded() -> Path | None:
    """Start the embedded PostgreSQL with the databases Dagster and the catalog use; its home, if used."""
    if not uses_embedded():
        return None
    home = embedded.home_dir()
    print(f"starting the embedded PostgreSQL under {home}", flush=True)
    embedded.database_url(home, "dagster", driver="psycopg2")
    embedded.database_url(home)
    return home


def stop_embedded(home: Path | None) -> None:
    """Release the embedded PostgreSQL and say truthfully whether it stopped, and if not, what keeps it."""
    if home is None:
        return
    if embedded.release(home):
        print("stopped the embedded PostgreSQL", flush=True)
    elif users := embedded.live_users(home):
        print(f"the embedded PostgreSQL under {home} keeps running: still used by pid {', '.join(map(str, users))}",
              flush=True)
    elif embedded.pinned(home) and embedded.running_url(home):
        print(f"the embedded PostgreSQL under {home} keeps running: pinned by `embedded url` until make stop",
              flush=True)


def group_alive(group: int) -> bool:
    """Whether a process of the group still runs (zombies do not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError):
            continue
        if int(pgrp) == group and state not in {"Z", "X"}:
            return True
    return not Path("/proc/self").exists()


def _wait(condition, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass


def start_group(args: list[str], env: Mapping[str, str], **kwargs) -> subprocess.Popen:
    """`args` in a new session (so its own process group, which Ctrl-C on the terminal does not reach)."""
    return subprocess.Popen(args, cwd=REPO, env=dict(env), start_new_session=True, **kwargs)


def stop_group(popen: subprocess.Popen, leader_seconds: float = LEADER_STOP_SECONDS) -> None:
    """SIGTERM to the leader and a wait for it to shut its children down; then SIGTERM and SIGKILL to
    what is left of the group. Returns once no process of the group runs."""
    group = popen.pid
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=leader_seconds)
        except subprocess.TimeoutExpired:
            print(f"{Path(popen.args[0]).name} did not stop in {leader_seconds}s; killing its process group", flush=True)
    if group_alive(group):
        _signal_group(group, signal.SIGTERM)
        if not _wait(lambda: not group_alive(group), GROUP_STOP_SECONDS):
            _signal_group(group, signal.SIGKILL)
            _wait(lambda: not group_alive(group), GROUP_STOP_SECONDS)
    if popen.poll() is None:
        popen.kill()
    popen.wait()


def serve(args: list[str], *, host: str, port: int, variable: str, command: str, what: str) -> int:
    """Run a Dagster server until it exits or a signal arrives; then stop its group, then PostgreSQL."""
    os.environ.pop(embedded.MANAGED_ENV, None)  # this process manages the server
    os.environ.setdefault("DAGSTER_HOME", str(REPO))
    check_port(host, port, variable, command)
    link_host = HOST if host in {"0.0.0.0", "::", ""} else host
    print(f"{what} at http://{link_host}:{port} (Ctrl-C stops it and everything it started)", flush=True)
    env = {
        **os.environ,
        embedded.MANAGED_ENV: "1",
        "POCKETAI_DAGSTER_URL": os.environ.get("POCKETAI_DAGSTER_URL") or f"http://{link_host}:{port}",
    }
    home = popen = None
    exit_code = 0
    try:
        with stopping_on_signals():
            try:
                home = start_embedded()
                popen = start_group(args, env)
                exit_code = popen.wait()
                print(f"{Path(args[0]).name} exited with {exit_code}", flush=True)
            except Stop as stop:
                print(f"{stop}: stopping Dagster's processes", flush=True)
                exit_code = 0  # asked to stop, and stopping below: a clean stop is a success, not make's Error 130
            finally:
                if popen is not None:
                    stop_group(popen)
                stop_embedded(home)
    except Stop as stop:  # a signal while stopping already; everything above is bounded and done
        exit_code = 128 + stop.signum
    return exit_code


def dev(host: str, port: int, command: str = "dev") -> int:
    # `dg dev -w workspace.yaml` runs what `dagster dev` runs (webserver, daemon, code servers), without its
    # SupersessionWarning.
    return serve([str(BIN / "dg"), "dev", "-w", "workspace.yaml", "-h", host, "-p", str(port)],
                 host=host, port=port, variable="DAGSTER_PORT", command=command, what="the Dagster UI")


def viewer(host: str, port: int) -> int:
    return serve([str(BIN / "dagster-webserver"), "--read-only", "-w", "workspace.yaml", "-h", host, "-p", str(port)],
                 host=host, port=port, variable="DAGSTER_VIEWER_PORT", command="viewer", what="the read-only Dagster UI")


@contextmanager
def fake_hub(url_file: Path, log_file: Path) -> Iterator[str]:
    """The fake Hub with the synthetic listing and the edge cases, in its own process group; its URL."""
    url_file.unlink(missing_ok=True)
    args = [sys.executable, "-m", "pocketai_pipeline_tests.fake_hub", "--port", "0", *FAKE_HUB_ARGS,
            "--url-file", str(url_file)]
    with open(log_file, "wb") as log:
        popen = start_group(args, os.environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = _wait(lambda: popen.poll() is not None or (url_file.is_file() and bool(url_file.read_text())), 60)
        if not started or popen.poll() is not None:
            raise SystemExit(f"the fake Hub did not start; see {log_file}")
        yield url_file.read_text().strip()
    finally:
        stop_group(popen, leader_seconds=10)
        url_file.unlink(missing_ok=True)
        print("stopped the fake Hub", flush=True)


def use_demo_home(home: Path, command: str) -> None:
    """The demo's own POCKETAI_HOME and embedded PostgreSQL. It refuses DATABASE_URL rather than fill that catalog
    with synthetic models; it says which of the shell's other settings it leaves aside."""
    if os.environ.get("DATABASE_URL"):
        raise SystemExit(
            f"make {command} writes 2,100 synthetic models into its catalog, so it does not use DATABASE_URL: "
            f"unset it for the demo (env -u DATABASE_URL make {command}), which then keeps its catalog in the "
            f"embedded PostgreSQL under {home}"
        )
    home.mkdir(parents=True, exist_ok=True)
    os.environ["POCKETAI_HOME"] = str(home)
    if ignored := [name for name in DEMO_IGNORES if os.environ.pop(name, None)]:
        print(f"the demo ignores {' and '.join(ignored)} (it runs on {home} and a local fake Hub)", flush=True)


def demo_dev(home: Path, host: str, port: int) -> int:
    """The fake Hub and `dev` on `home`; the Hub's URL in home/fake-hub.url for `make demo-change`."""
    use_demo_home(home, "demo-dev")
    require_good_settings()
    check_port(host, port, "DAGSTER_PORT", "demo-dev")
    try:
        with stopping_on_signals():
            with fake_hub(home / "fake-hub.url", home / "fake-hub.log") as url:
                os.environ["HF_ENDPOINT"] = url
                print(f"fake Hub at {url} (make demo-change ADD=5 CHANGE=10 REMOVE=3 changes its models)", flush=True)
                return dev(host, port, command="demo-dev")
    except Stop as stop:
        return 128 + stop.signum


# --- sync -------------------------------------------------------------------------------------------

def sync_job():
    """The code location's sync job, for dg.reconstructable."""
    from pocketai_pipeline.definitions import defs

    return defs.resolve_job_def("hf_litert_sync_job")


def _metadata(event) -> dict[str, object]:
    materialization = event.asset_materialization
    return {key: value.value for key, value in materialization.metadata.items()}


def _counts(metadata: Mapping[str, object], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{metadata[key]:,} {key.replace('_', ' ')}" for key in keys
                     if isinstance(metadata.get(key), int) and not isinstance(metadata.get(key), bool))


def describe(event) -> str | None:
    """One short line for an event worth a line in `make sync`, else None."""
    import dagster as dg

    dagster_event = event.dagster_event
    kind = dagster_event.event_type
    if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
        asset = dagster_event.asset_key.to_user_string()
        metadata = _metadata(event)
        seconds = metadata.get("duration_seconds")
        took = f" in {seconds:.2f} s" if isinstance(seconds, float | int) else ""
        if asset == "hf_litert_listing":
            return f"  listing: {metadata.get('count', '?'):,} models in {metadata.get('pages', '?')} pages from {metadata.get('endpoint', '?')}"
        if asset == "litert_model_records":
            return f"  records: {_counts(metadata, ('records', 'rejected', 'skipped_private', 'skipped_disabled', 'duplicates_dropped'))}"
        if asset == "ml_models":
            return f"  merge:   {_counts(metadata, ('created', 'updated', 'unchanged', 'removed', 'restored', 'skipped'))}{took}"
        if asset == "ml_model_file_facts":
            counts = ('read', 'name_only', 'unreadable', 'reused', 'failed', 'pending', 'requests', 'bytes_read')
            return f"  facts:   {_counts(metadata, counts)}{took}"
        counts = {key: value for key, value in metadata.items() if not key.startswith("dagster/")}
        return f"  {asset}: {_counts(counts, tuple(counts)[:6])}{took}"
    if kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        evaluation = dagster_event.event_specific_data
        if not evaluation.passed:
            return f"  check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed"
    if kind in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_UP_FOR_RETRY):
        error = dagster_event.event_specific_data.error
        while error is not None and error.cause is not None:  # the exception behind Dagster's retry wrappers
            error = error.cause
        message = (error.message if error else event.user_message).strip().splitlines()
        verb = "failed" if kind == dg.DagsterEventType.STEP_FAILURE else "failed, will retry"
        return f"  step {dagster_event.step_key} {verb}: {' '.join(message)[:500]}"
    return None


def follow_run(instance, launched_by: str, done: threading.Event) -> None:
    """Print describe()'s lines for the run tagged `launched_by` as its events arrive, until `done`."""
    import dagster as dg

    interesting = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                   dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_UP_FOR_RETRY}
    run_id, seen = None, 0
    while True:
        finished = done.is_set()
        if run_id is None:
            records = instance.get_run_records(dg.RunsFilter(tags={LAUNCHED_BY_TAG: launched_by}), limit=1)
            run_id = records[0].dagster_run.run_id if records else None
        if run_id is not None:
            events = instance.all_logs(run_id, of_type=interesting)
            for event in events[seen:]:
                if line := describe(event):
                    print(line, flush=True)
            seen = len(events)
        if finished:
            return
        done.wait(0.5)


def catalog_problem() -> str | None:
    """Why the catalog database cannot be used (DATABASE_URL, or the embedded one started), else None."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError

    from pocketai_pipeline.catalog.resource import CatalogConnectionError, catalog_url, connection_failure, embedded_url

    if not os.environ.get("DATABASE_URL"):
        try:
            embedded_url(embedded.home_dir())  # the sync would start it anyway; this process is now one of its users
        except CatalogConnectionError as error:
            return str(error)
        return None
    url = catalog_url(os.environ["DATABASE_URL"])
    engine = create_engine(url, connect_args={"connect_timeout": PREFLIGHT_TIMEOUT_SECONDS})
    try:
        with engine.connect():
            return None
    except DBAPIError as error:
        return connection_failure("DATABASE_URL", url, error)
    finally:
        engine.dispose()


def hub_problem() -> str | None:
    """Why the Hub's listing cannot be asked for (one try, no retries), else None."""
    from pocketai_pipeline.hub.client import HubSetupError
    from pocketai_pipeline.hub.resource import DEFAULT_ENDPOINT, HubResource

    endpoint = settings.hf_endpoint(DEFAULT_ENDPOINT).rstrip("/")
    client = HubResource(endpoint=endpoint, token=os.environ.get("HF_TOKEN") or None,
                         timeout_seconds=PREFLIGHT_TIMEOUT_SECONDS, max_retries=0, max_wait_seconds=0).client()
    try:
        status = client.request(f"{endpoint}/api/models", params={"limit": 1}).status_code
    except HubSetupError as error:
        return str(error)
    except Exception as error:  # a timeout, a reset: whatever the client gives up on
        return (f"HF_ENDPOINT={endpoint} did not answer ({type(error).__name__}: {error}): "
                "is the Hub (or your mirror) up?")
    if status in (401, 403):
        return f"HF_TOKEN was refused by HF_ENDPOINT={endpoint} ({status} on GET /api/models): check or unset HF_TOKEN"
    if status >= 400:
        return f"HF_ENDPOINT={endpoint} answered {status} to GET /api/models: is it the Hub, or a mirror of its API?"
    return None


def preflight_problems() -> list[str]:
    """One sentence for each of the catalog database and the Hub that cannot be used: both are always tried."""
    return [problem for problem in (catalog_problem(), hub_problem()) if problem]


def sync(partition: str | None, verbose: bool) -> int:
    """Materialize `partition` (today's UTC date) with the job the UI and schedule run; print what it did."""
    require_good_settings()
    if problems := preflight_problems():
        print(*problems, sep="\n", file=sys.stderr, flush=True)
        return 1

    import dagster as dg

    from pocketai_pipeline import report

    os.environ.setdefault("DAGSTER_HOME", str(REPO))
    partition = partition or datetime.now(UTC).date().isoformat()
    launched_by = f"make sync (pid {os.getpid()}, {time.time():.0f})"
    run_config = {"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}}}
    print(f"syncing partition {partition} from {os.environ.get('HF_ENDPOINT') or 'https://huggingface.co'}", flush=True)
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        done = threading.Event()
        follower = threading.Thread(target=follow_run, args=(instance, launched_by, done), daemon=True)
        follower.start()
        try:
            result = dg.execute_job(
                dg.reconstructable(sync_job), instance, run_config=run_config,
                tags={"dagster/partition": partition, LAUNCHED_BY_TAG: launched_by},
            )
        finally:
            done.set()
            follower.join(timeout=30)
        took = time.monotonic() - started
        if not result.success:
            print(f"sync of {partition} failed after {took:.1f} s (run {result.run_id}); "
                  "VERBOSE=1 shows Dagster's full log", flush=True)
            return 1
        counts = report.latest_sync_counts(instance)
    print(f"sync of {partition} succeeded in {took:.1f} s (run {result.run_id})", flush=True)
    if counts is not None:
        print(report.format_counts(counts), flush=True)
    return 0


def running_demo_hub(home: Path) -> str | None:
    """The URL of the fake Hub `make demo-dev` runs on `home`, if it answers."""
    url_file = home / "fake-hub.url"
    url = url_file.read_text().strip() if url_file.is_file() else ""
    if not url:
        return None
    try:
        with urllib.request.urlopen(f"{url}/api/models?limit=1", timeout=5) as response:
            return url if response.status == 200 else None
    except OSError:
        return None


@contextmanager
def demo_hub(home: Path) -> Iterator[str]:
    """The running demo-dev's fake Hub (so make demo-change's changes stay), else a fresh one, said so."""
    if url := running_demo_hub(home):
        print(f"using the fake Hub of the running make demo-dev at {url}", flush=True)
        yield url
        return
    with tempfile.TemporaryDirectory() as tmp, fake_hub(Path(tmp) / "url", home / "fake-hub-demo.log") as url:
        print(f"started a fresh fake Hub at {url} (2,100 synthetic models; changes made by make demo-change to an "
              "earlier one are not in it)", flush=True)
        yield url


def demo(home: Path, verbose: bool) -> int:
    """`sync` twice against the fake Hub, on `home`: the second run changes nothing."""
    use_demo_home(home, "demo")
    require_good_settings()
    with demo_hub(home) as url:
        os.environ["HF_ENDPOINT"] = url
        code = sync(None, verbose)
        if code == 0:
            print("--- again: nothing should change ---", flush=True)
            code = sync(None, verbose)
    if code == 0:
        print_runtime_files()
    return code


def print_runtime_files(limit: int = 5) -> None:
    """What the app reads of the demo's catalog: its runtime files by facts_status, and a few with their facts."""
    from pocketai_pipeline.catalog.queries import query
    from pocketai_pipeline.defs.resources import build_resources

    engine = build_resources()["catalog"].engine()
    with engine.connect() as conn:
        statuses = conn.execute(query("runtime_files_by_status")).all()
        sample = conn.execute(query("runtime_files_sample"), {"limit": limit}).all()
    engine.dispose()
    print("app_runtime_files: " + ", ".join(f"{files:,} {status}" for status, files in statuses), flush=True)
    for row in sample:
        print(f"  {row.hf_model_id}/{row.path}: {row.quantization or '?'}, {row.max_context_tokens} tokens, "
              f"{'+'.join(row.input_modalities)}, on {','.join(row.backends or ['any'])}, {row.min_device_memory_gb} GB",
              flush=True)
    print("more with make psql DEMO=1: SELECT * FROM app_runtime_files (README: Choosing a file for the phone)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, default_port in (("dev", 3000), ("viewer", 3001), ("demo-dev", 3000)):
        command = commands.add_parser(name)
        command.add_argument("--host", default=HOST)
        command.add_argument("--port", type=int, default=default_port)
        if name == "demo-dev":
            command.add_argument("--home", type=Path, default=REPO / ".pocketai-demo")
    for name in ("sync", "demo"):
        command = commands.add_parser(name)
        command.add_argument("--verbose", action="store_true", help="Dagster's DEBUG log and every warning")
        if name == "sync":
            command.add_argument("--partition", help="YYYY-MM-DD; default: today (UTC)")
        else:
            command.add_argument("--home", type=Path, default=REPO / ".pocketai-demo")
    args = parser.parse_args(argv)
    if args.command in ("dev", "viewer"):
        require_good_settings()
    if args.command == "dev":
        return dev(args.host, args.port)
    if args.command == "viewer":
        return viewer(args.host, args.port)
    if args.command == "demo-dev":
        return demo_dev(args.home.resolve(), args.host, args.port)
    if args.command == "sync":
        return sync(args.partition, args.verbose)
    return demo(args.home.resolve(), args.verbose)


if __name__ == "__main__":
    sys.exit(main())
