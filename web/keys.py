"""Typed keys for the state shared across the web app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from core.clock import Clock
    from core.config import Settings
    from core.ports import BotStatus
    from storage import ApiKey, Repositories
    from web.api import Route
    from web.looplag import LoopLagProbe
    from web.ratelimit import RateLimiter

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
REPOS: web.AppKey[Repositories] = web.AppKey("repos")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter")
BOT: web.AppKey[BotStatus] = web.AppKey("bot")
ROUTES: web.AppKey[dict[Any, Route]] = web.AppKey("routes")
PAGES: web.AppKey[dict[str, bytes]] = web.AppKey("pages")
LOOP_LAG: web.AppKey[LoopLagProbe] = web.AppKey("loop_lag")

# Per-request values.
API_KEY: web.RequestKey[ApiKey | None] = web.RequestKey("api_key")

__all__ = ["API_KEY", "BOT", "CLOCK", "LIMITER", "LOOP_LAG", "PAGES", "REPOS", "ROUTES", "SETTINGS"]
