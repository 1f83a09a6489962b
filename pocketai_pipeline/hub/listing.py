"""The raw LiteRT listing: every model object exactly as the Hub sent it, plus how it was fetched."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pocketai_pipeline.hub.client import HubClient

MODELS_PATH = "/api/models"


@dataclass(frozen=True)
class HubListing:
    models: list[Any]  # JSON values as sent; parsing (and rejecting) happens downstream
    fetched_at: datetime  # when the last page arrived
    endpoint: str
    filters: tuple[str, ...]
    pages: int
    pages_by_filter: dict[str, int] = field(default_factory=dict)


def parse_filters(value: str) -> tuple[str, ...]:
    """`POCKETAI_HF_FILTER`: a comma-separated list of Hub filters, synced as their union."""
    filters = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not filters:
        raise ValueError(f"POCKETAI_HF_FILTER={value!r} names no filter; use e.g. 'litert' or 'litert,tflite'")
    return filters


def fetch_listing(client: HubClient, filters: tuple[str, ...]) -> HubListing:
    """The complete listing for every filter; raises if any page cannot be fetched."""
    models: list[Any] = []
    pages_by_filter: dict[str, int] = {}
    for hub_filter in filters:
        pages = 0
        # huggingface_hub 2.x no longer implies `full` with a filter: ask for it, and for cardData (licenses).
        for page in client.pages(MODELS_PATH, {"filter": hub_filter, "full": "true", "cardData": "true"}):
            models.extend(page)
            pages += 1
        pages_by_filter[hub_filter] = pages
    return HubListing(
        models=models,
        fetched_at=datetime.now(UTC),
        endpoint=client.endpoint,
        filters=filters,
        pages=sum(pages_by_filter.values()),
        pages_by_filter=pages_by_filter,
    )


def recently_modified(client: HubClient, hub_filter: str, limit: int) -> list[Any]:
    """One small page: the most recently modified models of a filter, newest first."""
    params = {"filter": hub_filter, "sort": "lastModified", "direction": "-1", "limit": str(limit), "full": "true"}
    response = client.get(f"{client.endpoint.rstrip('/')}{MODELS_PATH}", params)
    return response.json()
