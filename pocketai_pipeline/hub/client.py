"""Safe GET requests to the Hub on top of huggingface_hub's own HTTP session and headers.

huggingface_hub's defaults are wrong for an unattended daily job: no request timeout, rate-limit
sleeps as long as the server asks, and pagination that sends the token to whatever host a `Link`
header names. This client fixes those three and nothing else: transient network errors (timeouts, resets) and
retryable statuses (429, 5xx) are retried here, all tries of one request within one bound
(`max_retries` tries more, `max_wait_seconds` of waiting in all), and the token goes only to the
configured endpoint's origin.
"""

import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import msgspec
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status, parse_ratelimit_headers

from pocketai_pipeline.hub.pacer import Pacer, PaceTooLong, Turn

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Network errors a retry may mend: timeouts, and connections reset or cut mid-answer. A refused
# connection or an unknown host name (ConnectError) is not among them: it is a wrong HF_ENDPOINT or
# a Hub that is down for longer than one run's retries.
TRANSIENT_ERRORS = (httpx2.TimeoutException, httpx2.ReadError, httpx2.WriteError, httpx2.CloseError,
                    httpx2.RemoteProtocolError)
# The body is kept decoded: these headers describe the bytes on the wire, not `response.content`.
DECODED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0


class HubRateLimitError(RuntimeError):
    """The Hub asked us to wait longer than the configured bound."""


class HubResponseError(RuntimeError):
    """The Hub answered something that is not the JSON we asked for."""


class HubSetupError(RuntimeError):
    """HF_ENDPOINT or HF_TOKEN is wrong (unreachable host, refused token, no such API): no retry can mend it."""


class HubListingLoopError(HubSetupError):
    """A listing's `Link` led back to a page already fetched: following it would never end, and no retry mends it."""


# Everything a request to the Hub can raise that is the Hub's doing, not a bug here (HfHubHTTPError is
# an httpx2.HTTPError); HubRateLimitError is left out: callers treat a spent quota apart.
REQUEST_ERRORS = (httpx2.HTTPError, HubResponseError, HubSetupError, json.JSONDecodeError, UnicodeDecodeError)


