"""One pace per Hub rate-limit bucket, shared by every request and worker of a run (contract rule 11).

The Hub counts calls in fixed windows per bucket: `api` (every `/api/…` call) and `resolvers`
(`/<id>/resolve/…`), and says on every answer where the caller stands:
`RateLimit: "api";r=<remaining>;t=<seconds to reset>` and
`RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window seconds>`.

A `Pacer` keeps, per bucket, the remaining calls and the window's end as the Hub last said them (less
what was sent since), and gives each request its turn:

- When the calls still planned (`meter(api=…, resolvers=…)`) exceed what the window has left, the
  remaining quota is spent evenly up to the window's end, one turn every `time left / remaining`
  seconds, whatever the number of workers. When they fit, or nothing is planned, a request goes at once.
- With nothing left, every request waits for the window's end; a 429 (the Hub saw otherwise) does
  the same, for as long as its `RateLimit`/`Retry-After` say.
- While the bucket's state is unknown (the run's first request, or a window that ended since the last
  answer), one request goes alone and the others wait for its answer, so a spent window costs one 429,
  not one per worker.
- Before any header, and whenever the headers are missing or malformed, the documented quota applies:
  anonymous api 500 and resolvers 3,000 per 300 s, with a token 1,000 and 5,000, until the Hub
  announces another (`RateLimit-Policy`).

No turn waits longer than the caller's bound: `wait_turn` raises `PaceTooLong` instead, and the client
reports it as the Hub's rate limit. Requests to any other origin (a storage host a resolve redirects
to) are not paced. `QuotaUsage` is what a step shows: calls per bucket, 429s met, seconds spent waiting
for the quota, and the lowest `remaining` the Hub reported.
"""

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from huggingface_hub.utils import parse_ratelimit_headers

API = "api"
RESOLVERS = "resolvers"
BUCKETS = (API, RESOLVERS)
DOCUMENTED_WINDOW_SECONDS = 300.0
ANONYMOUS_QUOTAS = {API: 500, RESOLVERS: 3000}
TOKEN_QUOTAS = {API: 1000, RESOLVERS: 5000}
# The Hub gives `t` in whole seconds: an answer whose window ends at least this much later than the
# one known is a new window; an earlier one narrows the known end (`t` is rounded).
NEW_WINDOW_SLACK_SECONDS = 1.0
PROBE_POLL_SECONDS = 0.5
_POLICY_BUCKET = re.compile(r'"(?P<name>[^"]+)"\s*;\s*q\s*=')


class PaceTooLong(RuntimeError):
    """The bucket's quota would make this request wait past the caller's bound."""

    def __init__(self, bucket: str, wait: float, waited: float):
        super().__init__(f"the {bucket} quota asks to wait {wait:.0f}s more after {waited:.0f}s")
        self.bucket, self.wait, self.waited = bucket, wait, waited


@dataclass(frozen=True)
class BucketUsage:
    """One bucket's figures over a step (or the pacer's life)."""

    calls: int = 0
    rate_limited: int = 0
    """Answers of 429."""
    waited_seconds: float = 0.0
    """Wall-clock seconds during which requests were held back for the quota (overlaps counted once)."""
    lowest_remaining: int | None = None
    """The lowest `r` the Hub reported; None when no answer carried a readable header."""
    quota: int = 0
    window_seconds: float = DOCUMENTED_WINDOW_SECONDS
    """The quota in force at the end: announced by the Hub, else the documented one."""


@dataclass(frozen=True)
class QuotaUsage:
    api: BucketUsage = field(default_factory=BucketUsage)
    resolvers: BucketUsage = field(default_factory=BucketUsage)

    def buckets(self) -> dict[str, BucketUsage]:
        return {API: self.api, RESOLVERS: self.resolvers}


@dataclass(frozen=True)
class Turn:
    """A request's turn in a bucket: hand it back to `Pacer.answered` once the request ends."""

    bucket: str
    probe: bool
    sent_at: float
    waited: float


@dataclass(frozen=True)
class RateLimitHeader:
    bucket: str
    remaining: int
    reset_seconds: float
    quota: int | None
    window_seconds: float | None


def read_rate_limit(headers: Mapping[str, str]) -> RateLimitHeader | None:
    """The Hub's `RateLimit` (and, when it names the same bucket, `RateLimit-Policy`); None if missing or malformed."""
    info = parse_ratelimit_headers(headers)
    if info is None or info.resource_type not in BUCKETS:
        return None
    quota, window = info.limit, info.window_seconds
    policy = next((value for name, value in headers.items() if name.lower() == "ratelimit-policy"), "")
    named = _POLICY_BUCKET.search(policy)
    if quota is None or window is None or not quota or not window or (named and named["name"] != info.resource_type):
        quota, window = None, None
    if window is not None and info.reset_in_seconds > window:
        return None  # a reset past the window's own length: not a header to plan on
    return RateLimitHeader(info.resource_type, info.remaining, float(info.reset_in_seconds), quota,
                           None if window is None else float(window))


