"""Resources and IO managers configured from the environment (see the README's settings table)."""

import dagster as dg

from pocketai_pipeline import settings
from pocketai_pipeline.catalog.resource import CatalogResource, catalog_url
from pocketai_pipeline.defs.io_managers import ListingIOManager, RecordsIOManager
from pocketai_pipeline.hub.resource import DEFAULT_ENDPOINT, DEFAULT_FILTER, HubResource


def secret_env(name: str) -> dg.EnvVar | None:
    """Secrets go through EnvVar so Dagster never shows their values; unset means not configured."""
    return dg.EnvVar(name) if settings.is_set(name) else None


def build_resources() -> dict[str, object]:
    settings.check_secrets(catalog_url)
    home = settings.pocketai_home()
    storage = settings.storage_url(home)  # object storage credentials stay in the environment (AWS_*, …)
    return {
        "hub": HubResource(
            endpoint=settings.hf_endpoint(DEFAULT_ENDPOINT),
            token=secret_env("HF_TOKEN"),
            filter=settings.hf_filter(DEFAULT_FILTER),
            details_time_budget_seconds=settings.details_time_budget_seconds(),
            file_facts_time_budget_seconds=settings.file_facts_time_budget_seconds(),
            file_facts_max_bytes=settings.file_facts_max_bytes(),
        ),
        "catalog": CatalogResource(database_url=secret_env("DATABASE_URL"), home=str(home)),
        "listing_io_manager": ListingIOManager(base_dir=storage),
        "records_io_manager": RecordsIOManager(base_dir=storage),
    }
