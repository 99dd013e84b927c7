"""One injected clock for the bot, its rate limiters and timers, and fakediscord's limits.

Timers are scheduled on the clock, not with ``asyncio.sleep``: a :class:`ManualClock` can then
advance time and run every timer that came due, in deadline order, before ``advance`` returns.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

TimerCallback = Callable[[], Awaitable[object]]


class Timer:
    """A handle to a scheduled callback; ``cancel()`` stops it (and a repeating one for good)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancelled = False
        self._task: asyncio.Task[None] | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self._task is not None:
            self._task.cancel()


class Clock:
    """Real time: epoch seconds from ``time.time`` and timers on the event loop."""

    # The builtin itself, without a method's frame: every API request reads the time (rate limits).
    time = staticmethod(time.time)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: TimerCallback, *, name: str = "timer") -> Timer:
        timer = Timer(name)

        async def run() -> None:
            await asyncio.sleep(max(0.0, delay))
            await _run_guarded(name, callback)

        timer._task = asyncio.get_running_loop().create_task(run(), name=f"clock:{name}")
        return timer

    def every(self, interval: float, callback: TimerCallback, *, name: str = "timer") -> Timer:
        """Run ``callback`` every ``interval`` seconds, the first time one interval from now."""
        timer = Timer(name)

        async def run() -> None:
            while True:
                await asyncio.sleep(interval)
                await _run_guarded(name, callback)

        timer._task = asyncio.get_running_loop().create_task(run(), name=f"clock:{name}")
        return timer


@dataclass(order=True)
class _Entry:
    deadline: float
    order: int
    timer: Timer = field(compare=False)
    callback: TimerCallback = field(compare=False)
    interval: float | None = field(compare=False, default=None)


class ManualClock(Clock):
    """Time that moves only when told to: tests and the sandbox advance it.

    ``advance(seconds)`` runs every timer that comes due on the way, each at its own moment
    (``time()`` reads the deadline while it runs), and returns when all of them have finished.
    """

    def __init__(self, start: float = 1_764_000_000.0) -> None:
        self._now = start
        self._start = start
        self._heap: list[_Entry] = []
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._lock = asyncio.Lock()
        self.errors: list[BaseException] = []

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._start

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    def call_later(self, delay: float, callback: TimerCallback, *, name: str = "timer") -> Timer:
        timer = Timer(name)
        heapq.heappush(self._heap, _Entry(self._now + max(0.0, delay), next(self._order), timer, callback))
        return timer

    def every(self, interval: float, callback: TimerCallback, *, name: str = "timer") -> Timer:
        if interval <= 0:
            raise ValueError("interval must be positive")
        timer = Timer(name)
        heapq.heappush(self._heap, _Entry(self._now + interval, next(self._order), timer, callback, interval))
        return timer

    def pending(self) -> list[tuple[float, str]]:
        """(deadline, name) of every live timer, soonest first."""
        return sorted((e.deadline, e.timer.name) for e in self._heap if not e.timer.cancelled)

    async def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock never goes back")
        async with self._lock:
            target = self._now + seconds
            while True:
                due = self._next_deadline()
                if due is None or due > target:
                    break
                self._now = max(self._now, due)
                await self._fire_due()
            self._now = target
            await self._wake_sleepers()

    def _next_deadline(self) -> float | None:
        candidates = []
        while self._heap and self._heap[0].timer.cancelled:
            heapq.heappop(self._heap)
        if self._heap:
            candidates.append(self._heap[0].deadline)
        if self._sleepers:
            candidates.append(self._sleepers[0][0])
        return min(candidates) if candidates else None

    async def _fire_due(self) -> None:
        await self._wake_sleepers()
        while self._heap and self._heap[0].deadline <= self._now:
            entry = heapq.heappop(self._heap)
            if entry.timer.cancelled:
                continue
            if entry.interval is not None:
                entry.deadline += entry.interval
                entry.order = next(self._order)
                heapq.heappush(self._heap, entry)
            error = await _run_guarded(entry.timer.name, entry.callback)
            if error is not None:
                self.errors.append(error)

    async def _wake_sleepers(self) -> None:
        woke = False
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
                woke = True
        if woke:
            # Let the woken coroutines run up to their next await.
            for _ in range(3):
                await asyncio.sleep(0)


async def _run_guarded(name: str, callback: TimerCallback) -> BaseException | None:
    try:
        await callback()
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.exception("timer %s failed", name)
        return error
    return None
