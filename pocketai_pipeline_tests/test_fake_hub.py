"""The fake Hub is only useful if the real huggingface_hub client cannot tell it from the Hub."""

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, get_session, paginate, parse_ratelimit_headers

from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.synthetic import (
    app_ready_edge_models,
    edge_case_models,
    synthetic_cards,
    synthetic_listing,
    with_duplicates_across_pages,
)

LITERT_FILTERS = {"litert", "litert-lm", "tflite"}
COMPACT_KEYS = {
    "_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
    "pipeline_tag", "library_name", "createdAt", "modelId",
}


def listing_requests(hub: FakeHub) -> list:
    return [request for request in hub.requests if request.path == "/api/models"]


def pages_of_ids(first_url: str) -> list[list[str]]:
    """Follow `Link` headers by hand, keeping page boundaries."""
    pages, url = [], first_url
    while url:
        response = get_session().get(url)
        response.raise_for_status()
        pages.append([model["id"] for model in response.json()])
        url = response.links.get("next", {}).get("url")
    return pages


def litert_tagged(count: int) -> list[dict]:
    """`count` synthetic models that all carry the `litert` tag (the listing also has litert-lm/tflite-only ones)."""
    return [model for model in synthetic_listing(4 * count) if "litert" in model["tags"]][:count]


def test_list_models_reads_every_page_and_parses_each_model():
    models = litert_tagged(25)
    with FakeHub(models, page_size=10) as hub:
        infos = list(HfApi(endpoint=hub.url, token=False).list_models(filter="litert", full=True, cardData=True))

    assert [info.id for info in infos] == [model["id"] for model in models]
    assert len(listing_requests(hub)) == 3
    for info, model in zip(infos, models, strict=True):
        assert info.sha == model["sha"]
        assert info.gated == model["gated"]
        assert info.last_modified.isoformat() == model["lastModified"].replace(".000Z", "+00:00")
        assert [sibling.rfilename for sibling in info.siblings] == [s["rfilename"] for s in model["siblings"]]
        assert (info.card_data is None) == ("cardData" not in model)


def test_full_with_card_data_sends_every_stored_object_exactly_as_stored():
    models = edge_case_models()
    with FakeHub(models, page_size=7) as hub:
        sent = list(paginate(f"{hub.url}/api/models", params={"full": True, "cardData": True}, headers={}))

    assert sent == models
    nul_model = next(model for model in sent if model.get("id") == "edge/nul-in-text-litert")
    assert nul_model["pipeline_tag"] == "text-\u0000generation"
    assert any(model.get("id") == "edge/模型-litert-ünï" for model in sent)


def test_paginate_follows_the_absolute_link_urls_keeping_the_query():
    with FakeHub(litert_tagged(25), page_size=10) as hub:
        first = get_session().get(f"{hub.url}/api/models", params={"filter": "litert", "full": "true"})
        list(paginate(f"{hub.url}/api/models", params={"filter": "litert", "full": True}, headers={}))

    next_url = first.links["next"]["url"]
    assert next_url.startswith(f"{hub.url}/api/models?")
    requests = listing_requests(hub)[1:]  # the first was ours
    assert "cursor" not in requests[0].query
    assert requests[1].url == next_url
    cursors = [request.query["cursor"] for request in requests[1:]]
    assert len(cursors) == 2 and cursors[0] != cursors[1]
    assert all(request.query["filter"] == ["litert"] and request.query["full"] == ["true"] for request in requests)


def test_without_full_only_the_compact_fields_come_back():
    models = synthetic_listing(5)
    with FakeHub(models) as hub:
        compact = get_session().get(f"{hub.url}/api/models").json()
        with_card = get_session().get(f"{hub.url}/api/models", params={"cardData": "true"}).json()
        full = get_session().get(f"{hub.url}/api/models", params={"full": "true"}).json()

    assert compact == [{key: value for key, value in model.items() if key in COMPACT_KEYS} for model in models]
    assert [set(model) - set(compact_model) for model, compact_model in zip(with_card, compact)] == [
        {"cardData"} if "cardData" in model else set() for model in models
    ]
    assert all("cardData" not in model and {"author", "sha", "lastModified", "gated"} <= set(model) for model in full)


def test_expand_sends_only_the_expanded_properties():
    with FakeHub(synthetic_listing(3)) as hub:
        expanded = get_session().get(f"{hub.url}/api/models", params=[("expand", "sha"), ("expand", "downloads")]).json()

    assert all(set(model) == {"_id", "id", "sha", "downloads"} for model in expanded)


