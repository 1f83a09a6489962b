"""The code location: wiring only."""

import dagster as dg

from pocketai_pipeline.defs.assets import SYNC_ASSETS, hub_models
from pocketai_pipeline.defs.automation import build_schedules, build_sensors
from pocketai_pipeline.defs.jobs import hf_litert_sync_job
from pocketai_pipeline.defs.resources import build_resources
from pocketai_pipeline.settings import check_settings_at_load

check_settings_at_load()  # every bad setting in one error, each named with a valid example, before anything is built

defs = dg.Definitions(
    assets=[hub_models, *SYNC_ASSETS],
    jobs=[hf_litert_sync_job],
    schedules=build_schedules(),
    sensors=build_sensors(),
    resources=build_resources(),
    # The five steps run one after another: one process per run instead of one per step.
    executor=dg.in_process_executor,
)
