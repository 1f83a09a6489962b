"""Hub faults, each on a synced catalog, each ending with the whole catalog compared (issue 9, item 2).

The listing (rules 8 and 11): a fault the client can wait out or retry syncs exactly what a clean run
syncs; any other fails `hf_litert_listing`, stores nothing for the partition and leaves every catalog row
with its xmin. Per-model details and removal lookups (rules 7 and 12): never fail the run, only counted.

Faults the fake Hub cannot make at the socket level (a connection cut mid-body, a request never answered,
a 5xx on page k only once) come from `FaultyProxy`, a raw socket proxy in front of the fake Hub.
"""

import json
import socket
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from pocketai_pipeline.hub.resource import HubResource
from pocketai_pipeline_tests import fake_hub as fake_hub_module
from pocketai_pipeline_tests.catalog_snapshot import (
    TODAY,
    YESTERDAY,
    applied_listings,
    content,
    models,
    partition_files,
    public_ids,
    snapshot,
    stored_files,
    sync,
)
from pocketai_pipeline_tests.fake_hub import FakeHub
from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

HUB_MODELS = synthetic_listing(24)
PAGE_SIZE = 5  # every filter has several pages
TOKEN = "hf_FaultSuiteToken0123456789abcdef"


# --- a raw socket proxy that cuts, hangs or fails the requests a test picks ---


@dataclass
class PlannedFault:
    matches: Callable[[str, dict], bool]  # (path, query) → is this the request
    action: str  # "cut" (half the body, then close), "hang" (never answer), "status:<code>"
    remaining: int | None  # None: every time


def listing_page(page: int, hub_filter: str = "litert") -> Callable[[str, dict], bool]:
    def matches(path: str, query: dict) -> bool:
        if path != "/api/models" or query.get("filter") != [hub_filter]:
            return False
        number = fake_hub_module._decode_cursor(query["cursor"][-1])[0] if "cursor" in query else 1
        return number == page
    return matches


def path_contains(text: str) -> Callable[[str, dict], bool]:
    return lambda path, query: text in path


class FaultyProxy:
    """Forwards every request to `upstream` (keeping the Host, so `Link`s point back here), except planned faults."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[PlannedFault] = []
        self.applied: list[tuple[str, str]] = []
        self._stop = threading.Event()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]

    def plan(self, matches, action: str, count: int | None = 1) -> None:
        self.faults.append(PlannedFault(matches, action, count))

    def _take(self, path: str, query: dict) -> str | None:
        for fault in self.faults:
            if fault.remaining != 0 and fault.matches(path, query):
                if fault.remaining is not None:
                    fault.remaining -= 1
                self.applied.append((path, fault.action))
                return fault.action
        return None

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        parts = urlsplit(target)
        action = self._take(parts.path, parse_qs(parts.query, keep_blank_values=True))
        if action == "hang":
            self._stop.wait()
            return
        if action and action.startswith("status:"):
            status, body, reply_headers = int(action.split(":")[1]), b'{"error": "planned"}', {}
        else:
            status, reply_headers, body = self._forward(method, target, headers)
        if action == "cut":
            reply_headers["Content-Length"] = str(len(body))
            conn.sendall(self._head(status, reply_headers) + body[: len(body) // 2])
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            return
        reply_headers["Content-Length"] = str(len(body))
        conn.sendall(self._head(status, reply_headers) + body)

    def _forward(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        keep = {k: v for k, v in headers.items() if k.lower() in ("host", "authorization", "user-agent", "accept")}
        request = urllib.request.Request(self.upstream + target, headers=keep, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, self._kept(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, self._kept(error.headers), error.read()

    @staticmethod
    def _kept(headers) -> dict[str, str]:
        drop = {"content-length", "transfer-encoding", "connection", "date", "server"}
        return {k: v for k, v in headers.items() if k.lower() not in drop}

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} X", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def __enter__(self) -> "FaultyProxy":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def proxy(fake_hub: FakeHub) -> Iterator[FaultyProxy]:
    with FaultyProxy(fake_hub.url) as running:
        yield running


@dataclass
class Synced:
    resources: dict
    engine: sa.Engine
    before: dict  # the catalog snapshot after the first sync
    files_before: dict[str, bytes]
    applied_before: list

    @property
    def base_dir(self) -> str:
        return self.resources["listing_io_manager"].base_dir

    def unchanged(self) -> None:
        """Every row of every catalog table still has its xmin; nothing new in rule 9's memory."""
        assert snapshot(self.engine) == self.before
        assert applied_listings(self.engine) == self.applied_before

    def nothing_stored_for(self, partition_key: str) -> None:
        assert partition_files(self.base_dir, partition_key) == []
        stored = stored_files(self.base_dir)
        assert {k: v for k, v in stored.items() if partition_key not in k} == self.files_before


