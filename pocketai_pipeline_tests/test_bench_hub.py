"""`make bench-hub` keeps working: one paced cold start against its fake Hub process, at a small size and quota."""

import pytest

from benchmarks import bench_hub


def test_the_floor_is_the_windows_a_fixed_quota_needs_beyond_the_first():
    quotas = {"api": 500, "resolvers": 3000}
    assert bench_hub.floor_seconds({"api": 2505, "resolvers": 4249}, quotas, 20) == 100  # 6 api windows: 5 waited
    assert bench_hub.floor_seconds({"api": 500, "resolvers": 3001}, quotas, 20) == 20  # resolvers decide
    assert bench_hub.floor_seconds({"api": 10, "resolvers": 0}, quotas, 20) == 0


def test_a_paced_cold_start_meets_no_429_and_ends_near_the_floor():
    quotas = {"api": 40, "resolvers": 240}  # the Hub's 500:3000, small enough for 100 models to need 3 windows
    hub = bench_hub.hub_process(100, quotas, window=2.0)
    try:
        seconds, models, files, failed = bench_hub.cold_start(hub.url, None, paced=True, workers=4)
        stats = hub.stats()
    finally:
        hub.stop()

    calls = {bucket: stats[bucket]["calls"] for bucket in quotas}
    floor = bench_hub.floor_seconds(calls, quotas, 2.0)
    assert (models, failed) == (100, 0) and files > 0
    assert calls["api"] > 100 and calls["resolvers"] == 100 + bench_hub.HEADER_READS * files
    assert stats["api"]["429s"] == stats["resolvers"]["429s"] == 0
    assert floor == 4 and seconds == pytest.approx(floor, rel=0.25)
    run = bench_hub.Run("anonymous", "paced", seconds, models, files, calls, {"api": 0, "resolvers": 0}, floor, 2.0, 0)
    assert "| anonymous | paced | 100 |" in bench_hub.table([run], scale=150)
