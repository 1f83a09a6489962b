"""The sync job: the three assets and their checks, one daily partition per run."""

import dagster as dg

from pocketai_pipeline.assets import hf_litert_listing, litert_model_records, ml_models

hf_litert_sync_job = dg.define_asset_job(
    "hf_litert_sync_job",
    selection=dg.AssetSelection.assets(hf_litert_listing, litert_model_records, ml_models),
    description="Fetch the Hub's LiteRT listing, normalize it, and merge it into ml_models.",
)
