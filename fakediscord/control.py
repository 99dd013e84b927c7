"""The control API (``/_control/...``, DESIGN §7): JSON in and out, ids as strings, 127.0.0.1 only.

Every route answers 503 until a bot has identified and received its guilds, 400 ``{"error"}`` for
bad input, and returns only once the bot has handled the events it caused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import load as load_stream
from .commands import ActionError
from .ratelimits import Limit
from .responses import json_response

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


def register(app: web.Application, fake: FakeDiscord) -> None:
    control = Control(fake)
    r = app.router
    r.add_get("/_control/state", control.wrap(control.state, set()))
    r.add_get("/_control/requests", control.requests)
    r.add_get("/_control/attachments/{attachment_id}", control.attachment)
    r.add_get("/_control/ratelimits", control.wrap(control.ratelimits, set()))
    routes: dict[str, tuple[Handler, set[str]]] = {
        "voice": (
            control.voice,
            {
                "guild_id",
                "user_id",
                "channel_id",
                "self_mute",
                "self_deaf",
                "mute",
                "deaf",
                "suppress",
                "self_stream",
                "self_video",
            },
        ),
        "message": (control.message, {"guild_id", "channel_id", "user_id", "content", "attachments"}),
        "reaction": (control.reaction, {"guild_id", "channel_id", "message_id", "user_id", "emoji", "add"}),
        "member": (control.member, {"guild_id", "user_id", "name", "action", "roles", "status", "bot", "dm_open"}),
        "component": (
            control.component,
            {"guild_id", "channel_id", "user_id", "message_id", "custom_id", "values", "fields"},
        ),
        "guild": (control.guild, {"guild_id", "name", "premium_subscription_count"}),
        "role": (control.role, {"guild_id", "action", "role_id", "name"}),
        "outage": (control.outage, {"down"}),
        "command": (control.command, {"guild_id", "channel_id", "user_id", "name", "options", "target_id"}),
        "clock": (control.clock, {"advance_seconds"}),
        "fault": (
            control.fault,
            {"method", "path_pattern", "status", "code", "count", "retry_after", "global", "message"},
        ),
        "disconnect": (control.disconnect, {"resume"}),
        "ratelimits": (control.ratelimits, {"global", "member_roles", "reset_count"}),
        "load": (
            control.load,
            {"guild_id", "channel_id", "members", "messages_per_s", "voice_per_s", "seconds"},
        ),
    }
    for name, (handler, allowed) in routes.items():
        r.add_post(f"/_control/{name}", control.wrap(handler, allowed))


def need(body: dict[str, Any], key: str) -> Any:
    if key not in body:
        raise ActionError(f"{key} is required")
    return body[key]


class Control:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def _not_ready(self) -> web.Response | None:
        if not self.fake.ready:
            return json_response({"error": "no bot has connected yet; try again when it is ready"}, 503)
        return None

    def wrap(self, handler: Handler, allowed: set[str]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            waiting = self._not_ready()
            if waiting is not None:
                return waiting
            body: Any = {}
            if request.method == "POST":
                raw = await request.read()
                try:
                    body = json.loads(raw) if raw.strip() else {}
                except ValueError:
                    return json_response({"error": "the body is not valid JSON"}, 400)
                if not isinstance(body, dict):
                    return json_response({"error": "the body must be a JSON object"}, 400)
                unknown = sorted(set(body) - allowed)
                if unknown:
                    return json_response(
                        {"error": f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"}, 400
                    )
            try:
                result = await handler(body)
            except ActionError as error:
                return json_response({"error": str(error)}, 400)
            return json_response({"ok": True} if result is None else result)

        return route

    # -- routes ---------------------------------------------------------------------------------

    async def state(self, body: dict[str, Any]) -> Any:
        return self.fake.state()

    async def voice(self, body: dict[str, Any]) -> None:
        flags = {
            k: body[k]
            for k in ("self_mute", "self_deaf", "mute", "deaf", "suppress", "self_stream", "self_video")
            if k in body
        }
        await self.fake.voice(need(body, "guild_id"), need(body, "user_id"), body.get("channel_id"), **flags)

    async def message(self, body: dict[str, Any]) -> Any:
        attachments = body.get("attachments")
        message_id = await self.fake.message(
            body.get("guild_id"),
            body.get("channel_id"),
            need(body, "user_id"),
            body.get("content", ""),
            attachments=attachments,
        )
        return {"id": str(message_id)}

    async def reaction(self, body: dict[str, Any]) -> None:
        await self.fake.reaction(
            need(body, "guild_id"),
            need(body, "channel_id"),
            need(body, "message_id"),
            need(body, "user_id"),
            need(body, "emoji"),
            body.get("add", True),
        )

    async def member(self, body: dict[str, Any]) -> None:
        await self.fake.member(
            need(body, "guild_id"),
            need(body, "user_id"),
            need(body, "action"),
            name=body.get("name"),
            roles=body.get("roles"),
            status=body.get("status"),
            bot=body.get("bot", False),
            dm_open=body.get("dm_open", True),
        )

    async def component(self, body: dict[str, Any]) -> Any:
        return await self.fake.component(
            need(body, "guild_id"),
            need(body, "channel_id"),
            need(body, "user_id"),
            body.get("message_id"),
            need(body, "custom_id"),
            values=body.get("values"),
            fields=body.get("fields"),
        )

    async def guild(self, body: dict[str, Any]) -> None:
        await self.fake.guild(
            need(body, "guild_id"),
            name=body.get("name"),
            premium_subscription_count=body.get("premium_subscription_count"),
        )

    async def role(self, body: dict[str, Any]) -> Any:
        role_id = await self.fake.role(
            need(body, "guild_id"), body.get("action", "create"), role_id=body.get("role_id"), name=body.get("name")
        )
        return {"id": str(role_id)}

    async def outage(self, body: dict[str, Any]) -> Any:
        down = need(body, "down")
        if not isinstance(down, bool):
            raise ActionError("down must be true or false")
        await self.fake.set_outage(down)
        return {"down": down}

    async def command(self, body: dict[str, Any]) -> Any:
        return await self.fake.command(
            need(body, "guild_id"),
            need(body, "channel_id"),
            need(body, "user_id"),
            need(body, "name"),
            body.get("options") or {},
            target_id=body.get("target_id"),
        )

    async def clock(self, body: dict[str, Any]) -> Any:
        await self.fake.advance_clock(need(body, "advance_seconds"))
        return {"time": self.fake.clock.time()}

    async def fault(self, body: dict[str, Any]) -> Any:
        try:
            fault = self.fake.fault(
                str(need(body, "method")),
                str(need(body, "path_pattern")),
                int(need(body, "status")),
                int(body.get("code", 0)),
                int(body.get("count", 1)),
                retry_after=float(body["retry_after"]) if body.get("retry_after") is not None else None,
                global_=bool(body.get("global", False)),
                message=body.get("message"),
            )
        except (TypeError, ValueError) as error:
            if isinstance(error, ActionError):
                raise
            raise ActionError(f"bad fault: {error}") from None
        return {
            "method": fault.method,
            "path_pattern": fault.pattern.pattern,
            "status": fault.status,
            "code": fault.code,
            "count": fault.count,
        }

    async def disconnect(self, body: dict[str, Any]) -> Any:
        resume = body.get("resume", True)
        if not isinstance(resume, bool):
            raise ActionError("resume must be true or false")
        await self.fake.disconnect(resume)
        return {"resumed": resume}

    async def ratelimits(self, body: dict[str, Any]) -> Any:
        limits = self.fake.ratelimits
        try:
            changes = {
                key: Limit.parse(body[name], name)
                for key, name in (("global_", "global"), ("member_roles", "member_roles"))
                if name in body
            }
        except ValueError as error:
            raise ActionError(str(error)) from None
        if changes:
            limits.configure(**changes)
        if body.get("reset_count"):
            limits.sent.clear()
        return limits.describe()

    async def load(self, body: dict[str, Any]) -> Any:
        return await load_stream.run(self.fake, load_stream.plan(self.fake, body))

    async def requests(self, request: web.Request) -> web.Response:
        waiting = self._not_ready()
        if waiting is not None:
            return waiting
        calls = self.fake.find_requests(request.query.get("method"), request.query.get("path"))
        return json_response(
            [
                {
                    "method": c.method,
                    "path": c.path,
                    "query": c.query,
                    "body": c.body,
                    "status": c.status,
                    "response": c.response,
                }
                for c in calls
            ]
        )

    async def attachment(self, request: web.Request) -> web.Response:
        waiting = self._not_ready()
        if waiting is not None:
            return waiting
        raw = request.match_info["attachment_id"]
        found = self.fake.store.attachments.get(int(raw)) if raw.isdigit() else None
        if found is None:
            return json_response({"error": f"unknown attachment {raw}"}, 404)
        return web.Response(body=found.data, headers={"Content-Type": found.content_type})
