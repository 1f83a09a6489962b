"""Resources and IO managers configured from the environment (see the README's settings table)."""

import os

import dagster as dg

from pocketai_pipeline.catalog import embedded
from pocketai_pipeline.catalog.resource import CatalogResource
from pocketai_pipeline.hub.resource import DEFAULT_ENDPOINT, DEFAULT_FILTER, HubResource
from pocketai_pipeline.storage import ListingIOManager, RecordsIOManager


def secret_env(name: str) -> dg.EnvVar | None:
    """Secrets go through EnvVar so Dagster never shows their values; unset means not configured."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict[str, object]:
    home = embedded.home_dir()
    return {
        "hub": HubResource(
            endpoint=os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT,
            token=secret_env("HF_TOKEN"),
            filter=os.environ.get("POCKETAI_HF_FILTER") or DEFAULT_FILTER,
        ),
        "catalog": CatalogResource(database_url=secret_env("DATABASE_URL"), home=str(home)),
        "listing_io_manager": ListingIOManager(base_dir=str(home / "data")),
        "records_io_manager": RecordsIOManager(base_dir=str(home / "data")),
    }
