"""``FakeDiscord``: one aiohttp server on 127.0.0.1 with Discord's REST API, gateway and a control API.

Paths: ``/api/v10/...`` (REST, what discord.py calls), ``/gateway`` (websocket), ``/_control/...``
(the sandbox and tests act as people), CDN paths (``/avatars/...``, ``/attachments/...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import discord.asset
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from core.clock import Clock

from . import cdn, control, rest, rest_channels
from .actions import UserActions
from .commands import ActionError
from .gateway import Gateway
from .interactions import Interactions
from .messages import BODY_KEY, FILES_KEY, read_body
from .payloads import Payloads
from .ratelimits import RateLimits
from .responses import error_response, json_response
from .state import State, StateError
from .world import World

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
NO_AUTH = (re.compile(r"^/interactions/\d+/[^/]+/callback$"), re.compile(r"^/webhooks/\d+/[^/]+(/.*)?$"))
PUBLIC = (re.compile(r"^/gateway$"),)
REST_LOG_LIMIT = 10_000  # the newest REST calls kept for find_requests and conformance checks
Settle = Callable[[int], Awaitable[None]]


@dataclass
class RestCall:
    """One REST request the fake answered (``path`` is relative to ``/api/v10`` and decoded)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    response: Any
    content_type: str | None
    time: float
    files: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    count: int
    retry_after: float | None = None
    global_: bool = False
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and self.method in ("*", method) and self.pattern.fullmatch(path) is not None


