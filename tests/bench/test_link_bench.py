"""``bench/link_bench.py`` runs end to end and returns its figures (quick mode; no timing asserted)."""

from __future__ import annotations

from bench import link_bench


async def test_quick_run_applies_every_change():
    figures = await link_bench._measure(4)
    assert figures["changes"] == 8
    assert figures["members"] == 4
    assert figures["all_added"] is True
    assert figures["batch_seconds"] > 0
    assert figures["one_by_one_seconds"] > 0