def hub_resource(url: str, **options) -> HubResource:
    """A new resource, never model_copy: Dagster rebuilds resources from their config."""
    return HubResource(**{"endpoint": url, "max_retries": 1, "max_wait_seconds": 5, **options})


@pytest.fixture
def synced(fake_hub: FakeHub, proxy: FaultyProxy, sync_resources) -> Synced:
    """The catalog after a clean sync of HUB_MODELS through the proxy (today's partition)."""
    fake_hub.set_models(HUB_MODELS, cards=synthetic_cards(HUB_MODELS))
    fake_hub.page_size = PAGE_SIZE
    resources = {**sync_resources, "hub": hub_resource(proxy.url)}
    first = sync(resources)
    assert first.success, first.errors
    engine = resources["catalog"].engine()
    before = snapshot(engine)
    assert set(models(before)) == public_ids(HUB_MODELS)
    assert all(row["files_synced_sha"] == row["hf_sha"] for row in models(before).values())
    return Synced(resources, engine, before, stored_files(resources["listing_io_manager"].base_dir),
                  applied_listings(engine))


def changed_hub(fake_hub: FakeHub) -> None:
    """Two new models and three changed ones, so a successful run has something to write."""
    fake_hub.mutate(add=2, change=3, remove=0)


def assert_converged(synced: Synced, fake_hub: FakeHub, resources: dict) -> dict:
    """The catalog is exactly what a clean run gives: a clean re-run writes no row, every listed model is
    active at the Hub's sha with its files; returns the snapshot."""
    after = snapshot(synced.engine)
    hub_now = list(fake_hub._models)
    rows = models(after)
    assert {i for i, r in rows.items() if r["removed_upstream_at"] is None} == public_ids(hub_now)
    for model in hub_now:
        assert rows[model["id"]]["hf_sha"] == model["sha"]
        assert rows[model["id"]]["files_synced_sha"] == model["sha"], model["id"]
    clean = sync(resources)
    assert clean.success
    assert snapshot(synced.engine) == after  # nothing was left for a clean run to do
    return after


# --- the listing ---


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda hub, proxy: hub.rate_limit_next(1), id="429-retry-after-1s"),
        pytest.param(lambda hub, proxy: proxy.plan(listing_page(3), "status:500"), id="500-on-page-3-once"),
        pytest.param(lambda hub, proxy: proxy.plan(listing_page(2), "status:503"), id="503-on-page-2-once"),
        pytest.param(lambda hub, proxy: proxy.plan(listing_page(2), "cut"), id="connection-cut-mid-body-once"),
        pytest.param(lambda hub, proxy: proxy.plan(listing_page(2), "hang"), id="never-answers-once"),
    ],
)
def test_a_transient_listing_fault_is_waited_out_and_the_run_syncs_exactly(synced, fake_hub, proxy, fault):
    changed_hub(fake_hub)
    fault(fake_hub, proxy)
    resources = {**synced.resources, "hub": hub_resource(proxy.url, timeout_seconds=1)}
    started = time.monotonic()

    result = sync(resources, YESTERDAY)

    assert result.success, result.errors
    assert result.failed_steps == []
    assert time.monotonic() - started < 30
    merge = result.metadata["ml_models"]
    assert (merge["created"], merge["updated"], merge["removed"]) == (2, 3, 0)
    assert result.metadata["ml_model_details"]["fetched"] == 5
    listing = result.metadata["hf_litert_listing"]
    assert listing["count"] == sum(len([m for m in fake_hub._models if f in m["tags"]])
                                   for f in ("litert", "litert-lm", "tflite"))
    after = assert_converged(synced, fake_hub, resources)
    # Rows of the models no fault or change touched kept their xmin.
    untouched = {i for i in models(synced.before)} - set(merge_changed(result))
    assert {i: models(after)[i]["xmin"] for i in untouched} == {i: models(synced.before)[i]["xmin"] for i in untouched}
    assert all(f.remaining == 0 for f in proxy.faults) and not fake_hub._next_failures  # each fault was hit


