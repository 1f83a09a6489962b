"""A local Hugging Face Hub speaking the real HTTP API the pipeline uses, with fault injection.

Standard library only: a `ThreadingHTTPServer` in a background thread. Models are stored as full Hub
JSON and sent exactly as stored for the keys the query projects, malformed values included.

Routes (what the real Hub answers, as huggingface_hub parses it):

| route                                          | answer                                                          |
|------------------------------------------------|-----------------------------------------------------------------|
| `GET /api/models`                              | the listing: `filter`/`search`/`author`/`sort`/`limit`/`full`/  |
|                                                | `cardData`/`expand`, absolute `Link: <…>; rel="next"` pages     |
| `GET /api/models/<id>`                         | the stored model, every key exactly as stored (`model_info`)    |
| `GET /api/models/<id>/revision/<rev>`          | the model at `rev` (its `sha`, `"main"`, or a sha given to      |
|                                                | `set_files`); with `blobs=true` each sibling is                 |
|                                                | `{"rfilename", "blobId", "size", "lfs": {"sha256", "size",      |
|                                                | "pointerSize"}}`, `lfs` only for LFS files (`files_metadata`)   |
| `GET`/`HEAD /<id>/resolve/<rev>/README.md`     | the model card, `text/plain; charset=utf-8` with `ETag`,        |
|                                                | `X-Repo-Commit`                                                 |
| `GET /<id>/resolve/<rev>/<path>`               | a file of the manifest: an LFS file 302 to `hub.storage`        |
|                                                | (`fake_storage.FakeStorage`, Range honoured) with               |
|                                                | `X-Linked-Size`; a plain git file its bytes (Range honoured);   |
|                                                | a path not in the manifest 404 `EntryNotFound`                  |
| `POST /_fake/mutate`                           | demo control: `{"add": n, "change": n, "remove": n}` → the ids  |

`<id>` may be percent-encoded (`org%2Fname`) and non-ASCII. `blobs=true` also works without `/revision/`.

Errors are the Hub's: `X-Error-Code` and a JSON `{"error": …}`, which `hf_raise_for_status` turns into
its exceptions: unknown model → 404 `RepoNotFound`; a `private` model → 401 `RepoNotFound` for an
anonymous client (404 with a token: the token has no access); a `disabled` model → 403 with
`X-Error-Message: Access to this resource is disabled.` (`DisabledRepoError`) when a token is sent, and
401 `RepoNotFound` anonymously, as the Hub does (huggingface/huggingface_hub#1965); unknown revision →
404 `RevisionNotFound`; no card → 404 `EntryNotFound`. (Anonymous requests for a missing repo get 401
from the real Hub today, huggingface/datasets#4472; the fake answers 404, which the pipeline treats
alike, so tests can tell a missing model from a private one.) Gated models answer like public ones:
the Hub serves their metadata and card to everyone, only other files need access.

Files and cards, kept beside the models so the served JSON stays exactly as stored:
- Files of a revision come from `set_files(model_id, sha, files)` if given, else are derived from the
  stored `siblings` at the model's current `sha`: size and sha256 from a hash of id, sha and path;
  LFS for `LFS_EXTENSIONS` (case-insensitive), plain git for everything else (`.gitattributes`,
  `README.md`, `*.json`, `*.txt`, …). README.md's size and blob id are those of the card, if any.
- Cards: `FakeHub(models, cards={id: text or None})`, `set_models(models, cards=…)` (a mapping
  replaces every card; `cards=None` keeps them), `set_card(model_id, text_or_None)`. A model without
  a card (None, or never given) answers 404 `EntryNotFound` for README.md.
  `synthetic.synthetic_cards(models)` gives realistic cards for synthetic models; the CLI serves them.
- File contents: `set_file_contents(model_id, sha, {path: bytes}, sizes={path: n})` gives a revision
  these files (sha256 of the content, a declared size that may be gigabytes: zeros after the content).
  A derived `.litertlm` file serves `litertlm_files.synthetic_litertlm` (a real header built by
  litert-lm-builder, facts drawn from its id and path); other derived files are zeros.
- `hub.files(model_id, revision=None)` is the manifest served at a revision, for assertions.

Faults:
- Listing: `fail_next`, `rate_limit_next`, `fail_on_page` (unchanged; listing requests only).
- Per model: `fail_model(model_id, endpoint, status, count=None, headers=None, body="")` with
  endpoint "info" (`/api/models/<id>`), "revision" (`…/revision/<rev>`), "readme" (resolve of
  README.md) or "file" (resolve of any other file); `count=None` is every time, and faults of one endpoint queue in order. Garbage is a
  200 whose `body` is not JSON: `fail_model(id, "revision", 200, body="<html>oops")`.
  `hang_model(model_id, endpoint, count=None)` accepts the request and never answers until the hub
  stops (for client timeouts). `clear_model_faults()` removes them all.
- Trickling bodies: `trickle_next(seconds_per_byte, count=1)` (listing) and `trickle_model(model_id,
  endpoint, seconds_per_byte, count=None)` answer 200 with a body sent a byte at a time: every read
  is quick, the whole answer takes minutes (for whole-request timeouts).
- Listing loop: `loop_link(from_page, to_page)` makes page `from_page`'s `Link` lead back to page
  `to_page`'s URL (a loop of `from_page - to_page + 1` pages).
- Rate limits, per bucket as the Hub counts them: `api` (every `/api/…` call) and `resolvers` (every
  `/<id>/resolve/…` call). Every such answer carries the Hub's headers, `RateLimit: "<bucket>";
  r=<remaining>;t=<seconds to reset>` and `RateLimit-Policy: "fixed window";"<bucket>";q=<quota>;
  w=<window>` (the IETF draft format `parse_ratelimit_headers` reads). The default is a real fixed
  window with a quota too large to reach (`DEFAULT_QUOTA`, per `DEFAULT_WINDOW_SECONDS`);
  `set_quota(requests, window_seconds, bucket="api")` sets a reachable one: once spent, the bucket
  answers 429 with `Retry-After` and `r=0;t=<rest of the window>` until the window ends.
  `set_rate_limit_headers("missing" | "malformed")` leaves the headers out or makes them unreadable
  (the quota is still enforced). `/_fake/…` calls are not counted.

Every request is recorded in `hub.requests` (path as sent, still percent-encoded).

Huge listings (a million models) are served in O(page) per request: the first request of a listing
query (filter, search, author, sort, direction and the projected fields) computes its matching models
in order and serializes each one once; later pages join those bytes. `set_models` and `mutate` drop
that index. Stored model dicts are treated as immutable: to change one, pass the models again.

Run it for the offline demo (serving is the default; `serve` is an alias); SIGTERM or Ctrl-C stop it:
    python -m pocketai_pipeline_tests.fake_hub --port 8765 --models 2100 --page-size 500 --edge-cases
    python -m pocketai_pipeline_tests.fake_hub mutate --url http://127.0.0.1:8765 --add 3 --change 5 --remove 2
"""

