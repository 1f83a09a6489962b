"""The Hub client against the fake Hub, through the real huggingface_hub session and backoff."""

import socket
import time

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError

from pocketai_pipeline.hub.client import HubClient, HubRateLimitError, retry_wait, same_origin
from pocketai_pipeline.hub.details import fetch_details
from pocketai_pipeline.hub.listing import fetch_listing, parse_filters, recently_modified
from pocketai_pipeline.sync.details import DetailsTarget
from pocketai_pipeline_tests.fake_hub import FakeHub


def model(i: int, *tags: str) -> dict:
    return {
        "_id": f"{i:024x}",
        "id": f"org/model-{i:04d}",
        "modelId": f"org/model-{i:04d}",
        "author": "org",
        "private": False,
        "disabled": False,
        "gated": False,
        "tags": ["litert", *tags],
        "downloads": i,
        "likes": 0,
        "sha": f"{i:040x}",
        "createdAt": "2025-01-02T03:04:05.000Z",
        "lastModified": f"2025-06-{1 + i % 28:02d}T00:00:00.000Z",
        "cardData": {"license": "mit"},
    }


def client_for(hub: FakeHub, **settings) -> HubClient:
    return HubClient(endpoint=hub.url, **{"max_retries": 2, "max_wait_seconds": 5, **settings})


def listing_requests(hub: FakeHub) -> list:
    return [r for r in hub.requests if r.path == "/api/models"]


def test_fetches_every_page_of_the_listing_with_full_and_card_data(fake_hub):
    models = [model(i) for i in range(250)]
    fake_hub.set_models(models)
    fake_hub.page_size = 100

    listing = fetch_listing(client_for(fake_hub), ("litert",))

    assert [m["id"] for m in listing.models] == [m["id"] for m in models]
    assert listing.models[7] == models[7]  # exactly as sent, cardData included
    assert listing.pages == 3
    first, *rest = listing_requests(fake_hub)
    assert first.query["filter"] == ["litert"] and first.query["full"] == ["true"]
    assert first.query["cardData"] == ["true"] and "limit" not in first.query
    assert all("cursor" in r.query for r in rest)


def test_union_of_filters_fetches_each_filter(fake_hub):
    fake_hub.set_models([model(1), model(2, "tflite"), {**model(3), "tags": ["tflite"]}])

    listing = fetch_listing(client_for(fake_hub), parse_filters("litert, tflite"))

    assert sorted(m["id"] for m in listing.models) == ["org/model-0001", "org/model-0002", "org/model-0002", "org/model-0003"]
    assert listing.pages_by_filter == {"litert": 1, "tflite": 1}


def test_filter_setting_must_name_a_filter():
    with pytest.raises(ValueError, match="POCKETAI_HF_FILTER"):
        parse_filters(" , ")


def test_token_goes_to_the_endpoint_but_never_to_another_host(fake_hub):
    fake_hub.set_models([model(i) for i in range(5)])
    fake_hub.page_size = 2
    # Same server, other origin: Link URLs name "localhost" while the endpoint is 127.0.0.1.
    fake_hub.next_link_base = fake_hub.url.replace("127.0.0.1", "localhost")

    listing = fetch_listing(client_for(fake_hub, token="hf_secret_token"), ("litert",))

    assert len(listing.models) == 5
    first, *rest = listing_requests(fake_hub)
    assert first.headers["authorization"] == "Bearer hf_secret_token"
    assert rest and all("authorization" not in r.headers for r in rest)


