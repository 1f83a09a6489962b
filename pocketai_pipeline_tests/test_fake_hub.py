"""The fake Hub is only useful if the real huggingface_hub client cannot tell it from the Hub."""

import hashlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    DisabledRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status, paginate, parse_ratelimit_headers

from pocketai_pipeline_tests.fake_hub import DEFAULT_QUOTA, LFS_EXTENSIONS, FakeHub
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


# --- per-model endpoints -------------------------------------------------------------------------

def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def served(models=None, **kwargs) -> FakeHub:
    models = synthetic_listing(12) if models is None else models
    return FakeHub(models, cards=synthetic_cards(models), **kwargs)


def test_model_info_sends_the_stored_model_exactly_and_the_client_parses_it():
    models = synthetic_listing(12)
    model = next(m for m in models if "cardData" in m and m.get("library_name"))
    with served(models) as hub:
        raw = get_session().get(f"{hub.url}/api/models/{model['id']}")
        info = HfApi(endpoint=hub.url, token=False).model_info(model["id"])

    assert raw.status_code == 200 and raw.json() == model
    assert (info.id, info.sha, info.tags, info.library_name) == (model["id"], model["sha"], model["tags"], model["library_name"])
    assert [s.rfilename for s in info.siblings] == [s["rfilename"] for s in model["siblings"]]
    assert all(s.size is None and s.lfs is None for s in info.siblings)
    assert info.card_data["license"] == model["cardData"]["license"]


def test_files_metadata_gives_sizes_blob_ids_and_lfs_sha256_at_the_revision():
    models = synthetic_listing(12)
    model = next(m for m in models if any(s["rfilename"] == "README.md" for s in m["siblings"]))
    cards = synthetic_cards(models)
    with served(models) as hub:
        api = HfApi(endpoint=hub.url, token=False)
        at_revision = api.model_info(model["id"], revision=model["sha"], files_metadata=True)
        current = api.model_info(model["id"], files_metadata=True)  # `?blobs=true` without a revision
        plain = get_session().get(f"{hub.url}/api/models/{model['id']}/revision/{model['sha']}").json()
        raw = get_session().get(f"{hub.url}/api/models/{model['id']}/revision/main", params={"blobs": "true"}).json()
        request = next(r for r in hub.requests if "/revision/" in r.path)

    assert request.path == f"/api/models/{model['id']}/revision/{model['sha']}" and request.query["blobs"] == ["true"]
    assert at_revision.sha == model["sha"] and at_revision.siblings == current.siblings
    assert [s.rfilename for s in at_revision.siblings] == [s["rfilename"] for s in model["siblings"]]
    for sibling in at_revision.siblings:
        assert sibling.size > 0 and re.fullmatch("[0-9a-f]{40}", sibling.blob_id)
        if sibling.rfilename.lower().endswith(LFS_EXTENSIONS):
            assert re.fullmatch("[0-9a-f]{64}", sibling.lfs.sha256) and sibling.lfs.size == sibling.size
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sibling.lfs.sha256}\nsize {sibling.size}\n"
            assert (sibling.lfs.pointer_size, sibling.blob_id) == (len(pointer), git_blob_id(pointer.encode()))
        else:
            assert sibling.lfs is None
    readme = next(s for s in at_revision.siblings if s.rfilename == "README.md")
    card = cards[model["id"]].encode()
    assert (readme.size, readme.blob_id) == (len(card), git_blob_id(card))
    assert plain["siblings"] == model["siblings"] and plain["sha"] == model["sha"]
    [lfs_sibling] = [s for s in raw["siblings"] if "lfs" in s][:1]
    assert list(lfs_sibling) == ["rfilename", "blobId", "size", "lfs"]
    assert list(lfs_sibling["lfs"]) == ["sha256", "size", "pointerSize"]
    assert all(set(s) == {"rfilename", "blobId", "size"} for s in raw["siblings"] if "lfs" not in s)


