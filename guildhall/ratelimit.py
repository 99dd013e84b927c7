"""The bot's own limiter for Discord's REST API: it holds a request back before Discord would answer 429.

discord.py learns each route's bucket from response headers and waits once a bucket says it is
empty, but it has no global limiter acting before a 429, and concurrent first requests to a bucket
it has not learnt yet all go out at once. This limiter keeps, per bucket, the send times of the
last ``limit`` requests and lets a request go only when fewer than ``limit`` went out in the last
``per + margin`` seconds, so no window Discord counts (however it is aligned) sees more than
``limit``. The margin covers the jitter between sending a request and Discord receiving it.

Buckets, as Discord counts them:

- global: every REST call of the bot except interaction callbacks and webhooks (50/s on Discord);
- member roles, per guild: ``PUT``/``DELETE /guilds/{g}/members/{u}/roles/{r}`` and
  ``PATCH /guilds/{g}/members/{u}`` (the bucket the role changes of the website link use).

The hook is an aiohttp trace (discord.py's documented ``http_trace`` option): its request-start
callback is awaited before aiohttp sends each request, retries included, and before aiohttp's own
timeout starts. A caller that must wait for its turn before deciding what to send (the member's
roles are read from the cache at send time) takes its turn with :meth:`DiscordRateLimiter.turn`;
the hook then lets that one request through without counting it twice.

(``aiolimiter`` reads the event loop's time directly; this one reads an injected clock, so its
tests move time with a :class:`~core.clock.ManualClock` instead of sleeping.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp

from core.clock import Clock
from core.config import RateLimit

log = logging.getLogger(__name__)
T = TypeVar("T")

API_PATH = re.compile(r"^/api/v\d+(/.*)$")
# Waits shorter than this count as none: clock arithmetic on epoch-sized floats leaves crumbs.
EPSILON = 1e-6
GLOBAL_EXEMPT = re.compile(r"^/(interactions|webhooks)/")
MEMBER_ROLE_ROUTES = {
    "PUT": re.compile(r"^/guilds/(\d+)/members/\d+/roles/\d+$"),
    "DELETE": re.compile(r"^/guilds/(\d+)/members/\d+/roles/\d+$"),
    "PATCH": re.compile(r"^/guilds/(\d+)/members/\d+$"),
}

# The request whose turn its caller already took (method, API path); the hook lets it through once.
_ADMITTED: ContextVar[tuple[str, str] | None] = ContextVar("discord_request_admitted", default=None)
# Resolved with the status once Discord answered a success (see DiscordRateLimiter.answered).
_ANSWERED: ContextVar[asyncio.Future[int] | None] = ContextVar("discord_request_answered", default=None)


def api_path(url_path: str) -> str | None:
    """``/api/v10/guilds/1`` → ``/guilds/1``; None for what is not the REST API (CDN, gateway)."""
    match = API_PATH.match(url_path)
    return match.group(1) if match else None


class _Bucket:
    __slots__ = ("rule", "sent")

    def __init__(self, rule: RateLimit) -> None:
        self.rule = rule
        self.sent: deque[float] = deque(maxlen=rule.limit)

    def wait(self, now: float, margin: float) -> float:
        """Seconds until one more request may go (0: now)."""
        if len(self.sent) < self.rule.limit:
            return 0.0
        return max(0.0, self.sent[0] + self.rule.per + margin - now)


class DiscordRateLimiter:
    """Global and per-guild member-role limits on one clock; ``waited`` counts requests it held back."""

    def __init__(
        self, clock: Clock, *, global_rule: RateLimit | None, member_roles_rule: RateLimit | None, margin: float
    ) -> None:
        self._clock = clock
        self._global = _Bucket(global_rule) if global_rule is not None else None
        self._member_roles_rule = member_roles_rule
        self._member_roles: dict[int, _Bucket] = {}
        self._margin = margin
        self._finishing: set[asyncio.Task[Any]] = set()
        self.waited = 0

    def _buckets(self, method: str, path: str) -> list[_Bucket]:
        buckets = []
        if self._global is not None and not GLOBAL_EXEMPT.match(path):
            buckets.append(self._global)
        pattern = MEMBER_ROLE_ROUTES.get(method)
        match = pattern.match(path) if pattern is not None and self._member_roles_rule is not None else None
        if match is not None and self._member_roles_rule is not None:
            guild_id = int(match.group(1))
            bucket = self._member_roles.get(guild_id)
            if bucket is None:
                bucket = self._member_roles[guild_id] = _Bucket(self._member_roles_rule)
            buckets.append(bucket)
        return buckets

    async def admit(self, method: str, path: str) -> None:
        """Return when the request (``path`` relative to the API base) may be sent; it is counted as sent."""
        buckets = self._buckets(method.upper(), path)
        if not buckets:
            return
        held = False
        while True:
            now = self._clock.monotonic()
            wait = max(bucket.wait(now, self._margin) for bucket in buckets)
            if wait < EPSILON:
                for bucket in buckets:
                    bucket.sent.append(now)
                return
            if not held:
                held = True
                self.waited += 1
                log.debug("holding %s %s back %.3f s for Discord's rate limit", method, path, wait)
            await self._clock.sleep(wait)

    @contextlib.asynccontextmanager
    async def turn(self, method: str, path: str) -> AsyncIterator[None]:
        """Wait for the request's turn; the request made inside the block goes without waiting again."""
        await self.admit(method, path)
        token = _ADMITTED.set((method.upper(), path))
        try:
            yield
        finally:
            _ADMITTED.reset(token)

    async def answered(self, call: Awaitable[T]) -> None:
        """Await a discord.py call until Discord answered it with a success, or until it fails.

        A call whose success empties a bucket (``X-RateLimit-Remaining: 0``) does not return from
        discord.py until the bucket's window has passed: discord.py sleeps it out in that call. The
        change is made once Discord answered, so the caller goes on and discord.py finishes its
        wait in the background (the next call of that bucket waits for it either way).
        """
        success: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        token = _ANSWERED.set(success)
        try:
            task = asyncio.ensure_future(call)  # runs in a copy of this context, so the hook sees ``success``
        finally:
            _ANSWERED.reset(token)
        try:
            await asyncio.wait({task, success}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done():
            task.result()
            return
        self._finishing.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._finishing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("a Discord call failed after its success was seen", exc_info=task.exception())

    async def _on_request_end(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        success = _ANSWERED.get()
        if success is not None and not success.done() and 200 <= params.response.status < 300:
            success.set_result(params.response.status)

    async def _on_request_start(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        path = api_path(params.url.raw_path)
        if path is None:
            return
        method = params.method.upper()
        if _ADMITTED.get() == (method, path):
            _ADMITTED.set(None)  # a retry of the same request waits its turn again
            return
        await self.admit(method, path)

    def trace_config(self) -> aiohttp.TraceConfig:
        """The aiohttp trace to pass to discord.py as ``http_trace``."""
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._on_request_start)
        trace.on_request_end.append(self._on_request_end)
        return trace
