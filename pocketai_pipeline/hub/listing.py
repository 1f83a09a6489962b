"""The raw LiteRT listing: every model object exactly as the Hub sent it, plus how it was fetched.

`stream_listing` fetches page by page while its consumer (the listing IO manager) writes each page,
so memory stays flat however long the listing grows; a page is the JSON text of each of its models,
never parsed here. `fetch_listing` collects the same pages into a `HubListing` of parsed values in
memory, for small uses and tests.
"""

import json
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pocketai_pipeline.hub.client import HubClient
from pocketai_pipeline.hub.pacer import QuotaUsage

MODELS_PATH = "/api/models"


@dataclass(frozen=True)
class ListingSummary:
    """How a complete listing was fetched: the stored header and the materialization's metadata."""

    fetched_at: datetime  # when the last page arrived
    endpoint: str
    filters: tuple[str, ...]
    pages: int
    pages_by_filter: dict[str, int]
    count: int

    def header(self) -> dict[str, object]:
        return {
            "fetched_at": self.fetched_at.isoformat(),
            "endpoint": self.endpoint,
            "filters": list(self.filters),
            "pages": self.pages,
            "pages_by_filter": self.pages_by_filter,
            "count": self.count,
        }

    @classmethod
    def from_header(cls, header: dict) -> "ListingSummary":
        return cls(
            fetched_at=datetime.fromisoformat(header["fetched_at"]),
            endpoint=header["endpoint"],
            filters=tuple(header["filters"]),
            pages=header["pages"],
            pages_by_filter=header.get("pages_by_filter", {}),
            count=header["count"],
        )


@dataclass(frozen=True)
class HubListing:
    """A listing held in memory."""

    models: list[Any]  # JSON values as sent; parsing (and rejecting) happens downstream
    fetched_at: datetime  # when the last page arrived
    endpoint: str
    filters: tuple[str, ...]
    pages: int
    pages_by_filter: dict[str, int] = field(default_factory=dict)

    def iter_pages(self) -> Iterator[list[bytes]]:
        yield [json_text(model) for model in self.models]

    def summary(self) -> ListingSummary:
        return ListingSummary(
            self.fetched_at, self.endpoint, self.filters, self.pages, dict(self.pages_by_filter), len(self.models)
        )


class ListingStream:
    """A listing being fetched: `iter_pages()` requests each page as it is consumed, once.

    `start()` fetches the first page at once, so that a wrong HF_ENDPOINT or HF_TOKEN fails where it is
    called (the asset's own code) rather than later, in the IO manager. A page that cannot be fetched
    raises out of `iter_pages()`, so whoever writes the pages can discard what it wrote.
    `summary()` is known only after the last page; `quota_usage()` is what its requests used of the
    Hub's rate limits.
    """

    def __init__(self, client: HubClient, filters: tuple[str, ...]):
        self.client = client
        self.endpoint = client.endpoint
        self.filters = filters
        self._summary: ListingSummary | None = None
        self._meter = client.pacer.meter() if client.pacer is not None else None
        self._pages = self._fetch()
        self._first: list[list[bytes]] = []
        self._consumed = False

    def start(self) -> "ListingStream":
        self._first = [page for page in [next(self._pages, None)] if page is not None]
        return self

    def iter_pages(self) -> Iterator[list[bytes]]:
        if self._consumed:
            raise RuntimeError("a ListingStream is fetched once; start a new one to fetch again")
        self._consumed = True
        yield from self._first
        yield from self._pages

    def _fetch(self) -> Iterator[list[bytes]]:
        pages_by_filter: dict[str, int] = {}
        count = 0
        with self._meter or nullcontext():
            for hub_filter in self.filters:
                pages_by_filter[hub_filter] = 0
                # huggingface_hub 2.x no longer implies `full` with a filter: ask for it, and for cardData (licenses).
                for page in self.client.pages(MODELS_PATH, {"filter": hub_filter, "full": "true", "cardData": "true"}):
                    pages_by_filter[hub_filter] += 1
                    count += len(page)
                    yield page
        self._summary = ListingSummary(
            fetched_at=datetime.now(UTC),
            endpoint=self.endpoint,
            filters=self.filters,
            pages=sum(pages_by_filter.values()),
            pages_by_filter=pages_by_filter,
            count=count,
        )

    def quota_usage(self) -> QuotaUsage | None:
        """The listing's calls, 429s and waits per rate-limit bucket; None when its client is not paced."""
        return None if self._meter is None else self._meter.usage()

    def summary(self) -> ListingSummary:
        if self._summary is None:
            raise RuntimeError("the listing is not fetched completely yet: consume iter_pages() first")
        return self._summary


def json_text(value: Any) -> bytes:
    """A JSON value as one line of UTF-8 (no newline); escaped to ASCII if a string cannot be UTF-8."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def parse_filters(value: str) -> tuple[str, ...]:
    """`POCKETAI_HF_FILTER`: a comma-separated list of Hub filters, synced as their union."""
    filters = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not filters:
        raise ValueError(f"POCKETAI_HF_FILTER={value!r} names no filter; use e.g. 'litert' or 'litert,tflite'")
    return filters


def stream_listing(client: HubClient, filters: tuple[str, ...]) -> ListingStream:
    """The complete listing for every filter, fetched page by page as it is consumed."""
    return ListingStream(client, filters)


def fetch_listing(client: HubClient, filters: tuple[str, ...]) -> HubListing:
    """The complete listing for every filter, in memory; raises if any page cannot be fetched."""
    stream = stream_listing(client, filters)
    models = [json.loads(model) for page in stream.iter_pages() for model in page]
    summary = stream.summary()
    return HubListing(
        models=models,
        fetched_at=summary.fetched_at,
        endpoint=summary.endpoint,
        filters=summary.filters,
        pages=summary.pages,
        pages_by_filter=summary.pages_by_filter,
    )


def recently_modified(client: HubClient, hub_filter: str, limit: int) -> list[Any]:
    """One small page: the most recently modified models of a filter, newest first."""
    params = {"filter": hub_filter, "sort": "lastModified", "direction": "-1", "limit": str(limit), "full": "true"}
    response = client.get(f"{client.endpoint.rstrip('/')}{MODELS_PATH}", params)
    return response.json()
