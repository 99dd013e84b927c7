"""Per-identity request limits on the injected clock.

A fixed window per (bucket, identity): it opens at the first request and lets ``limit`` requests
through until ``per`` seconds later. The state is a dict of small tuples; windows that have closed
are swept as new ones open, so memory follows the number of active callers.

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


class Decision(NamedTuple):  # one per request: a named tuple builds in a quarter of a frozen dataclass's time
    allowed: bool
    limit: int
    remaining: int
    reset_at: float
    retry_after: int  # whole seconds until the window reopens; 0 while requests are let through

    def headers(self) -> dict[istr, str]:
        headers = {
            _LIMIT: str(self.limit),
            _REMAINING: str(self.remaining),
            _RESET: str(math.ceil(self.reset_at)),
        }
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
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._since_sweep = 0

    def hit(self, bucket: str, identity: str, rule: RateLimit) -> Decision:
        """Count one request; the decision says whether it may go through."""
        now = self._clock.time()
        key = (bucket, identity)
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            window = (now + rule.per, 0)
            self._sweep(now)
        reset_at, used = window
        if used >= rule.limit:
            return Decision(False, rule.limit, 0, reset_at, max(1, math.ceil(reset_at - now)))
        self._windows[key] = (reset_at, used + 1)
        return Decision(True, rule.limit, rule.limit - used - 1, reset_at, 0)

    def reset(self) -> None:
        self._windows.clear()

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        self._windows = {key: window for key, window in self._windows.items() if window[0] > now}
