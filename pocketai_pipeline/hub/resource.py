"""The Hugging Face Hub as a Dagster resource."""

import dataclasses

import dagster as dg
from pydantic import Field

from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.details import fetch_details
from pocketai_pipeline.hub.listing import HubListing, fetch_listing, parse_filters
from pocketai_pipeline.hub.removals import check_removals
from pocketai_pipeline.sync.details import DetailsTarget, Fetched
from pocketai_pipeline.sync.removals import RemovalCheck

DEFAULT_ENDPOINT = "https://huggingface.co"
# litert tags .tflite models, litert-lm .litertlm/.task bundles (most Gemma LiteRT models carry only it),
# tflite is LiteRT's older name: `litert` alone misses the last two kinds.
DEFAULT_FILTER = "litert,litert-lm,tflite"


class HubResource(dg.ConfigurableResource):
    """Reads the Hub's model listing. The token is optional and is never logged or put in metadata."""

    endpoint: str = Field(default=DEFAULT_ENDPOINT, description="Hub API base URL (HF_ENDPOINT)")
    token: str | None = Field(default=None, description="Optional Hub token (HF_TOKEN)")
    filter: str = Field(default=DEFAULT_FILTER, description="Hub filters; comma-separated filters sync their union")
    timeout_seconds: float = Field(default=30.0, description="Timeout of every request")
    max_retries: int = Field(default=5, description="Retries of one request on 429, 5xx and network errors")
    max_wait_seconds: float = Field(
        default=300.0, description="Longest total wait for one request (Retry-After, RateLimit, backoff)"
    )
    details_workers: int = Field(default=4, ge=1, le=8, description="Models whose details are fetched at once")

    def client(self) -> HubClient:
        return HubClient(
            endpoint=self.endpoint,
            token=self.token or None,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            max_wait_seconds=self.max_wait_seconds,
        )

    def filters(self) -> tuple[str, ...]:
        return parse_filters(self.filter)

    def fetch_listing(self) -> HubListing:
        return fetch_listing(self.client(), self.filters())

    def check_removals(self, hf_model_ids: list[str]) -> RemovalCheck:
        """Look up each synced model the listing lacks (`GET /api/models/<id>`): which are really gone."""
        return check_removals(self.client(), hf_model_ids, self.filters())

    def fetch_details(self, target: DetailsTarget, max_wait_seconds: float | None = None) -> Fetched:
        """One model's files and card at its revision; waits for the rate limit at most `max_wait_seconds`."""
        client = self.client()
        if max_wait_seconds is not None:
            client = dataclasses.replace(client, max_wait_seconds=min(client.max_wait_seconds, max_wait_seconds))
        return fetch_details(client, target)