def merge_changed(result) -> list[str]:
    """Ids the merge or the details step wrote: read back from the changes table of the merge."""
    changes = result.metadata["ml_models"]["changes"]
    return [cell.strip() for line in changes.splitlines()[2:] for cell in line.split("|")[3].split(",") if cell.strip()]


RATE_LIMITED_FOR_AN_HOUR = {"RateLimit": '"api";r=0;t=3600', "RateLimit-Policy": '"fixed window";"api";q=500;w=3600'}


@pytest.mark.parametrize(
    ("fault", "message_has", "timeout"),
    [
        pytest.param(lambda hub, proxy: hub.fail_next(429, count=50, headers=RATE_LIMITED_FOR_AN_HOUR),
                     ["rate limit", "max_wait_seconds"], 30, id="429-ratelimit-reset-past-the-bound"),
        pytest.param(lambda hub, proxy: hub.fail_next(429, count=50, headers={"Retry-After": "3600"}),
                     ["rate limit", "max_wait_seconds"], 30, id="429-retry-after-past-the-bound"),
        pytest.param(lambda hub, proxy: proxy.plan(listing_page(2), "status:500", None),
                     ["500"], 30, id="500-on-page-2-always"),
        pytest.param(lambda hub, proxy: proxy.plan(listing_page(2), "cut", None),
                     [], 30, id="connection-cut-mid-body-always"),
        pytest.param(lambda hub, proxy: proxy.plan(listing_page(2), "hang", None),
                     ["timed out"], 30, id="never-answers-always"),
        pytest.param(lambda hub, proxy: hub.fail_next(200, count=50, body="<!DOCTYPE html><html>maintenance</html>"),
                     [], 30, id="page-is-html"),
        pytest.param(lambda hub, proxy: hub.fail_next(200, count=50, body='{"models": []}'),
                     ["/api/models", "expected a JSON list"], 30, id="page-is-a-json-object"),
        pytest.param(lambda hub, proxy: hub.fail_next(200, count=50, body=""),
                     [], 30, id="page-is-empty"),
        pytest.param(lambda hub, proxy: hub.fail_next(200, count=50, body='[{"id": "a/b", "tags": ["lit'),
                     [], 30, id="page-is-truncated-json"),
    ],
)
def test_a_listing_that_cannot_be_fetched_fails_stores_nothing_and_changes_no_row(
    synced, fake_hub, proxy, fault, message_has, timeout
):
    changed_hub(fake_hub)  # would create and update rows, if anything got through
    fault(fake_hub, proxy)
    resources = {**synced.resources, "hub": hub_resource(proxy.url, timeout_seconds=0.5)}
    started = time.monotonic()

    result = sync(resources, YESTERDAY)

    assert not result.success
    assert time.monotonic() - started < timeout
    assert result.failed_steps == ["hf_litert_listing"]
    assert "ml_models" not in result.metadata and "hf_litert_listing" not in result.metadata
    for text in message_has:
        assert text in result.error, result.error
    assert TOKEN not in result.error
    synced.unchanged()
    synced.nothing_stored_for(YESTERDAY)


@pytest.mark.parametrize("body", ["<!DOCTYPE html><html>maintenance</html>", "", '[{"id": "a/b", "tags": ["lit'],
                         ids=["html", "empty", "truncated"])
def test_a_garbage_page_names_the_request_not_only_the_json_decoder(synced, fake_hub, proxy, body):
    """What the operator reads for a page that is not JSON: which request, and what came instead."""
    fake_hub.fail_next(200, count=50, body=body)
    result = sync({**synced.resources, "hub": hub_resource(proxy.url)}, YESTERDAY)
    assert not result.success
    synced.unchanged()
    assert "GET " in result.error and "/api/models" in result.error, result.error


@pytest.mark.parametrize("kept", [0, 12], ids=["empty-listing", "half-size-listing"])
def test_a_listing_that_shrank_suspiciously_is_blocked_before_any_write(synced, fake_hub, proxy, kept):
    fake_hub.set_models(HUB_MODELS[:kept])

    result = sync(synced.resources, YESTERDAY)

    assert not result.success
    assert result.checks["listing_not_suspiciously_shrunk"] is False
    # The records step's blocking check fails it; the merge and the details never run.
    assert "ml_models" not in result.metadata and "ml_model_details" not in result.metadata
    assert result.metadata["hf_litert_listing"]["count"] == sum(
        len([m for m in HUB_MODELS[:kept] if f in m["tags"]]) for f in ("litert", "litert-lm", "tflite"))
    synced.unchanged()
    rows = models(snapshot(synced.engine))
    assert all(row["removed_upstream_at"] is None for row in rows.values())


