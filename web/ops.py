"""The operations routes: the HTML index, the OpenAPI description and health."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from core import __version__
from web import keys
from web.api import ApiError, Param, json_response
from web.families import API_FAMILIES, ops
from web.looplag import WINDOW
from web.openapi import build_openapi

OPENAPI = {
    "type": "object",
    "properties": {
        "openapi": {"type": "string"},
        "info": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "version": {"type": "string"}},
            "required": ["title", "version"],
        },
        "paths": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": True}},
    },
    "required": ["openapi", "info", "paths"],
}


@ops.route("GET", "/", summary="An HTML index of the API families", access="public", content_type="text/html")
async def index(request: web.Request) -> web.Response:
    return web.Response(body=_cached(request.app, "index", _index_page), content_type="text/html", charset="utf-8")


@ops.route(
    "GET",
    "/openapi.json",
    summary="The OpenAPI 3.1 description of every route",
    access="public",
    response=OPENAPI,
)
async def openapi(request: web.Request) -> web.Response:
    body = _cached(request.app, "openapi", lambda app: json.dumps(build_openapi(app[keys.ROUTES].values())))
    return web.Response(body=body, content_type="application/json")


def _cached(app: web.Application, name: str, render: Callable[[web.Application], str]) -> bytes:
    """The route table is frozen once the app serves, so each document is rendered once."""
    pages = app[keys.PAGES]
    if name not in pages:
        pages[name] = render(app).encode()
    return pages[name]


def _index_page(app: web.Application) -> str:
    sections = []
    for family in API_FAMILIES:
        rows = "".join(
            f"<li><code>{route.method} {html.escape(route.path)}</code> {html.escape(route.summary)}</li>"
            for route in family.routes
        )
        sections.append(
            f'<section id="{family.name}"><h2>{html.escape(family.title)}</h2>'
            f"<p>{html.escape(family.description)} Base path <code>{html.escape(family.base)}</code>.</p>"
            f"<ul>{rows or '<li>No routes yet.</li>'}</ul></section>"
        )
    nav = "".join(f'<li><a href="#{f.name}">{html.escape(f.title)}</a></li>' for f in API_FAMILIES)
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Guildhall API</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
        "code{background:#f3f3f3;padding:0 .2em}</style>"
        f"<h1>Guildhall {__version__}</h1><p>One bot, five APIs over one state. "
        'The machine-readable description is <a href="/openapi.json">/openapi.json</a>; '
        'health is at <a href="/healthz">/healthz</a>.</p>'
        f"<ul>{nav}</ul>{''.join(sections)}</html>"
    )


HEALTH = {
    "type": "object",
    "properties": {
        "live": {"type": "boolean"},
        "ready": {"type": "boolean"},
        "checks": {
            "type": "object",
            "properties": {"gateway": {"type": "boolean"}, "database": {"type": "boolean"}},
            "required": ["gateway", "database"],
        },
        "loop_lag_ms": {
            "type": "object",
            "description": "How late the event loop ran a probe scheduled every 10 ms, over the last `window`"
            " seconds (query parameter, 1 to 60, default 60).",
            "properties": {
                "p50": {"type": "number"},
                "p99": {"type": "number"},
                "max": {"type": "number"},
                "samples": {"type": "integer"},
                "window_s": {"type": "number"},
            },
            "required": ["p50", "p99", "max", "samples", "window_s"],
        },
    },
    "required": ["live", "ready", "checks", "loop_lag_ms"],
}


@ops.route(
    "GET",
    "/healthz",
    summary="Liveness, readiness and event-loop lag",
    access="public",
    response=HEALTH,
    query=(Param("window", {"type": "number", "minimum": 1, "maximum": WINDOW}, False, "seconds of loop lag"),),
)
async def healthz(request: web.Request) -> web.Response:
    bot = request.app[keys.BOT]
    checks: dict[str, Any] = {
        "gateway": bot.gateway_connected,
        "database": await request.app[keys.REPOS].storage.writable(),
    }
    ready = all(checks.values())
    lag = request.app[keys.LOOP_LAG].summary(_window(request.query.get("window")))
    body = {"live": True, "ready": ready, "checks": checks, "loop_lag_ms": lag}
    return json_response(body, status=200 if ready else 503)


def _window(raw: str | None) -> float:
    try:
        window = float(raw) if raw is not None else WINDOW
    except ValueError:
        raise ApiError(400, "window must be a number of seconds from 1 to 60") from None
    if not 1 <= window <= WINDOW:
        raise ApiError(400, "window must be a number of seconds from 1 to 60")
    return window
