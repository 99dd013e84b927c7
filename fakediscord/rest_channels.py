"""REST routes for channels, messages and reactions, with the channel-rename rate limit."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .messages import build_message, edit_message, request_files
from .payloads import CUSTOM_EMOJI, Json, emoji
from .responses import error_response
from .rest import body_dict, no_content, ok
from .state import DM_TYPE, TEXT_TYPES, Channel, Message, StateError, form_error, missing_permissions, unknown

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

P = "/api/v10"
RENAME_LIMIT = 2
RENAME_WINDOW = 600.0


def register(app: web.Application, fake: FakeDiscord) -> None:
    api = ChannelApi(fake)
    r = app.router
    c = f"{P}/channels/{{channel_id:\\d+}}"
    m = f"{c}/messages/{{message_id:\\d+}}"
    r.add_get(c, api.get_channel)
    r.add_patch(c, api.patch_channel)
    r.add_delete(c, api.delete_channel)
    r.add_post(f"{c}/typing", api.typing)
    r.add_get(f"{c}/messages", api.list_messages)
    r.add_post(f"{c}/messages", api.create_message)
    r.add_get(m, api.get_message)
    r.add_patch(m, api.edit_message)
    r.add_delete(m, api.delete_message)
    r.add_delete(f"{m}/reactions", api.clear_reactions)
    r.add_get(f"{m}/reactions/{{emoji}}", api.reaction_users)
    r.add_put(f"{m}/reactions/{{emoji}}/@me", api.add_reaction)
    r.add_delete(f"{m}/reactions/{{emoji}}/@me", api.remove_own_reaction)
    r.add_delete(f"{m}/reactions/{{emoji}}/{{user_id:\\d+}}", api.remove_reaction)


def valid_emoji(key: str) -> bool:
    return bool(CUSTOM_EMOJI.match(key)) or any(ord(ch) > 127 for ch in key)


class ChannelApi:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.store
        self.payloads = fake.payloads

    def _channel(self, request: web.Request) -> Channel:
        channel = self.state.channel(int(request.match_info["channel_id"]))
        if channel.type == DM_TYPE and channel.recipient_id not in self.state.users:
            raise unknown("channel")
        return channel

    def _require(self, channel: Channel, *names: str) -> None:
        if channel.guild_id is not None:
            self.state.require(self.state.guilds[channel.guild_id], self.state.bot_id, *names)

    def _message(self, request: web.Request) -> tuple[Channel, Message]:
        channel = self._channel(request)
        return channel, self.state.message(channel.id, int(request.match_info["message_id"]))

    async def _emit(self, event: str, data: Json, channel: Channel) -> None:
        await self.fake.emit(event, data, guild_id=channel.guild_id)

    # -- channels -------------------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        return ok(self.payloads.channel(self._channel(request)))

    async def patch_channel(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if channel.type == DM_TYPE:
            raise StateError(400, 50024, "Cannot execute action on this channel type")
        self._require(channel, "manage_channels")
        body = body_dict(request)
        name = body.get("name", channel.name)
        if "name" in body and (not isinstance(name, str) or not 1 <= len(name) <= 100):
            raise form_error("name", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH")
        if "name" in body or "topic" in body:
            limited = self._rename_limited(channel)
            if limited is not None:
                return limited
        if "name" in body:
            channel.name = name if channel.type != 0 else name.lower().replace(" ", "-")
        for key in ("topic", "nsfw", "position", "bitrate", "user_limit"):
            if key in body and body[key] is not None:
                setattr(channel, key, body[key])
        if "parent_id" in body:
            channel.parent_id = int(body["parent_id"]) if body["parent_id"] is not None else None
        payload = self.payloads.channel(channel)
        await self._emit("CHANNEL_UPDATE", payload, channel)
        return ok(payload)

    def _rename_limited(self, channel: Channel) -> web.Response | None:
        """Discord allows 2 name/topic changes per channel per 10 minutes (of the injected clock)."""
        now = self.fake.clock.time()
        recent = [t for t in self.state.rename_log.get(channel.id, []) if t > now - RENAME_WINDOW]
        if len(recent) >= RENAME_LIMIT:
            retry_after = round(recent[0] + RENAME_WINDOW - now, 3)
            log.info("channel %s rename rate limited for %.1fs", channel.id, retry_after)
            return error_response(
                self.fake.clock,
                429,
                0,
                retry_after=retry_after,
                bucket=f"channel-rename-{channel.id}",
                limit=RENAME_LIMIT,
            )
        recent.append(now)
        self.state.rename_log[channel.id] = recent
        return None

    async def delete_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel.type == DM_TYPE:
            return ok(self.payloads.channel(channel))
        self._require(channel, "manage_channels")
        guild = self.state.guilds[channel.guild_id or 0]
        payload = self.payloads.channel(channel)
        guild.channel_ids.remove(channel.id)
        del self.state.channels[channel.id]
        for user_id in [u for u, v in guild.voice.items() if v.channel_id == channel.id]:
            del guild.voice[user_id]
        await self._emit("CHANNEL_DELETE", payload, channel)
        return ok(payload)

    async def typing(self, request: web.Request) -> web.Response:
        self._channel(request)
        return no_content()

    # -- messages -------------------------------------------------------------------------------

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(channel, "view_channel", "read_message_history")
        try:
            limit = max(1, min(100, int(request.query.get("limit", "50"))))
            before = int(request.query.get("before", "0")) or None
            after = int(request.query.get("after", "0")) or None
            around = int(request.query.get("around", "0")) or None
        except ValueError:
            raise StateError(400, 50035, "Invalid Form Body") from None
        messages = self.state.listed_messages(channel.id)
        if around is not None:
            older = [m for m in messages if m.id <= around][-((limit + 1) // 2) :]
            newer = [m for m in messages if m.id > around][: limit // 2]
            chosen = older + newer
        elif after is not None:
            chosen = [m for m in messages if m.id > after][:limit]
        else:
            chosen = [m for m in messages if before is None or m.id < before][-limit:]
        return ok([self.payloads.message(m) for m in reversed(chosen)])

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        files = request_files(request)
        if channel.type == DM_TYPE:
            recipient = self.state.users[channel.recipient_id or 0]
            if not recipient.dm_open or recipient.bot:
                raise StateError(403, 50007, "Cannot send messages to this user")
        elif channel.type not in TEXT_TYPES:
            raise StateError(400, 50008, "Cannot send messages in a non-text channel")
        else:
            self._require(channel, "view_channel", "send_messages")
            if files:
                self._require(channel, "attach_files")
        message = build_message(
            self.state,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=self.state.bot_id,
            body=body_dict(request),
            files=files,
        )
        self.state.add_message(message)
        await self._emit("MESSAGE_CREATE", self.payloads.message_event(message), channel)
        return ok(self.payloads.message(message))

    async def get_message(self, request: web.Request) -> web.Response:
        channel, message = self._message(request)
        self._require(channel, "view_channel", "read_message_history")
        return ok(self.payloads.message(message))

    async def edit_message(self, request: web.Request) -> web.Response:
        channel, message = self._message(request)
        if message.author_id != self.state.bot_id:
            body = body_dict(request)
            if set(body) - {"flags"}:
                raise StateError(403, 50005, "Cannot edit a message authored by another user")
            self._require(channel, "manage_messages")
        edit_message(self.state, message, body_dict(request), request_files(request))
        await self._emit("MESSAGE_UPDATE", self.payloads.message_event(message), channel)
        return ok(self.payloads.message(message))

    async def delete_message(self, request: web.Request) -> web.Response:
        channel, message = self._message(request)
        if message.author_id != self.state.bot_id:
            if channel.type == DM_TYPE:
                raise StateError(403, 50003, "Cannot execute action on a DM channel")
            self._require(channel, "manage_messages")
        self.state.delete_message(message)
        payload: Json = {"id": str(message.id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            payload["guild_id"] = str(channel.guild_id)
        await self._emit("MESSAGE_DELETE", payload, channel)
        return no_content()

    # -- reactions ------------------------------------------------------------------------------

    def _emoji(self, request: web.Request) -> str:
        key = request.match_info["emoji"]
        if not valid_emoji(key):
            raise unknown("emoji")
        return key

    def _reaction_payload(self, channel: Channel, message: Message, user_id: int, key: str, *, add: bool) -> Json:
        data: Json = {
            "user_id": str(user_id),
            "channel_id": str(channel.id),
            "message_id": str(message.id),
            "emoji": emoji(key),
            "burst": False,
            "type": 0,
        }
        if channel.guild_id is not None:
            guild = self.state.guilds[channel.guild_id]
            data["guild_id"] = str(guild.id)
            if add and user_id in guild.members:
                data["member"] = self.payloads.member(guild, guild.members[user_id])
        if add:
            data["message_author_id"] = str(message.author_id)
            data["burst_colors"] = []
        return data

    async def add_reaction(self, request: web.Request) -> web.Response:
        channel, message = self._message(request)
        key = self._emoji(request)
        self._require(channel, "read_message_history", "add_reactions")
        users = message.reactions.setdefault(key, [])
        if self.state.bot_id not in users:
            users.append(self.state.bot_id)
            data = self._reaction_payload(channel, message, self.state.bot_id, key, add=True)
            await self._emit("MESSAGE_REACTION_ADD", data, channel)
        return no_content()

    async def remove_own_reaction(self, request: web.Request) -> web.Response:
        channel, message = self._message(request)
        await self._remove(channel, message, self._emoji(request), self.state.bot_id)
        return no_content()

    async def remove_reaction(self, request: web.Request) -> web.Response:
        channel, message = self._message(request)
        key = self._emoji(request)
        user_id = int(request.match_info["user_id"])
        if user_id != self.state.bot_id:
            if channel.type == DM_TYPE:
                raise missing_permissions()
            self._require(channel, "manage_messages")
        await self._remove(channel, message, key, user_id)
        return no_content()

    async def _remove(self, channel: Channel, message: Message, key: str, user_id: int) -> None:
        users = message.reactions.get(key, [])
        if user_id in users:
            users.remove(user_id)
            if not users:
                del message.reactions[key]
            data = self._reaction_payload(channel, message, user_id, key, add=False)
            await self._emit("MESSAGE_REACTION_REMOVE", data, channel)

    async def clear_reactions(self, request: web.Request) -> web.Response:
        channel, message = self._message(request)
        self._require(channel, "manage_messages")
        message.reactions.clear()
        data: Json = {"channel_id": str(channel.id), "message_id": str(message.id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        await self._emit("MESSAGE_REACTION_REMOVE_ALL", data, channel)
        return no_content()

    async def reaction_users(self, request: web.Request) -> web.Response:
        _, message = self._message(request)
        key = self._emoji(request)
        try:
            limit = max(1, min(100, int(request.query.get("limit", "25"))))
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise StateError(400, 50035, "Invalid Form Body") from None
        users = sorted(u for u in message.reactions.get(key, []) if u > after)[:limit]
        return ok([self.payloads.user(self.state.users[u]) for u in users])
