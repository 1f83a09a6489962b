"""Where the assets' outputs live between steps: one object per asset and partition under POCKETAI_STORAGE_URL.

`POCKETAI_STORAGE_URL` is a local folder (default `$POCKETAI_HOME/data`) or object storage
(`s3://bucket/prefix`, `gs://bucket/prefix`), through Dagster's `UPathIOManager`. S3 takes its endpoint
and credentials from the standard environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, …), as s3fs does.

- `<base>/hf_litert_listing/<partition>.jsonl.zst`: zstd JSON lines (`zstdcat` reads them), a header line
  (fetched_at, endpoint, filters, pages, pages_by_filter, count) and then every Hub object exactly as
  sent. Each page is compressed as it arrives, as a zstd frame of its own, into a local temp file; the
  header, known only after the last page, is written in front of them as one more frame (readers see
  one stream).
- `<base>/litert_model_records/<partition>.parquet`: the records in row groups, their `attrs` (listing
  provenance) in the file's key-value metadata.

An object appears whole or not at all: on a local disk through a temp file and a rename, on object
storage as one upload that is aborted if anything fails. A missing partition is a clear error.
"""

import errno
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from upath import UPath

from pocketai_pipeline.defs.metadata import quota_metadata
from pocketai_pipeline.hub.client import HubListingLoopError
from pocketai_pipeline.hub.listing import HubListing, ListingStream, ListingSummary, json_text
from pocketai_pipeline.settings import check_storage_url
from pocketai_pipeline.sync.json_lines import JsonLines
from pocketai_pipeline.sync.normalize import CHUNK_BYTES
from pocketai_pipeline.sync.records import RECORD_COLUMNS, RECORD_SCHEMA, records_frame, records_frame_from_arrow

ATTRS_KEY = b"pocketai.attrs"
ROW_GROUP_ROWS = 50_000
UPLOAD_PART_BYTES = 8 * 2**20  # object storage: parts of a multipart upload (S3's minimum is 5 MiB)
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST}


class StorageError(RuntimeError):
    """Stored data cannot be written; the message names the setting and the path."""


def is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def storage_error(path: UPath, error: BaseException) -> StorageError:
    reason = f"{type(error).__name__}: {error}"
    if is_local(path):
        return StorageError(
            f"Cannot write {path.path} ({reason}): POCKETAI_STORAGE_URL (default $POCKETAI_HOME/data) "
            "must name a writable folder with free space"
        )
    return StorageError(
        f"Cannot write {path} ({reason}): check POCKETAI_STORAGE_URL and the storage credentials in the "
        "environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for s3://)"
    )


def is_storage_oserror(error: BaseException) -> bool:
    return isinstance(error, OSError) and not isinstance(error, ConnectionError) and error.errno in _STORAGE_ERRNOS


@contextmanager
def open_atomically(path: UPath) -> Iterator[BinaryIO]:
    """A binary file for `path` that becomes visible whole when the block ends, or not at all."""
    if is_local(path):
        target = Path(path.path)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as error:
            raise (storage_error(path, error) if is_storage_oserror(error) else error) from error
        finally:
            tmp.unlink(missing_ok=True)
        return
    try:
        f = path.fs.open(path.path, "wb", block_size=UPLOAD_PART_BYTES)
    except OSError as error:
        raise storage_error(path, error) from error
    try:
        yield f
    except BaseException:
        f.discard()  # aborts a multipart upload; nothing was PUT yet otherwise
        f.closed = True  # so that nothing flushes (and commits) the rest
        raise
    try:
        f.close()  # the single PUT, or the completion of the multipart upload
    except OSError as error:
        raise storage_error(path, error) from error


class PartitionStore(dg.UPathIOManager):
    """One object per asset and partition."""

    def make_directory(self, path: UPath) -> None:
        if not is_local(path):
            return  # object storage has no folders (and must never create a bucket)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise storage_error(path, error) from error

    def stored_path(self, context: dg.InputContext, path: UPath) -> UPath:
        if not path.exists():
            raise FileNotFoundError(
                f"No stored {context.asset_key.to_user_string()} for partition {context.asset_partition_key} "
                f"at {path}; materialize that partition of it first."
            )
        return path


def wants(context: dg.InputContext, cls: type) -> bool:
    """Whether the input is annotated with `cls` (for the types assets used before the lazy readers)."""
    return context.dagster_type.typing_type is cls


# The listing ------------------------------------------------------------------------------------------

ZSTD = pa.Codec("zstd", compression_level=3)


