"""The stored listing → one record per model, in two streamed passes (contract rules 2-4 and 8).

1. Chunk by chunk, the listing lines are parsed column by column (`columnar_records`); the lines it
   does not vouch for, and every line of a chunk it refuses (halved until the refusing line is alone),
   are parsed one by one by the definition (`records.ItemNormalizer`). The records go to a local
   spool file (Arrow IPC) with their listing position; only their ids and `lastModified` stay in memory.
2. When an id was listed more than once (a model under several filters, or pages shifting while the
   Hub is paginated), the copy with the newest `lastModified` is kept, the later copy on a tie, an
   unknown `lastModified` being the oldest. `tables()` reads the spool back, in listing order, without
   the copies that lost.

Memory stays flat as the listing grows, but for those ids.
"""

import contextlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pocketai_pipeline.hub.listing import json_text
from pocketai_pipeline.sync.columnar_records import Refused, columnar_records
from pocketai_pipeline.sync.json_lines import JsonLines, in_chunks
from pocketai_pipeline.sync.records import RECORD_SCHEMA, ItemNormalizer, Reject, records_frame
from pocketai_pipeline.sync.validation import RecordsAudit

CHUNK_BYTES = 16 * 2**20
"""About how much of the stored listing is parsed at a time."""
SMALLEST_COLUMNAR_CHUNK = 64
"""A refused chunk is halved down to this many lines, then parsed one line at a time."""

_SPOOL_SCHEMA = RECORD_SCHEMA.append(pa.field("seq", pa.int64()))
_KEYS = ["hf_model_id", "hf_last_modified", "seq"]


@dataclass(frozen=True)
class NormalizedListing:
    """A listing normalized in memory (for small uses and tests)."""

    records: pd.DataFrame
    """One row per synced model, columns `RECORD_COLUMNS` with `RECORD_DTYPES`, sorted by `hf_model_id`."""
    rejects: list[Reject]
    """Malformed items, in listing order."""
    skipped_private: int
    skipped_disabled: int
    duplicates: int
    """Extra copies of an id that were dropped."""


@dataclass
class NormalizedRecords:
    """The outcome of pass 1, and pass 2 as `tables()`."""

    spool: Path
    rejects: list[Reject]
    skipped_private: int
    skipped_disabled: int
    duplicates: int
    records: int
    """Records `tables()` gives (after dropping the duplicates)."""
    winners: np.ndarray | None
    """By listing position: whether that line's record is kept; None when every record is."""
    keys: pa.Table
    """hf_model_id, hf_last_modified and seq of every record spooled (duplicates included)."""
    audit: RecordsAudit = field(default_factory=RecordsAudit)
    """What `tables()` gave, for the asset checks (complete once it was iterated)."""

    def ids(self) -> pa.Array:
        """The ids of the records `tables()` gives."""
        ids = self.keys.column("hf_model_id")
        if self.winners is not None:
            ids = ids.filter(pa.array(self.winners[self.keys.column("seq").to_numpy()]))
        return ids.combine_chunks()

    def tables(self) -> Iterator[pa.Table]:
        """The records (`RECORD_SCHEMA`), in listing order, one spooled chunk at a time."""
        with pa.OSFile(str(self.spool)) as source:  # not memory-mapped: its pages would count as the process's memory
            reader = pa.ipc.open_file(source)
            for index in range(reader.num_record_batches):
                batch = reader.get_batch(index)
                if self.winners is not None:
                    batch = batch.filter(pa.array(self.winners[batch.column("seq").to_numpy()]))
                table = pa.Table.from_batches([batch]).drop_columns(["seq"])
                self.audit.add(table)
                yield table


