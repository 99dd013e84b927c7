"""Shutdown order: HTTP stops accepting and finishes in-flight requests, then the gateway, then storage."""

import asyncio

import aiohttp
from aiohttp import web

from guildhall.runtime import serve, start_api
from web.api import Family, add_routes, json_response
from web.app import create_app


class GatewayStandIn:
    """Just enough of a bot for ``serve``: it records when it was closed."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.closed = asyncio.Event()

    async def start(self, token: str) -> None:
        await self.closed.wait()

    async def close(self) -> None:
        self.events.append("gateway closed")
        self.closed.set()

    def is_closed(self) -> bool:
        return self.closed.is_set()


async def test_stop_signal_lets_in_flight_requests_finish_before_the_gateway_closes(settings, repos, clock):
    events: list[str] = []
    entered = asyncio.Event()
    release = asyncio.Event()
    family = Family("slow", "Slow", "/slow", "", lambda s, m, c: {"error": m}, {})

    @family.route("GET", "/slow", summary="slow", access="public")
    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        events.append("request finished")
        return json_response({"done": True})

    app = create_app(settings=settings, repos=repos, clock=clock)
    add_routes(app, [family])
    api = await start_api(app, settings, host="127.0.0.1", port=0)
    bot = GatewayStandIn(events)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(bot, "token", api, stop))

    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(session.get(f"{api.url}/slow"))
        await entered.wait()
        stop.set()
        await asyncio.sleep(0.05)
        assert events == []  # still waiting for the request, gateway untouched
        release.set()
        response = await in_flight
        assert response.status == 200
        assert await response.json() == {"done": True}
        await asyncio.wait_for(serving, 5)
        assert events == ["request finished", "gateway closed"]
        try:
            await session.get(f"{api.url}/healthz")
        except aiohttp.ClientConnectionError:
            pass
        else:
            raise AssertionError("the API still accepted connections after shutdown")
