"""REST routes for users, the application and its commands, gateway discovery, guilds, members and roles.

Each route checks what Discord checks that a bot relies on (unknown ids → 404 with Discord's code,
Manage Roles and role hierarchy → 403/50013) and emits the gateway echo Discord sends after a write.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .messages import request_body
from .payloads import Json
from .responses import json_response
from .state import VOICE_TYPES, Channel, Guild, StateError, form_error, missing_permissions, unknown

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

P = "/api/v10"
ID = r"\d+"


def register(app: web.Application, fake: FakeDiscord) -> None:
    api = RestApi(fake)
    r = app.router
    r.add_get(f"{P}/users/@me", api.get_me)
    r.add_get(f"{P}/users/{{user_id:{ID}}}", api.get_user)
    r.add_post(f"{P}/users/@me/channels", api.create_dm)
    r.add_get(f"{P}/users/@me/guilds", api.my_guilds)
    r.add_get(f"{P}/oauth2/applications/@me", api.get_application)
    r.add_get(f"{P}/applications/@me", api.get_application)
    r.add_get(f"{P}/gateway", api.get_gateway)
    r.add_get(f"{P}/gateway/bot", api.get_gateway_bot)
    for prefix in (f"{P}/applications/{{app_id:{ID}}}", f"{P}/applications/{{app_id:{ID}}}/guilds/{{guild_id:{ID}}}"):
        r.add_get(f"{prefix}/commands", api.get_commands)
        r.add_put(f"{prefix}/commands", api.put_commands)
    g = f"{P}/guilds/{{guild_id:{ID}}}"
    r.add_get(g, api.get_guild)
    r.add_get(f"{g}/roles", api.get_roles)
    r.add_get(f"{g}/channels", api.get_channels)
    r.add_post(f"{g}/channels", api.create_channel)
    r.add_get(f"{g}/members", api.list_members)
    r.add_get(f"{g}/members/search", api.search_members)
    r.add_patch(f"{g}/members/@me", api.patch_me)
    r.add_get(f"{g}/members/{{user_id:{ID}}}", api.get_member)
    r.add_patch(f"{g}/members/{{user_id:{ID}}}", api.patch_member)
    r.add_delete(f"{g}/members/{{user_id:{ID}}}", api.kick_member)
    r.add_put(f"{g}/members/{{user_id:{ID}}}/roles/{{role_id:{ID}}}", api.add_role)
    r.add_delete(f"{g}/members/{{user_id:{ID}}}/roles/{{role_id:{ID}}}", api.remove_role)


def ok(data: Any, status: int = 200) -> web.Response:
    return json_response(data, status)


def no_content() -> web.Response:
    return web.Response(status=204)


def body_dict(request: web.Request) -> Json:
    body = request_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise form_error("_root", "Only dictionaries may be used in a DictType", "DICT_TYPE_CONVERT")
    return body


def snowflake_of(value: Any, field: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise form_error(field, f'Value "{value}" is not snowflake.', "NUMBER_TYPE_COERCE") from None
    return number


class RestApi:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.store
        self.payloads = fake.payloads

    def _guild(self, request: web.Request) -> Guild:
        return self.state.guild(int(request.match_info["guild_id"]))

    async def _member_updated(self, guild: Guild, user_id: int) -> None:
        member = guild.members[user_id]
        await self.fake.emit(
            "GUILD_MEMBER_UPDATE", {"guild_id": str(guild.id), **self.payloads.member(guild, member)}, guild_id=guild.id
        )

    # -- users and application ------------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        return ok(self.payloads.user_me(self.state.users[self.state.bot_id]))

    async def get_user(self, request: web.Request) -> web.Response:
        return ok(self.payloads.user(self.state.user(int(request.match_info["user_id"]))))

    async def my_guilds(self, request: web.Request) -> web.Response:
        guilds = []
        for guild in self.state.guilds.values():
            if self.state.bot_id not in guild.members:
                continue
            data = self.payloads.guild(guild)
            keys = ("id", "name", "icon", "banner", "features")
            entry = {k: data[k] for k in keys} | {
                "owner": guild.owner_id == self.state.bot_id,
                "permissions": str(self.state.permissions(guild, self.state.bot_id)),
            }
            if request.query.get("with_counts", "").lower() in ("true", "1"):
                counts = self.payloads.guild_with_counts(guild)
                entry |= {k: counts[k] for k in ("approximate_member_count", "approximate_presence_count")}
            guilds.append(entry)
        return ok(guilds)

    async def get_application(self, request: web.Request) -> web.Response:
        return ok(self.payloads.application())

    async def get_gateway(self, request: web.Request) -> web.Response:
        return ok({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return ok({"url": self.fake.gateway_url, "shards": 1, "session_start_limit": limit})

    async def create_dm(self, request: web.Request) -> web.Response:
        body = body_dict(request)
        recipient = snowflake_of(body.get("recipient_id"), "recipient_id")
        if recipient not in self.state.users or recipient == self.state.bot_id:
            raise StateError(400, 50033, "Invalid Recipient(s)")
        return ok(self.payloads.channel(self.state.dm_channel(recipient)))

    # -- application commands -------------------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app_id"]) != self.state.application_id:
            raise StateError(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return None
        return self.state.guild(int(guild_id)).id

    async def get_commands(self, request: web.Request) -> web.Response:
        return ok(self.state.commands_for(self._command_scope(request)))

    async def put_commands(self, request: web.Request) -> web.Response:
        guild_id = self._command_scope(request)
        body = request_body(request) or []
        if not isinstance(body, list):
            raise StateError(400, 50035, "Invalid Form Body")
        previous = {(c["name"], c["type"]): int(c["id"]) for c in self.state.commands_for(guild_id)}
        commands = []
        for index, item in enumerate(body):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise form_error(str(index), "name is required", "BASE_TYPE_REQUIRED")
            command_id = previous.get((item["name"], item.get("type", 1))) or self.state.snowflake()
            commands.append(self.payloads.command(item, guild_id=guild_id, command_id=command_id))
        if guild_id is None:
            self.state.global_commands = commands
        else:
            self.state.guild_commands[guild_id] = commands
        self.state.command_syncs += 1
        log.info("synced %d command(s) to %s", len(commands), guild_id or "global")
        return ok(commands)

    # -- guilds ---------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if request.query.get("with_counts", "").lower() in ("true", "1"):
            return ok(self.payloads.guild_with_counts(guild))
        return ok(self.payloads.guild(guild))

    async def get_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return ok([self.payloads.role(r) for r in sorted(guild.roles.values(), key=lambda r: r.position)])

    async def get_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return ok([self.payloads.channel(c) for c in self.state.guild_channels(guild)])

    async def create_channel(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        self.state.require(guild, self.state.bot_id, "manage_channels")
        body = body_dict(request)
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise form_error("name", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH")
        kind = int(body.get("type") or 0)
        if kind not in (0, 2, 4, 13):
            raise StateError(400, 50035, "Invalid Form Body")
        parent_id = body.get("parent_id")
        if parent_id is not None:
            parent = self.state.channels.get(int(parent_id))
            if parent is None or parent.guild_id != guild.id or parent.type != 4:
                raise form_error("parent_id", "Category does not exist", "CHANNEL_PARENT_INVALID")
        channel = Channel(
            id=self.state.snowflake(),
            name=name if kind in (*VOICE_TYPES, 4) else name.lower().replace(" ", "-"),
            type=kind,
            position=int(body.get("position") or len(guild.channel_ids)),
            guild_id=guild.id,
            parent_id=int(parent_id) if parent_id is not None else None,
            nsfw=bool(body.get("nsfw")),
            topic=body.get("topic"),
            bitrate=int(body.get("bitrate") or 64000),
            user_limit=int(body.get("user_limit") or 0),
        )
        self.state.channels[channel.id] = channel
        self.state.channel_messages[channel.id] = []
        guild.channel_ids.append(channel.id)
        payload = self.payloads.channel(channel)
        await self.fake.emit("CHANNEL_CREATE", payload, guild_id=guild.id)
        return ok(payload, 201)

    # -- members --------------------------------------------------------------------------------

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        try:
            limit = max(1, min(1000, int(request.query.get("limit", "1"))))
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise StateError(400, 50035, "Invalid Form Body") from None
        ids = sorted(uid for uid in guild.members if uid > after)[:limit]
        return ok([self.payloads.member(guild, guild.members[uid]) for uid in ids])

    async def search_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        query = request.query.get("query", "").lower()
        limit = max(1, min(1000, int(request.query.get("limit", "1") or 1)))
        found = [m for uid, m in guild.members.items() if self.state.users[uid].name.lower().startswith(query)]
        return ok([self.payloads.member(guild, m) for m in found[:limit]])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = self.state.member(guild, int(request.match_info["user_id"]))
        return ok(self.payloads.member(guild, member))

    async def patch_me(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        body = body_dict(request)
        member = self.state.member(guild, self.state.bot_id)
        if "nick" in body:
            self.state.require(guild, self.state.bot_id, "change_nickname")
            member.nick = body["nick"] or None
            await self._member_updated(guild, self.state.bot_id)
        return ok(self.payloads.member(guild, member))

    def _check_above(self, guild: Guild, target_id: int) -> None:
        bot_id = self.state.bot_id
        if target_id == guild.owner_id or (
            target_id != bot_id and self.state.top_position(guild, target_id) >= self.state.top_position(guild, bot_id)
        ):
            raise missing_permissions()

    async def patch_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        user_id = int(request.match_info["user_id"])
        member = self.state.member(guild, user_id)
        body = body_dict(request)
        bot_id = self.state.bot_id
        new_roles = None
        if "roles" in body and body["roles"] is not None:
            wanted = [snowflake_of(r, "roles") for r in body["roles"]]
            for role_id in wanted:
                if role_id not in guild.roles:
                    raise unknown("role")
            for role_id in set(wanted) ^ set(member.roles):
                self.state.check_role_assignable(guild, bot_id, guild.roles[role_id])
            new_roles = list(dict.fromkeys(r for r in wanted if r != guild.id))
        if "nick" in body:
            self.state.require(guild, bot_id, "manage_nicknames")
            self._check_above(guild, user_id)
        voice_change = False
        for key, permission in (("mute", "mute_members"), ("deaf", "deafen_members")):
            if key in body and body[key] is not None:
                self.state.require(guild, bot_id, permission)
                voice_change = True
        if "channel_id" in body:
            self.state.require(guild, bot_id, "move_members")
            if user_id not in guild.voice:
                raise StateError(400, 40032, "Target user is not connected to voice.")
            target = body["channel_id"]
            if target is not None:
                channel = self.state.channels.get(int(target))
                if channel is None or channel.guild_id != guild.id or channel.type not in VOICE_TYPES:
                    raise unknown("channel")
            voice_change = True
        if new_roles is not None:
            member.roles = new_roles
        if "nick" in body:
            member.nick = body["nick"] or None
        member.mute = bool(body.get("mute", member.mute))
        member.deaf = bool(body.get("deaf", member.deaf))
        await self._member_updated(guild, user_id)
        if voice_change and user_id in guild.voice:
            await self._voice_changed(guild, user_id, body)
        return ok(self.payloads.member(guild, member))

    async def _voice_changed(self, guild: Guild, user_id: int, body: Json) -> None:
        state = guild.voice[user_id]
        member = guild.members[user_id]
        state.mute, state.deaf = member.mute, member.deaf
        if "channel_id" in body:
            if body["channel_id"] is None:
                del guild.voice[user_id]
                payload = self.payloads.voice_state(guild, state, event=True) | {"channel_id": None}
                await self.fake.emit("VOICE_STATE_UPDATE", payload, guild_id=guild.id)
                return
            state.channel_id = int(body["channel_id"])
        await self.fake.emit(
            "VOICE_STATE_UPDATE", self.payloads.voice_state(guild, state, event=True), guild_id=guild.id
        )

    async def kick_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        user_id = int(request.match_info["user_id"])
        self.state.member(guild, user_id)
        self.state.require(guild, self.state.bot_id, "kick_members")
        self._check_above(guild, user_id)
        await self.fake.remove_member(guild, user_id)
        return no_content()

    async def add_role(self, request: web.Request) -> web.Response:
        return await self._change_role(request, add=True)

    async def remove_role(self, request: web.Request) -> web.Response:
        return await self._change_role(request, add=False)

    async def _change_role(self, request: web.Request, *, add: bool) -> web.Response:
        guild = self._guild(request)
        member = self.state.member(guild, int(request.match_info["user_id"]))
        role = self.state.role(guild, int(request.match_info["role_id"]))
        self.state.check_role_assignable(guild, self.state.bot_id, role)
        changed = (role.id not in member.roles) if add else (role.id in member.roles)
        if changed:
            if add:
                member.roles.append(role.id)
            else:
                member.roles.remove(role.id)
            await self._member_updated(guild, member.user_id)
        return no_content()
