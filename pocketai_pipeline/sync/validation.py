"""Pure checks of a records DataFrame (used by the asset checks on litert_model_records)."""

import pandas as pd

from pocketai_pipeline.sync.licenses import LICENSE_TYPES

REQUIRED_COLUMNS = ("hf_model_id", "name", "origin_repo_url", "license_type", "tags")


def duplicate_ids(records: pd.DataFrame) -> list[str]:
    ids = records["hf_model_id"]
    return sorted(ids[ids.duplicated()].unique().tolist())


def missing_required_fields(records: pd.DataFrame) -> dict[str, int]:
    """Rows lacking each required field (columns absent altogether count every row); zeros left out."""
    counts = {
        column: int(records[column].isna().sum()) if column in records.columns else len(records)
        for column in REQUIRED_COLUMNS
    }
    if "license_type" in records.columns:
        counts["license_type"] += int((~records["license_type"].isin(LICENSE_TYPES) & records["license_type"].notna()).sum())
    return {column: count for column, count in counts.items() if count}
