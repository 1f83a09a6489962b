"""The sync job: the five assets and their checks, one daily partition per run."""

import dagster as dg

from pocketai_pipeline.defs.assets import SYNC_ASSETS

hf_litert_sync_job = dg.define_asset_job(
    "hf_litert_sync_job",
    selection=dg.AssetSelection.assets(*SYNC_ASSETS),
    description="Fetch the Hub's LiteRT listing, normalize it, merge it into ml_models, then fetch the details "
    "(files, card summary) of new and changed models and read the facts of their runtime files.",
)
