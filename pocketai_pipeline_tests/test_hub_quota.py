"""The Hub's quotas and listing loops against the fake Hub (rule 11): the real client and pacer, scaled windows.

The fake Hub enforces fixed windows per bucket (`set_quota(..., bucket=)`), as the Hub does, in windows of
2 s instead of 300. "The floor" is the least time a fixed window allows for n calls at q per w seconds:
(ceil(n / q) - 1) * w (a burst of q at the start of each window, the last window's calls at once).
"""

import dataclasses
import json
import math
import time

import pytest

from pocketai_pipeline.hub.details import fetch_details
from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline.sync.details import DetailsTarget, refresh_details
from pocketai_pipeline_tests.catalog_snapshot import TODAY, applied_listings, partition_files, sync
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

WINDOW = 2


def floor_seconds(calls: int, quota: int, window: float = WINDOW) -> float:
    return (math.ceil(calls / quota) - 1) * window


def served(fake_hub: FakeHub, n: int, page_size: int = 100) -> list[dict]:
    models = synthetic_listing(n)
    fake_hub.set_models(models, cards=synthetic_cards(models))
    fake_hub.page_size = page_size
    return models


def cold_start(hub: HubResource) -> tuple[float, int, object]:
    """The Hub's part of a first sync, as the steps make it: the listing, then every model's details
    (revision + card) by `details_workers` workers sharing the run's pace. (seconds, api calls, details meter)."""
    started = time.monotonic()
    stream = hub.stream_listing().start()
    ids = {}
    for page in stream.iter_pages():
        for line in page:
            model = json.loads(line)
            ids[model["id"]] = model["sha"]
    targets = [DetailsTarget(i, hf_model_id, sha) for i, (hf_model_id, sha) in enumerate(sorted(ids.items()))]
    with hub.metered(api=len(targets), resolvers=len(targets)) as meter:
        report = refresh_details(targets, hub.fetch_details, lambda *_: True, budget_seconds=600,
                                 workers=hub.details_workers)
    assert (report.fetched, report.failed, report.pending) == (len(targets), {}, 0)
    listing_calls = stream.quota_usage().api.calls
    return time.monotonic() - started, listing_calls + len(targets), meter


def test_a_cold_start_takes_about_the_floor_with_four_workers_sharing_one_pace(fake_hub):
    served(fake_hub, 60)
    fake_hub.set_quota(20, WINDOW)
    fake_hub.set_quota(120, WINDOW, bucket="resolvers")  # the Hub's api:resolvers ratio, 500:3000
    hub = HubResource(endpoint=fake_hub.url, details_workers=4, max_retries=1, max_wait_seconds=10)

    seconds, api_calls, meter = cold_start(hub)

    floor = floor_seconds(api_calls, 20)
    windows = math.ceil(api_calls / 20)
    usage = meter.usage()
    assert floor >= 4 and floor * 0.95 <= seconds <= floor * 1.2, (seconds, floor)
    assert usage.api.rate_limited <= windows and usage.resolvers.rate_limited <= 1
    assert (usage.api.calls, usage.resolvers.calls) == (60, 60)  # one api call per model beyond the listing
    assert usage.api.quota == 20 and usage.api.window_seconds == WINDOW and usage.resolvers.quota == 120
    assert usage.api.waited_seconds > 0 and usage.api.lowest_remaining <= 1  # each window spent


def test_without_the_pacer_the_same_details_run_into_the_limit(fake_hub):
    """What the pace saves: the same client without it bursts, and each worker meets the spent window."""
    served(fake_hub, 40)
    fake_hub.set_quota(20, WINDOW)
    bare = dataclasses.replace(HubResource(endpoint=fake_hub.url, max_retries=5, max_wait_seconds=10).client(), pacer=None)
    targets = [DetailsTarget(i, m["id"], m["sha"]) for i, m in enumerate(fake_hub._models)]

    report = refresh_details(targets, lambda target: fetch_details(bare, target), lambda *_: True,
                             budget_seconds=600, workers=4)

    assert report.fetched == 40
    answered_429 = len(fake_hub.requests) - 2 * len(targets)
    assert answered_429 > math.ceil(40 / 20)  # more than one per window


def test_a_lower_quota_announced_mid_run_slows_the_run(fake_hub):
    served(fake_hub, 24)
    fake_hub.set_quota(100, WINDOW)
    hub = HubResource(endpoint=fake_hub.url, details_workers=4, max_retries=1, max_wait_seconds=10)
    targets = [DetailsTarget(i, m["id"], m["sha"]) for i, m in enumerate(fake_hub._models)]
    hub.client().get(hub.client().url("/api/models"))  # the pacer knows the window: 99 left
    fake_hub.set_quota(8, WINDOW)  # the Hub now allows 8 per window

    started = time.monotonic()
    with hub.metered(api=len(targets), resolvers=len(targets)) as meter:
        report = refresh_details(targets, hub.fetch_details, lambda *_: True, budget_seconds=600, workers=4)
    seconds = time.monotonic() - started

    assert report.fetched == 24
    assert seconds >= floor_seconds(24, 8) * 0.95  # at the new quota's pace, not the old one's (~0 s)
    usage = meter.usage().api
    assert usage.quota == 8 and usage.rate_limited <= math.ceil(24 / 8)