def test_derived_files_are_deterministic_and_follow_the_extension():
    model = app_ready_edge_models()[10]  # edge/app-files-every-format
    assert model["id"] == "edge/app-files-every-format"
    with FakeHub([model]) as first, FakeHub([model]) as second:
        files = first.files(model["id"])
        again = second.files(model["id"], model["sha"])

    assert files == again
    lfs = {file["path"] for file in files if file["sha256"] is not None}
    assert lfs == {"model.tflite", "model.litertlm", "model.task", "model.onnx", "model.safetensors", "weights.bin"}
    assert {file["path"] for file in files} - lfs == {".gitattributes", "README.md", "config.json", "labels.txt"}
    assert len({file["sha256"] for file in files if file["sha256"]}) == 6


def test_upper_case_extensions_nested_paths_and_no_files():
    models = app_ready_edge_models()
    by_id = {m["id"]: m for m in models}
    with FakeHub(models) as hub:
        api = HfApi(endpoint=hub.url, token=False)
        upper = api.model_info("edge/app-files-upper-case-extension", files_metadata=True).siblings
        nested = api.model_info("edge/app-files-nested", files_metadata=True).siblings
        empty = api.model_info("edge/app-files-none", files_metadata=True).siblings

    assert next(s for s in upper if s.rfilename == "MODEL.TFLITE").lfs is not None
    assert [s.rfilename for s in nested] == [s["rfilename"] for s in by_id["edge/app-files-nested"]["siblings"]]
    assert next(s for s in nested if s.rfilename == "deep/er/still/model.tflite").lfs is not None
    assert empty == []


def test_set_files_overrides_the_manifest_and_registers_older_revisions():
    model = synthetic_listing(1)[0]
    old_sha = "0" * 40
    old_files = [
        {"path": "model.tflite", "size": 1234, "sha256": "ab" * 32},
        {"path": "notes.txt", "size": 7, "sha256": None},
    ]
    with served([model]) as hub:
        hub.set_files(model["id"], old_sha, old_files)
        api = HfApi(endpoint=hub.url, token=False)
        old = api.model_info(model["id"], revision=old_sha, files_metadata=True)
        old_plain = get_session().get(f"{hub.url}/api/models/{model['id']}/revision/{old_sha}").json()
        current = api.model_info(model["id"], revision=model["sha"], files_metadata=True)
        listed = get_session().get(f"{hub.url}/api/models/{model['id']}").json()
        hub.set_files(model["id"], model["sha"], old_files[:1])
        overridden = api.model_info(model["id"], files_metadata=True)
        with pytest.raises(RevisionNotFoundError):
            api.model_info(model["id"], revision="f" * 40, files_metadata=True)
        with pytest.raises(ValueError):
            hub.set_files(model["id"], old_sha, [{"path": "x", "size": 1}])

    assert old.sha == old_sha and [(s.rfilename, s.size) for s in old.siblings] == [("model.tflite", 1234), ("notes.txt", 7)]
    assert (old.siblings[0].lfs.sha256, old.siblings[1].lfs) == ("ab" * 32, None)
    assert old_plain["siblings"] == [{"rfilename": "model.tflite"}, {"rfilename": "notes.txt"}]
    assert [s.rfilename for s in current.siblings] == [s["rfilename"] for s in model["siblings"]]
    assert listed == model  # the stored JSON is never rewritten
    assert [(s.rfilename, s.size) for s in overridden.siblings] == [("model.tflite", 1234)]


def test_ids_may_be_percent_encoded_and_non_ascii():
    models = edge_case_models()
    model_id = "edge/模型-litert-ünï"
    with FakeHub(models) as hub:
        plain = get_session().get(f"{hub.url}/api/models/{model_id}")
        encoded = get_session().get(f"{hub.url}/api/models/{quote(model_id, safe='')}")
        revision = get_session().get(f"{hub.url}/api/models/{quote(model_id, safe='')}/revision/main?blobs=true")

    assert plain.json()["id"] == encoded.json()["id"] == revision.json()["id"] == model_id
    assert hub.requests[0].path == f"/api/models/{quote(model_id)}"
    assert revision.json()["siblings"][1]["lfs"]["size"] > 0