@contextlib.contextmanager
def normalize_lines(chunks: Iterable[JsonLines]) -> Iterator[NormalizedRecords]:
    """Pass 1 over the listing's lines (JSON, one Hub object each), given in chunks; see the module doc.

    The spool is deleted when the block ends.
    """
    items = ItemNormalizer()
    keys: list[pa.Table] = []
    seq = 0
    with tempfile.TemporaryDirectory(prefix="pocketai-records-") as spool_dir:
        spool = Path(spool_dir) / "records.arrow"
        with pa.OSFile(str(spool), "wb") as sink, pa.ipc.new_file(sink, _SPOOL_SCHEMA) as writer:
            for lines in chunks:
                table = _chunk_records(lines, seq, items)
                seq += len(lines)
                if table.num_rows:
                    writer.write_table(table)
                    keys.append(table.select(_KEYS))
        all_keys = pa.concat_tables(keys) if keys else _SPOOL_SCHEMA.empty_table().select(_KEYS)
        records, winners = _winners(all_keys, seq)
        yield NormalizedRecords(
            spool=spool,
            rejects=items.rejects,
            skipped_private=items.skipped_private,
            skipped_disabled=items.skipped_disabled,
            duplicates=all_keys.num_rows - records,
            records=records,
            winners=winners,
            keys=all_keys,
        )


def normalize_listing(raw_models: Iterable[object]) -> NormalizedListing:
    """Normalize listing items held in memory (JSON values), as the stored listing is normalized."""
    with normalize_lines(in_chunks((json_text(model) for model in raw_models), CHUNK_BYTES)) as normalized:
        tables = list(normalized.tables())
        table = pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()
        table = table.take(pc.sort_indices(table, [("hf_model_id", "ascending")]))
        return NormalizedListing(
            records=records_frame(table.to_pylist()),
            rejects=normalized.rejects,
            skipped_private=normalized.skipped_private,
            skipped_disabled=normalized.skipped_disabled,
            duplicates=normalized.duplicates,
        )


def _chunk_records(lines: JsonLines, first_seq: int, items: ItemNormalizer) -> pa.Table:
    """The records of one chunk of lines, in line order, with their listing position (`seq`)."""
    parts, one_by_one = [], []
    ranges = [(0, len(lines))]  # a stack, not a recursive closure: its cycle would keep each chunk alive until a gc
    while ranges:
        start, end = ranges.pop()
        try:
            table, others = columnar_records(lines.slice(start, end))
        except Refused:
            if end - start <= SMALLEST_COLUMNAR_CHUNK:
                one_by_one.extend(range(start, end))
            else:
                middle = (start + end) // 2
                ranges += [(middle, end), (start, middle)]
            continue
        parts.append(table.append_column("seq", pc.add(table.column("line"), first_seq + start)).drop_columns(["line"]))
        one_by_one.extend((others + start).tolist())
    records, positions = [], []
    for position in sorted(one_by_one):  # in listing order, so that rejects are too
        record = items.record(json.loads(lines.line(position)))
        if record is not None:
            records.append(record)
            positions.append(first_seq + position)
    if records:
        parts.append(pa.Table.from_pylist(records, schema=RECORD_SCHEMA).append_column("seq", pa.array(positions, pa.int64())))
    if not parts:
        return _SPOOL_SCHEMA.empty_table()
    table = pa.concat_tables(part.cast(_SPOOL_SCHEMA) for part in parts)
    if not records:  # the columnar parts, each in line order, come in line order
        return table
    return table.take(pc.sort_indices(table, [("seq", "ascending")]))


def _winners(table: pa.Table, lines: int) -> tuple[int, np.ndarray | None]:
    """(records kept, which listing positions hold a kept record, or None when all do)."""
    if not table.num_rows:
        return 0, None
    unique = pc.count_distinct(table.column("hf_model_id")).as_py()
    if unique == table.num_rows:
        return unique, None
    order = pc.sort_indices(
        table,
        [("hf_model_id", "ascending"), ("hf_last_modified", "ascending", "at_start"), ("seq", "ascending")],
    )
    ranked = table.take(order)
    ids = ranked.column("hf_model_id").combine_chunks()
    last_of_id = np.ones(len(ids), dtype=bool)
    if len(ids) > 1:
        last_of_id[:-1] = pc.not_equal(ids[:-1], ids[1:]).to_numpy(zero_copy_only=False)
    winners = np.zeros(lines, dtype=bool)
    winners[ranked.column("seq").to_numpy()[last_of_id]] = True
    return unique, winners