class StoredListing:
    """A stored listing, read lazily: the header at once, the models a chunk of lines at a time."""

    def __init__(self, path: UPath):
        self.path = path
        with self._decompressed() as stream:
            header = b""
            while not header.endswith(b"\n") and (byte := stream.read(1)):
                header += byte
        self.summary = ListingSummary.from_header(json.loads(header))
        self.fetched_at = self.summary.fetched_at
        self.endpoint = self.summary.endpoint
        self.filters = self.summary.filters
        self.pages = self.summary.pages
        self.pages_by_filter = self.summary.pages_by_filter
        self.count = self.summary.count

    @contextmanager
    def _decompressed(self) -> Iterator[pa.CompressedInputStream]:
        with self.path.open("rb") as raw, pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd") as stream:
            yield stream

    def iter_chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[JsonLines]:
        """The models' lines (JSON text as the Hub sent it), in listing order, about `chunk_bytes` at a time."""
        with self._decompressed() as stream:
            pending = stream.read(chunk_bytes).partition(b"\n")[2]  # after the header line
            while True:
                block = stream.read(chunk_bytes)
                data = pending + block
                if not block:
                    break
                complete, _, pending = data.rpartition(b"\n")  # no newline yet: all of it pending
                if complete:
                    yield JsonLines.of(complete)
            if data.rstrip(b"\n"):
                yield JsonLines.of(data.rstrip(b"\n"))

    def iter_models(self) -> Iterator[Any]:
        """Every stored JSON value, in listing order, exactly as the Hub sent it."""
        for lines in self.iter_chunks():
            yield from (json.loads(lines.line(position)) for position in range(len(lines)))

    @property
    def models(self) -> "LazyModels":
        """`iter_models()` as an iterable that can be iterated again (each time from storage)."""
        return LazyModels(self)

    def to_listing(self) -> HubListing:
        """The whole listing in memory."""
        s = self.summary
        return HubListing(list(self.iter_models()), s.fetched_at, s.endpoint, s.filters, s.pages, s.pages_by_filter)


@dataclass(frozen=True)
class LazyModels:
    listing: StoredListing

    def __iter__(self) -> Iterator[Any]:
        return self.listing.iter_models()

    def __len__(self) -> int:
        return self.listing.count


class ListingStore(PartitionStore):
    extension = ".jsonl.zst"

    def dump_to_path(self, context: dg.OutputContext, obj: ListingStream | HubListing, path: UPath) -> None:
        with tempfile.TemporaryFile(prefix="pocketai-listing-") as staged:
            try:
                for page in obj.iter_pages():  # a page that cannot be fetched raises here: nothing is stored
                    staged.write(ZSTD.compress(b"".join(model + b"\n" for model in page), asbytes=True))
            except HubListingLoopError as error:  # fetching again would loop again: fail at once
                raise dg.Failure(description=str(error), allow_retries=False) from None
            staged.seek(0)
            with open_atomically(path) as out:
                out.write(ZSTD.compress(json_text(obj.summary().header()) + b"\n", asbytes=True))
                shutil.copyfileobj(staged, out, 2**20)

    def get_metadata(self, context: dg.OutputContext, obj: ListingStream | HubListing) -> dict[str, Any]:
        summary = obj.summary()
        return {
            "count": summary.count,
            "pages": summary.pages,
            "fetched_at": summary.fetched_at.isoformat(),
            "endpoint": summary.endpoint,
            "filters": ", ".join(summary.filters),
            **(quota_metadata(obj.quota_usage()) if isinstance(obj, ListingStream) else {}),
        }

    def load_from_path(self, context: dg.InputContext, path: UPath) -> StoredListing | HubListing:
        listing = StoredListing(self.stored_path(context, path))
        return listing.to_listing() if wants(context, HubListing) else listing


# The records ------------------------------------------------------------------------------------------


@dataclass
class RecordFrames:
    """Records as chunks, for the records IO manager to write one row group at a time.

    `attrs` are read after the last frame, so a generator may fill them in as it goes.
    """

    frames: Iterable[pd.DataFrame | pa.Table]
    attrs: dict[str, Any] = field(default_factory=dict)