class _Tally:
    """Counts of one meter (or the pacer's total) for one bucket; updated under the pacer's lock."""

    def __init__(self) -> None:
        self.calls = 0
        self.rate_limited = 0
        self.waited = 0.0
        self.covered_until = -math.inf
        self.lowest: int | None = None

    def wait(self, start: float, end: float) -> None:
        if end > start:
            self.waited += max(0.0, end - max(start, self.covered_until))
            self.covered_until = max(self.covered_until, end)

    def usage(self, bucket: "_Bucket") -> BucketUsage:
        return BucketUsage(self.calls, self.rate_limited, round(self.waited, 3), self.lowest, bucket.quota, bucket.window)


class _Bucket:
    def __init__(self, name: str, quota: int) -> None:
        self.name = name
        self.quota = quota
        self.window = DOCUMENTED_WINDOW_SECONDS
        self.known = False  # remaining and window_end come from an answer in the current window
        self.window_end: float | None = None
        self.remaining = quota
        self.probing = False
        self.in_flight: list[float] = []  # the turn times of requests not answered yet
        self.last_turn = -math.inf
        self.planned = 0


class QuotaMeter:
    """A step's figures: counts every paced request made while it is open (a context manager)."""

    def __init__(self, pacer: "Pacer", planned: Mapping[str, int]) -> None:
        self._pacer = pacer
        self._planned = {bucket: max(0, int(planned.get(bucket, 0))) for bucket in BUCKETS}
        self.tallies = {bucket: _Tally() for bucket in BUCKETS}

    def __enter__(self) -> "QuotaMeter":
        self._pacer._open(self, self._planned)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pacer._close(self, self._planned)

    def usage(self) -> QuotaUsage:
        return self._pacer._usage(self.tallies)