@dataclass(frozen=True)
class HubClient:
    endpoint: str
    token: str | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 5
    max_wait_seconds: float = 300.0
    pacer: Pacer | None = None
    """The run's pace per rate-limit bucket; None: requests go as fast as they are made (429s are still waited out)."""

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx2.Response:
        """GET with a timeout, bounded retries, and the token only for our own endpoint; raises on an error status."""
        response = self.request(url, params)
        hf_raise_for_status(response)
        return response

    def request(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> httpx2.Response:
        """Like `get`, but the last response is returned whatever its status (after the bounded retries).

        `headers` are sent besides the Hub's own (e.g. `Range`); with `max_bytes`, no more of the body is
        read than that, whatever the server sends (the rest is dropped with the connection).
        """
        # token=False, never None: None makes huggingface_hub send a token found on the machine.
        token = self.token if self.token and same_origin(url, self.endpoint) else False
        sent = build_hf_headers(token=token, library_name="pocketai-pipeline", library_version=library_version())
        sent.update(headers or {})
        waited = 0.0
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            turn = self.wait_turn(url, waited)
            waited += turn.waited if turn is not None else 0.0
            try:
                response = self.send_paced(turn, url, params, sent, max_bytes)
            except httpx2.ConnectError as error:
                host = urlsplit(url).netloc
                raise HubSetupError(
                    f"HF_ENDPOINT={self.endpoint} could not be reached ({host}: {error}): is the Hub (or your "
                    "mirror) reachable from here? Offline, try make demo"
                ) from error
            except TRANSIENT_ERRORS:
                wait = backoff_wait(attempt)
                if last_try or waited + wait > self.max_wait_seconds:
                    raise
            else:
                if response.status_code not in RETRYABLE_STATUSES or last_try:
                    return response
                wait = retry_wait(response.headers, attempt)
                if waited + wait > self.max_wait_seconds:
                    if response.status_code == 429:
                        raise HubRateLimitError(
                            f"Hub rate limit on GET {strip_query(url)}: asked to wait {wait:.0f}s more after "
                            f"{waited:.0f}s, past the {self.max_wait_seconds:.0f}s bound (max_wait_seconds). "
                            "Retry later, use a token with a higher limit (HF_TOKEN), or raise the bound."
                        )
                    return response
            time.sleep(wait)
            waited += wait
        raise AssertionError("unreachable: the last try returns or raises")

    def wait_turn(self, url: str, waited: float) -> Turn | None:
        """The request's turn in its rate-limit bucket (None when not paced), within what is left of the bound."""
        if self.pacer is None:
            return None
        try:
            return self.pacer.wait_turn(url, self.max_wait_seconds - waited)
        except PaceTooLong as error:
            raise HubRateLimitError(
                f"Hub rate limit on GET {strip_query(url)}: the {error.bucket} quota asks to wait {error.wait:.0f}s "
                f"more after {waited + error.waited:.0f}s, past the {self.max_wait_seconds:.0f}s bound "
                "(max_wait_seconds). Retry later, use a token with a higher limit (HF_TOKEN), or raise the bound."
            ) from None

    def send_paced(
        self, turn: Turn | None, url: str, params: dict[str, Any] | None, headers: dict[str, str], max_bytes: int | None
    ) -> httpx2.Response:
        """`send_once`, its outcome told to the pacer: the Hub's rate-limit headers (of the first answer, when
        it redirected elsewhere), and for a 429 how long the Hub asked every request to wait."""
        if turn is None:
            return self.send_once(url, params, headers, max_bytes)
        try:
            response = self.send_once(url, params, headers, max_bytes)
        except BaseException:
            self.pacer.answered(turn, None, None)
            raise
        hub_headers = response.history[0].headers if response.history else response.headers
        hold = (hub_wait(hub_headers) or 0.0) if response.status_code == 429 else 0.0
        self.pacer.answered(turn, response.status_code, hub_headers, hold)
        return response

    def send_once(
        self, url: str, params: dict[str, Any] | None, headers: dict[str, str], max_bytes: int | None
    ) -> httpx2.Response:
        """One try, bounded as a whole by `timeout_seconds`: a body still arriving then ends as a ReadTimeout.

        Redirects are followed by huggingface_hub's session, which drops the token for another origin
        (the Hub sends file downloads to its storage host).
        """
        deadline = time.monotonic() + self.timeout_seconds
        with get_session().stream("GET", url, params=params, headers=headers, timeout=self.timeout_seconds) as response:
            body = bytearray()
            with cut_off_at(deadline, response):
                try:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if max_bytes is not None and len(body) >= max_bytes:
                            del body[max_bytes:]
                            break
                except httpx2.RemoteProtocolError:
                    if time.monotonic() <= deadline:
                        raise
            if time.monotonic() > deadline and (max_bytes is None or len(body) < max_bytes):
                raise httpx2.ReadTimeout(f"GET {strip_query(url)} took longer than {self.timeout_seconds:g}s in all")
        kept = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in DECODED_HEADERS]
        return httpx2.Response(response.status_code, headers=kept, content=bytes(body), request=response.request,
                               history=response.history)

    def worst_case_seconds(self) -> float:
        """The longest one request can take before it gives up: every try timing out, plus the waits between."""
        return (self.max_retries + 1) * self.timeout_seconds + self.max_wait_seconds

    def url(self, path: str) -> str:
        """The endpoint's URL for `path` (which starts with `/`)."""
        return f"{self.endpoint.rstrip('/')}{path}"

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[list[bytes]]:
        """Every page of a paginated Hub listing, following the absolute `Link: rel="next"` URLs: each
        page as the JSON text of its items, exactly as sent (`page_items`)."""
        url: str | None = self.url(path)
        fetched: dict[tuple, int] = {}  # each page's URL (as `page_key`) → its number in this listing
        while url is not None:
            fetched[page_key(url, params)] = len(fetched) + 1
            response = self.listing_get(url, params)
            yield page_items(response, strip_query(url))
            url, params = response.links.get("next", {}).get("url"), None  # the next URL carries the query
            if url is not None and (seen := fetched.get(page_key(url, None))) is not None:
                raise HubListingLoopError(
                    f"The Hub's listing loops: the Link of page {len(fetched)} leads back to {url}, already fetched "
                    f"as page {seen}; the listing stops there and nothing of it is stored."
                )

    def listing_get(self, url: str, params: dict[str, Any] | None) -> httpx2.Response:
        """`get` for a listing page: a 401, 403 or 404 there means a wrong HF_ENDPOINT or HF_TOKEN."""
        response = self.request(url, params)
        if response.status_code in (401, 403):
            token = "HF_TOKEN was refused" if self.token else "anonymous access was refused"
            raise HubSetupError(
                f"{token} by HF_ENDPOINT={self.endpoint} ({response.status_code} on GET {strip_query(url)}): "
                "check or unset HF_TOKEN (public models need none)"
            )
        if response.status_code == 404:
            raise HubSetupError(
                f"HF_ENDPOINT={self.endpoint} has no model listing (404 on GET {strip_query(url)}): "
                "is it a Hugging Face Hub or mirror URL, such as https://huggingface.co?"
            )
        hf_raise_for_status(response)
        return response


