"""A local Hugging Face Hub speaking the real HTTP API of `GET /api/models`, with fault injection.

Standard library only: a `ThreadingHTTPServer` in a background thread. Models are stored as full Hub
JSON and sent exactly as stored for the keys the query projects, malformed values included.

Run it for the offline demo:
    python -m pocketai_pipeline_tests.fake_hub --port 8765 --models 2100 --page-size 500
"""

import argparse
import base64
import binascii
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

# What `/api/models` sends for every model without `full` (nor `expand`).
COMPACT_FIELDS = (
    "_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
    "pipeline_tag", "library_name", "createdAt", "modelId",
)
# Sent only when asked for by name (`cardData=true`, `config=true`), even with `full=true`.
OPT_IN_FIELDS = ("cardData", "config")
SORT_KEYS = frozenset({"lastModified", "createdAt", "downloads", "downloadsAllTime", "likes", "trendingScore", "id"})


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


class FakeHub:
    """The Hub's model listing on `http://host:port`, with injectable failures; a context manager."""

    def __init__(
        self,
        models: list[dict[str, Any]] | None = None,
        *,
        page_size: int = 100,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.page_size = page_size
        self.requests: list[RecordedRequest] = []
        # When set, the base of `Link` next URLs instead of the host the client asked: another host, such
        # as another FakeHub's url, or f"http://localhost:{port}" (a different host name for this server).
        self.next_link_base: str | None = None
        self._models = list(models or [])
        self._address = (host, port)
        self._lock = threading.Lock()
        self._next_failures: deque[_Reply] = deque()
        self._failing_pages: dict[int, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """`http://host:port`, known once started (and still after stopping, for assertions)."""
        if self._url is None:
            raise RuntimeError("FakeHub is not started")
        return self._url

    def set_models(self, models: list[dict[str, Any]]) -> None:
        with self._lock:
            self._models = list(models)

    def fail_next(self, status: int, *, count: int = 1, headers: dict[str, str] | None = None, body: str = "") -> None:
        """Answer the next `count` requests to `/api/models` with `status`, these headers and body."""
        reply = _Reply(status, body.encode(), {"Content-Type": _content_type(body), **(headers or {})})
        with self._lock:
            self._next_failures.extend([reply] * count)

    def rate_limit_next(self, retry_after_seconds: int, *, count: int = 1) -> None:
        """Answer the next `count` listing requests with a 429 carrying the Hub's rate-limit headers."""
        headers = {
            "Retry-After": str(retry_after_seconds),
            "RateLimit": f'"api";r=0;t={retry_after_seconds}',
            "RateLimit-Policy": '"fixed window";"api";q=500;w=300',
        }
        message = "You have been rate-limited; you can retry this action later."
        self.fail_next(429, count=count, headers=headers | {"X-Error-Message": message}, body=_json({"error": message}))

    def fail_on_page(self, page_number: int, status: int = 500) -> None:
        """Answer every request for page `page_number` (1-based) of any listing with `status`."""
        with self._lock:
            self._failing_pages[page_number] = status

    def start(self) -> "FakeHub":
        self._server = ThreadingHTTPServer(self._address, _handler_for(self))
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self._url = f"http://{host}:{port}"
        # A short poll interval keeps `stop()` (which waits for the next poll) fast.
        serve = partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, name="fake-hub", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _answer(self, path: str, query: dict[str, list[str]], host: str) -> _Reply:
        if path == "/api/agent-harnesses":
            return _json_reply(200, {"standardEnvVars": [], "harnesses": {}})
        if path not in ("/api/models", "/api/models/"):
            return _error(404, "Sorry, we can't find the page you are looking for.")
        with self._lock:
            if self._next_failures:
                return self._next_failures.popleft()
            models = list(self._models)
            failing_pages = dict(self._failing_pages)
        return self._listing(models, query, failing_pages, self.next_link_base or f"http://{host}")

    def _listing(
        self, models: list[dict[str, Any]], query: dict[str, list[str]], failing_pages: dict[int, int], link_base: str
    ) -> _Reply:
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

        matching = [model for model in models if _matches(model, query)]
        if sort is not None:
            descending = query.get("direction", ["-1"])[-1] == "-1"
            matching.sort(key=lambda model: _sort_key(model.get(sort)), reverse=descending)
        sends = _projected_fields(query)
        page_models = matching[offset : offset + page_size]
        body = [{key: value for key, value in model.items() if sends(key)} for model in page_models]

        headers = {}
        if offset + page_size < len(matching):
            next_query = [(name, value) for name, values in query.items() if name != "cursor" for value in values]
            next_query.append(("cursor", _encode_cursor(page + 1, offset + page_size)))
            headers["Link"] = f'<{link_base}/api/models?{urlencode(next_query)}>; rel="next"'
        return _json_reply(200, body, headers)


def _handler_for(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real Hub

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
            self._drain_body()
            if self.command == "GET":
                reply = hub._answer(parts.path, query, host)
            else:
                reply = _error(404, "Sorry, we can't find the page you are looking for.")
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        def _drain_body(self) -> None:
            # Unread request bodies would be parsed as the next request on this kept-alive connection.
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read `hub.requests` instead

    return Handler


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


def main() -> None:
    from pocketai_pipeline_tests.synthetic import edge_case_models, synthetic_listing

    parser = argparse.ArgumentParser(description="Serve a synthetic LiteRT listing as a local Hugging Face Hub.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--models", type=int, default=2100, help="how many synthetic models to serve")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--edge-cases", action="store_true", help="also serve the malformed/private/odd edge cases")
    parser.add_argument("--url-file", help="write the served URL to this file once listening (for scripts)")
    args = parser.parse_args()

    models = synthetic_listing(args.models) + (edge_case_models() if args.edge_cases else [])
    hub = FakeHub(models, page_size=args.page_size, host=args.host, port=args.port).start()
    print(f"Fake Hugging Face Hub serving {len(models)} models at {hub.url} (Ctrl-C to stop)", flush=True)
    if args.url_file:
        Path(args.url_file).write_text(hub.url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
