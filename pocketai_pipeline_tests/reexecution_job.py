"""The real sync job, rebuilt in each run worker from environment variables the test sets.

`dg.reconstructable` needs a module-level function so the multiprocess executor's workers can
load the job: this is it, with the production assets and resources pointed at test services.
"""

import os

import dagster as dg

from pocketai_pipeline.defs.assets import SYNC_ASSETS
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.defs.jobs import hf_litert_sync_job
from pocketai_pipeline.defs.io_managers import ListingIOManager, RecordsIOManager


def sync_job() -> dg.JobDefinition:
    data_dir = os.path.join(os.environ["TEST_STORAGE_DIR"], "data")
    defs = dg.Definitions(
        assets=SYNC_ASSETS,
        jobs=[hf_litert_sync_job],
        resources={
            "hub": HubResource(endpoint=os.environ["TEST_HUB_URL"], max_retries=0),
            "catalog": CatalogResource(database_url=os.environ["TEST_DATABASE_URL"], home=os.environ["TEST_STORAGE_DIR"]),
            "listing_io_manager": ListingIOManager(base_dir=data_dir),
            "records_io_manager": RecordsIOManager(base_dir=data_dir),
        },
    )
    return defs.resolve_job_def("hf_litert_sync_job")
