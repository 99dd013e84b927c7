"""``bench/link_bench.py`` runs end to end and returns its figures (a small run; no timing asserted)."""

from __future__ import annotations

from bench import link_bench
from fakediscord.ratelimits import Limit


def test_least_seconds_is_the_start_of_the_last_window() -> None:
    roles, everything = Limit(10, 1.0), Limit(50, 1.0)
    assert link_bench.least_seconds(50, roles, everything) == 4.0
    assert link_bench.least_seconds(10, roles, everything) == 0.0
    assert link_bench.least_seconds(11, roles, everything) == 1.0
    assert link_bench.least_seconds(120, Limit(100, 1.0), everything) == 2.0  # the global limit binds
    assert link_bench.least_seconds(120, None, None) == 0.0


async def test_a_small_run_applies_every_change_without_a_429():
    figures = await link_bench._measure(12)
    assert (figures["changes"], figures["members"], figures["calls"]) == (24, 12, 12)
    assert figures["all_added"] is True
    assert figures["rate_limited"] == 0
    assert figures["least_seconds"] == 1.0
    assert figures["seconds"] >= 1.0  # the limits were in force
    assert link_bench.passed(figures | {"ratio": 1.3}) is False
    assert link_bench.passed(figures | {"ratio": 1.1, "rate_limited": 1}) is False
