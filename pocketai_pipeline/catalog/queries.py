"""The catalog's SQL, kept in ``catalog/sql/<name>.sql`` (one statement per file) and loaded by name."""

import contextlib
import threading
from functools import cache
from importlib.resources import files

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
from sqlalchemy import Engine, TextClause, event, text


class CatalogReadError(RuntimeError):
    """A catalog read into Arrow failed; ``sqlstate`` is PostgreSQL's code (42501: a missing privilege)."""

    def __init__(self, message: str, sqlstate: str | None):
        super().__init__(message)
        self.sqlstate = sqlstate


@cache
def query(name: str) -> TextClause:
    """The statement in ``sql/<name>.sql``; ``.text`` gives the raw string."""
    return text((files(__package__) / "sql" / f"{name}.sql").read_text(encoding="utf-8"))


def read_arrow(engine: Engine, select: str, schema: pa.Schema) -> pa.Table:
    """The rows of ``select`` (columns as in ``schema``), read by Arrow's PostgreSQL driver (ADBC).

    It COPYs the rows in binary straight into Arrow arrays: a million rows in well under a second and
    about their own size in memory, where psycopg's COPY hands Python one message per row (seconds, and
    hundreds of MB). It uses a connection of its own, in autocommit, so it sees what is committed, not a
    transaction's own writes.
    """
    try:
        with _readers_lock:
            table = _read(engine, select)
    except adbc_driver_manager.Error as error:
        # PostgreSQL's own words: without the driver's prefix ("...: ERROR: ") and the query it echoes.
        said = " ".join(str(error).split()).split(" Query was:", 1)[0].rsplit("ERROR: ", 1)[-1]
        if engine.url.password:
            said = said.replace(str(engine.url.password), "***")
        raise CatalogReadError(f"reading the catalog failed: {said}", error.sqlstate) from None
    return pa.Table.from_arrays([table.column(name) for name in schema.names], schema=schema)


# One ADBC connection per engine, kept until the engine is disposed: opening one takes ~60 ms (the driver
# reads PostgreSQL's type catalog), and a sync step reads the catalog up to three times.
_readers: dict[Engine, adbc.Connection] = {}
_readers_lock = threading.RLock()


def _read(engine: Engine, select: str) -> pa.Table:
    """On the engine's kept connection; on a new one if that one fails (a restarted server, say)."""
    kept = engine in _readers
    try:
        return _query(_reader(engine), select)
    except adbc_driver_manager.Error:
        if not kept:
            raise
        _close_reader(engine)
        return _query(_reader(engine), select)


def _reader(engine: Engine) -> adbc.Connection:
    if engine not in _readers:
        uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        _readers[engine] = adbc.connect(uri, autocommit=True)
        if not event.contains(engine, "engine_disposed", _close_reader):
            event.listen(engine, "engine_disposed", _close_reader)
    return _readers[engine]


def _query(connection: adbc.Connection, select: str) -> pa.Table:
    with connection.cursor() as cursor:
        cursor.execute(select)
        return cursor.fetch_arrow_table()


def _close_reader(engine: Engine) -> None:
    with _readers_lock:
        connection = _readers.pop(engine, None)
    if connection is not None:
        with contextlib.suppress(adbc_driver_manager.Error):
            connection.close()
