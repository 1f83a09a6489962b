"""Resources and IO managers configured from the environment (see the README's settings table)."""

import os

import dagster as dg

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.resource import DEFAULT_ENDPOINT, DEFAULT_FILTER, HubResource
from pocketai_pipeline.settings import storage_url
from pocketai_pipeline.settings import details_time_budget_seconds
from pocketai_pipeline.storage import ListingIOManager, RecordsIOManager


def secret_env(name: str) -> dg.EnvVar | None:
    """Secrets go through EnvVar so Dagster never shows their values; unset means not configured."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict[str, object]:
    home = embedded.home_dir()
    storage = storage_url(home)  # POCKETAI_STORAGE_URL; object storage credentials stay in the environment
    return {
        "hub": HubResource(
            endpoint=os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT,
            token=secret_env("HF_TOKEN"),
            filter=os.environ.get("POCKETAI_HF_FILTER") or DEFAULT_FILTER,
            details_time_budget_seconds=details_time_budget_seconds(),
        ),
        "catalog": CatalogResource(database_url=secret_env("DATABASE_URL"), home=str(home)),
        "listing_io_manager": ListingIOManager(base_dir=storage),
        "records_io_manager": RecordsIOManager(base_dir=storage),
    }