def as_frames(obj: pd.DataFrame | RecordFrames | Iterable[pd.DataFrame]) -> tuple[Iterable[pd.DataFrame | pa.Table], Mapping]:
    """The chunks to write, and the attrs (a plain iterable of frames: theirs, later ones winning)."""
    if isinstance(obj, pd.DataFrame):
        return [obj], obj.attrs
    if isinstance(obj, RecordFrames):
        return obj.frames, obj.attrs
    attrs: dict[str, Any] = {}

    def frames() -> Iterator[pd.DataFrame]:
        for frame in obj:
            attrs.update(getattr(frame, "attrs", {}))
            yield frame

    return frames(), attrs


def to_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    columns = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
    if tuple(columns) != RECORD_COLUMNS:
        raise ValueError(f"records have the columns {columns}, expected RECORD_COLUMNS {list(RECORD_COLUMNS)}")
    if isinstance(frame, pa.Table):
        return frame.cast(RECORD_SCHEMA)
    return pa.Table.from_pandas(frame, schema=RECORD_SCHEMA, preserve_index=False)


class StoredRecords:
    """Stored records, read lazily from their Parquet row groups."""

    def __init__(self, path: UPath):
        self.path = path
        with self._file() as parquet:
            self.num_rows = parquet.metadata.num_rows
            self.attrs = json.loads((parquet.metadata.metadata or {}).get(ATTRS_KEY, b"{}"))

    @contextmanager
    def _file(self) -> Iterator[pq.ParquetFile]:
        with self.path.open("rb") as raw, pq.ParquetFile(raw) as parquet:
            yield parquet

    def iter_tables(self, batch_size: int = ROW_GROUP_ROWS) -> Iterator[pa.Table]:
        """Arrow tables (`RECORD_SCHEMA`) of at most `batch_size` rows, in stored order."""
        with self._file() as parquet:
            for batch in parquet.iter_batches(batch_size=batch_size):
                yield pa.Table.from_batches([batch])

    def iter_frames(self, batch_size: int = ROW_GROUP_ROWS) -> Iterator[pd.DataFrame]:
        """DataFrames of at most `batch_size` rows with exactly `RECORD_DTYPES`, in stored order."""
        for table in self.iter_tables(batch_size):
            yield records_frame_from_arrow(table)

    def ids(self) -> pa.Array:
        """The `hf_model_id` column alone."""
        with self._file() as parquet:
            return parquet.read(columns=["hf_model_id"]).column(0).combine_chunks()

    def to_frame(self) -> pd.DataFrame:
        """Every record in one DataFrame, with the attrs (for small uses and tests)."""
        frames = list(self.iter_frames())
        frame = pd.concat(frames, ignore_index=True) if frames else records_frame([])
        frame.attrs = dict(self.attrs)
        return frame


class RecordsStore(PartitionStore):
    extension = ".parquet"

    def dump_to_path(
        self, context: dg.OutputContext, obj: pd.DataFrame | RecordFrames | Iterable[pd.DataFrame | pa.Table],
        path: UPath,
    ) -> None:
        frames, attrs = as_frames(obj)
        with open_atomically(path) as out:
            writer = pq.ParquetWriter(out, RECORD_SCHEMA)
            try:
                for frame in frames:
                    writer.write_table(to_arrow(frame), row_group_size=ROW_GROUP_ROWS)
                # In the footer, written at close: attrs known only after the last frame are kept too.
                writer.add_key_value_metadata({ATTRS_KEY: json.dumps(dict(attrs))})
            finally:
                writer.close()

    def load_from_path(self, context: dg.InputContext, path: UPath) -> StoredRecords | pd.DataFrame:
        records = StoredRecords(self.stored_path(context, path))
        return records.to_frame() if wants(context, pd.DataFrame) else records


# The configurable IO managers ---------------------------------------------------------------------------


class ListingIOManager(dg.ConfigurableIOManagerFactory):
    """Stores `hf_litert_listing`: input a `ListingStream` (or a `HubListing`), loaded as a `StoredListing`."""

    base_dir: str = Field(description="POCKETAI_STORAGE_URL: a local folder, s3://bucket/prefix or gs://bucket/prefix")

    def create_io_manager(self, context: dg.InitResourceContext) -> ListingStore:
        return ListingStore(UPath(check_storage_url(self.base_dir)))


class RecordsIOManager(dg.ConfigurableIOManagerFactory):
    """Stores `litert_model_records`: a DataFrame or chunks of one, loaded as `StoredRecords`."""

    base_dir: str = Field(description="POCKETAI_STORAGE_URL: a local folder, s3://bucket/prefix or gs://bucket/prefix")

    def create_io_manager(self, context: dg.InitResourceContext) -> RecordsStore:
        return RecordsStore(UPath(check_storage_url(self.base_dir)))
