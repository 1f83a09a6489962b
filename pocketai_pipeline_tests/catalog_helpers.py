"""Helpers for the catalog tests: engines on the per-test database, and watching lock waits."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text

from pocketai_pipeline.catalog.schema import migrate_to_head


@contextmanager
def catalog_engine(database_url: str, *, migrated: bool = True) -> Iterator[Engine]:
    engine = create_engine(database_url)
    try:
        if migrated:
            migrate_to_head(engine)
        yield engine
    finally:
        engine.dispose()


def wait_for_lock_waiters(engine: Engine, count: int, wait_event: str = "advisory", timeout: float = 30) -> None:
    """Block until ``count`` sessions of this database wait on a lock of kind ``wait_event``."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND wait_event = :wait_event"
                ),
                {"wait_event": wait_event},
            ).scalar_one()
        if waiting >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{waiting} of {count} sessions waiting on a {wait_event} lock after {timeout}s")
        time.sleep(0.02)