def test_an_empty_listing_on_an_empty_catalog_is_a_quiet_success(fake_hub, sync_resources):
    engine = sync_resources["catalog"].engine()
    before = snapshot(engine)

    result = sync(sync_resources)

    assert result.success, result.errors
    assert result.metadata["hf_litert_listing"]["count"] == 0
    assert (result.metadata["ml_models"]["created"], result.metadata["ml_models"]["active"]) == (0, 0)
    after = snapshot(engine)
    assert {t: after[t] for t in ("ml_models", "ml_model_files", "model_versions")} == \
        {t: before[t] for t in ("ml_models", "ml_model_files", "model_versions")}


def test_a_link_to_another_host_never_gets_the_token(synced, fake_hub):
    with FakeHub(HUB_MODELS, cards=synthetic_cards(HUB_MODELS), page_size=PAGE_SIZE) as other:
        fake_hub.next_link_base = other.url  # page 2 onwards: on the other host
        changed_hub(fake_hub)
        fake_hub.requests.clear()
        resources = {**synced.resources, "hub": hub_resource(fake_hub.url, token=TOKEN)}

        result = sync(resources, YESTERDAY)

        followed = [r for r in other.requests if r.path == "/api/models"]
    assert followed, "the Link was not followed"
    assert all("authorization" not in r.headers for r in other.requests)
    assert all(TOKEN not in json.dumps(r.headers) + r.url for r in other.requests)
    own = [r for r in fake_hub.requests if r.path.startswith("/api/")]
    assert own and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in own)
    # The other host served the old models: the listing mixes both hosts' pages. Whatever was merged, the
    # catalog holds only what some page listed.
    assert result.success, result.errors
    rows = models(snapshot(synced.engine))
    assert set(rows) <= public_ids(HUB_MODELS) | public_ids(list(fake_hub._models))


# --- per-model details and removal lookups never fail the merge ---

DETAIL_FAULTS = [
    pytest.param("revision", {"status": 429, "headers": RATE_LIMITED_FOR_AN_HOUR}, id="revision-429-past-bound"),
    pytest.param("revision", {"status": 500}, id="revision-500"),
    pytest.param("revision", {"status": 200, "body": "<html>oops</html>"}, id="revision-html"),
    pytest.param("revision", {"status": 200, "body": ""}, id="revision-empty"),
    pytest.param("revision", {"status": 200, "body": '{"siblings": [{"rfilename": "a'}, id="revision-truncated"),
    pytest.param("revision", {"status": 200, "body": "[]"}, id="revision-json-list"),
    pytest.param("revision", "cut", id="revision-cut-mid-body"),
    pytest.param("revision", "hang", id="revision-never-answers"),
    pytest.param("readme", {"status": 500}, id="readme-500"),
    pytest.param("readme", {"status": 429, "headers": {"Retry-After": "3600"}}, id="readme-429-past-bound"),
    pytest.param("readme", {"status": 200, "body": "<html>login</html>",
                            "headers": {"Content-Type": "text/html"}}, id="readme-html"),
    pytest.param("readme", "cut", id="readme-cut-mid-body"),
    pytest.param("readme", "hang", id="readme-never-answers"),
]


def inject(fake_hub: FakeHub, proxy: FaultyProxy, model_id: str, endpoint: str, fault) -> None:
    if isinstance(fault, str):  # socket-level: through the proxy
        marker = {"revision": f"{model_id}/revision/", "readme": f"{model_id}/resolve/",
                  "info": f"/api/models/{model_id}"}[endpoint]
        matches = (lambda path, query: path == marker) if endpoint == "info" else path_contains(marker)
        proxy.plan(matches, fault, None)
    else:
        fake_hub.fail_model(model_id, endpoint, fault["status"], headers=fault.get("headers"),
                            body=fault.get("body", ""))


