"""The sync job: the three assets and their checks, one daily partition per run."""

import dagster as dg

from pocketai_pipeline.assets import GROUP

hf_litert_sync_job = dg.define_asset_job(
    "hf_litert_sync_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Fetch the Hub's LiteRT listing, normalize it, and merge it into ml_models.",
)
