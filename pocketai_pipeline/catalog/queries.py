"""The catalog's SQL, kept in ``catalog/sql/<name>.sql`` (one statement per file) and loaded by name."""

from functools import cache
from importlib.resources import files

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, TextClause, text


@cache
def query(name: str) -> TextClause:
    """The statement in ``sql/<name>.sql``; ``.text`` gives the raw string (for COPY)."""
    return text((files(__package__) / "sql" / f"{name}.sql").read_text(encoding="utf-8"))


def copy_to_arrow(conn: Connection, select: str, schema: pa.Schema) -> pa.Table:
    """The rows of ``select`` (columns as in ``schema``), read with one ``COPY … TO STDOUT`` as CSV and
    parsed by Arrow: much cheaper than rows of Python objects for a million rows."""
    with conn.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
            rows = b"".join(copy)
    if not rows:
        return schema.empty_table()
    return pacsv.read_csv(
        pa.BufferReader(rows),
        read_options=pacsv.ReadOptions(column_names=schema.names),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        # PostgreSQL writes NULL unquoted and empty, the empty string as "", booleans as t and f.
        convert_options=pacsv.ConvertOptions(column_types=schema, true_values=["t"], false_values=["f"],
                                             strings_can_be_null=True, quoted_strings_can_be_null=False),
    )