def test_no_token_means_anonymous_even_if_the_machine_has_one(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_machine_token")
    fake_hub.set_models([model(1)])

    fetch_listing(client_for(fake_hub), ("litert",))

    assert "authorization" not in listing_requests(fake_hub)[0].headers


def test_rate_limit_is_honoured_then_the_listing_completes(fake_hub):
    fake_hub.set_models([model(i) for i in range(3)])
    fake_hub.rate_limit_next(1)

    started = time.monotonic()
    listing = fetch_listing(client_for(fake_hub), ("litert",))

    assert len(listing.models) == 3
    assert time.monotonic() - started >= 1
    assert len(listing_requests(fake_hub)) == 2


def test_rate_limit_past_the_bound_fails_at_once_naming_the_rate_limit(fake_hub):
    fake_hub.set_models([model(1)])
    fake_hub.rate_limit_next(3600)

    started = time.monotonic()
    with pytest.raises(HubRateLimitError, match="rate limit.*3600s"):
        fetch_listing(client_for(fake_hub, max_wait_seconds=60), ("litert",))
    assert time.monotonic() - started < 5


def test_server_errors_are_retried(fake_hub):
    fake_hub.set_models([model(1)])
    fake_hub.fail_next(503, count=2, headers={"Retry-After": "0"})

    assert len(fetch_listing(client_for(fake_hub), ("litert",)).models) == 1
    assert len(listing_requests(fake_hub)) == 3


def test_a_page_that_keeps_failing_fails_the_whole_listing(fake_hub):
    fake_hub.set_models([model(i) for i in range(5)])
    fake_hub.page_size = 2
    fake_hub.fail_on_page(2, status=500)

    with pytest.raises(HfHubHTTPError, match="500"):
        fetch_listing(client_for(fake_hub, max_retries=1), ("litert",))


def test_every_request_has_a_timeout():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(httpx2.TimeoutException):
            HubClient(endpoint=endpoint, timeout_seconds=0.5, max_retries=0).get(f"{endpoint}/api/models")
    assert time.monotonic() - started < 10


def test_a_hub_that_never_answers_is_retried_within_one_bound_for_all_tries():
    client = HubClient(endpoint="http://127.0.0.1:1", timeout_seconds=0.4, max_retries=2, max_wait_seconds=1.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/models"
        started = time.monotonic()
        with pytest.raises(httpx2.TimeoutException):
            client.get(url)
        took = time.monotonic() - started
    assert client.worst_case_seconds() == 3 * 0.4 + 1.5
    assert 2 * 0.4 < took <= client.worst_case_seconds() + 1  # retried, and never past the bound


def test_a_listing_page_that_trickles_in_ends_as_a_timeout_within_the_bound(fake_hub):
    fake_hub.set_models([model(1)])
    fake_hub.trickle_next(0.2, count=2)  # every read is quick; the page would take 200 s
    client = client_for(fake_hub, timeout_seconds=1, max_retries=1, max_wait_seconds=2)
    started = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout, match="longer than 1s in all"):
        fetch_listing(client, ("litert",))
    took = time.monotonic() - started
    assert len(listing_requests(fake_hub)) == 2  # a timeout is retried like any other
    assert 2 * 1 <= took <= client.worst_case_seconds() + 1


def test_a_detail_request_that_trickles_in_ends_as_a_timeout_counted_as_a_failure(fake_hub):
    fake_hub.set_models([model(1)])
    fake_hub.trickle_model("org/model-0001", "revision", 0.2)
    client = client_for(fake_hub, timeout_seconds=1, max_retries=0)
    started = time.monotonic()
    fetched = fetch_details(client, DetailsTarget(1, "org/model-0001", f"{1:040x}"))
    assert fetched.details is None and fetched.error.startswith("ReadTimeout")
    assert 1 <= time.monotonic() - started <= client.worst_case_seconds() + 1


def test_max_bytes_stops_reading_a_body_whatever_the_server_sends(fake_hub):
    fake_hub.set_models([model(i) for i in range(50)])
    fake_hub.page_size = 50
    client = client_for(fake_hub)
    whole = client.request(client.url("/api/models"), {"filter": "litert"})
    cut = client.request(client.url("/api/models"), {"filter": "litert"}, max_bytes=100)
    assert len(whole.content) > 1000 and cut.content == whole.content[:100]


def test_the_default_bound_of_one_request():
    assert HubClient(endpoint="https://huggingface.co").worst_case_seconds() == 6 * 30 + 300


def test_recently_modified_asks_for_one_small_sorted_page(fake_hub):
    fake_hub.set_models([model(i) for i in range(30)])

    newest = recently_modified(client_for(fake_hub), "litert", limit=5)

    assert len(newest) == 5
    request = listing_requests(fake_hub)[-1]
    assert request.query["sort"] == ["lastModified"] and request.query["limit"] == ["5"]
    stamps = [m["lastModified"] for m in newest]
    assert stamps == sorted(stamps, reverse=True)


def test_retry_wait_prefers_the_hub_headers():
    assert retry_wait(httpx2.Headers({"RateLimit": '"api";r=0;t=42'}), attempt=0) == 42
    assert retry_wait(httpx2.Headers({"Retry-After": "7"}), attempt=0) == 7
    assert 4 <= retry_wait(httpx2.Headers({}), attempt=3) <= 8


def test_same_origin_compares_scheme_host_and_port():
    assert same_origin("https://huggingface.co/api/models?cursor=x", "https://huggingface.co")
    assert not same_origin("https://evil.example/api/models", "https://huggingface.co")
    assert not same_origin("http://huggingface.co/api/models", "https://huggingface.co")
    assert not same_origin("https://huggingface.co:8443/api/models", "https://huggingface.co")
