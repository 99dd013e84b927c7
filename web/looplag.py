"""How late the process's event loop runs its callbacks: the figure ``/healthz`` reports as ``loop_lag_ms``.

A callback is scheduled every ``interval`` seconds on the loop's own (real) clock and records how
late it ran. Everything in the process shares that loop (the gateway, the cogs, the HTTP API), so a
handler that holds the loop shows here as lag, whatever it was. The injected clock is not used:
this measures the real loop even in the sandbox, whose clock only moves when told to. uvloop's
clock counts whole milliseconds (and timers fire on them), so on uvloop the figures are to the
millisecond.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable

from aiohttp import web

INTERVAL = 0.01  # seconds between samples
WINDOW = 60.0  # seconds of samples kept


class LoopLagProbe:
    def __init__(self, *, interval: float = INTERVAL, window: float = WINDOW) -> None:
        self.interval = interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque(maxlen=math.ceil(window / interval) + 1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule(self._loop.time() + self.interval)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, due: float) -> None:
        assert self._loop is not None
        self._handle = self._loop.call_at(due, self._tick, due)

    def _tick(self, due: float) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self._samples.append((now, now - due))
        self._schedule(now + self.interval)

    def summary(self, window: float | None = None) -> dict[str, float | int]:
        """p50, p99 and max lag in milliseconds over the last ``window`` seconds (default: all kept)."""
        span = self.window if window is None else min(window, self.window)
        now = self._loop.time() if self._loop is not None else 0.0
        lags = sorted(lag for at, lag in self._samples if at >= now - span)

        def rank(p: float) -> float:
            return lags[max(1, math.ceil(p / 100 * len(lags))) - 1] * 1000 if lags else 0.0

        return {
            "p50": round(rank(50), 2),
            "p99": round(rank(99), 2),
            "max": round(lags[-1] * 1000 if lags else 0.0, 2),
            "samples": len(lags),
            "window_s": span,
        }


def probe_context(probe: LoopLagProbe) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry that runs ``probe`` while the app serves."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        probe.start()
        yield
        probe.stop()

    return context
