"""Every JSON payload the fake sends, built in one place.

Keyed to what discord.py 2.7.1 requires (reference §4: a missing key kills ``bot.start()``) and to
the required fields of Discord's OpenAPI response schemas. Ids are strings, as Discord sends them.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .state import (
    DM_TYPE,
    VOICE_TYPES,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Role,
    State,
    User,
    VoiceState,
)

log = logging.getLogger(__name__)

Json = dict[str, Any]
ATTACHMENT_SIZE_LIMIT = 26_214_400
CUSTOM_EMOJI = re.compile(r"^(?:a:)?(?P<name>[\w~]+):(?P<id>\d+)$")


def sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def emoji(key: str) -> Json:
    """``"⭐"`` or ``"name:id"`` (as in reaction paths) to an emoji object."""
    match = CUSTOM_EMOJI.match(key)
    if match:
        return {"id": match["id"], "name": match["name"], "animated": key.startswith("a:")}
    return {"id": None, "name": key}


def emoji_key(value: str | Json) -> str:
    """An emoji given as text (``⭐``, ``<:name:id>``, ``name:id``) or an object, to its key."""
    if isinstance(value, dict):
        return f"{value['name']}:{value['id']}" if value.get("id") else str(value["name"])
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].removeprefix("a:").lstrip(":")
    return text


class Payloads:
    """Builders bound to the state and to the fake's base URL (for attachment and avatar URLs)."""

    def __init__(self, state: State, base_url: str = "http://127.0.0.1") -> None:
        self.state = state
        self.base_url = base_url
        self.interaction_metadata: Callable[[Message], Json | None] = lambda message: None

    # -- users and members ----------------------------------------------------------------------

    def user(self, user: User) -> Json:
        data: Json = {
            "id": str(user.id),
            "username": user.name,
            "discriminator": "0",
            "global_name": user.global_name,
            "avatar": user.avatar,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
        }
        if user.bot:
            data["bot"] = True
        return data

    def user_me(self, user: User) -> Json:
        return self.user(user) | {"mfa_enabled": False, "locale": "en-US", "verified": True, "email": None}

    def member(self, guild: Guild, member: Member, *, with_user: bool = True, permissions: bool = False) -> Json:
        data: Json = {
            "avatar": None,
            "banner": None,
            "communication_disabled_until": None,
            "flags": 0,
            "joined_at": iso(member.joined_at),
            "nick": member.nick,
            "pending": False,
            "premium_since": None,
            "roles": [str(r) for r in member.roles],
            "mute": member.mute,
            "deaf": member.deaf,
        }
        if with_user:
            data["user"] = self.user(self.state.users[member.user_id])
        if permissions:
            data["permissions"] = str(self.state.permissions(guild, member.user_id))
        return data

    def presence(self, guild: Guild, member: Member) -> Json:
        status = member.status
        return {
            "user": {"id": str(member.user_id)},
            "guild_id": str(guild.id),
            "status": status,
            "activities": [],
            "client_status": {} if status == "offline" else {"desktop": status},
        }

    # -- roles, channels, guilds ----------------------------------------------------------------

    def role(self, role: Role) -> Json:
        data: Json = {
            "id": str(role.id),
            "name": role.name,
            "permissions": str(role.permissions),
            "position": role.position,
            "color": role.color,
            "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
            "hoist": role.hoist,
            "managed": role.managed,
            "mentionable": role.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if role.managed and role.bot_id is not None:
            data["tags"] = {"bot_id": str(role.bot_id)}
        return data

    def channel(self, channel: Channel) -> Json:
        if channel.type == DM_TYPE:
            recipient = self.state.users[channel.recipient_id or 0]
            return {
                "id": str(channel.id),
                "type": DM_TYPE,
                "flags": 0,
                "last_message_id": sid(channel.last_message_id),
                "recipients": [self.user(recipient)],
            }
        data: Json = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": channel.position,
            "flags": 0,
            "parent_id": sid(channel.parent_id),
            "permission_overwrites": [],
            "nsfw": channel.nsfw,
        }
        if channel.type in VOICE_TYPES:
            data |= {
                "bitrate": channel.bitrate,
                "user_limit": channel.user_limit,
                "rtc_region": None,
                "rate_limit_per_user": 0,
                "last_message_id": sid(channel.last_message_id),
            }
        elif channel.type == 0:
            data |= {"topic": channel.topic, "rate_limit_per_user": 0, "last_message_id": sid(channel.last_message_id)}
        return data

    def guild(self, guild: Guild) -> Json:
        tier = 0
        for threshold, level in ((14, 3), (7, 2), (2, 1)):
            if guild.premium_subscription_count >= threshold:
                tier = level
                break
        system_channel = next((c.id for c in self.state.guild_channels(guild) if c.type == 0), None)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "description": None,
            "home_header": None,
            "splash": None,
            "discovery_splash": None,
            "features": [],
            "banner": None,
            "owner_id": str(guild.owner_id),
            "application_id": None,
            "region": "deprecated",
            "afk_channel_id": sid(guild.afk_channel_id),
            "afk_timeout": 300,
            "system_channel_id": sid(system_channel),
            "system_channel_flags": 0,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "roles": [self.role(r) for r in sorted(guild.roles.values(), key=lambda r: r.position)],
            "default_message_notifications": 0,
            "mfa_level": 0,
            "explicit_content_filter": 0,
            "max_presences": None,
            "max_members": 500000,
            "max_stage_video_channel_users": 50,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": tier,
            "premium_subscription_count": guild.premium_subscription_count,
            "preferred_locale": "en-US",
            "rules_channel_id": None,
            "safety_alerts_channel_id": None,
            "public_updates_channel_id": None,
            "premium_progress_bar_enabled": False,
            "nsfw": False,
            "nsfw_level": 0,
            "emojis": [],
            "stickers": [],
            "incidents_data": None,
        }

    def guild_with_counts(self, guild: Guild) -> Json:
        online = sum(1 for m in guild.members.values() if m.status != "offline")
        return self.guild(guild) | {
            "approximate_member_count": len(guild.members),
            "approximate_presence_count": online,
        }

    def voice_state(self, guild: Guild, state: VoiceState, *, event: bool = False) -> Json:
        data: Json = {
            "user_id": str(state.user_id),
            "channel_id": str(state.channel_id),
            "session_id": state.session_id,
            "deaf": state.deaf,
            "mute": state.mute,
            "self_deaf": state.self_deaf,
            "self_mute": state.self_mute,
            "self_stream": state.self_stream,
            "self_video": state.self_video,
            "suppress": state.suppress,
            "request_to_speak_timestamp": None,
        }
        if event:
            data["guild_id"] = str(guild.id)
            member = guild.members.get(state.user_id)
            if member is not None:
                data["member"] = self.member(guild, member)
        return data

    def guild_create(self, guild: Guild, *, member_limit: int, large_threshold: int, presences: bool) -> Json:
        members = list(guild.members.values())
        if len(members) > member_limit:
            keep = {self.state.bot_id, *guild.voice}
            members = [m for m in members if m.user_id in keep]
        data = self.guild(guild) | {
            "joined_at": iso(guild.members[self.state.bot_id].joined_at)
            if self.state.bot_id in guild.members
            else None,
            "large": len(guild.members) > large_threshold,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [self.member(guild, m) for m in members],
            "channels": [self.channel(c) for c in self.state.guild_channels(guild)],
            "voice_states": [self.voice_state(guild, v) for v in guild.voice.values()],
            "presences": [self.presence(guild, m) for m in members if m.status != "offline"] if presences else [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
        return data

    # -- messages -------------------------------------------------------------------------------

    def attachment(self, attachment: Attachment, *, ephemeral: bool = False) -> Json:
        url = f"{self.base_url}/attachments/{attachment.channel_id}/{attachment.id}/{attachment.filename}"
        data: Json = {
            "id": str(attachment.id),
            "filename": attachment.filename,
            "size": attachment.size,
            "url": url,
            "proxy_url": url,
            "content_type": attachment.content_type,
        }
        if attachment.description:
            data["description"] = attachment.description
        if ephemeral:
            data["ephemeral"] = True
        return data

    def reactions(self, message: Message) -> list[Json]:
        out = []
        for key, users in message.reactions.items():
            if not users:
                continue
            out.append(
                {
                    "emoji": emoji(key),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "burst_colors": [],
                    "me_burst": False,
                    "burst_me": False,
                    "me": self.state.bot_id in users,
                    "burst_count": 0,
                }
            )
        return out

    def message(self, message: Message) -> Json:
        author = self.state.users[message.author_id]
        data: Json = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "type": message.type,
            "content": message.content,
            "author": self.user(author),
            "mentions": [self.user(self.state.users[u]) for u in message.mention_ids if u in self.state.users],
            "mention_roles": [str(r) for r in message.mention_role_ids],
            "mention_everyone": "@everyone" in message.content,
            "attachments": [self.attachment(a, ephemeral=message.ephemeral) for a in message.attachments],
            "embeds": message.embeds,
            "components": message.components,
            "timestamp": iso(message.timestamp),
            "edited_timestamp": iso(message.edited_timestamp),
            "flags": message.flags,
            "pinned": False,
            "tts": message.tts,
        }
        if message.reactions:
            data["reactions"] = self.reactions(message)
        if message.webhook_id is not None:
            data["webhook_id"] = str(message.webhook_id)
            data["application_id"] = str(self.state.application_id)
        metadata = self.interaction_metadata(message)
        if metadata is not None:
            data["interaction_metadata"] = metadata
        return data

    def message_event(self, message: Message) -> Json:
        """MESSAGE_CREATE / MESSAGE_UPDATE: the message plus guild_id and the author's partial member."""
        data = self.message(message)
        if message.guild_id is not None:
            guild = self.state.guilds[message.guild_id]
            data["guild_id"] = str(guild.id)
            member = guild.members.get(message.author_id)
            if member is not None and message.webhook_id is None:
                data["member"] = self.member(guild, member, with_user=False)
        return data

    # -- application ----------------------------------------------------------------------------

    def application(self) -> Json:
        bot = self.state.users[self.state.bot_id]
        owner = self.state.users.get(self.state.owner_id) or User(self.state.owner_id, "owner")
        return {
            "id": str(self.state.application_id),
            "name": bot.name,
            "icon": None,
            "description": "",
            "type": None,
            "bot": self.user(bot),
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "flags_new": "0",
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "owner": self.user(owner),
            "approximate_guild_count": len(self.state.guilds),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "team": None,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
            "tags": [],
            "rpc_origins": [],
            "summary": "",
            "hook": True,
            "integration_types_config": {"0": {}},
        }

    def command(self, body: Json, *, guild_id: int | None, command_id: int) -> Json:
        """An application command as Discord answers a sync: the request echoed plus ids and defaults."""
        data: Json = {
            "id": str(command_id),
            "application_id": str(self.state.application_id),
            "version": str(command_id),
            "type": body.get("type", 1),
            "name": body["name"],
            "description": body.get("description", ""),
            # Discord answers the permission bit set as a string, whichever way it was sent.
            "default_member_permissions": None
            if body.get("default_member_permissions") is None
            else str(body["default_member_permissions"]),
            "dm_permission": body.get("dm_permission", True),
            "nsfw": body.get("nsfw", False),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "name_localizations": body.get("name_localizations"),
            "description_localizations": body.get("description_localizations"),
        }
        if "options" in body:
            data["options"] = [_option(o) for o in body["options"]]
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data


def _option(option: Json) -> Json:
    data = {k: v for k, v in option.items() if v is not None}
    data.setdefault("description", "")
    if "options" in data:
        data["options"] = [_option(o) for o in data["options"]]
    return data


def number_components(components: list[Json]) -> list[Json]:
    """Give every component Discord's numeric ``id`` and select menus their default limits."""
    counter = iter(range(1, 10_000))

    def walk(items: list[Json]) -> list[Json]:
        out = []
        for item in items:
            item = dict(item)
            item.setdefault("id", next(counter))
            if item.get("type") in (3, 5, 6, 7, 8):
                item.setdefault("min_values", 1)
                item.setdefault("max_values", 1)
                if item["type"] == 3:
                    item.setdefault("options", [])
            if item.get("type") == 2:
                item.setdefault("style", 1)
            if "components" in item:
                item["components"] = walk(item["components"])
            if isinstance(item.get("component"), dict):
                item["component"] = walk([item["component"]])[0]
            out.append(item)
        return out

    return walk(components)


def normalise_embeds(embeds: list[Json]) -> list[Json]:
    return [{"type": "rich", **embed} for embed in embeds]


def mentions(content: str) -> tuple[list[int], list[int]]:
    users = [int(m) for m in re.findall(r"<@!?(\d+)>", content)]
    roles = [int(m) for m in re.findall(r"<@&(\d+)>", content)]
    return list(dict.fromkeys(users)), list(dict.fromkeys(roles))


def guess_content_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
