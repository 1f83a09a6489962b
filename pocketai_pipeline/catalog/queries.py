"""The catalog's SQL, kept in ``catalog/sql/<name>.sql`` (one statement per file) and loaded by name."""

from functools import cache
from importlib.resources import files

from sqlalchemy import TextClause, text


@cache
def query(name: str) -> TextClause:
    """The statement in ``sql/<name>.sql``; ``.text`` gives the raw string (for COPY)."""
    return text((files(__package__) / "sql" / f"{name}.sql").read_text(encoding="utf-8"))