def test_filters_must_all_be_tags_and_odd_tags_match_nothing():
    models = edge_case_models()
    with FakeHub(models) as hub:
        litert = get_session().get(f"{hub.url}/api/models", params={"filter": "litert", "limit": 100}).json()
        both = get_session().get(f"{hub.url}/api/models", params=[("filter", "litert"), ("filter", "license:gemma")]).json()
        unfiltered = get_session().get(f"{hub.url}/api/models", params={"limit": 100}).json()
        searched = get_session().get(f"{hub.url}/api/models", params={"search": "GATED"}).json()
        by_author = get_session().get(f"{hub.url}/api/models", params={"author": "edge"}).json()

    assert len(unfiltered) == len(models)
    assert [model.get("id") for model in litert] == [
        model.get("id") for model in models if model.get("id") != "edge/tags-not-a-list-litert"
    ]
    assert [model["id"] for model in both] == ["edge/license-tag-only-gemma-litert"]
    assert [model["id"] for model in searched] == ["edge/gated-manual-litert", "edge/gated-auto-litert"]
    assert len(by_author) == len(models) - 2  # all but the two without a string id


def test_limit_sets_the_page_size_and_stays_in_the_link():
    with FakeHub(synthetic_listing(25), page_size=10) as hub:
        small = get_session().get(f"{hub.url}/api/models", params={"limit": 3})
        large = get_session().get(f"{hub.url}/api/models", params={"limit": 1000})
        infos = list(HfApi(endpoint=hub.url, token=False).list_models(limit=5))

    assert len(small.json()) == 3
    assert "limit=3" in small.links["next"]["url"]
    assert len(large.json()) == 10 and "next" in large.links
    assert len(infos) == 5


def test_sort_is_descending_by_default_and_the_client_sort_names_are_accepted():
    with FakeHub(synthetic_listing(30), page_size=100) as hub:
        by_downloads = get_session().get(f"{hub.url}/api/models", params={"sort": "downloads"}).json()
        ascending = get_session().get(f"{hub.url}/api/models", params={"sort": "downloads", "direction": "1"}).json()
        recent = list(HfApi(endpoint=hub.url, token=False).list_models(sort="last_modified", full=True))
        snake_case = get_session().get(f"{hub.url}/api/models", params={"sort": "last_modified"})

    downloads = [model["downloads"] for model in by_downloads]
    assert downloads == sorted(downloads, reverse=True)
    assert [model["downloads"] for model in ascending] == sorted(downloads)
    assert listing_requests(hub)[2].query["sort"] == ["lastModified"]
    assert [info.last_modified for info in recent] == sorted((info.last_modified for info in recent), reverse=True)
    assert snake_case.status_code == 400


def test_malformed_values_sort_without_crashing():
    models = edge_case_models()
    with FakeHub(models) as hub:
        response = get_session().get(f"{hub.url}/api/models", params={"sort": "downloads"})

    assert response.status_code == 200
    # The fake's own order for mixed types: numbers above text when descending.
    assert response.json()[-1]["id"] == "edge/downloads-string-litert"


def test_rate_limit_answers_429_with_the_hub_headers_then_serves():
    models = synthetic_listing(15)
    with FakeHub(models, page_size=10) as hub:
        hub.rate_limit_next(1)
        limited = get_session().get(f"{hub.url}/api/models")
        hub.rate_limit_next(1)
        started = time.monotonic()
        sent = list(paginate(f"{hub.url}/api/models", params={"full": True, "cardData": True}, headers={}))
        waited = time.monotonic() - started

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    info = parse_ratelimit_headers(limited.headers)
    assert (info.remaining, info.reset_in_seconds, info.limit, info.window_seconds) == (0, 1, 500, 300)
    assert sent == models
    assert waited >= 2  # the client waits t + 1 s: it read the RateLimit header
    assert len(listing_requests(hub)) == 1 + 3  # ours, the 429, then two pages


def test_fail_next_fails_only_listing_requests_then_serves():
    with FakeHub(synthetic_listing(2)) as hub:
        hub.fail_next(503, count=2, headers={"X-Why": "maintenance"}, body="down")
        harnesses = get_session().get(f"{hub.url}/api/agent-harnesses")
        first, second, third = (get_session().get(f"{hub.url}/api/models") for _ in range(3))

    assert harnesses.json() == {"standardEnvVars": [], "harnesses": {}}
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert (first.headers["X-Why"], first.text) == ("maintenance", "down")
    assert len(third.json()) == 2


def test_fail_on_page_fails_that_page_every_time():
    with FakeHub(synthetic_listing(25), page_size=10) as hub:
        hub.fail_on_page(2)
        first = get_session().get(f"{hub.url}/api/models")
        second_page = first.links["next"]["url"]
        retries = [get_session().get(second_page).status_code for _ in range(2)]
        hub.fail_on_page(2, status=404)  # the client does not retry a 404: quick to show that it fails
        with pytest.raises(HfHubHTTPError):
            list(HfApi(endpoint=hub.url, token=False).list_models())

    assert first.status_code == 200
    assert retries == [500, 500]