class Pacer:
    """The pace of one run against one endpoint; thread-safe, shared by all its clients and workers."""

    def __init__(
        self,
        endpoint: str,
        *,
        token: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(endpoint)
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self._base_path = parts.path.rstrip("/")
        quotas = TOKEN_QUOTAS if token else ANONYMOUS_QUOTAS
        self._buckets = {name: _Bucket(name, quotas[name]) for name in BUCKETS}
        self._clock, self._sleep = clock, sleep
        self._condition = threading.Condition()
        self._total = {bucket: _Tally() for bucket in BUCKETS}
        self._meters: list[QuotaMeter] = []

    def bucket(self, url: str) -> str | None:
        """`api` for `/api/…` and `resolvers` for `/<id>/resolve/…` on the endpoint's origin; None otherwise."""
        parts = urlsplit(url)
        if (parts.scheme, parts.hostname, parts.port) != self._origin:
            return None
        path = parts.path[len(self._base_path):] if parts.path.startswith(self._base_path) else parts.path
        if path.startswith("/api/"):
            return API
        return RESOLVERS if "/resolve/" in path else None

    def meter(self, **planned: int) -> QuotaMeter:
        """Figures for the requests made inside `with`; `planned` calls per bucket let the pace run at full
        speed once they fit in the window (`meter(api=n, resolvers=n)`)."""
        unknown = set(planned) - set(BUCKETS)
        if unknown:
            raise ValueError(f"unknown rate-limit buckets {sorted(unknown)}; the Hub's are {list(BUCKETS)}")
        return QuotaMeter(self, planned)

    def usage(self) -> QuotaUsage:
        """Everything since the pacer was made."""
        with self._condition:
            return self._usage(self._total)

    def wait_turn(self, url: str, max_wait: float) -> Turn | None:
        """Wait until the request to `url` may go; None when `url` is not paced. Raises `PaceTooLong`
        rather than wait more than `max_wait` seconds for the quota."""
        name = self.bucket(url)
        if name is None:
            return None
        bucket = self._buckets[name]
        waited = 0.0
        while True:
            taken: Turn | None = None
            with self._condition:
                now = self._clock()
                if bucket.window_end is not None and now >= bucket.window_end:
                    bucket.known, bucket.window_end, bucket.remaining = False, None, bucket.quota
                probe = not bucket.known
                if probe and bucket.probing:
                    self._condition.wait(PROBE_POLL_SECONDS)  # another request is finding out where the window stands
                    continue
                if not probe and bucket.remaining <= 0:
                    wait = bucket.window_end - now
                    if waited + wait > max_wait:
                        raise PaceTooLong(name, wait, waited)
                    self._tally_wait(name, now, bucket.window_end)
                else:
                    turn = now if probe else self._next_turn(bucket, now)
                    wait = turn - now
                    if waited + wait > max_wait:
                        raise PaceTooLong(name, wait, waited)
                    bucket.probing = bucket.probing or probe
                    bucket.last_turn = turn
                    bucket.remaining -= 1
                    bucket.planned = max(0, bucket.planned - 1)
                    bucket.in_flight.append(turn)
                    self._tally_wait(name, now, turn)
                    for tally in self._tallies(name):
                        tally.calls += 1
                    taken = Turn(name, probe, turn, waited + wait)
            if wait > 0:
                self._sleep(wait)
            if taken is not None:
                return taken
            waited += wait

    def answered(self, turn: Turn | None, status: int | None, headers: Mapping[str, str] | None,
                 hold_seconds: float = 0.0) -> None:
        """What came back for `turn`: the status and headers, or None for both when no answer came.
        `hold_seconds` (for a 429): how long the caller will wait before trying again."""
        if turn is None:
            return
        bucket = self._buckets[turn.bucket]
        with self._condition:
            now = self._clock()
            if turn.sent_at in bucket.in_flight:
                bucket.in_flight.remove(turn.sent_at)
            header = read_rate_limit(headers) if headers is not None else None
            if header is not None and header.bucket != turn.bucket:
                header = None  # another bucket's figures: not ours to plan on
            if status == 429:
                for tally in self._tallies(turn.bucket):
                    tally.rate_limited += 1
            if header is not None:
                self._observe(bucket, header, now, turn.sent_at)
            elif turn.probe and not bucket.known:
                # No readable header: the documented (or last announced) quota, in a window from this request.
                bucket.known, bucket.window_end = True, turn.sent_at + bucket.window
            if status == 429:
                end = now + max(hold_seconds, header.reset_seconds if header is not None else 0.0)
                bucket.known, bucket.remaining = True, 0
                bucket.window_end = max(bucket.window_end or end, end)
                self._tally_wait(turn.bucket, now, end)
            if turn.probe:
                bucket.probing = False
            self._condition.notify_all()

    # --- inside the lock ----------------------------------------------------------------------------

    def _observe(self, bucket: _Bucket, header: RateLimitHeader, now: float, sent_at: float) -> None:
        for tally in self._tallies(bucket.name):
            tally.lowest = header.remaining if tally.lowest is None else min(tally.lowest, header.remaining)
        if header.quota is not None and header.window_seconds is not None:
            bucket.quota, bucket.window = header.quota, header.window_seconds
        end = now + header.reset_seconds
        # Requests whose turn came after this one's are not in the Hub's count yet, but will be.
        remaining = max(0, header.remaining - sum(1 for turn in bucket.in_flight if turn > sent_at))
        if not bucket.known or bucket.window_end is None or end >= bucket.window_end + NEW_WINDOW_SLACK_SECONDS:
            bucket.known, bucket.window_end, bucket.remaining = True, end, remaining
        else:
            bucket.window_end = min(bucket.window_end, end)
            bucket.remaining = min(bucket.remaining, remaining)

    def _next_turn(self, bucket: _Bucket, now: float) -> float:
        """Now, while the planned calls fit in what the window has left; else the time from the last turn
        given (it may be ahead: workers queue) to the window's end, spread evenly over the remaining
        calls, the last one before the end."""
        if max(bucket.planned, 1) <= bucket.remaining:
            return now
        start = bucket.last_turn if bucket.last_turn > -math.inf else now
        return max(now, start + max(0.0, bucket.window_end - start) / (bucket.remaining + 1))

    def _tallies(self, bucket: str) -> list[_Tally]:
        return [self._total[bucket], *(meter.tallies[bucket] for meter in self._meters)]

    def _tally_wait(self, bucket: str, start: float, end: float) -> None:
        for tally in self._tallies(bucket):
            tally.wait(start, end)

    def _open(self, meter: QuotaMeter, planned: Mapping[str, int]) -> None:
        with self._condition:
            self._meters.append(meter)
            for name, calls in planned.items():
                self._buckets[name].planned += calls

    def _close(self, meter: QuotaMeter, planned: Mapping[str, int]) -> None:
        with self._condition:
            self._meters.remove(meter)
            for name, calls in planned.items():
                spent = meter.tallies[name].calls
                bucket = self._buckets[name]
                bucket.planned = max(0, bucket.planned - max(0, calls - spent))

    def _usage(self, tallies: Mapping[str, _Tally]) -> QuotaUsage:
        with self._condition:
            return QuotaUsage(**{name: tallies[name].usage(self._buckets[name]) for name in BUCKETS})
