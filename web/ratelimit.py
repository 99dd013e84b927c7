"""Per-identity request limits on the injected clock.

A fixed window per (bucket, identity): it opens at the first request and lets ``limit`` requests
through until ``per`` seconds later. The state is a dict of small :class:`Window` objects;
windows that have closed are swept as new ones open, so memory follows the number of active
callers.

(The ``limits`` package reads ``time.time()`` directly; tests and the sandbox move time with the
one injected clock, so the window arithmetic lives here.)
"""

from __future__ import annotations

import math
from typing import NamedTuple

from multidict import istr

from core.clock import Clock
from core.config import RateLimit

SWEEP_EVERY = 4096


class Window:
    """One caller's window of one bucket: when it closes, how many requests it let through, and the
    headers that stay the same for all of them (a mutable object: counting a request allocates nothing)."""

    __slots__ = ("limit", "limit_text", "reset_at", "reset_text", "used")

    def __init__(self, reset_at: float, limit: int) -> None:
        self.reset_at = reset_at
        self.used = 0
        self.limit = limit
        self.limit_text = str(limit)
        self.reset_text = str(math.ceil(reset_at))


class Decision(NamedTuple):  # one per request: a named tuple builds in a quarter of a frozen dataclass's time
    allowed: bool
    remaining: int  # as this request left it
    retry_after: int  # whole seconds until the window reopens; 0 while requests are let through
    window: Window

    def headers(self) -> dict[istr, str]:
        window = self.window
        headers = {_LIMIT: window.limit_text, _REMAINING: str(self.remaining), _RESET: window.reset_text}
        if not self.allowed:
            headers[_RETRY_AFTER] = str(self.retry_after)
        return headers


# Header names as ``istr``, as aiohttp's own are: a response's headers take them without folding case.
_LIMIT, _REMAINING, _RESET, _RETRY_AFTER = map(
    istr, ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")
)


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], Window] = {}
        self._since_sweep = 0

    def hit(self, bucket: str, identity: str, rule: RateLimit) -> Decision:
        """Count one request; the decision says whether it may go through."""
        now = self._clock.time()
        key = (bucket, identity)
        window = self._windows.get(key)
        if window is None or window.reset_at <= now:
            self._sweep(now)
            window = self._windows[key] = Window(now + rule.per, rule.limit)
        used = window.used
        if used >= window.limit:
            return Decision(False, 0, max(1, math.ceil(window.reset_at - now)), window)
        window.used = used + 1
        return Decision(True, window.limit - used - 1, 0, window)

    def reset(self) -> None:
        self._windows.clear()

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        self._windows = {key: window for key, window in self._windows.items() if window.reset_at > now}
