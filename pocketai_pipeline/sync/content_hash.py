"""A content hash of each record over exactly the fields the merge writes (contract rule 5).

The merge keeps the hash in ``ml_models.hf_sync_hash``; on the next sync only records whose hash
differs from the stored one are shipped to PostgreSQL. So the hash must be equal exactly when the
stored values would be equal, whatever pandas dtype carried them:

- ``synced_table`` turns a records frame into one canonical Arrow table (``SYNCED_FIELDS``: text as
  ``string``, lists as ``list<string>``, ``int64``, ``bool``, ``timestamp[us, UTC]``). ``string``,
  ``str`` and ``object`` columns, lists and numpy arrays, any time zone: all give the same table.
  NULL stays NULL (NaN, None, pd.NA, NaT); a missing list is the empty list it is stored as; a
  zone-less timestamp is refused. A value that cannot be converted raises ``ValueError`` naming the
  record; columns that the fast vectorized conversion refuses are converted value by value by the
  ``to_*`` functions below, which either name the bad record or give the clean values.
- ``row_hashes`` writes every row as a canonical byte string (per field ``N`` for NULL, else
  ``<byte length>:<bytes>`` of its text: text as is, integers in decimal, booleans ``t``/``f``,
  timestamps in microseconds since the Unix epoch (UTC), lists as a PostgreSQL array literal with
  every element quoted) and hashes it with BLAKE2b (16 bytes). Building the strings is vectorized
  (pyarrow.compute); only the hashing runs per row.
"""

import hashlib
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HASH_BYTES = 16

TEXT = pa.string()
TEXT_LIST = pa.list_(pa.string())
INTEGER = pa.int64()
BOOLEAN = pa.bool_()
TIMESTAMP = pa.timestamp("us", tz="UTC")


def is_missing(value: object) -> bool:
    """Whether a DataFrame cell holds no value: None, pd.NA, NaN or NaT (pandas or numpy)."""
    if value is None:
        return True
    if isinstance(value, (list, tuple, np.ndarray)):
        return False
    return bool(pd.isna(value))


def to_text(value: object) -> str | None:
    return None if is_missing(value) else str(value)


def to_integer(value: object) -> int | None:
    return None if is_missing(value) else int(value)


def to_boolean(value: object) -> bool | None:
    return None if is_missing(value) else bool(value)


def to_timestamp(value: object) -> datetime | None:
    if is_missing(value):
        return None
    timestamp = pd.Timestamp(value)
    if timestamp.tzinfo is None:
        raise ValueError(f"{timestamp} has no time zone; records carry UTC timestamps")
    return timestamp.to_pydatetime()


def to_text_array(value: object) -> list[str]:
    """A list of strings (lists come back from Parquet as numpy arrays); a missing list is empty."""
    if is_missing(value):
        return []
    if isinstance(value, str):
        raise TypeError(f"expected a list of strings, got the string {value!r}")
    return [str(item) for item in value]


_KINDS: dict[pa.DataType, Callable[[object], object]] = {
    TEXT: to_text,
    TEXT_LIST: to_text_array,
    INTEGER: to_integer,
    BOOLEAN: to_boolean,
    TIMESTAMP: to_timestamp,
}

# The fields the merge writes, in the column order of its stage; hf_model_id first.
SYNCED_FIELDS: dict[str, pa.DataType] = {
    "hf_model_id": TEXT,
    "name": TEXT,
    "origin_repo_url": TEXT,
    "tags": TEXT_LIST,
    "task": TEXT,
    "license_type": TEXT,
    "downloads": INTEGER,
    "likes": INTEGER,
    "gated": BOOLEAN,
    "hf_sha": TEXT,
    "hf_created_at": TIMESTAMP,
    "hf_last_modified": TIMESTAMP,
    "hf_license_id": TEXT,
    "hf_license_name": TEXT,
    "library_name": TEXT,
    "base_models": TEXT_LIST,
    "runtime_formats": TEXT_LIST,
    "hf_gated": TEXT,
}
SCHEMA = pa.schema(list(SYNCED_FIELDS.items()))
# The same fields as the records step stores them (pandas' "string" dtype is Arrow's large_string).
_STORED_SCHEMA = pa.schema([(name, pa.large_string() if kind == TEXT else kind) for name, kind in SYNCED_FIELDS.items()])


def converter(field: str) -> Callable[[object], object]:
    """The value-by-value conversion of ``field`` to a plain Python value (None for NULL)."""
    return _KINDS[SYNCED_FIELDS[field]]


