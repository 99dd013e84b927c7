"""A small NamelessMC website stand-in: the API v2 routes Nameless-Link calls, recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Call:
    method: str
    route: str
    body: Any
    headers: dict[str, str]


@dataclass
class NamelessSite:
    api_key: str = "website-key-1"
    version: str = "2.1.2"
    modules: list[str] = field(default_factory=lambda: ["Core", "Forum", "Discord Integration"])
    users: dict[int, int] = field(default_factory=dict)  # discord id -> website user id
    codes: dict[str, int] = field(default_factory=dict)  # verification code -> website user id
    sync_roles_supported: bool = True
    calls: list[Call] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def api_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}/index.php?route=/api/v2"

    def routes(self, route: str) -> list[Call]:
        return [call for call in self.calls if call.route == route]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/index.php", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def handle(self, request: web.Request) -> web.Response:
        route = request.query.get("route", "").removeprefix("/api/v2/")
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.calls.append(Call(request.method, route, body, dict(request.headers)))
        if request.headers.get("X-API-Key") != self.api_key:
            return self.error("nameless:invalid_api_key", 403)
        if route == "info":
            return web.json_response({"nameless_version": self.version, "locale": "en_UK", "modules": self.modules})
        if route in ("discord/update-bot-settings", "discord/submit-role-list", "discord/set-roles"):
            return web.json_response({"message": "ok"})
        if route.startswith("users/integration_id:Discord:"):
            discord_id = int(route.rsplit(":", 1)[1])
            if discord_id not in self.users:
                return self.error("nameless:cannot_find_user", 404)
            return web.json_response({"exists": True, "id": self.users[discord_id], "username": f"web{discord_id}"})
        if route.startswith("discord/id:") and route.endswith("/sync-roles"):
            if not self.sync_roles_supported:
                return self.error("nameless:invalid_api_method", 404)
            return web.json_response({"message": "ok"})
        if route == "integration/verify":
            code = body.get("code") if isinstance(body, dict) else None
            if code not in self.codes:
                return self.error("core:invalid_code", 400)
            self.users[int(body["identifier"])] = self.codes.pop(code)
            return web.json_response({"message": "verified"})
        return self.error("nameless:invalid_api_method", 404)

    @staticmethod
    def error(code: str, status: int) -> web.Response:
        return web.json_response({"error": code, "message": code}, status=status)