import argparse
import base64
import binascii
import hashlib
import json
import math
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from pocketai_pipeline_tests.fake_storage import FakeStorage, VirtualFile, range_answer
from pocketai_pipeline_tests.litertlm_files import synthetic_litertlm

# What `/api/models` sends for every model without `full` (nor `expand`).
COMPACT_FIELDS = (
    "_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
    "pipeline_tag", "library_name", "createdAt", "modelId",
)
# Sent only when asked for by name (`cardData=true`, `config=true`), even with `full=true`.
OPT_IN_FIELDS = ("cardData", "config")
SORT_KEYS = frozenset({"lastModified", "createdAt", "downloads", "downloadsAllTime", "likes", "trendingScore", "id"})
# Derived manifests store files with these extensions (case-insensitive) in LFS, everything else in git.
LFS_EXTENSIONS = (".tflite", ".litertlm", ".task", ".bin", ".onnx", ".safetensors")
DETAIL_ENDPOINTS = ("info", "revision", "readme", "file")
DEFAULT_QUOTA = 1_000_000
QUOTA_BUCKETS = ("api", "resolvers")
DEFAULT_WINDOW_SECONDS = 300
NOT_FOUND_PAGE = "Sorry, we can't find the page you are looking for."
RATE_LIMITED = "You have been rate-limited; you can retry this action later."
DISABLED = "Access to this resource is disabled."  # huggingface_hub matches this exact message
HUB_FILE_KEYS = ("path", "size", "sha256")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    url: str  # full URL as requested


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    trickle_seconds: float | None = None  # send the body a byte at a time, this long apart


_HANG = _Reply(0, b"")  # answer nothing until the hub stops


def _trickle(seconds_per_byte: float) -> _Reply:
    """A 200 of valid JSON that takes `seconds_per_byte` for every one of its bytes."""
    return _Reply(200, b'[' + b' ' * 1000 + b']', {"Content-Type": "application/json"}, trickle_seconds=seconds_per_byte)


@dataclass
class _Fault:
    reply: _Reply
    remaining: int | None  # None: every time


class _FixedWindow:
    """The Hub's fixed-window quota of one bucket: `limit` requests per `window` seconds from the window's first request."""

    def __init__(self, limit: int, window: float, bucket: str = "api") -> None:
        self.limit, self.window, self.bucket = limit, window, bucket
        self.started: float | None = None
        self.used = 0

    def take(self, now: float) -> tuple[bool, int, int]:
        """Count one request: (allowed, remaining, whole seconds until the window resets)."""
        if self.started is None or now >= self.started + self.window:
            self.started, self.used = now, 0
        self.used += 1
        reset = max(1, math.ceil(self.started + self.window - now))
        return self.used <= self.limit, max(0, self.limit - self.used), reset

    def headers(self, remaining: int, reset: int, mode: str = "sent") -> dict[str, str]:
        if mode == "missing":
            return {}
        if mode == "malformed":
            return {"RateLimit": f'"{self.bucket}";r=lots;t=soon', "RateLimit-Policy": "fixed window; q=?"}
        return {
            "RateLimit": f'"{self.bucket}";r={remaining};t={reset}',
            "RateLimit-Policy": f'"fixed window";"{self.bucket}";q={self.limit};w={math.ceil(self.window)}',
        }


