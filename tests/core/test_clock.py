import asyncio

import pytest

from core.clock import Clock, ManualClock


async def test_manual_clock_runs_due_timers_in_deadline_order_at_their_moment():
    clock = ManualClock(start=1000.0)
    seen: list[tuple[str, float]] = []

    async def note(name: str) -> None:
        seen.append((name, clock.time()))

    clock.call_later(30, lambda: note("once"))
    clock.every(20, lambda: note("tick"))
    await clock.advance(50)
    assert seen == [("tick", 1020.0), ("once", 1030.0), ("tick", 1040.0)]
    assert clock.time() == 1050.0
    assert clock.pending() == [(1060.0, "timer")]


async def test_cancelled_timers_do_not_run():
    clock = ManualClock()
    ran = []

    async def run() -> None:
        ran.append(True)

    timer = clock.every(5, run)
    await clock.advance(5)
    timer.cancel()
    await clock.advance(60)
    assert ran == [True]


async def test_timer_errors_are_collected_and_do_not_stop_the_clock():
    clock = ManualClock()
    ran = []

    async def broken() -> None:
        raise ValueError("boom")

    async def fine() -> None:
        ran.append(clock.monotonic())

    clock.call_later(1, broken)
    clock.call_later(2, fine)
    await clock.advance(3)
    assert ran == [2.0]
    assert [type(e) for e in clock.errors] == [ValueError]


async def test_sleepers_wake_when_time_passes():
    clock = ManualClock()
    woke = asyncio.Event()

    async def sleeper() -> None:
        await clock.sleep(10)
        woke.set()

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    await clock.advance(9)
    assert not woke.is_set()
    await clock.advance(1)
    await asyncio.wait_for(woke.wait(), 1)
    await task


async def test_clock_never_goes_back():
    with pytest.raises(ValueError, match="never goes back"):
        await ManualClock().advance(-1)


async def test_real_clock_runs_a_timer():
    done = asyncio.Event()

    async def mark() -> None:
        done.set()

    Clock().call_later(0, mark)
    await asyncio.wait_for(done.wait(), 1)
