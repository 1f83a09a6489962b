"""Where the assets' outputs live between steps: one file per asset and partition under POCKETAI_HOME.

The raw listing is gzip JSON lines (a header line, then every Hub object as sent) so a partition can
be re-merged later without asking the Hub again. Records are Parquet, with the DataFrame's `attrs`
(listing provenance) kept in the file's schema metadata.
"""

import gzip
import json
import os
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pocketai_pipeline.hub.listing import HubListing

ATTRS_KEY = b"pocketai.attrs"


class PartitionFileIOManager(dg.ConfigurableIOManager):
    base_dir: str
    suffix: str = ""

    def path_for(self, context: dg.OutputContext | dg.InputContext) -> Path:
        asset_key = context.asset_key if isinstance(context, dg.OutputContext) else context.upstream_output.asset_key
        return Path(self.base_dir, *asset_key.path, f"{context.asset_partition_key}{self.suffix}")

    def load_path(self, context: dg.InputContext) -> Path:
        path = self.path_for(context)
        if not path.exists():
            raise FileNotFoundError(
                f"No stored {context.upstream_output.asset_key.to_user_string()} for partition "
                f"{context.asset_partition_key} at {path}; materialize that partition of it first."
            )
        return path


class ListingIOManager(PartitionFileIOManager):
    suffix: str = ".jsonl.gz"

    def handle_output(self, context: dg.OutputContext, obj: HubListing) -> None:
        path = self.path_for(context)
        header = {
            "fetched_at": obj.fetched_at.isoformat(),
            "endpoint": obj.endpoint,
            "filters": list(obj.filters),
            "pages": obj.pages,
            "pages_by_filter": obj.pages_by_filter,
            "count": len(obj.models),
        }
        write_atomically(path, lambda f: write_json_lines(f, header, obj.models))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> HubListing:
        with gzip.open(self.load_path(context), "rt", encoding="utf-8") as f:
            header = json.loads(f.readline())
            models = [json.loads(line) for line in f]
        return HubListing(
            models=models,
            fetched_at=datetime.fromisoformat(header["fetched_at"]),
            endpoint=header["endpoint"],
            filters=tuple(header["filters"]),
            pages=header["pages"],
            pages_by_filter=header["pages_by_filter"],
        )


class RecordsIOManager(PartitionFileIOManager):
    suffix: str = ".parquet"

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        path = self.path_for(context)
        table = pa.Table.from_pandas(obj, preserve_index=False)
        metadata = {**(table.schema.metadata or {}), ATTRS_KEY: json.dumps(obj.attrs).encode()}
        write_atomically(path, lambda f: pq.write_table(table.replace_schema_metadata(metadata), f))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = pq.read_table(self.load_path(context))
        frame = table.to_pandas()
        frame.attrs = json.loads(table.schema.metadata.get(ATTRS_KEY, b"{}"))
        return frame


def write_json_lines(f, header: dict, rows: list) -> None:
    with gzip.open(f, "wt", encoding="utf-8") as out:
        for row in [header, *rows]:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")


def write_atomically(path: Path, write) -> None:
    """Write through a temp file and rename, so a crash never leaves half a partition."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)