def test_missing_private_and_disabled_models_answer_as_the_hub_does():
    with FakeHub(edge_case_models()) as hub:
        anonymous = HfApi(endpoint=hub.url, token=False)
        with_token = HfApi(endpoint=hub.url, token="hf_not_a_real_token")
        outcomes = {}
        for name, api in (("anonymous", anonymous), ("token", with_token)):
            for model_id in ("nobody/nothing", "edge/private-litert", "edge/disabled-litert"):
                with pytest.raises(HfHubHTTPError) as raised:
                    api.model_info(model_id)
                outcomes[name, model_id] = (type(raised.value), raised.value.response.status_code)
        raw = get_session().get(f"{hub.url}/api/models/nobody/nothing")
        gated = anonymous.model_info("edge/gated-manual-litert", files_metadata=True)

    assert outcomes == {
        ("anonymous", "nobody/nothing"): (RepositoryNotFoundError, 404),
        ("anonymous", "edge/private-litert"): (RepositoryNotFoundError, 401),
        ("anonymous", "edge/disabled-litert"): (RepositoryNotFoundError, 401),
        ("token", "nobody/nothing"): (RepositoryNotFoundError, 404),
        ("token", "edge/private-litert"): (RepositoryNotFoundError, 404),
        ("token", "edge/disabled-litert"): (DisabledRepoError, 403),
    }
    assert (raw.headers["X-Error-Code"], raw.json()) == ("RepoNotFound", {"error": "Repository not found"})
    assert gated.gated == "manual" and gated.siblings[1].lfs is not None


def test_the_readme_resolves_to_the_card_like_a_non_lfs_file(tmp_path):
    models = synthetic_listing(12)
    cards = synthetic_cards(models)
    model = next(m for m in models if cards[m["id"]])
    with served(models) as hub:
        path = hf_hub_download(model["id"], "README.md", revision=model["sha"], endpoint=hub.url, token=False,
                               cache_dir=tmp_path)
        head = get_session().head(f"{hub.url}/{model['id']}/resolve/{model['sha']}/README.md")
        main = get_session().get(f"{hub.url}/{model['id']}/resolve/main/README.md")

    card = cards[model["id"]]
    assert open(path, encoding="utf-8").read() == card == main.text
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert head.headers["ETag"] == f'"{git_blob_id(card.encode())}"' and head.headers["X-Repo-Commit"] == model["sha"]
    assert int(head.headers["Content-Length"]) == len(card.encode())
    assert head.headers["RateLimit"].startswith('"resolvers";')  # resolvers have their own quota


def test_resolve_errors_are_entry_revision_and_repo_not_found():
    models = synthetic_listing(60)
    cards = synthetic_cards(models)
    with_card = next(m for m in models if cards[m["id"]])
    without_card = next(m for m in models if cards[m["id"]] is None)
    with served(models) as hub:
        def resolve(model_id, revision, file="README.md"):
            return get_session().get(f"{hub.url}/{model_id}/resolve/{revision}/{file}")

        no_card = resolve(without_card["id"], without_card["sha"])
        other_file = resolve(with_card["id"], with_card["sha"], "model.tflite")
        bad_revision = resolve(with_card["id"], "f" * 40)
        no_repo = resolve("nobody/nothing", "main")
        hub.set_card(with_card["id"], None)
        removed_card = resolve(with_card["id"], with_card["sha"])
        hub.set_card(without_card["id"], "---\nlicense: mit\n---\nNow it has one.\n")
        added_card = resolve(without_card["id"], "main")

    for response, error in ((no_card, RemoteEntryNotFoundError), (other_file, RemoteEntryNotFoundError),
                            (bad_revision, RevisionNotFoundError), (no_repo, RepositoryNotFoundError),
                            (removed_card, RemoteEntryNotFoundError)):
        assert response.status_code == 404
        with pytest.raises(error):
            hf_raise_for_status(response)
    assert added_card.text == "---\nlicense: mit\n---\nNow it has one.\n"


# --- per-model faults ----------------------------------------------------------------------------