@pytest.mark.parametrize("mode", ["missing", "malformed"])
@pytest.mark.parametrize("token, quota", [(None, 500), ("hf_QuotaTestToken0123456789", 1000)], ids=["anonymous", "token"])
def test_without_readable_headers_the_documented_quota_paces_the_run(fake_hub, mode, token, quota):
    served(fake_hub, 4)
    fake_hub.set_rate_limit_headers(mode)
    hub = HubResource(endpoint=fake_hub.url, token=token, max_retries=1, max_wait_seconds=10)
    client = hub.client()
    url = client.url(f"/api/models/{fake_hub._models[0]['id']}")

    started = time.monotonic()
    with hub.metered(api=2 * quota) as meter:  # more than the window holds: spread evenly
        for _ in range(4):
            assert client.get(url).status_code == 200
    seconds = time.monotonic() - started

    usage = meter.usage().api
    assert (usage.quota, usage.window_seconds, usage.lowest_remaining, usage.calls) == (quota, 300, None, 4)
    assert seconds >= 3 * 300 / quota * 0.95  # one turn every 300/quota s after the first


@pytest.mark.parametrize("back_to, loop", [(2, 1), (2, 3)], ids=["loop-of-1", "loop-of-3"])
def test_a_link_loop_fails_the_listing_at_once_and_stores_nothing(fake_hub, sync_resources, back_to, loop):
    served(fake_hub, 60, page_size=4)
    from_page = back_to + loop - 1
    fake_hub.loop_link(from_page, back_to)
    base_dir = sync_resources["listing_io_manager"].base_dir
    engine = sync_resources["catalog"].engine()

    started = time.monotonic()
    result = sync(sync_resources)

    assert not result.success and result.failed_steps == ["hf_litert_listing"] and not result.retried_steps
    assert time.monotonic() - started < 20
    looped = [r.url for r in fake_hub.requests if r.path == "/api/models"]
    assert len(looped) == from_page and len(set(looped)) == from_page  # no page fetched twice
    assert f"leads back to {looped[back_to - 1]}" in result.error, result.error
    assert f"page {from_page}" in result.error and f"page {back_to}" in result.error
    assert partition_files(base_dir, TODAY) == []
    assert applied_listings(engine) == []
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM ml_models").scalar() == 0
    assert "ml_models" not in result.metadata


def test_each_step_shows_its_quota_figures_and_an_identical_rerun_makes_no_detail_request(fake_hub, sync_resources):
    models = served(fake_hub, 12)
    fake_hub.set_quota(30, WINDOW)

    first = sync(sync_resources)
    fake_hub.requests.clear()
    second = sync(sync_resources)

    assert first.success and second.success
    listing, details = first.metadata["hf_litert_listing"], first.metadata["ml_model_details"]
    assert listing["hub_api_calls"] == listing["pages"] and listing["hub_resolvers_calls"] == 0
    assert (details["hub_api_calls"], details["hub_resolvers_calls"]) == (12, 12)
    assert details["hub_api_quota"] == "30 per 2 s" and 0 <= details["hub_api_lowest_remaining"] < 30
    assert details["hub_api_429s"] == 0 and details["hub_api_wait_seconds"] >= 0
    assert first.metadata["ml_models"]["hub_api_calls"] == 0  # nothing missing: no lookup
    rerun = second.metadata["ml_model_details"]
    assert (rerun["hub_api_calls"], rerun["hub_resolvers_calls"], rerun["fetched"]) == (0, 0, 0)
    assert not [r.path for r in fake_hub.requests if "/revision/" in r.path or "/resolve/" in r.path]
    assert len(models) == 12


def test_a_file_read_redirected_to_storage_counts_once_with_the_hubs_own_figures(fake_hub):
    models = served(fake_hub, 40)
    model, path = next((m, s["rfilename"]) for m in models for s in m["siblings"] if s["rfilename"].endswith(".litertlm"))
    fake_hub.set_quota(5, 30, bucket="resolvers")
    hub = HubResource(endpoint=fake_hub.url, max_retries=1, max_wait_seconds=5)
    client = hub.client()

    with hub.metered() as meter:
        response = client.request(client.url(f"/{model['id']}/resolve/{model['sha']}/{path}"),
                                  headers={"Range": "bytes=0-15"}, max_bytes=16)

    assert response.status_code == 206 and [r.status_code for r in response.history] == [302]
    assert str(response.url).startswith(fake_hub.storage.url)  # answered by the storage host, another origin
    usage = meter.usage()
    # The Hub's 302 carried the resolvers figures; the storage host's answer is not paced or counted.
    assert (usage.resolvers.calls, usage.resolvers.lowest_remaining, usage.resolvers.quota) == (1, 4, 5)
    assert usage.api.calls == 0