_JSON_LIST_OF_RAW = msgspec.json.Decoder(list[msgspec.Raw])


@cache
def library_version() -> str:
    """This package's version, for the user agent (read once: importlib.metadata parses a file each time)."""
    return version("pocketai_pipeline")


def page_items(response: httpx2.Response, where: str) -> list[bytes]:
    """The JSON text of each item of a listing page, one line each (newlines between tokens become spaces).

    Checked to be a JSON list in UTF-8, without parsing the items into Python objects. What Python's
    json reads but strict JSON does not (NaN, a lone surrogate) is kept as Python reads it.
    """
    body = response.content
    try:
        items = _JSON_LIST_OF_RAW.decode(body)
        body.decode("utf-8")  # the raw items' strings are not checked by msgspec
        return [bytes(item).replace(b"\n", b" ") for item in items]
    except msgspec.ValidationError:
        raise HubResponseError(f"GET {where} returned {_json_kind(body)}, expected a JSON list") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass
    try:
        page = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        sent = response.headers.get("content-type", "no content type")
        raise HubResponseError(f"GET {where} returned {sent}, not JSON: {body[:80]!r}") from None
    if not isinstance(page, list):
        raise HubResponseError(f"GET {where} returned {type(page).__name__}, expected a JSON list")
    return [json.dumps(item, separators=(",", ":")).encode() for item in page]


def _json_kind(body: bytes) -> str:
    return type(json.loads(body)).__name__


@contextmanager
def cut_off_at(deadline: float, response: httpx2.Response) -> Iterator[None]:
    """Shut the response's socket down at `deadline`, so that a body trickling in a byte at a time
    cannot outlast it (each read's own timeout restarts with every byte)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None

    def shut_down() -> None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), shut_down) if sock is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def retry_wait(headers: httpx2.Headers, attempt: int) -> float:
    """Seconds to wait before retrying: the Hub's `RateLimit`/`Retry-After`, else jittered backoff."""
    said = hub_wait(headers)
    return backoff_wait(attempt) if said is None else said


def hub_wait(headers: httpx2.Headers) -> float | None:
    """What the Hub's headers ask to wait: the reset of a spent `RateLimit`, else `Retry-After`; None if neither."""
    rate_limit = parse_ratelimit_headers(headers)
    if rate_limit is not None and rate_limit.remaining == 0:
        return float(rate_limit.reset_in_seconds)
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    return None


def backoff_wait(attempt: int) -> float:
    """Exponential backoff with jitter: about 1, 2, 4, 8, 16 s, never more than 30 s."""
    return random.uniform(0.5, 1.0) * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)


def page_key(url: str, params: dict[str, Any] | None) -> tuple:
    """A listing page's URL as the server sees it: origin, path and the query's pairs in any order."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(str(k), str(v)) for k, v in (params or {}).items()]
    return parts.scheme, parts.hostname, parts.port, parts.path.rstrip("/"), tuple(sorted(query))


def same_origin(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def strip_query(url: str) -> str:
    return url.split("?", 1)[0]