def test_fail_model_fails_one_endpoint_of_one_model_count_times_or_always():
    models = synthetic_listing(3)
    first, second = models[0]["id"], models[1]["id"]
    with served(models) as hub:
        session = get_session()
        hub.fail_model(first, "revision", 503, count=2, headers={"Retry-After": "0"}, body="busy")
        hub.fail_model(first, "info", 500)
        revisions = [session.get(f"{hub.url}/api/models/{first}/revision/main?blobs=true") for _ in range(3)]
        infos = [session.get(f"{hub.url}/api/models/{first}").status_code for _ in range(3)]
        unaffected = session.get(f"{hub.url}/api/models/{second}").status_code
        hub.fail_model(second, "readme", 429, count=1, headers={"Retry-After": "7"})
        readme = [session.get(f"{hub.url}/{second}/resolve/main/README.md").status_code for _ in range(2)]
        hub.clear_model_faults()
        after_clear = session.get(f"{hub.url}/api/models/{first}").status_code
        with pytest.raises(ValueError):
            hub.fail_model(first, "listing", 500)

    assert [r.status_code for r in revisions] == [503, 503, 200]
    assert (revisions[0].text, revisions[0].headers["Retry-After"]) == ("busy", "0")
    assert "RateLimit" in revisions[0].headers  # an /api/ answer, even a failed one
    assert infos == [500, 500, 500] and unaffected == 200
    assert readme[0] == 429 and readme[1] in (200, 404)
    assert after_clear == 200