class FakeDiscord(UserActions):
    """A local stand-in for Discord that the unmodified discord.py talks to.

    ``settle`` is called with the last gateway sequence after every user-side action; it must
    return once the bot has read up to that sequence and finished handling it (see
    :class:`fakediscord.settle.EventTracker`); ``settle_timeout`` (real seconds) bounds every wait.
    Without it (a bot in another process) actions wait until neither REST calls nor gateway frames
    arrived for ``quiet_period`` seconds, and ``command``/``component`` first wait for the
    interaction's first response.
    """

    def __init__(
        self,
        world: World,
        *,
        clock: Clock,
        token: str = "sandbox-token",  # noqa: S107 - the fake's own token, not a secret
        host: str = "127.0.0.1",
        port: int = 0,
        settle: Settle | None = None,
        settle_timeout: float = 10.0,
        quiet_period: float = 0.2,
    ) -> None:
        self.world = world
        self.clock = clock
        self.token = token
        self.host = host
        self.port = port
        self.settle = settle
        self.settle_timeout = settle_timeout
        self.quiet_period = quiet_period
        self.store = State(world, clock)
        self.payloads = Payloads(self.store)
        self.gateway = Gateway(self.store, self.payloads, token, lambda: self.gateway_url)
        self.interactions = Interactions(self)
        self.rest_log: deque[RestCall] = deque(maxlen=REST_LOG_LIMIT)
        self.rest_calls = 0  # every REST call answered, also those the log no longer holds
        self.faults: list[Fault] = []
        # Discord's global and member-role limits (real time; see fakediscord.ratelimits), and its 429 count.
        self.ratelimits = RateLimits(world.rate_limits)
        self._rest_outage = False
        self._request_event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._saved: tuple[Any, Any, Any] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        rest.register(app, self)
        rest_channels.register(app, self)
        self.interactions.register(app)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        control.register(app, self)
        cdn.register(app, self)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = address[1]
        self.payloads.base_url = self.url
        log.info("fakediscord listening on %s", self.url)

    async def stop(self) -> None:
        await self.gateway.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.restore_overrides()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def last_seq(self) -> int:
        return self.gateway.last_seq

    @property
    def ready(self) -> bool:
        return self.gateway.ready.is_set()

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.gateway.ready.wait(), timeout)

    # -- pointing discord.py here ---------------------------------------------------------------

    def apply_overrides(self) -> None:
        """Point discord.py's REST base, default gateway and CDN at this fake (process-global)."""
        if self._saved is None:
            self._saved = (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
                discord.asset.Asset.BASE,
            )
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        discord.asset.Asset.BASE = self.url

    def restore_overrides(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY, discord.asset.Asset.BASE = (
                self._saved
            )
            self._saved = None

    @contextlib.contextmanager
    def patched_discord(self) -> Iterator[FakeDiscord]:
        self.apply_overrides()
        try:
            yield self
        finally:
            self.restore_overrides()

    # -- faults and outages ---------------------------------------------------------------------

    def fault(
        self,
        method: str,
        path_pattern: str,
        status: int,
        code: int = 0,
        count: int = 1,
        retry_after: float | None = None,
        global_: bool = False,
        message: str | None = None,
    ) -> Fault:
        """Make the next ``count`` REST calls whose path (relative to /api/v10) fully matches fail."""
        if not 400 <= int(status) <= 599:
            raise ActionError("status must be a 4xx or 5xx code")
        if int(count) < 1:
            raise ActionError("count must be >= 1")
        try:
            pattern = re.compile(path_pattern)
        except re.error as error:
            raise ActionError(f"path_pattern is not a regular expression: {error}") from None
        fault = Fault(method.upper(), pattern, int(status), int(code), int(count), retry_after, global_, message)
        self.faults.append(fault)
        return fault

    async def set_outage(self, down: bool) -> None:
        """Discord unreachable: the gateway closes (4000), new connections get no HELLO, REST answers 503.

        Coming back up returns once the bot has resumed and handled the replayed events.
        """
        if down:
            self._rest_outage = True
            await self.gateway.set_outage(True)
            return
        if not self.gateway.outage:
            self._rest_outage = False
            return
        generation = self.gateway.generation
        self._rest_outage = False
        await self.gateway.set_outage(False)
        if self.gateway.current is not None and self.gateway.current.valid:
            await self.gateway.wait_live(generation, self.settle_timeout)
        await self.settled()

    async def disconnect(self, resume: bool = True) -> None:
        """Drop the gateway connection; the bot resumes (replay) or, with ``resume=False``, identifies anew."""
        if not self.gateway.connected():
            raise ActionError("no bot is connected to the gateway")
        generation = self.gateway.generation
        if resume:
            await self.gateway.close_current(4000, "reconnect")
        else:
            self.gateway.invalidate_current()
            await self.gateway.close_current(4009, "Session timed out.")
        if not await self.gateway.wait_live(generation, self.settle_timeout):
            log.warning("the bot did not come back within %.1fs after a disconnect", self.settle_timeout)
        await self.settled()

    # -- events and settling --------------------------------------------------------------------

    async def emit(self, event: str, data: dict[str, Any], *, guild_id: int | None = None) -> int | None:
        return await self.gateway.dispatch(event, data, guild_id=guild_id)

    async def settled(self) -> None:
        """Return once the bot has handled everything dispatched so far.

        With a ``settle`` callback: until the bot has read up to the last sequence and is idle, again
        while its handlers caused more dispatches (REST echoes). Without one: a quiet period. A
        disconnected bot is not waited for (what it misses is replayed when it resumes).
        """
        if self.settle is None:
            await self.quiet()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        seq = -1
        while self.gateway.connected() and self.gateway.last_seq != seq:
            seq = self.gateway.last_seq
            try:
                await asyncio.wait_for(self.settle(seq), max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.warning("the bot did not settle at seq %d within %.1fs", seq, self.settle_timeout)
                return

    async def quiet(self, period: float | None = None) -> None:
        """Wait until no REST call and no gateway frame has arrived for ``period`` seconds."""
        period = self.quiet_period if period is None else period
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        while loop.time() < deadline:
            before = (self.rest_calls, self.gateway.received_count)
            await asyncio.sleep(period)
            if (self.rest_calls, self.gateway.received_count) == before:
                return

    # -- request log ----------------------------------------------------------------------------

    def find_requests(self, method: str | None = None, path_regex: str | None = None) -> list[RestCall]:
        pattern = re.compile(path_regex) if path_regex else None
        return [
            call
            for call in self.rest_log
            if (method is None or call.method == method.upper()) and (pattern is None or pattern.search(call.path))
        ]

    async def wait_for_request(
        self, method: str | None = None, path_regex: str | None = None, *, count: int = 1, timeout: float = 5.0
    ) -> RestCall:
        """Wait until ``count`` matching requests were answered; returns the last one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.find_requests(method, path_regex)
            if len(found) >= count:
                return found[count - 1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {method or ''} {path_regex or ''} request within {timeout}s")
            self._request_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._request_event.wait(), remaining)

    # -- the REST middleware --------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.remote not in ("127.0.0.1", "::1", None):
            return json_response({"error": "fakediscord only answers 127.0.0.1"}, 403)
        path = request.path
        if not path.startswith(API_PREFIX + "/"):
            return await handler(request)
        api_path = path[len(API_PREFIX) :]
        body: Any = None
        files: list[Any] = []
        try:
            body, files = await read_body(request)
            request[BODY_KEY] = body
            request[FILES_KEY] = files
            response = await self._answer(request, handler, api_path)
        except StateError as error:
            response = error_response(self.clock, error.status, error.code, error.message, errors=error.errors)
        self._log(request, api_path, body, files, response)
        return response

    async def _answer(
        self, request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]], api_path: str
    ) -> web.StreamResponse:
        if self._rest_outage:
            return json_response({"message": "Service Unavailable", "code": 0}, 503)
        needs_auth = not any(p.match(api_path) for p in NO_AUTH + PUBLIC)
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        for fault in self.faults:
            if fault.matches(request.method, api_path):
                fault.count -= 1
                log.info("injected fault %s %s -> %s/%s", request.method, api_path, fault.status, fault.code)
                if fault.status == 429:
                    self.ratelimits.count_429("injected")
                return error_response(
                    self.clock,
                    fault.status,
                    fault.code,
                    fault.message,
                    retry_after=fault.retry_after,
                    global_=fault.global_,
                )
        self.faults = [f for f in self.faults if f.count > 0]
        refusal, bucket_headers = self.ratelimits.check(request.method, api_path, self.token)
        if refusal is not None:
            scope = "global" if refusal.body["global"] else "member_roles"
            self.ratelimits.count_429(scope)
            log.info("rate limited (%s) %s %s", scope, request.method, api_path)
            return json_response(refusal.body, 429, refusal.headers)
        try:
            response = await handler(request)
            if bucket_headers and response.status < 300:
                response.headers.update(bucket_headers)
            if response.status == 429:
                self.ratelimits.count_429("route")
            return response
        except web.HTTPNotFound:
            return json_response({"message": "404: Not Found", "code": 0}, 404)
        except web.HTTPMethodNotAllowed:
            return json_response({"message": "405: Method Not Allowed", "code": 0}, 405)
        except StateError:
            raise
        except Exception:
            log.exception("fakediscord failed on %s %s", request.method, api_path)
            return json_response({"message": "500: Internal Server Error", "code": 0}, 500)

    def _log(
        self, request: web.Request, api_path: str, body: Any, files: list[Any], response: web.StreamResponse
    ) -> None:
        data: Any = None
        content_type = response.headers.get("Content-Type")
        if isinstance(response, web.Response) and response.body is not None and content_type == "application/json":
            raw = response.body
            data = json.loads(raw if isinstance(raw, bytes | bytearray) else str(raw))
        call = RestCall(
            method=request.method,
            path=api_path,
            query=dict(request.query),
            body=body,
            status=response.status,
            response=data,
            content_type=content_type,
            time=self.clock.time(),
            files=[f.filename for f in files],
            headers=dict(response.headers),
        )
        self.rest_log.append(call)
        self.rest_calls += 1
        self._request_event.set()
        log.debug("REST %s %s -> %s", call.method, call.path, call.status)