class FakeHub:
    """The Hub's model API on `http://host:port`, with injectable failures; a context manager."""

    def __init__(
        self,
        models: list[dict[str, Any]] | None = None,
        *,
        cards: Mapping[str, str | None] | None = None,
        page_size: int = 100,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.page_size = page_size
        self.requests: list[RecordedRequest] = []
        # When set, the base of `Link` next URLs instead of the host the client asked: another host, such
        # as another FakeHub's url, or f"http://localhost:{port}" (a different host name for this server).
        self.next_link_base: str | None = None
        self._models: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}
        # Listing query → its matching models, in order, each serialized as the query projects it.
        self._listing_index: dict[tuple, list[bytes]] = {}
        self._cards: dict[str, str | None] = {}
        self._manifests: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._file_heads: dict[tuple[str, str, str], bytes] = {}
        self.storage = FakeStorage(host=host)
        self._model_faults: dict[tuple[str, str], list[_Fault]] = {}
        self._quotas = {bucket: _FixedWindow(DEFAULT_QUOTA, DEFAULT_WINDOW_SECONDS, bucket) for bucket in QUOTA_BUCKETS}
        self._rate_headers = "sent"
        self._link_loops: dict[int, int] = {}
        self._mutations = 0
        self._address = (host, port)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._next_failures: deque[_Reply] = deque()
        self._failing_pages: dict[int, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._url: str | None = None
        self.set_models(list(models or []), cards=cards or {})

    @property
    def url(self) -> str:
        """`http://host:port`, known once started (and still after stopping, for assertions)."""
        if self._url is None:
            raise RuntimeError("FakeHub is not started")
        return self._url

    # --- what is served -------------------------------------------------------------------------

    def set_models(self, models: list[dict[str, Any]], *, cards: Mapping[str, str | None] | None = None) -> None:
        """Serve these models; `cards` (id → markdown or None) replaces every card, None keeps them."""
        with self._lock:
            self._models = list(models)
            self._reindex()
            if cards is not None:
                self._cards = dict(cards)

    def set_card(self, model_id: str, text: str | None) -> None:
        """The model's README.md; None: the model has no card (404 `EntryNotFound`)."""
        with self._lock:
            self._cards[model_id] = text

    def set_files(self, model_id: str, sha: str, files: list[dict[str, Any]]) -> None:
        """The files of `model_id` at revision `sha`, overriding the derived manifest; `sha` becomes a known revision.

        Each file is `{"path": str, "size": int, "sha256": str | None}`; a sha256 of None is a plain git
        file (no `lfs` key), any other an LFS file.
        """
        checked = []
        for file in files:
            if set(file) != set(HUB_FILE_KEYS):
                raise ValueError(f"a file is {{'path', 'size', 'sha256'}}, got {sorted(file)}")
            checked.append(dict(file))
        with self._lock:
            self._manifests[(model_id, sha)] = checked

    def set_file_contents(self, model_id: str, sha: str, contents: Mapping[str, bytes], *,
                          sizes: Mapping[str, int] | None = None) -> None:
        """The files of `model_id` at `sha` with these contents: each `path` is `sizes[path]` bytes long (default
        its content's length), the content first, zeros after; its sha256 is that of the content (LFS for
        `LFS_EXTENSIONS`, else a plain git file). Resolving an LFS file redirects to `storage`."""
        sizes = sizes or {}
        files = [
            {"path": path, "size": sizes.get(path, len(content)),
             "sha256": hashlib.sha256(content).hexdigest() if path.lower().endswith(LFS_EXTENSIONS) else None}
            for path, content in contents.items()
        ]
        self.set_files(model_id, sha, files)
        with self._lock:
            self._file_heads.update({(model_id, sha, path): content for path, content in contents.items()})

    def files(self, model_id: str, revision: str | None = None) -> list[dict[str, Any]] | None:
        """The manifest served for the model at `revision` (default: its current sha); None if unknown."""
        with self._lock:
            model = self._by_id.get(model_id)
            sha = self._resolve_revision(model, revision or "main") if model is not None else None
            return None if sha is None else [dict(f) for f in self._manifest(model, sha)]

    # --- faults -----------------------------------------------------------------------------------

    def fail_next(self, status: int, *, count: int = 1, headers: dict[str, str] | None = None, body: str = "") -> None:
        """Answer the next `count` requests to `/api/models` with `status`, these headers and body."""
        reply = _Reply(status, body.encode(), {"Content-Type": _content_type(body), **(headers or {})})
        with self._lock:
            self._next_failures.extend([reply] * count)

    def rate_limit_next(self, retry_after_seconds: int, *, count: int = 1) -> None:
        """Answer the next `count` listing requests with a 429 carrying the Hub's rate-limit headers."""
        self.fail_next(429, count=count, headers=_rate_limited_headers(retry_after_seconds), body=_json({"error": RATE_LIMITED}))

    def fail_on_page(self, page_number: int, status: int = 500) -> None:
        """Answer every request for page `page_number` (1-based) of any listing with `status`."""
        with self._lock:
            self._failing_pages[page_number] = status

    def fail_model(
        self,
        model_id: str,
        endpoint: str,
        status: int,
        *,
        count: int | None = None,
        headers: dict[str, str] | None = None,
        body: str = "",
    ) -> None:
        """Answer `endpoint` ("info", "revision", "readme") of `model_id` with `status`, `count` times (None: always).

        A 200 with a `body` that is not JSON is garbage. Faults of one endpoint apply in the order given.
        """
        reply = _Reply(status, body.encode(), {"Content-Type": _content_type(body), **(headers or {})})
        self._add_model_fault(model_id, endpoint, reply, count)

    def trickle_next(self, seconds_per_byte: float, *, count: int = 1) -> None:
        """Answer the next `count` listing requests with a page whose body arrives a byte every `seconds_per_byte`."""
        with self._lock:
            self._next_failures.extend([_trickle(seconds_per_byte)] * count)

    def trickle_model(self, model_id: str, endpoint: str, seconds_per_byte: float, *, count: int | None = None) -> None:
        """Answer `endpoint` requests of `model_id` with a 200 whose body arrives a byte every `seconds_per_byte`."""
        self._add_model_fault(model_id, endpoint, _trickle(seconds_per_byte), count)

    def hang_model(self, model_id: str, endpoint: str, *, count: int | None = None) -> None:
        """Accept `endpoint` requests of `model_id` and never answer them until the hub stops."""
        self._add_model_fault(model_id, endpoint, _HANG, count)

    def clear_model_faults(self) -> None:
        with self._lock:
            self._model_faults.clear()

    def set_quota(self, requests: int | None, window_seconds: float = DEFAULT_WINDOW_SECONDS, bucket: str = "api") -> None:
        """A fixed window of `requests` calls per `window_seconds` in `bucket`, starting now; None: the default,
        unreachable one. `api` counts `/api/…` calls, `resolvers` counts `/<id>/resolve/…` ones."""
        if bucket not in QUOTA_BUCKETS:
            raise ValueError(f"bucket must be one of {QUOTA_BUCKETS}, not {bucket!r}")
        if requests is not None and (requests < 0 or window_seconds <= 0):
            raise ValueError("need requests >= 0 and a positive window")
        with self._lock:
            quota = _FixedWindow(DEFAULT_QUOTA if requests is None else requests, window_seconds, bucket)
            quota.started = time.monotonic()
            self._quotas[bucket] = quota

    def set_rate_limit_headers(self, mode: str) -> None:
        """`sent` (default): the Hub's `RateLimit`/`RateLimit-Policy`; `missing`: none; `malformed`: unreadable
        ones. The quota is enforced whatever the mode."""
        if mode not in ("sent", "missing", "malformed"):
            raise ValueError(f"mode must be sent, missing or malformed, not {mode!r}")
        with self._lock:
            self._rate_headers = mode

    def loop_link(self, from_page: int, to_page: int) -> None:
        """The `Link: rel="next"` of page `from_page` (1-based) of any listing leads back to page `to_page`
        (`to_page <= from_page`: a loop of `from_page - to_page + 1` pages)."""
        if not 1 <= to_page <= from_page:
            raise ValueError("need 1 <= to_page <= from_page")
        with self._lock:
            self._link_loops[from_page] = to_page

    def _add_model_fault(self, model_id: str, endpoint: str, reply: _Reply, count: int | None) -> None:
        if endpoint not in DETAIL_ENDPOINTS:
            raise ValueError(f"endpoint must be one of {DETAIL_ENDPOINTS}, not {endpoint!r}")
        if count is not None and count < 1:
            raise ValueError("count must be positive, or None for every time")
        with self._lock:
            self._model_faults.setdefault((model_id, endpoint), []).append(_Fault(reply, count))

    # --- the demo's changes -------------------------------------------------------------------------

    def mutate(self, *, add: int = 0, change: int = 0, remove: int = 0) -> dict[str, list[str]]:
        """Add `add` new synthetic models, change `change` and remove `remove` existing ones; the ids affected.

        A changed model gets a new `sha` (so new derived file sizes and sha256), `lastModified` = now,
        more downloads and likes. A removed one leaves the listing and 404s. Changed and removed models are
        picked, disjoint, among the public models with a string id; the same sequence of calls on the same
        models picks the same ones.
        """
        from pocketai_pipeline_tests.synthetic import synthetic_cards, synthetic_listing

        if min(add, change, remove) < 0:
            raise ValueError("add, change and remove must not be negative")
        with self._lock:
            self._mutations += 1
            rng = random.Random(f"fake-hub-mutation-{self._mutations}")
            candidates = [
                index for index, model in enumerate(self._models)
                if isinstance(model.get("id"), str) and not model.get("private") and not model.get("disabled")
            ]
            picked = rng.sample(candidates, min(len(candidates), change + remove))
            changed_at, removed_at = picked[:change], set(picked[change:])
            now = _hub_date(datetime.now(UTC))
            changed = []
            for index in changed_at:
                model = dict(self._models[index])
                model["sha"] = hashlib.sha1(f"{model.get('sha')}:{self._mutations}".encode()).hexdigest()
                model["lastModified"] = now
                for key, most in (("downloads", 5000), ("likes", 20)):
                    if isinstance(model.get(key), int):
                        model[key] += rng.randrange(1, most)
                self._models[index] = model
                changed.append(model["id"])
            removed = [self._models[index]["id"] for index in sorted(removed_at)]
            self._models = [model for index, model in enumerate(self._models) if index not in removed_at]
            # Indices far above any listing's keep the new ids unique (synthetic ids carry their index).
            new = synthetic_listing(add, seed=10_000 + self._mutations, start=100_000 * self._mutations)
            self._models += new
            self._cards |= synthetic_cards(new)
            self._reindex()
        return {"added": [model["id"] for model in new], "changed": changed, "removed": removed}

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "FakeHub":
        self._stopping.clear()
        self.storage.start()
        self._server = ThreadingHTTPServer(self._address, _handler_for(self))
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self._url = f"http://{host}:{port}"
        # A short poll interval keeps `stop()` (which waits for the next poll) fast.
        serve = partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, name="fake-hub", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hung requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.storage.stop()

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- answering --------------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _reindex(self) -> None:
        self._listing_index = {}
        self._by_id = {}
        for model in self._models:
            if isinstance(model.get("id"), str):
                self._by_id.setdefault(model["id"], model)

    def _respond(self, method: str, path: str, query: dict[str, list[str]], host: str,
                 headers: Mapping[str, str], body: bytes) -> _Reply:
        if path == "/_fake/mutate":
            return self._answer_mutate(body) if method == "POST" else _error(405, "POST only")
        resolved = _split_repo_path(path, "resolve") if method in ("GET", "HEAD") else None
        if not path.startswith("/api/") and resolved is None:
            return _error(404, NOT_FOUND_PAGE)
        bucket = "api" if path.startswith("/api/") else "resolvers"
        with self._lock:
            quota = self._quotas[bucket]
            allowed, remaining, reset = quota.take(time.monotonic())
            rate_headers = quota.headers(remaining, reset, self._rate_headers)
        if not allowed:
            reply = _json_reply(429, {"error": RATE_LIMITED}, _rate_limited_headers(reset) | rate_headers)
            if self._rate_headers != "sent":
                reply.headers.pop("RateLimit", None)
                reply.headers.pop("RateLimit-Policy", None)
        elif resolved is not None:
            reply = self._answer_resolve(*resolved, headers)
        elif method in ("GET", "HEAD"):
            reply = self._answer(path, query, host, headers)
        else:
            reply = _error(404, NOT_FOUND_PAGE)
        return replace(reply, headers=rate_headers | reply.headers) if reply is not _HANG else _HANG

    def _answer(self, path: str, query: dict[str, list[str]], host: str, headers: Mapping[str, str]) -> _Reply:
        if path == "/api/agent-harnesses":
            return _json_reply(200, {"standardEnvVars": [], "harnesses": {}})
        if path.startswith("/api/models/") and path != "/api/models/":
            return self._answer_model(path.removeprefix("/api/models/"), query, headers)
        if path not in ("/api/models", "/api/models/"):
            return _error(404, NOT_FOUND_PAGE)
        with self._lock:
            if self._next_failures:
                return self._next_failures.popleft()
            failing_pages = dict(self._failing_pages)
            link_loops = dict(self._link_loops)
        return self._listing(query, failing_pages, self.next_link_base or f"http://{host}", link_loops)

    def _answer_model(self, rest: str, query: dict[str, list[str]], headers: Mapping[str, str]) -> _Reply:
        split = _split_repo_path(f"/{rest}", "revision", with_file=False)
        model_id, revision = split if split is not None else (_unquote_path(rest), None)
        with self._lock:
            fault = self._take_fault(model_id, "info" if revision is None else "revision")
            if fault is not None:
                return fault
            model = self._by_id.get(model_id)
            if (denied := _access_denied(model, headers)) is not None:
                return denied
            blobs = _is_true(query.get("blobs"))
            if revision is None and not blobs:
                return _json_reply(200, model)
            sha = self._resolve_revision(model, revision or "main")
            if sha is None:
                return _revision_not_found(revision)
            served = dict(model)
            served["sha"] = sha
            explicit = (model_id, sha) in self._manifests
            if blobs:
                served["siblings"] = [self._blob_sibling(model_id, sha, file) for file in self._manifest(model, sha)]
            elif explicit:
                served["siblings"] = [{"rfilename": file["path"]} for file in self._manifest(model, sha)]
        return _json_reply(200, served)

    def _answer_resolve(self, model_id: str, revision: str, file_path: str, headers: Mapping[str, str]) -> _Reply:
        with self._lock:
            fault = self._take_fault(model_id, "readme" if file_path == "README.md" else "file")
            if fault is not None:
                return fault
            model = self._by_id.get(model_id)
            if (denied := _access_denied(model, headers)) is not None:
                return denied
            sha = self._resolve_revision(model, revision)
            if sha is None:
                return _revision_not_found(revision)
            card = self._cards.get(model_id) if file_path == "README.md" else None
            file = None if file_path == "README.md" else \
                next((f for f in self._manifest(model, sha) if f["path"] == file_path), None)
            head = self._file_heads.get((model_id, sha, file_path))
        if file is not None:
            return self._answer_file(model_id, sha, file, head, headers)
        if card is None:
            return _json_reply(404, {"error": "Entry not found"},
                               {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
        content = card.encode()
        return _Reply(200, content, {
            "Content-Type": "text/plain; charset=utf-8",
            "ETag": f'"{_git_blob_id(content)}"',
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
            "Content-Disposition": "inline; filename*=UTF-8''README.md; filename=\"README.md\";",
        })

    def _answer_file(self, model_id: str, sha: str, file: dict[str, Any], head: bytes | None,
                     headers: Mapping[str, str]) -> _Reply:
        """An LFS file: a redirect to the storage host, as the Hub does; a plain git file: its bytes, Range honoured."""
        if head is None:
            head = synthetic_litertlm(model_id, file["path"]) if file["path"].lower().endswith(".litertlm") else b""
        content = VirtualFile(head, file["size"])
        if file["sha256"] is not None:
            self.storage.put(file["sha256"], head, file["size"])
            return _Reply(302, b"", {
                "Location": f"{self.storage.url}/{file['sha256']}",
                "X-Linked-Size": str(file["size"]),
                "X-Linked-ETag": f'"{file["sha256"]}"',
                "X-Repo-Commit": sha,
            })
        status, extra, start, end = range_answer(content, headers.get("Range"))
        return _Reply(status, content.read(start, end), {"Content-Type": "application/octet-stream", "X-Repo-Commit": sha, **extra})

    def _answer_mutate(self, body: bytes) -> _Reply:
        try:
            wanted = json.loads(body or b"{}")
            if not isinstance(wanted, dict) or set(wanted) - {"add", "change", "remove"}:
                raise ValueError("expected an object with add, change, remove")
            counts = {key: wanted.get(key, 0) for key in ("add", "change", "remove")}
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts.values()):
                raise ValueError("add, change and remove are counts")
        except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            return _error(400, str(error))
        return _json_reply(200, self.mutate(**counts))

    def _take_fault(self, model_id: str, endpoint: str) -> _Reply | None:
        faults = self._model_faults.get((model_id, endpoint))
        if not faults:
            return None
        fault = faults[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining == 0:
                faults.pop(0)
        return fault.reply

    def _resolve_revision(self, model: dict[str, Any], revision: str) -> str | None:
        current = model.get("sha")
        if revision in ("main", current) and isinstance(current, str):
            return current
        return revision if (model["id"], revision) in self._manifests else None

    def _manifest(self, model: dict[str, Any], sha: str) -> list[dict[str, Any]]:
        explicit = self._manifests.get((model["id"], sha))
        if explicit is not None:
            return explicit
        siblings = model.get("siblings")
        paths = [s["rfilename"] for s in siblings if isinstance(s, dict) and isinstance(s.get("rfilename"), str)] \
            if isinstance(siblings, list) else []
        return [self._derived_file(model["id"], sha, path) for path in paths]

    def _derived_file(self, model_id: str, sha: str, path: str) -> dict[str, Any]:
        digest = hashlib.sha256(f"{model_id}\0{sha}\0{path}".encode()).hexdigest()
        card = self._cards.get(model_id) if path == "README.md" else None
        if card is not None:
            return {"path": path, "size": len(card.encode()), "sha256": None}
        if not path.lower().endswith(LFS_EXTENSIONS):
            return {"path": path, "size": 64 + int(digest[:8], 16) % 20_000, "sha256": None}
        lower = path.lower()
        smallest, spread = (500_000_000, 3_500_000_000) if lower.endswith((".litertlm", ".task")) else (1_000_000, 400_000_000)
        return {"path": path, "size": smallest + int(digest[:12], 16) % spread, "sha256": digest}

    def _blob_sibling(self, model_id: str, sha: str, file: dict[str, Any]) -> dict[str, Any]:
        path, size, sha256 = file["path"], file["size"], file["sha256"]
        if sha256 is None:
            card = self._cards.get(model_id) if path == "README.md" else None
            blob_id = _git_blob_id(card.encode()) if card is not None else \
                hashlib.sha1(f"{model_id}\0{sha}\0{path}\0{size}".encode()).hexdigest()
            return {"rfilename": path, "blobId": blob_id, "size": size}
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
        return {
            "rfilename": path,
            "blobId": _git_blob_id(pointer),
            "size": size,
            "lfs": {"sha256": sha256, "size": size, "pointerSize": len(pointer)},
        }

    def _indexed_listing(self, query: dict[str, list[str]], sort: str | None) -> list[bytes]:
        """The listing query's matching models, in order, each serialized as projected; computed once per query."""
        key = (
            tuple(query.get("filter", [])), tuple(query.get("search", [])), tuple(query.get("author", [])),
            sort, query.get("direction", ["-1"])[-1] if sort is not None else None, _projection_key(query),
        )
        with self._lock:
            cached = self._listing_index.get(key)
            if cached is not None:
                return cached
            matching = [model for model in self._models if _matches(model, query)]
            if sort is not None:
                descending = query.get("direction", ["-1"])[-1] == "-1"
                matching.sort(key=lambda model: _sort_key(model.get(sort)), reverse=descending)
            sends = _projected_fields(query)
            serialized = [
                _json({key: value for key, value in model.items() if sends(key)}).encode() for model in matching
            ]
            self._listing_index[key] = serialized
            return serialized

    def _listing(self, query: dict[str, list[str]], failing_pages: dict[int, int], link_base: str,
                 link_loops: dict[int, int] | None = None) -> _Reply:
        try:
            page_size = min(int(query["limit"][-1]), self.page_size) if "limit" in query else self.page_size
            page, offset = _decode_cursor(query["cursor"][-1]) if "cursor" in query else (1, 0)
        except ValueError:
            return _error(400, "Invalid limit or cursor")
        if page_size < 1:
            return _error(400, "limit must be positive")
        sort = query.get("sort", [None])[-1]
        if sort is not None and sort not in SORT_KEYS:
            return _error(400, f"Invalid sort: {sort}")
        if page in failing_pages:
            return _error(failing_pages[page], f"Failed on page {page}")

        matching = self._indexed_listing(query, sort)
        # What json.dumps of the list of projected models gives, item separator ", " included.
        body = b"[" + b", ".join(matching[offset : offset + page_size]) + b"]"

        headers = {"Content-Type": "application/json; charset=utf-8"}
        next_query = [(name, value) for name, values in query.items() if name != "cursor" for value in values]
        if link_loops and page in link_loops:
            back_to = link_loops[page]  # the URL that page was fetched with (the first page has no cursor)
            if back_to > 1:
                next_query.append(("cursor", _encode_cursor(back_to, offset - (page - back_to) * page_size)))
            headers["Link"] = f'<{link_base}/api/models?{urlencode(next_query)}>; rel="next"'
        elif offset + page_size < len(matching):
            next_query.append(("cursor", _encode_cursor(page + 1, offset + page_size)))
            headers["Link"] = f'<{link_base}/api/models?{urlencode(next_query)}>; rel="next"'
        return _Reply(200, body, headers)


def _handler_for(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real Hub
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the client's
        # delayed ACK hold the body back ~40 ms on every kept-alive request.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._handle()

        do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            host = self.headers.get("Host", "%s:%s" % self.server.server_address[:2])
            hub._record(
                RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=query,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    url=f"http://{host}{self.path}",
                )
            )
            body = self._read_body()
            reply = hub._respond(self.command, parts.path, query, host, self.headers, body)
            if reply is _HANG:
                hub._stopping.wait()
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if reply.trickle_seconds is None:
                self.wfile.write(reply.body)
                return
            for byte in range(len(reply.body)):
                if hub._stopping.wait(reply.trickle_seconds):
                    break
                self.wfile.write(reply.body[byte : byte + 1])
                self.wfile.flush()

        def _read_body(self) -> bytes:
            # Unread request bodies would be parsed as the next request on this kept-alive connection.
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read `hub.requests` instead

    return Handler


def _split_repo_path(path: str, marker: str, *, with_file: bool = True) -> tuple[str, ...] | None:
    """`/<id>/<marker>/<rev>[/<file>]` → (id, rev[, file]), each percent-decoded; None if it is not that."""
    segments = path.split("/")[1:]
    for index in range(1, len(segments) - 1):
        if segments[index] == marker:
            model_id = _unquote_path("/".join(segments[:index]))
            if with_file:
                if index + 2 >= len(segments) or not segments[index + 2]:
                    return None
                return model_id, unquote(segments[index + 1]), _unquote_path("/".join(segments[index + 2 :]))
            return model_id, unquote("/".join(segments[index + 1 :]))
    return None


def _unquote_path(path: str) -> str:
    return unquote(path).strip("/")


def _access_denied(model: dict[str, Any] | None, headers: Mapping[str, str]) -> _Reply | None:
    """What the Hub answers instead of the model, or None when the client may see it."""
    authenticated = (headers.get("Authorization") or "").startswith("Bearer ")
    not_found = {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}
    if model is None:
        return _json_reply(404, {"error": "Repository not found"}, not_found)
    if model.get("private") is True:
        # Anonymous: 401, as for anything the client may not know exists; a token without access: 404.
        return _json_reply(404 if authenticated else 401, {"error": "Repository not found"}, not_found)
    if model.get("disabled") is True:
        if not authenticated:
            return _json_reply(401, {"error": "Repository not found"}, not_found)
        return _json_reply(403, {"error": DISABLED}, {"X-Error-Message": DISABLED})
    return None


def _revision_not_found(revision: str | None) -> _Reply:
    message = f"Invalid rev id: {revision}"
    return _json_reply(404, {"error": message}, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": message})


def _rate_limited_headers(retry_after_seconds: int) -> dict[str, str]:
    return {
        "Retry-After": str(retry_after_seconds),
        "RateLimit": f'"api";r=0;t={retry_after_seconds}',
        "RateLimit-Policy": '"fixed window";"api";q=500;w=300',
        "X-Error-Message": RATE_LIMITED,
    }


def _git_blob_id(content: bytes) -> str:
    """The git object id of a blob with this content, as the Hub's `blobId` and non-LFS `ETag`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _matches(model: dict[str, Any], query: dict[str, list[str]]) -> bool:
    """The Hub's `filter` (every value a tag of the model), `search` (in the id) and `author`."""
    model_id = model.get("id")
    model_id = model_id if isinstance(model_id, str) else ""
    tags = model.get("tags")
    wanted_tags = query.get("filter", [])
    if wanted_tags and not (isinstance(tags, list) and all(tag in tags for tag in wanted_tags)):
        return False
    if any(text.lower() not in model_id.lower() for text in query.get("search", [])):
        return False
    return all(model_id.lower().startswith(f"{author.lower()}/") for author in query.get("author", []))


def _projected_fields(query: dict[str, list[str]]) -> Callable[[str], bool]:
    """Which keys of a stored model the query sends, as a predicate on the key."""
    expand = set(query.get("expand", []) + query.get("expand[]", []))
    if expand:
        wanted = expand | {"_id", "id"}
        return lambda key: key in wanted
    opted_in = {name for name in OPT_IN_FIELDS if _is_true(query.get(name))}
    if _is_true(query.get("full")):
        return lambda key: key not in OPT_IN_FIELDS or key in opted_in
    return lambda key: key in COMPACT_FIELDS or key in opted_in


def _projection_key(query: dict[str, list[str]]) -> tuple:
    """What `_projected_fields` depends on, as a hashable key."""
    expand = frozenset(query.get("expand", []) + query.get("expand[]", []))
    if expand:
        return ("expand", expand)
    opted_in = frozenset(name for name in OPT_IN_FIELDS if _is_true(query.get(name)))
    return ("full" if _is_true(query.get("full")) else "compact", opted_in)


def _is_true(values: list[str] | None) -> bool:
    return bool(values) and values[-1].lower() in ("true", "1")


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers after text after missing, so malformed records sort without crashing."""
    if value is None:
        return (0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (2, value)
    return (1, str(value))


def _encode_cursor(page: int, offset: int) -> str:
    return base64.urlsafe_b64encode(_json({"page": page, "offset": offset}).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(decoded["page"]), int(decoded["offset"])
    except (binascii.Error, json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise ValueError(f"bad cursor {cursor!r}") from error


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, _json(data).encode(), {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def _error(status: int, message: str) -> _Reply:
    return _json_reply(status, {"error": message}, {"X-Error-Message": message})


def _content_type(body: str) -> str:
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json; charset=utf-8"


def _hub_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def serve(argv: list[str]) -> None:
    from pocketai_pipeline_tests.synthetic import app_ready_edge_models, edge_case_models, synthetic_cards, synthetic_listing

    parser = argparse.ArgumentParser(description="Serve a synthetic LiteRT listing as a local Hugging Face Hub.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--models", type=int, default=2100, help="how many synthetic models to serve")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--edge-cases", action="store_true", help="also serve the malformed/private/odd edge cases")
    parser.add_argument("--url-file", help="write the served URL to this file once listening (for scripts)")
    args = parser.parse_args(argv)

    models = synthetic_listing(args.models) + (edge_case_models() + app_ready_edge_models() if args.edge_cases else [])
    hub = FakeHub(models, cards=synthetic_cards(models), page_size=args.page_size, host=args.host, port=args.port).start()
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    if args.url_file:
        Path(args.url_file).write_text(hub.url)
    print(f"Fake Hugging Face Hub serving {len(models)} models at {hub.url} (Ctrl-C to stop)", flush=True)
    while not stop.wait(0.5):
        pass
    hub.stop()


def mutate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fake_hub mutate", description="Add, change and remove models of a running fake Hub.")
    parser.add_argument("--url", required=True, help="the fake Hub's URL, e.g. http://127.0.0.1:8765")
    for name in ("add", "change", "remove"):
        parser.add_argument(f"--{name}", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    request = urllib.request.Request(
        f"{args.url.rstrip('/')}/_fake/mutate",
        data=json.dumps({"add": args.add, "change": args.change, "remove": args.remove}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result = json.load(response)
    except (urllib.error.URLError, ValueError) as error:
        print(f"mutate failed: {error}", file=sys.stderr)
        return 1
    print(f"{args.url}: added {len(result['added'])}, changed {len(result['changed'])}, removed {len(result['removed'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mutate"]:
        return mutate(argv[1:])
    serve(argv[1:] if argv[:1] == ["serve"] else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
