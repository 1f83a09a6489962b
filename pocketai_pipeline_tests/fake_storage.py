"""The Hub's storage host, where `/<id>/resolve/<sha>/<path>` redirects an LFS file: HTTP `Range` reads
of files that may be gigabytes long without being held in memory, with faults.

A file is `put(key, head, size)`: `size` bytes, the first ones `head` (a real `.litertlm` header, say),
zeros after. `GET /<key>` with `Range: bytes=a-b` answers 206 with those bytes (416 past the end);
without `Range`, or after `ignore_range()`, 200 with the whole file, streamed until the client stops
reading. `fail_next(status, count, headers)` answers the next requests with an error instead. Every
request is recorded in `requests` (its path and lower-cased headers), so tests can check that no token
came here.
"""

import re
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHUNK = 64 * 1024
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class StoredRequest:
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class VirtualFile:
    head: bytes
    size: int

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the file."""
        end = min(end, self.size)
        if start >= end:
            return b""
        part = self.head[start:end]
        return part + bytes(end - start - len(part))


def range_answer(file: VirtualFile, range_header: str | None) -> tuple[int, dict[str, str], int, int]:
    """(status, headers, first byte, end) of the answer to a GET of `file` with this `Range` header."""
    match = _RANGE.match((range_header or "").strip())
    if match is None:
        return 200, {"Accept-Ranges": "bytes"}, 0, file.size
    start = int(match[1])
    end = min(int(match[2]) + 1 if match[2] else file.size, file.size)
    if start >= file.size:
        return 416, {"Content-Range": f"bytes */{file.size}"}, 0, 0
    return 206, {"Content-Range": f"bytes {start}-{end - 1}/{file.size}", "Accept-Ranges": "bytes"}, start, end


class FakeStorage:
    """A storage host on `http://host:port`; a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[StoredRequest] = []
        self._files: dict[str, VirtualFile] = {}
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._ignore_range = False
        self._lock = threading.Lock()
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def put(self, key: str, head: bytes, size: int | None = None) -> None:
        with self._lock:
            self._files[key] = VirtualFile(head, len(head) if size is None else size)

    def ignore_range(self, ignore: bool = True) -> None:
        """Answer every GET with 200 and the whole file, as a server without Range support does."""
        self._ignore_range = ignore

    def fail_next(self, status: int, *, count: int = 1, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, dict(headers or {}))] * count)

    def start(self) -> "FakeStorage":
        self._server = ThreadingHTTPServer(self._address, _handler_for(self))
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        threading.Thread(target=partial(self._server.serve_forever, poll_interval=0.05), name="fake-storage", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeStorage":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _answer(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], VirtualFile | None, int, int]:
        with self._lock:
            self.requests.append(StoredRequest(path, {name.lower(): value for name, value in headers.items()}))
            if self._failures:
                status, extra = self._failures.popleft()
                return status, extra, None, 0, 0
            file = self._files.get(path.lstrip("/").split("?", 1)[0])
        if file is None:
            return 404, {}, None, 0, 0
        status, extra, start, end = range_answer(file, None if self._ignore_range else headers.get("Range"))
        return status, extra, file, start, end


def send_file(handler: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], file: VirtualFile | None,
              start: int, end: int) -> None:
    """Answer with bytes [start, end) of `file`, a chunk at a time (a client that stops reading ends it)."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(end - start if file is not None else 0))
    handler.end_headers()
    if file is None or handler.command == "HEAD":
        return
    try:
        for offset in range(start, end, CHUNK):
            handler.wfile.write(file.read(offset, min(offset + CHUNK, end)))
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


def _handler_for(storage: FakeStorage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            send_file(self, *storage._answer(self.path, self.headers))

        do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
