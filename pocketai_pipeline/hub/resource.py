"""The Hugging Face Hub as a Dagster resource."""

import dataclasses
import threading
from urllib.parse import urlsplit

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.details import fetch_details
from pocketai_pipeline.hub.file_reads import read_litertlm_header
from pocketai_pipeline.hub.listing import ListingStream, parse_filters, stream_listing
from pocketai_pipeline.hub.pacer import Pacer, QuotaMeter
from pocketai_pipeline.hub.removals import check_removals
from pocketai_pipeline.sync.details import DetailsTarget, Fetched
from pocketai_pipeline.sync.file_facts_refresh import HeaderRead, PendingFile
from pocketai_pipeline.sync.removals import RemovalCheck

DEFAULT_ENDPOINT = "https://huggingface.co"
# litert tags .tflite models, litert-lm .litertlm/.task bundles (most Gemma LiteRT models carry only it),
# tflite is LiteRT's older name: `litert` alone misses the last two kinds.
DEFAULT_FILTER = "litert,litert-lm,tflite"
_PACER_LOCK = threading.Lock()


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
    details_time_budget_seconds: float = Field(
        default=1800.0, ge=0, description="How long one run may fetch per-model details (POCKETAI_DETAILS_TIME_BUDGET_SECONDS)"
    )
    file_facts_time_budget_seconds: float = Field(
        default=1800.0, ge=0, description="How long one run may read runtime-file headers (POCKETAI_FILE_FACTS_TIME_BUDGET_SECONDS)"
    )
    file_facts_max_bytes: int = Field(
        default=4_194_304, gt=0, description="The most bytes read from one runtime file (POCKETAI_FILE_FACTS_MAX_BYTES)"
    )

    # One pace for all of a run's requests: Dagster gives every step of a run (in one process) this same
    # instance, and each worker thread its clients from it.
    _pacer: Pacer | None = PrivateAttr(default=None)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_http(cls, endpoint: str) -> str:
        parts = urlsplit(endpoint.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"HF_ENDPOINT={endpoint!r} is not an http(s) URL; use e.g. HF_ENDPOINT={DEFAULT_ENDPOINT}")
        return endpoint.strip().rstrip("/")

    @field_validator("filter")
    @classmethod
    def _filter_names_one(cls, value: str) -> str:
        parse_filters(value)
        return value

    def client(self) -> HubClient:
        return HubClient(
            endpoint=self.endpoint,
            token=self.token or None,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            max_wait_seconds=self.max_wait_seconds,
            pacer=self.pacer(),
        )

    def pacer(self) -> Pacer:
        """The run's pace of Hub requests, per rate-limit bucket (made on first use, then shared)."""
        with _PACER_LOCK:
            if self._pacer is None:
                self._pacer = Pacer(self.endpoint, token=bool(self.token))
            return self._pacer

    def metered(self, **planned_calls: int) -> QuotaMeter:
        """A step's use of the Hub's quotas (`with hub.metered(api=n, resolvers=n) as meter: …`, then
        `quota_metadata(meter.usage())`); planned calls let the pace go at full speed once they fit."""
        return self.pacer().meter(**planned_calls)

    def filters(self) -> tuple[str, ...]:
        return parse_filters(self.filter)

    def stream_listing(self) -> ListingStream:
        """The listing of every filter, fetched page by page as its consumer (the IO manager) writes it."""
        return stream_listing(self.client(), self.filters())

    def check_removals(self, hf_model_ids: list[str]) -> RemovalCheck:
        """Look up each synced model the listing lacks (`GET /api/models/<id>`): which are really gone."""
        with self.metered(api=len(hf_model_ids)):
            return check_removals(self.client(), hf_model_ids, self.filters())

    def fetch_details(self, target: DetailsTarget) -> Fetched:
        """One model's files and card at its revision; never waits for the rate limit past the time budget."""
        return fetch_details(self.client_within(self.details_time_budget_seconds), target)

    def read_litertlm_header(self, file: PendingFile) -> HeaderRead:
        """One `.litertlm` file's header facts, read with Range requests; never waits for the rate limit past the
        time budget."""
        return read_litertlm_header(self.client_within(self.file_facts_time_budget_seconds), file, self.file_facts_max_bytes)

    def client_within(self, budget_seconds: float) -> HubClient:
        """A client that never waits for the rate limit longer than a step's whole time budget."""
        return dataclasses.replace(self.client(), max_wait_seconds=min(self.max_wait_seconds, budget_seconds))