def synced_table(records: pd.DataFrame | pa.Table) -> pa.Table:
    """The synced fields of ``records`` as one canonical Arrow table (see the module docstring).

    An Arrow table of exactly these types (the stored records) is taken as it is."""
    columns = records.column_names if isinstance(records, pa.Table) else records.columns
    missing = [field for field in SYNCED_FIELDS if field not in columns]
    if missing:
        raise ValueError(f"records lack the columns {missing}; expected {list(SYNCED_FIELDS)}")
    if isinstance(records, pa.Table) and records.select(list(SYNCED_FIELDS)).schema.equals(_STORED_SCHEMA):
        table = records.select(list(SYNCED_FIELDS)).cast(SCHEMA)
    else:
        if isinstance(records, pa.Table):
            records = records.to_pandas()
        ids = records["hf_model_id"]
        table = pa.Table.from_arrays([_column(records[field], kind, ids) for field, kind in SYNCED_FIELDS.items()], schema=SCHEMA)
    if table.num_rows and table.column("hf_model_id").null_count:
        row = table.column("hf_model_id").is_null().to_numpy(zero_copy_only=False).argmax()
        raise ValueError(f"record at position {row} cannot be merged: it has no hf_model_id")
    return table


def _column(values: pd.Series, kind: pa.DataType, ids: pd.Series) -> pa.Array:
    if kind == TIMESTAMP:  # zone-less values are refused, one by one
        fast = isinstance(values.dtype, pd.DatetimeTZDtype)
    elif kind == TEXT_LIST:  # Arrow would read a string as the list of its characters
        fast = not any(issubclass(kind_of_value, (str, bytes)) for kind_of_value in set(map(type, values)))
    else:
        fast = True
    if fast:
        try:
            array = pa.array(values, type=kind, from_pandas=True)
            if kind != TEXT_LIST or not pc.list_flatten(array).null_count:  # a None inside a list: as below
                return array
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
    convert = _KINDS[kind]
    clean = []
    for hf_model_id, value in zip(ids, values, strict=True):
        try:
            clean.append(convert(value))
            if kind == INTEGER and clean[-1] is not None and not -(2**63) <= clean[-1] < 2**63:
                raise ValueError(f"{clean[-1]} does not fit in a bigint")
        except (TypeError, ValueError) as error:
            raise ValueError(f"record {hf_model_id!r} cannot be merged: {error}") from error
    return pa.array(clean, type=kind)


def array_literals(lists: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each list of strings as a PostgreSQL array literal, every element quoted: ``{"a","b \\"c\\""}``.

    Such a literal casts back to exactly that ``text[]`` (``NULL``, commas, braces, quotes and
    backslashes included); a missing list gives ``{}``.
    """
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    lists = pc.fill_null(lists, pa.scalar([], TEXT_LIST))
    elements = pc.list_flatten(lists)
    for special, escaped in (("\\", "\\\\"), ('"', '\\"')):  # the backslash first; most lists have neither
        if pc.any(pc.match_substring(elements, special)).as_py():
            elements = pc.replace_substring(elements, special, escaped)
    lengths = pc.list_value_length(lists)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths.to_numpy(zero_copy_only=False))]), type=pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, elements), '","')
    return pc.if_else(pc.equal(lengths, 0), "{}", pc.binary_join_element_wise('{"', joined, '"}', ""))


def canonical_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The text each value of a ``synced_table`` column is hashed as (NULL stays NULL)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.type == TEXT_LIST:
        return array_literals(column)
    if column.type == TIMESTAMP:
        return pc.cast(pc.cast(column, INTEGER), TEXT)
    if column.type == BOOLEAN:
        return pc.if_else(column, "t", "f")
    if column.type == INTEGER:
        return pc.cast(column, TEXT)
    return column


def staged_form(table: pa.Table) -> pa.Table:
    """A ``synced_table`` as the merge stages it: lists as array literals, timestamps as microseconds.

    Its ``row_hashes`` are those of the ``synced_table`` (each value's canonical text is the same)."""
    columns = []
    for column in table.columns:
        if column.type == TEXT_LIST:
            column = array_literals(column)
        elif column.type == TIMESTAMP:
            column = pc.cast(column, INTEGER)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def row_hashes(table: pa.Table) -> list[bytes]:
    """The content hash (16 bytes) of every row of a ``synced_table`` (or of its ``staged_form``)."""
    if not table.num_rows:
        return []
    parts = []  # per field a prefix ("<length>:", or "N" for NULL) and its text ("" for NULL), joined once
    for column in table.columns:
        text = canonical_text(column)
        prefix = pc.binary_join_element_wise(pc.cast(pc.binary_length(text), TEXT), ":", "")
        if text.null_count:
            prefix, text = pc.fill_null(prefix, "N"), pc.fill_null(text, "")
        parts += [prefix, text]
    rows = pc.cast(pc.binary_join_element_wise(*parts, ""), pa.binary())
    blake2b = hashlib.blake2b
    return [blake2b(row, digest_size=HASH_BYTES).digest() for row in rows.to_pylist()]


def content_hashes(records: pd.DataFrame) -> list[bytes]:
    """The content hash of every record of a records frame, in its row order."""
    return row_hashes(synced_table(records))