@pytest.mark.parametrize(("endpoint", "fault"), DETAIL_FAULTS)
def test_a_detail_fault_fails_only_that_model_and_the_next_run_converges(synced, fake_hub, proxy, endpoint, fault):
    changed = fake_hub.mutate(change=2)["changed"]
    victim, fine = changed
    inject(fake_hub, proxy, victim, endpoint, fault)
    resources = {**synced.resources, "hub": hub_resource(proxy.url, timeout_seconds=0.5, max_wait_seconds=1)}
    before = models(synced.before)

    result = sync(resources, YESTERDAY)

    assert result.success, result.errors
    assert result.metadata["ml_models"]["updated"] == 2  # the merge is never held back by details
    details = result.metadata["ml_model_details"]
    if isinstance(fault, dict) and fault["status"] == 429:
        # The Hub's 429 holds its whole bucket: the other model's request in flight may wait for the next run too.
        assert details["failed"] >= 1 and details["fetched"] + details["failed"] + details["pending"] == 2
    else:
        assert (details["fetched"], details["failed"], details["pending"]) == (1, 1, 0)
    assert victim in details["first_failures"]
    after = snapshot(synced.engine)
    rows = models(after)
    hub_sha = {m["id"]: m["sha"] for m in fake_hub._models}
    assert rows[victim]["hf_sha"] == hub_sha[victim]
    # The victim's details stay those of its old revision, all together: files, files_synced_sha, description.
    assert (rows[victim]["files_synced_sha"], rows[victim]["description"]) == \
        (before[victim]["files_synced_sha"], before[victim]["description"])
    victim_files = lambda snap: {k: v for k, v in content(snap)["ml_model_files"].items() if k[0] == victim}
    assert victim_files(after) == victim_files(synced.before)
    if details["fetched"]:
        assert rows[fine]["files_synced_sha"] == hub_sha[fine]
    # Every other row kept its xmin.
    others = set(before) - {victim, fine}
    assert {i: rows[i]["xmin"] for i in others} == {i: before[i]["xmin"] for i in others}

    proxy.faults.clear()
    fake_hub.clear_model_faults()
    retried = sync({**synced.resources, "hub": hub_resource(proxy.url)}, TODAY)
    assert retried.success and retried.metadata["ml_model_details"]["fetched"] == 2 - details["fetched"]
    assert_converged(synced, fake_hub, synced.resources)


REMOVAL_FAULTS = [
    pytest.param({"status": 500}, id="info-500"),
    pytest.param({"status": 503}, id="info-503"),
    pytest.param({"status": 429, "headers": RATE_LIMITED_FOR_AN_HOUR}, id="info-429-past-bound"),
    pytest.param({"status": 200, "body": "<html>maintenance</html>"}, id="info-html"),
    pytest.param({"status": 200, "body": ""}, id="info-empty"),
    pytest.param({"status": 200, "body": '{"id": "x", "tags": ["onn'}, id="info-truncated"),
    pytest.param("cut", id="info-cut-mid-body"),
    pytest.param("hang", id="info-never-answers"),
]


@pytest.mark.parametrize("fault", REMOVAL_FAULTS)
def test_a_removal_lookup_fault_leaves_the_model_unmarked_and_counted(synced, fake_hub, proxy, fault):
    gone, unsure = HUB_MODELS[0]["id"], HUB_MODELS[1]["id"]
    fake_hub.set_models(HUB_MODELS[2:])  # both unlisted and 404; the lookup of `unsure` fails
    inject(fake_hub, proxy, unsure, "info", fault)
    resources = {**synced.resources, "hub": hub_resource(proxy.url, timeout_seconds=0.5, max_wait_seconds=1)}

    result = sync(resources, YESTERDAY)

    assert result.success, result.errors
    merge = result.metadata["ml_models"]
    assert (merge["removed"], merge["removal_unverified"], merge["created"], merge["updated"]) == (1, 1, 0, 0)
    after = snapshot(synced.engine)
    rows, before = models(after), models(synced.before)
    assert rows[gone]["removed_upstream_at"] is not None and rows[unsure]["removed_upstream_at"] is None
    assert {i: r["xmin"] for i, r in rows.items() if i != gone} == {i: r["xmin"] for i, r in before.items() if i != gone}
    assert {t: after[t] for t in ("users", "ml_model_files", "model_versions")} == \
        {t: synced.before[t] for t in ("users", "ml_model_files", "model_versions")}
