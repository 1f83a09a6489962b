"""The Hugging Face Hub as a Dagster resource."""

import dagster as dg
from pydantic import Field

from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.listing import HubListing, fetch_listing, parse_filters

DEFAULT_ENDPOINT = "https://huggingface.co"


class HubResource(dg.ConfigurableResource):
    """Reads the Hub's model listing. The token is optional and is never logged or put in metadata."""

    endpoint: str = Field(default=DEFAULT_ENDPOINT, description="Hub API base URL (HF_ENDPOINT)")
    token: str | None = Field(default=None, description="Optional Hub token (HF_TOKEN)")
    filter: str = Field(default="litert", description="Hub filter; comma-separated filters sync their union")
    timeout_seconds: float = Field(default=30.0, description="Timeout of every request")
    max_retries: int = Field(default=5, description="Retries of one request on 429, 5xx and network errors")
    max_wait_seconds: float = Field(
        default=300.0, description="Longest total wait for one request (Retry-After, RateLimit, backoff)"
    )

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
