"""Pure checks of the records, chunk by chunk (used by the asset checks on litert_model_records)."""

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pocketai_pipeline.sync.licenses import LICENSE_TYPES

REQUIRED_COLUMNS = ("hf_model_id", "name", "origin_repo_url", "license_type", "tags")


@dataclass
class RecordsAudit:
    """Duplicate ids and missing required fields, over every chunk `add`ed."""

    rows: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    """Rows lacking each required field (columns absent altogether count every row); zeros left out."""
    _ids: list[pa.Array] = field(default_factory=list)

    @classmethod
    def of(cls, records: pd.DataFrame | pa.Table) -> "RecordsAudit":
        audit = cls()
        audit.add(records if isinstance(records, pa.Table) else pa.Table.from_pandas(records, preserve_index=False))
        return audit

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for column in REQUIRED_COLUMNS:
            count = table.column(column).null_count if column in table.column_names else table.num_rows
            if column == "license_type" and column in table.column_names:
                known = pc.is_in(table.column(column), value_set=pa.array(LICENSE_TYPES))
                count += table.num_rows - table.column(column).null_count - pc.sum(known).as_py() if table.num_rows else 0
            if count:
                self.missing[column] = self.missing.get(column, 0) + count
        if "hf_model_id" in table.column_names:
            self._ids.append(table.column("hf_model_id").combine_chunks())

    def duplicate_ids(self) -> list[str]:
        """Ids given more than once, sorted."""
        if not self._ids:
            return []
        ids = pa.chunked_array(self._ids)
        if pc.count_distinct(ids).as_py() == len(ids):  # the usual answer, without a million counts
            return []
        counts = pc.value_counts(ids)
        repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
        return sorted(value for value in repeated.to_pylist() if value is not None)
