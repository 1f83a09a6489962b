"""Resources and IO managers configured from the environment (see the README's settings table)."""

import os

import dagster as dg

from pocketai_pipeline.catalog.resource import CatalogResource, catalog_url
from pocketai_pipeline.hub.resource import DEFAULT_ENDPOINT, DEFAULT_FILTER, HubResource
from pocketai_pipeline.settings import check_secret_token, details_time_budget_seconds, pocketai_home, storage_url
from pocketai_pipeline.defs.io_managers import ListingIOManager, RecordsIOManager


def secret_env(name: str) -> dg.EnvVar | None:
    """Secrets go through EnvVar so Dagster never shows their values; unset means not configured."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def check_secrets() -> None:
    """The secret settings are checked when the code location loads, never echoed."""
    check_secret_token("HF_TOKEN")
    if os.environ.get("DATABASE_URL"):
        catalog_url(os.environ["DATABASE_URL"])


def build_resources() -> dict[str, object]:
    check_secrets()
    home = pocketai_home()
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