def test_next_link_base_moves_the_link_to_another_host_and_the_client_sends_its_token_there():
    with FakeHub(synthetic_listing(15), page_size=10) as hub:
        other_host = f"http://localhost:{urlsplit(hub.url).port}"
        hub.next_link_base = other_host
        headers = build_hf_headers(token="hf_not_a_real_token")
        sent = list(paginate(f"{hub.url}/api/models", params={}, headers=headers))

    assert len(sent) == 15
    first, second = listing_requests(hub)
    assert first.url.startswith(hub.url)
    assert second.url.startswith(f"{other_host}/api/models?")
    # huggingface_hub's own pagination leaks the token to whatever host the Link names: the project must not.
    assert second.headers["authorization"] == "Bearer hf_not_a_real_token"


def test_requests_are_recorded_with_lowercase_headers_including_failures():
    with FakeHub() as hub:
        hub.fail_next(500)
        failed = get_session().get(f"{hub.url}/api/models", params={"filter": "litert"}, headers={"X-Custom": "yes"})
        missing = get_session().post(f"{hub.url}/api/models/x", content=b"{}")

    assert failed.status_code == 500
    assert missing.status_code == 404 and "error" in missing.json()
    recorded, posted = hub.requests
    assert (recorded.method, recorded.path, recorded.query) == ("GET", "/api/models", {"filter": ["litert"]})
    assert recorded.headers["x-custom"] == "yes"
    assert recorded.url == f"{hub.url}/api/models?filter=litert"
    assert (posted.method, posted.path) == ("POST", "/api/models/x")


def test_an_empty_hub_answers_an_empty_page_without_a_link(fake_hub: FakeHub):
    response = get_session().get(f"{fake_hub.url}/api/models", params={"filter": "litert"})

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == [] and "link" not in response.headers


def test_set_models_replaces_what_is_served(fake_hub: FakeHub):
    fake_hub.set_models(synthetic_listing(3))
    fake_hub.set_models(edge_case_models()[:1])

    assert [model["id"] for model in get_session().get(f"{fake_hub.url}/api/models").json()] == ["edge/private-litert"]


def test_synthetic_listing_is_deterministic_unique_public_litert():
    listing = synthetic_listing()

    assert len(listing) == 2100
    assert listing == synthetic_listing() and listing != synthetic_listing(seed=8)
    assert len({model["id"] for model in listing}) == 2100
    assert all(set(model["tags"]) & LITERT_FILTERS and model["private"] is False for model in listing)
    assert all(model["id"].endswith(("-litert", "-litert-lm", "-tflite")) and len(model["sha"]) == 40 for model in listing)
    assert all(model["lastModified"].endswith(".000Z") for model in listing)
    assert {"text-generation", None} <= {model.get("pipeline_tag") for model in listing}
    card_licenses = {type(model["cardData"]["license"]) for model in listing if "cardData" in model}
    assert card_licenses == {str, list} and any("cardData" not in model for model in listing)
    assert {False, "auto", "manual"} <= {model["gated"] for model in listing}


def test_edge_cases_have_unique_stable_names():
    models = edge_case_models()
    ids = [model.get("id") for model in models]

    assert models == edge_case_models()
    assert len(set(map(repr, ids))) == len(ids)
    assert [model_id for model_id in ids if not (isinstance(model_id, str) and model_id.startswith("edge/"))] == [
        None,
        12345,
    ]
    assert "edge/license-openrailplusplus-litert" in ids and "edge/license-cc-by-nc-sa-4.0-litert" in ids


def test_duplicates_land_on_two_different_pages():
    models = with_duplicates_across_pages(synthetic_listing(10), page_size=4)
    with FakeHub(models, page_size=4) as hub:
        pages = pages_of_ids(f"{hub.url}/api/models")

    assert [len(page) for page in pages] == [4, 4, 4]
    assert pages[0][-1] == pages[1][0] and pages[1][-1] == pages[2][0]
    assert sorted(set(sum(pages, []))) == sorted(model["id"] for model in synthetic_listing(10))