def test_garbage_is_a_200_that_is_not_json():
    model = synthetic_listing(1)[0]
    with served([model]) as hub:
        hub.fail_model(model["id"], "revision", 200, body="<html>upstream hiccup</html>")
        response = get_session().get(f"{hub.url}/api/models/{model['id']}/revision/{model['sha']}?blobs=true")
        with pytest.raises(ValueError):  # huggingface_hub fails to decode it: no ModelInfo
            HfApi(endpoint=hub.url, token=False).model_info(model["id"], revision=model["sha"], files_metadata=True)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_hang_model_never_answers_until_the_hub_stops():
    models = synthetic_listing(2)
    hub = served(models).start()
    try:
        hub.hang_model(models[0]["id"], "readme")
        started = time.monotonic()
        with pytest.raises(httpx2.TimeoutException):
            httpx2.get(f"{hub.url}/{models[0]['id']}/resolve/main/README.md", timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 5
        assert httpx2.get(f"{hub.url}/api/models/{models[0]['id']}", timeout=5).status_code == 200
        errors = []
        hanging = threading.Thread(target=lambda: _expect_failure(f"{hub.url}/{models[0]['id']}/resolve/main/README.md", errors))
        hanging.start()
        time.sleep(0.3)
    finally:
        hub.stop()
    hanging.join(timeout=5)
    assert not hanging.is_alive() and errors == ["closed"]


def _expect_failure(url: str, errors: list) -> None:
    try:
        httpx2.get(url, timeout=30)
        errors.append("answered")
    except httpx2.HTTPError:
        errors.append("closed")


# --- rate limits ------------------------------------------------------------------------------------

def test_every_api_response_carries_the_hub_rate_limit_headers():
    models = synthetic_listing(3)
    with served(models) as hub:
        responses = [
            get_session().get(f"{hub.url}/api/models"),
            get_session().get(f"{hub.url}/api/models/{models[0]['id']}"),
            get_session().get(f"{hub.url}/api/models/nobody/nothing"),
        ]

    infos = [parse_ratelimit_headers(response.headers) for response in responses]
    assert [info.remaining for info in infos] == [DEFAULT_QUOTA - 1, DEFAULT_QUOTA - 2, DEFAULT_QUOTA - 3]
    assert all((info.resource_type, info.limit, info.window_seconds) == ("api", DEFAULT_QUOTA, 300) for info in infos)
    assert all(0 < info.reset_in_seconds <= 300 for info in infos)
    assert re.fullmatch(r'"api";r=\d+;t=\d+', responses[0].headers["RateLimit"])
    assert responses[0].headers["RateLimit-Policy"] == f'"fixed window";"api";q={DEFAULT_QUOTA};w=300'


def test_a_quota_answers_429_until_its_fixed_window_ends():
    models = synthetic_listing(2)
    with served(models) as hub:
        hub.set_quota(3, window_seconds=2)
        session = get_session()
        allowed = [session.get(f"{hub.url}/api/models/{models[0]['id']}") for _ in range(3)]
        limited = session.get(f"{hub.url}/api/models")
        resolve = session.get(f"{hub.url}/{models[0]['id']}/resolve/main/README.md")  # its own bucket
        time.sleep(float(limited.headers["Retry-After"]) + 0.1)
        later = session.get(f"{hub.url}/api/models")
        hub.set_quota(None)
        unlimited = session.get(f"{hub.url}/api/models")

    assert [parse_ratelimit_headers(r.headers).remaining for r in allowed] == [2, 1, 0]
    assert all(r.status_code == 200 for r in allowed)
    assert limited.status_code == 429
    info = parse_ratelimit_headers(limited.headers)
    assert (info.remaining, info.limit, info.window_seconds) == (0, 3, 2)
    assert 1 <= info.reset_in_seconds <= 2 and limited.headers["Retry-After"] == str(info.reset_in_seconds)
    with pytest.raises(HfHubHTTPError, match="reached your 'api' rate limit"):
        hf_raise_for_status(limited)
    resolvers = parse_ratelimit_headers(resolve.headers)
    assert resolve.status_code in (200, 404) and (resolvers.resource_type, resolvers.limit) == ("resolvers", DEFAULT_QUOTA)
    assert later.status_code == 200 and parse_ratelimit_headers(later.headers).remaining == 2
    assert parse_ratelimit_headers(unlimited.headers).limit == DEFAULT_QUOTA


# --- the demo's mutations ------------------------------------------------------------------------------

def test_the_mutate_route_adds_changes_and_removes_models():
    models = synthetic_listing(20)
    with served(models, page_size=100) as hub:
        before = {m["id"]: m for m in get_session().get(f"{hub.url}/api/models", params={"full": "true"}).json()}
        before_files = {model_id: hub.files(model_id) for model_id in before}
        answer = get_session().post(f"{hub.url}/_fake/mutate", json={"add": 2, "change": 3, "remove": 1})
        result = answer.json()
        after = {m["id"]: m for m in get_session().get(f"{hub.url}/api/models", params={"full": "true"}).json()}
        removed_lookup = get_session().get(f"{hub.url}/api/models/{result['removed'][0]}")
        added_card = get_session().get(f"{hub.url}/{result['added'][0]}/resolve/main/README.md")
        changed_files = {model_id: hub.files(model_id) for model_id in result["changed"]}
        bad = [get_session().post(f"{hub.url}/_fake/mutate", content=body).status_code
               for body in (b"not json", b'{"add": -1}', b'{"grow": 1}', b"[1]")]
        again = get_session().post(f"{hub.url}/_fake/mutate", json={"add": 1}).json()

    assert answer.status_code == 200 and [len(result[k]) for k in ("added", "changed", "removed")] == [2, 3, 1]
    assert set(after) == (set(before) - set(result["removed"])) | set(result["added"])
    assert not set(result["changed"]) & set(result["removed"])
    assert removed_lookup.status_code == 404 and removed_lookup.headers["X-Error-Code"] == "RepoNotFound"
    now = datetime.now(UTC)
    for model_id in result["changed"]:
        old, new = before[model_id], after[model_id]
        assert new["sha"] != old["sha"] and len(new["sha"]) == 40
        assert abs((datetime.fromisoformat(new["lastModified"].replace("Z", "+00:00")) - now).total_seconds()) < 60
        assert new["downloads"] > old["downloads"] and new["likes"] > old["likes"]
        old_sizes = {f["path"]: f["size"] for f in before_files[model_id]}
        assert {f["path"]: f["size"] for f in changed_files[model_id]} != old_sizes
    assert all(set(after[model_id]["tags"]) & LITERT_FILTERS for model_id in result["added"])
    assert added_card.status_code in (200, 404)
    assert bad == [400, 400, 400, 400]
    assert not set(again["added"]) & set(after)


def test_cli_mutates_a_served_hub_with_edge_cases_and_stops_on_sigterm(tmp_path):
    url_file = tmp_path / "url"
    command = [sys.executable, "-m", "pocketai_pipeline_tests.fake_hub", "--port", "0", "--models", "30",
               "--page-size", "500", "--edge-cases", "--url-file", str(url_file)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        process.stdout.readline()
        url = url_file.read_text()
        ids = [m["id"] for m in get_session().get(f"{url}/api/models", params={"limit": 1000}).json() if isinstance(m.get("id"), str)]
        card = get_session().get(f"{url}/edge/app-base-model-string/resolve/main/README.md")
        mutated = subprocess.run(
            [sys.executable, "-m", "pocketai_pipeline_tests.fake_hub", "mutate", "--url", url, "--add", "2",
             "--change", "1", "--remove", "3"],
            capture_output=True, text=True, timeout=60,
        )
        after = get_session().get(f"{url}/api/models", params={"limit": 1000}).json()
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)

    expected = 30 + len(edge_case_models()) + len(app_ready_edge_models())
    assert len(ids) + 2 == expected  # two edge cases have no string id
    assert "edge/app-only-litert-lm" in ids
    assert card.text == synthetic_cards(app_ready_edge_models())["edge/app-base-model-string"]
    assert mutated.returncode == 0, mutated.stderr
    assert mutated.stdout.strip() == f"{url}: added 2, changed 1, removed 3"
    assert len(after) == expected - 1
    assert exit_code == 0


def test_serve_is_an_alias_of_the_default_command():
    command = [sys.executable, "-m", "pocketai_pipeline_tests.fake_hub", "serve", "--port", "0", "--models", "3"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split(" at ")[1].split()[0]
        count = len(get_session().get(f"{url}/api/models").json())
    finally:
        process.send_signal(signal.SIGINT)
        exit_code = process.wait(timeout=10)
    assert (count, exit_code) == (3, 0)


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


def test_resolvers_have_a_quota_of_their_own_and_headers_can_go_missing_or_bad():
    models = synthetic_listing(2)
    card = f"/{models[0]['id']}/resolve/main/README.md"
    with served(models) as hub:
        hub.set_quota(2, window_seconds=30, bucket="resolvers")
        session = get_session()
        resolves = [session.get(f"{hub.url}{card}") for _ in range(3)]
        api = session.get(f"{hub.url}/api/models")
        hub.set_rate_limit_headers("missing")
        missing = [session.get(f"{hub.url}/api/models"), session.get(f"{hub.url}{card}")]
        hub.set_rate_limit_headers("malformed")
        malformed = session.get(f"{hub.url}/api/models")

    assert [r.status_code for r in resolves[:2]] == [resolves[0].status_code] * 2 and resolves[2].status_code == 429
    info = parse_ratelimit_headers(resolves[2].headers)
    assert (info.resource_type, info.remaining, info.limit, info.window_seconds) == ("resolvers", 0, 2, 30)
    assert resolves[2].headers["RateLimit-Policy"] == '"fixed window";"resolvers";q=2;w=30'
    assert api.status_code == 200 and parse_ratelimit_headers(api.headers).resource_type == "api"
    assert missing[1].status_code == 429 and "Retry-After" in missing[1].headers
    assert not any("RateLimit" in r.headers or "RateLimit-Policy" in r.headers for r in missing)
    assert "RateLimit" in malformed.headers and parse_ratelimit_headers(malformed.headers) is None


def test_a_link_can_lead_back_to_a_page_already_served():
    with served(synthetic_listing(50), page_size=10) as hub:
        hub.loop_link(3, 2)
        session = get_session()
        urls = [f"{hub.url}/api/models"]
        for _ in range(4):
            urls.append(session.get(urls[-1]).links["next"]["url"])

    assert urls[3] == urls[1] and urls[4] == urls[2] and len(set(urls[:3])) == 3
