"""``create_app``: the only way the HTTP door is built, in production and in tests."""

from __future__ import annotations

import importlib

from aiohttp import web

from core.clock import Clock
from core.config import Settings
from core.ports import BotStatus, NoBot
from storage import Repositories
from web import keys
from web.api import add_routes
from web.edge import unmatched
from web.families import ALL
from web.looplag import LoopLagProbe, probe_context
from web.ratelimit import RateLimiter

# The modules that declare each family's routes (importing one registers its routes).
ROUTE_MODULES = (
    "web.ops",
    "web.botlist",
    "web.link",
    "web.economy",
    "web.leaderboard",
    "web.serverstats",
    "web.voice",
)


def create_app(
    *, settings: Settings, repos: Repositories, clock: Clock, bot: BotStatus | None = None
) -> web.Application:
    app = web.Application(client_max_size=settings.api.max_body_bytes)  # no middleware: see web.api.guard
    app[keys.SETTINGS] = settings
    app[keys.REPOS] = repos
    app[keys.CLOCK] = clock
    app[keys.BOT] = bot if bot is not None else NoBot()
    app[keys.LIMITER] = RateLimiter(clock)
    app[keys.ROUTES] = {}
    app[keys.PAGES] = {}
    app[keys.LOOP_LAG] = LoopLagProbe()
    app.cleanup_ctx.append(probe_context(app[keys.LOOP_LAG]))
    for module in ROUTE_MODULES:
        importlib.import_module(module)
    add_routes(app, ALL)
    # Last, so that every other route is tried first (routes added later under other paths, as
    # tests add theirs, are too: aiohttp tries the resources of the longest matching prefix first).
    app.router.add_route("*", "/{tail:.*}", unmatched)
    return app
