"""The sync job: the five assets and their checks, one daily partition per run."""

import dagster as dg

from pocketai_pipeline.defs.assets import (
    hf_litert_listing,
    litert_model_records,
    ml_model_details,
    ml_model_file_facts,
    ml_models,
)

hf_litert_sync_job = dg.define_asset_job(
    "hf_litert_sync_job",
    selection=dg.AssetSelection.assets(
        hf_litert_listing, litert_model_records, ml_models, ml_model_details, ml_model_file_facts
    ),
    description="Fetch the Hub's LiteRT listing, normalize it, merge it into ml_models, then fetch the details "
    "(files, card summary) of new and changed models and read the facts of their runtime files.",
)
