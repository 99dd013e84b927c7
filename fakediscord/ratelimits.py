"""Discord's rate limits, as the fake enforces them: a global limit per bot and a per-guild member-role bucket.

- **global**: ``limit`` requests per ``per`` seconds for the bot's token, on every REST route except
  interaction callbacks and webhooks (which Discord leaves out of the global limit). A 429 carries
  ``X-RateLimit-Global: true`` and ``X-RateLimit-Scope: global`` and no bucket headers.
- **member roles**: per guild, ``PUT``/``DELETE /guilds/{g}/members/{u}/roles/{r}`` and every
  ``PATCH /guilds/{g}/members/{u}`` share one bucket (``X-RateLimit-Bucket: member-roles``), whatever
  the PATCH body holds, as a Discord bucket belongs to a route and not to a body. A 429 carries the
  bucket's headers with ``X-RateLimit-Scope: user``; a success states the bucket's remaining count.

Each window is fixed: it opens at the first request after the last one closed and lets ``limit``
requests through until ``per`` seconds later. A request answered 429 does not count. Windows run
on real (monotonic) time, not on the sandbox's manual clock: discord.py waits out ``Reset-After``
and ``retry_after`` with ``asyncio.sleep``, so a window that only reopened when a test advanced the
clock would 429 a well-behaved client for ever. Every 429 the fake sends is counted.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GLOBAL_EXEMPT = re.compile(r"^/(interactions|webhooks)/")
MEMBER_ROLE_ROUTES = (
    ("PUT", re.compile(r"^/guilds/(\d+)/members/\d+/roles/\d+$")),
    ("DELETE", re.compile(r"^/guilds/(\d+)/members/\d+/roles/\d+$")),
    ("PATCH", re.compile(r"^/guilds/(\d+)/members/\d+$")),
)
MEMBER_ROLES_BUCKET = "member-roles"
RATE_FORM = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class Limit:
    """``limit`` requests per ``per`` seconds."""

    limit: int
    per: float

    @classmethod
    def parse(cls, value: Any, where: str) -> Limit | None:
        """``"50/1"`` (requests/seconds) or ``"off"``."""
        if isinstance(value, str) and value.strip().lower() == "off":
            return None
        match = RATE_FORM.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
            raise ValueError(f'{where}: expected "REQUESTS/SECONDS" (e.g. "10/1") or "off", got {value!r}')
        return cls(int(match.group(1)), float(match.group(2)))

    def describe(self) -> dict[str, Any]:
        return {"limit": self.limit, "per": self.per}


DISCORD_GLOBAL = Limit(50, 1.0)
DISCORD_MEMBER_ROLES = Limit(10, 1.0)


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """The world file's ``[rate_limits]``: Discord's figures unless the world says otherwise."""

    global_: Limit | None = DISCORD_GLOBAL
    member_roles: Limit | None = DISCORD_MEMBER_ROLES


@dataclass
class _Window:
    reset_at: float
    used: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """A 429 to send: its body and headers."""

    body: dict[str, Any]
    headers: dict[str, str]


def member_role_guild(method: str, api_path: str) -> int | None:
    """The guild whose member-role bucket the call counts in, or None."""
    for route_method, pattern in MEMBER_ROLE_ROUTES:
        if method == route_method:
            match = pattern.match(api_path)
            if match is not None:
                return int(match.group(1))
    return None


class RateLimits:
    """The fake's limits and its count of the 429s it sent (``sent``, by scope)."""

    def __init__(
        self,
        spec: RateLimitSpec | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        spec = spec or RateLimitSpec()
        self.global_limit = spec.global_
        self.member_roles = spec.member_roles
        self._monotonic = monotonic
        self._wall = wall
        self._windows: dict[tuple[str, int], _Window] = {}
        self.sent: Counter[str] = Counter()

    def configure(self, **limits: Limit | None) -> None:
        """Set ``global_`` and/or ``member_roles`` (None turns one off); open windows start afresh."""
        unknown = sorted(set(limits) - {"global_", "member_roles"})
        if unknown:
            raise TypeError(f"unknown limit {unknown[0]!r}")
        if "global_" in limits:
            self.global_limit = limits["global_"]
        if "member_roles" in limits:
            self.member_roles = limits["member_roles"]
        self._windows.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "global": self.global_limit.describe() if self.global_limit else None,
            "member_roles": self.member_roles.describe() if self.member_roles else None,
            "rate_limited": {"total": sum(self.sent.values()), **{k: self.sent[k] for k in sorted(self.sent)}},
        }

    @property
    def total_429s(self) -> int:
        return sum(self.sent.values())

    def count_429(self, scope: str) -> None:
        self.sent[scope] += 1

    def check(self, method: str, api_path: str, token: str) -> tuple[Refusal | None, dict[str, str]]:
        """Count one arriving request: a 429 to send, or the bucket headers to add to a success."""
        now = self._monotonic()
        global_window = None
        if self.global_limit is not None and not GLOBAL_EXEMPT.match(api_path):
            global_window = self._window(("global", hash(token)), self.global_limit, now)
            if global_window.used >= self.global_limit.limit:
                retry = max(0.001, global_window.reset_at - now)
                return self._global_refusal(retry), {}
        guild_id = member_role_guild(method, api_path)
        bucket = None
        if guild_id is not None and self.member_roles is not None:
            bucket = self._window((MEMBER_ROLES_BUCKET, guild_id), self.member_roles, now)
            if bucket.used >= self.member_roles.limit:
                return self._bucket_refusal(self.member_roles, bucket, now), {}
        if global_window is not None:
            global_window.used += 1
        if bucket is None or self.member_roles is None:
            return None, {}
        bucket.used += 1
        return None, self._bucket_headers(self.member_roles, bucket, now)

    def _window(self, key: tuple[str, int], limit: Limit, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or window.reset_at <= now:
            window = self._windows[key] = _Window(now + limit.per, 0)
        return window

    def _bucket_headers(self, limit: Limit, window: _Window, now: float) -> dict[str, str]:
        after = max(0.0, window.reset_at - now)
        return {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Remaining": str(max(0, limit.limit - window.used)),
            "X-RateLimit-Reset": f"{self._wall() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": MEMBER_ROLES_BUCKET,
        }

    def _bucket_refusal(self, limit: Limit, window: _Window, now: float) -> Refusal:
        retry = max(0.001, window.reset_at - now)
        headers = self._bucket_headers(limit, window, now) | {
            "X-RateLimit-Scope": "user",
            "Retry-After": str(math.ceil(retry)),
            "Via": "1.1 google",
        }
        return Refusal(_body(retry, global_=False), headers)

    def _global_refusal(self, retry: float) -> Refusal:
        headers = {
            "Retry-After": str(math.ceil(retry)),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
            "Via": "1.1 google",
        }
        return Refusal(_body(retry, global_=True), headers)


def _body(retry_after: float, *, global_: bool) -> dict[str, Any]:
    retry = round(retry_after, 3)
    return {"message": "You are being rate limited.", "retry_after": retry, "global": global_, "code": 0}


def parse_spec(raw: Any, where: str = "rate_limits") -> RateLimitSpec:
    """The world file's ``[rate_limits]`` table: ``global`` and ``member_roles``, each "N/SECONDS" or "off"."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(raw) - {"global", "member_roles"})
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: global, member_roles")
    spec = RateLimitSpec()
    return RateLimitSpec(
        global_=Limit.parse(raw["global"], f"{where}.global") if "global" in raw else spec.global_,
        member_roles=(
            Limit.parse(raw["member_roles"], f"{where}.member_roles") if "member_roles" in raw else spec.member_roles
        ),
    )