def test_cli_serves_the_synthetic_listing_until_interrupted():
    command = [sys.executable, "-m", "pocketai_pipeline_tests.fake_hub", "--port", "0", "--models", "30", "--page-size", "10"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split(" at ")[1].split()[0]
        pages = pages_of_ids(f"{url}/api/models")
    finally:
        process.send_signal(signal.SIGINT)
        exit_code = process.wait(timeout=10)

    assert [len(page) for page in pages] == [10, 10, 10]
    assert exit_code == 0


# --- app-ready synthetic data ---------------------------------------------------------------------------

def test_the_synthetic_listing_mixes_the_three_filters_and_the_app_columns():
    listing = synthetic_listing()
    filter_sets = Counter(frozenset(set(m["tags"]) & LITERT_FILTERS) for m in listing)

    assert 0.4 < sum(n for tags, n in filter_sets.items() if "litert" in tags) / 2100 < 0.6
    assert 0.2 < filter_sets[frozenset({"litert-lm"})] / 2100 < 0.3
    assert 0.2 < filter_sets[frozenset({"tflite"})] / 2100 < 0.3
    assert sum(n for tags, n in filter_sets.items() if len(tags) >= 2) > 100
    files = lambda m: [s["rfilename"] for s in m["siblings"]]  # noqa: E731
    lm_only = [m for m in listing if set(m["tags"]) & LITERT_FILTERS == {"litert-lm"}]
    assert all(any(f.endswith((".litertlm", ".task")) for f in files(m)) for m in lm_only)
    assert not any(f.endswith(".tflite") for m in lm_only for f in files(m))
    assert any("/" in f and f.endswith(".tflite") for m in listing for f in files(m))
    assert any("litert-community/" in m["id"] for m in lm_only)

    libraries = Counter(m.get("library_name") for m in listing)
    assert {"litert", "litert-lm", "tflite", None} <= set(libraries) and len(libraries) >= 5
    base_models = Counter(type(m.get("cardData", {}).get("base_model")) for m in listing)
    assert set(base_models) == {str, list, type(None)}
    tags_only = [m for m in listing if "base_model" not in m.get("cardData", {})
                 and any(re.fullmatch("base_model:[^:]+", t) for t in m["tags"])]
    relation_only = [m for m in listing if all(not re.fullmatch("base_model:[^:]+", t) for t in m["tags"])
                     and any(t.startswith(("base_model:quantized:", "base_model:finetune:")) for t in m["tags"])]
    assert len(tags_only) > 50 and len(relation_only) > 50
    license_names = {m["cardData"].get("license_name") for m in listing if "cardData" in m}
    assert {"lfm-open-license-v1.0", "health-ai-developer-foundations", None} <= license_names
    assert all(m["cardData"]["license"] == "other" for m in listing if m.get("cardData", {}).get("license_name"))


def test_synthetic_cards_are_deterministic_realistic_and_sometimes_absent():
    listing = synthetic_listing()
    cards = synthetic_cards(listing)
    present = [card for card in cards.values() if card is not None]
    paragraphs = [p for card in present for p in card.split("\n\n")]

    assert cards == synthetic_cards(listing) and synthetic_cards(listing[:5]) == {m["id"]: cards[m["id"]] for m in listing[:5]}
    assert set(cards) == {m["id"] for m in listing}
    assert all((cards[m["id"]] is None) == ("README.md" not in [s["rfilename"] for s in m["siblings"]]) for m in listing)
    assert 20 < len(cards) - len(present) < 200
    assert sum(card.startswith("---\n") for card in present) > 0.8 * len(present)
    assert any(re.search(r"\[!\[[^]]*\]\([^)]*\)\]\([^)]*\)", card) for card in present)
    assert any('<p align="center">' in card for card in present)
    assert any(card.startswith("---\n") and "\n# " in card for card in present)
    prose = [p for p in paragraphs if "](https://" in p and "`" in p and "**" in p and not p.startswith(("[!", "#", "-", "<"))]
    assert len(prose) > 0.8 * len(present)
    assert 1 <= sum(len(p) > 1000 for p in prose) <= 10
    no_prose = [card for card in present if not any(p in card for p in prose)]
    assert 20 < len(no_prose) < 200


def test_app_ready_edge_models_are_stable_unique_and_listed_under_their_filters():
    models = app_ready_edge_models()
    ids = [model["id"] for model in models]

    assert models == app_ready_edge_models() and len(set(ids)) == len(ids) == 17
    assert all(model_id.startswith("edge/app-") for model_id in ids)
    assert not set(ids) & {m.get("id") for m in edge_case_models()}
    with FakeHub(models, page_size=100) as hub:
        listed = {name: {m["id"] for m in get_session().get(f"{hub.url}/api/models", params={"filter": name}).json()}
                  for name in LITERT_FILTERS}
    assert "edge/app-only-litert-lm" in listed["litert-lm"] - listed["litert"] - listed["tflite"]
    assert "edge/app-only-tflite" in listed["tflite"] - listed["litert"] - listed["litert-lm"]
    assert "edge/app-two-filters" in listed["tflite"] & listed["litert"]
    assert set(ids) == listed["litert"] | listed["litert-lm"] | listed["tflite"]
    cards = synthetic_cards(models)
    assert [model_id for model_id, card in cards.items() if card is None] == ["edge/app-files-none"]
