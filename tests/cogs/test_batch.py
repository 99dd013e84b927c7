"""Gathering per-event work into batches: nothing lost, one flush at a time, failures reported."""

from __future__ import annotations

import asyncio

from cogs._batch import Batcher


def make(flushed: list[list[int]], *, gate: asyncio.Event | None = None, fail_first: bool = False):
    reports: list[tuple[str, BaseException]] = []
    tasks: list[asyncio.Task] = []

    async def flush(items: list[int]) -> None:
        if gate is not None:
            await gate.wait()
        if fail_first and not reports:
            reports.append(("pending", RuntimeError()))  # placeholder replaced by the real report below
            raise RuntimeError("database is gone")
        flushed.append(items)

    def report(where: str, error: BaseException) -> None:
        reports[-1] = (where, error)

    batcher: Batcher[int] = Batcher(flush, name="test", track=tasks.append, report=report, min_interval=0.0)
    return batcher, reports, tasks


async def test_items_gathered_during_a_flush_share_the_next_one():
    flushed: list[list[int]] = []
    gate = asyncio.Event()
    batcher, _, tasks = make(flushed, gate=gate)
    batcher.add(0)
    await asyncio.sleep(0)  # the first flush starts and waits on the gate
    for n in range(1, 50):
        batcher.add(n)
    assert len(batcher) == 49
    gate.set()
    await batcher.close()
    assert flushed == [[0], list(range(1, 50))]
    assert len(tasks) == 1  # one flush task at a time, tracked for whoever waits for the bot to be idle


async def test_close_flushes_what_was_gathered():
    flushed: list[list[int]] = []
    batcher, _, _ = make(flushed)
    batcher._min_interval = 60.0  # the next flush would wait a minute
    batcher.add(1)
    await asyncio.sleep(0)
    batcher.add(2)
    batcher.add(3)
    await asyncio.wait_for(batcher.close(), 5)
    assert [n for items in flushed for n in items] == [1, 2, 3]
    assert len(batcher) == 0


async def test_flushes_are_spaced_by_the_interval():
    flushed: list[list[int]] = []
    batcher, _, tasks = make(flushed)
    batcher._min_interval = 0.05
    loop = asyncio.get_running_loop()
    started = loop.time()
    batcher.add(1)
    await asyncio.sleep(0)
    batcher.add(2)
    await tasks[-1]
    assert flushed == [[1], [2]]
    assert loop.time() - started >= 0.045


async def test_a_failed_flush_is_reported_and_later_items_still_flush():
    flushed: list[list[int]] = []
    batcher, reports, _ = make(flushed, fail_first=True)
    batcher.add(1)
    await batcher.close()
    batcher.add(2)
    await batcher.close()
    assert flushed == [[2]]
    assert reports[0][0] == "test flush of 1"
    assert str(reports[0][1]) == "database is gone"
