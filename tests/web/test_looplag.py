"""The event-loop lag probe and its figures in /healthz."""

from __future__ import annotations

import asyncio
import time

from web.looplag import LoopLagProbe


async def test_the_probe_sees_a_loop_held_by_blocking_work():
    probe = LoopLagProbe(interval=0.005, window=10)
    probe.start()
    try:
        await asyncio.sleep(0.05)
        quiet = probe.summary()
        time.sleep(0.12)  # noqa: ASYNC251 - holding the loop is the point
        await asyncio.sleep(0.02)
        held = probe.summary()
    finally:
        probe.stop()
    assert quiet["samples"] >= 3
    assert quiet["max"] < 100
    assert held["max"] >= 100
    assert held["samples"] > quiet["samples"]


async def test_the_window_leaves_older_samples_out():
    probe = LoopLagProbe(interval=0.005, window=10)
    probe.start()
    try:
        time.sleep(0.1)  # noqa: ASYNC251
        await asyncio.sleep(0.3)
        recent = probe.summary(0.2)
        everything = probe.summary()
    finally:
        probe.stop()
    assert everything["max"] >= 90
    assert recent["max"] < 90
    assert recent["window_s"] == 0.2


async def test_healthz_reports_loop_lag(client_for):
    client = await client_for()
    await asyncio.sleep(0.05)
    time.sleep(0.1)  # noqa: ASYNC251
    await asyncio.sleep(0.03)
    response = await client.get("/healthz", params={"window": "5"})
    lag = (await response.json())["loop_lag_ms"]
    assert lag["samples"] >= 3
    assert lag["max"] >= 90
    assert lag["p50"] <= lag["p99"] <= lag["max"]
    assert lag["window_s"] == 5


async def test_healthz_refuses_a_bad_window(client_for):
    client = await client_for()
    for raw in ("0", "61", "soon"):
        response = await client.get("/healthz", params={"window": raw})
        assert response.status == 400
        assert "window" in await response.text()
