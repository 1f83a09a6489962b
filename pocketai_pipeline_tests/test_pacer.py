"""The pacer on its own, on a simulated clock: how it reads the Hub's headers and spaces the turns (rule 11)."""

import math

import pytest

from pocketai_pipeline.hub.pacer import PaceTooLong, Pacer, read_rate_limit

ENDPOINT = "https://hub.example"


class Clock:
    """A clock that moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def pacer(clock: Clock, token: bool = False) -> Pacer:
    return Pacer(ENDPOINT, token=token, clock=clock, sleep=clock.sleep)


def headers(bucket: str, remaining: int, reset: int, quota: int, window: int = 300) -> dict[str, str]:
    return {"RateLimit": f'"{bucket}";r={remaining};t={reset}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota};w={window}'}


def call(p: Pacer, url: str, answer: dict[str, str] | None, status: int = 200, max_wait: float = 300.0) -> float:
    """One request: its turn, then the answer; the seconds it waited."""
    turn = p.wait_turn(url, max_wait)
    p.answered(turn, status, answer)
    return turn.waited


API_URL = f"{ENDPOINT}/api/models/a/b/revision/c"
CARD_URL = f"{ENDPOINT}/a/b/resolve/c/README.md"


def test_buckets_are_api_and_resolvers_on_the_endpoint_only():
    p = Pacer("https://hub.example/mirror")
    assert p.bucket("https://hub.example/mirror/api/models?filter=litert") == "api"
    assert p.bucket("https://hub.example/mirror/org/name/resolve/abc/model.litertlm") == "resolvers"
    assert p.bucket("https://cdn.example/org/name/resolve/abc/x") is None  # a storage host: not paced
    assert p.bucket("http://hub.example/mirror/api/models") is None  # another origin
    assert Pacer(ENDPOINT).wait_turn("https://cas.example/blob", 0) is None


def test_the_headers_are_read_with_their_policy_and_bad_ones_are_refused():
    read = read_rate_limit(headers("resolvers", 12, 40, 3000))
    assert (read.bucket, read.remaining, read.reset_seconds, read.quota, read.window_seconds) == ("resolvers", 12, 40, 3000, 300)
    assert read_rate_limit({}) is None
    assert read_rate_limit({"RateLimit": '"api";r=lots;t=soon'}) is None
    assert read_rate_limit({"RateLimit": '"pages";r=1;t=2'}) is None  # not a bucket we know
    assert read_rate_limit({"RateLimit": '"api";r=1;t=900', "RateLimit-Policy": '"fixed window";"api";q=5;w=300'}) is None
    other_policy = read_rate_limit({"RateLimit": '"api";r=1;t=2', "RateLimit-Policy": '"fixed window";"resolvers";q=9;w=300'})
    assert (other_policy.remaining, other_policy.quota) == (1, None)


class Window:
    """The Hub's fixed window on the simulated clock: `quota` calls per `window` s from the window's first call."""

    def __init__(self, clock: Clock, quota: int, window: int) -> None:
        self.clock, self.quota, self.window = clock, quota, window
        self.started: float | None = None
        self.used = 0
        self.limited = 0

    def answer(self) -> tuple[int, dict[str, str]]:
        now = self.clock()
        if self.started is None or now >= self.started + self.window:
            self.started, self.used = now, 0
        self.used += 1
        reset = max(1, math.ceil(self.started + self.window - now))
        self.limited += self.used > self.quota
        return (429 if self.used > self.quota else 200), headers("api", max(0, self.quota - self.used), reset, self.quota, self.window)


def test_planned_calls_beyond_the_window_are_spread_evenly_to_its_end():
    clock = Clock()
    p = pacer(clock)
    hub = Window(clock, quota=10, window=10)
    with p.meter(api=35) as meter:
        for _ in range(35):
            turn = p.wait_turn(API_URL, 300)
            p.answered(turn, *hub.answer())

    # 10 calls a window, each window's spread to its end, the last 5 at once: 3 windows and a little.
    assert 30 <= clock.now - 1000 <= 31
    assert hub.limited == 0
    usage = meter.usage().api
    assert (usage.calls, usage.rate_limited, usage.lowest_remaining, usage.quota) == (35, 0, 0, 10)


def test_the_turns_of_a_window_are_evenly_spaced():
    clock = Clock()
    p = pacer(clock)
    hub = Window(clock, quota=10, window=10)
    times = []
    with p.meter(api=100):
        for _ in range(10):
            turn = p.wait_turn(API_URL, 300)
            times.append(clock.now)
            p.answered(turn, *hub.answer())

    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps == [pytest.approx(1.0)] * 9  # the window's 10 calls one every 10/10 s, the last before its end


def test_calls_that_fit_in_the_window_go_at_once_and_a_spent_window_waits_for_its_end():
    clock = Clock()
    p = pacer(clock)
    with p.meter(api=3) as meter:
        assert [call(p, API_URL, headers("api", 2 - i, 30, 3, window=30)) for i in range(3)] == [0, 0, 0]
        waited = call(p, API_URL, headers("api", 2, 30, 3, window=30))  # the window is spent: its end, then a probe

    assert waited == pytest.approx(30)
    usage = meter.usage().api
    assert (usage.calls, usage.waited_seconds, usage.lowest_remaining) == (4, pytest.approx(30), 0)


def test_a_wait_past_the_bound_raises_instead_of_waiting():
    clock = Clock()
    p = pacer(clock)
    call(p, API_URL, headers("api", 0, 200, 500))
    with pytest.raises(PaceTooLong) as raised:
        p.wait_turn(API_URL, max_wait=60)
    assert raised.value.wait == pytest.approx(200) and clock.now == 1000  # nothing slept


@pytest.mark.parametrize("token, quota", [(False, 500), (True, 1000)])
@pytest.mark.parametrize("answer", [None, {"RateLimit": '"api";r=lots;t=soon'}], ids=["missing", "malformed"])
def test_without_a_readable_header_the_documented_quota_paces_the_calls(token, quota, answer):
    clock = Clock()
    p = pacer(clock, token=token)
    with p.meter(api=2 * quota) as meter:
        waits = [call(p, API_URL, answer) for _ in range(4)]

    assert waits[0] == 0
    assert waits[1:] == [pytest.approx(300 / (quota - 1), rel=0.02)] * 3  # the documented quota over 300 s
    assert meter.usage().api.quota == quota and meter.usage().api.lowest_remaining is None


def test_a_lower_quota_announced_mid_window_slows_the_pace():
    clock = Clock()
    p = pacer(clock)
    with p.meter(api=1000):
        call(p, API_URL, headers("api", 499, 300, 500))
        before = call(p, API_URL, headers("api", 498, 299, 500))
        call(p, API_URL, headers("api", 20, 298, 50))  # the Hub now allows 50: 20 left
        after = call(p, API_URL, headers("api", 19, 297, 50))

    assert before == pytest.approx(300 / 499, rel=0.01)
    assert after == pytest.approx(298 / 20, rel=0.05)


def test_a_429_holds_every_turn_until_the_reset_and_is_counted():
    clock = Clock()
    p = pacer(clock)
    with p.meter() as meter:
        turn = p.wait_turn(API_URL, 300)
        p.answered(turn, 429, headers("api", 0, 45, 500), hold_seconds=46)
        waited = call(p, API_URL, headers("api", 499, 300, 500))

    assert waited == pytest.approx(46)
    usage = meter.usage().api
    assert (usage.calls, usage.rate_limited, usage.lowest_remaining) == (2, 1, 0)
    assert usage.waited_seconds == pytest.approx(46)


def test_each_bucket_keeps_its_own_pace_and_figures():
    clock = Clock()
    p = pacer(clock, token=True)
    with p.meter(api=1, resolvers=1) as meter:
        call(p, API_URL, headers("api", 0, 100, 1000))
        assert call(p, CARD_URL, headers("resolvers", 4999, 300, 5000)) == 0  # the api bucket is spent, not this one
    usage = meter.usage()
    assert (usage.api.calls, usage.resolvers.calls) == (1, 1)
    assert (usage.api.lowest_remaining, usage.resolvers.lowest_remaining) == (0, 4999)
    assert (usage.api.quota, usage.resolvers.quota) == (1000, 5000)


def test_a_meter_counts_only_what_happens_while_it_is_open():
    clock = Clock()
    p = pacer(clock)
    call(p, API_URL, headers("api", 10, 300, 500))
    with p.meter() as meter:
        call(p, API_URL, headers("api", 9, 300, 500))
    call(p, API_URL, headers("api", 8, 300, 500))
    assert (meter.usage().api.calls, meter.usage().api.lowest_remaining) == (1, 9)
    assert p.usage().api.calls == 3
    with pytest.raises(ValueError, match="unknown rate-limit buckets"):
        p.meter(cards=3)
