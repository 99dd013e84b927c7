"""The fake's mutable world: users, guilds, roles, channels, members, voice, messages, commands.

Built from a :class:`~fakediscord.world.World`; REST handlers and user-side actions change it, and
payload builders read it. Permission and hierarchy rules live here because both sides need them.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import discord

from core.clock import Clock

from .world import CHANNEL_TYPES, World

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
TEXT_TYPES = (CHANNEL_TYPES["text"], CHANNEL_TYPES["voice"], CHANNEL_TYPES["stage"])
VOICE_TYPES = (CHANNEL_TYPES["voice"], CHANNEL_TYPES["stage"])
DM_TYPE = 1
# Messages remembered per channel: older ones are forgotten (Unknown Message), so a long sandbox run
# under load holds a bounded number of messages, as a bot's own message cache does.
MESSAGE_LIMIT = 5000


def perm(name: str) -> int:
    return discord.Permissions(**{name: True}).value


@dataclass(slots=True)
class User:
    id: int
    name: str
    bot: bool = False
    dm_open: bool = True
    avatar: str | None = None
    global_name: str | None = None


@dataclass
class Role:
    id: int
    name: str
    position: int
    permissions: int
    managed: bool = False
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    bot_id: int | None = None


@dataclass
class Channel:
    id: int
    name: str | None
    type: int
    position: int = 0
    guild_id: int | None = None
    parent_id: int | None = None
    nsfw: bool = False
    topic: str | None = None
    bitrate: int = 64000
    user_limit: int = 0
    recipient_id: int | None = None
    last_message_id: int | None = None


@dataclass(slots=True)
class Member:
    user_id: int
    roles: list[int]
    joined_at: float
    nick: str | None = None
    status: str = "online"
    mute: bool = False
    deaf: bool = False


@dataclass
class VoiceState:
    user_id: int
    channel_id: int
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False
    mute: bool = False
    deaf: bool = False
    suppress: bool = False
    self_stream: bool = False
    self_video: bool = False


@dataclass
class Attachment:
    id: int
    channel_id: int
    filename: str
    content_type: str
    data: bytes
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str
    timestamp: float
    type: int = 0
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[str, list[int]] = field(default_factory=dict)
    flags: int = 0
    edited_timestamp: float | None = None
    tts: bool = False
    webhook_id: int | None = None
    interaction_id: int | None = None
    mention_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    afk_channel_id: int | None
    premium_subscription_count: int
    created: float
    roles: dict[int, Role] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)
    voice: dict[int, VoiceState] = field(default_factory=dict)


class StateError(Exception):
    """A rule of Discord was broken; carries the HTTP status and Discord's JSON error code."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


def form_error(field: str, message: str, code: str = "BASE_TYPE_INVALID") -> StateError:
    """Discord's 400/50035 "Invalid Form Body", naming the field and what is wrong with it."""
    return StateError(400, 50035, "Invalid Form Body", {field: {"_errors": [{"code": code, "message": message}]}})


UNKNOWN = {
    "guild": (10004, "Unknown Guild"),
    "channel": (10003, "Unknown Channel"),
    "member": (10007, "Unknown Member"),
    "message": (10008, "Unknown Message"),
    "role": (10011, "Unknown Role"),
    "user": (10013, "Unknown User"),
    "emoji": (10014, "Unknown Emoji"),
    "webhook": (10015, "Unknown Webhook"),
    "interaction": (10062, "Unknown interaction"),
    "command": (10063, "Unknown application command"),
}


def unknown(kind: str) -> StateError:
    code, message = UNKNOWN[kind]
    return StateError(404, code, message)


def missing_permissions() -> StateError:
    return StateError(403, 50013, "Missing Permissions")


class State:
    def __init__(self, world: World, clock: Clock) -> None:
        self.clock = clock
        self.bot_id = world.bot.id
        self.owner_id = world.bot.owner_id
        self.application_id = world.bot.id
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self._remembered: dict[int, deque[int]] = {}  # per channel, every message kept, oldest first
        self.dm_channels: dict[int, int] = {}
        self.attachments: dict[int, Attachment] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.command_syncs = 0
        self.rename_log: dict[int, list[float]] = {}
        self._last_snowflake = 0
        self._session_counter = itertools.count(1)
        self.users[world.bot.id] = User(world.bot.id, world.bot.name, bot=True)
        self._load(world)

    def _load(self, world: World) -> None:
        now = self.clock.time()
        for spec in world.guilds:
            guild = Guild(
                id=spec.id,
                name=spec.name,
                owner_id=spec.owner_id,
                afk_channel_id=spec.afk_channel_id,
                premium_subscription_count=spec.premium_subscription_count,
                created=now - 86400 * 365,
            )
            for r in spec.roles:
                guild.roles[r.id] = Role(
                    r.id, r.name, r.position, r.permissions, r.managed, r.color, r.hoist, r.mentionable
                )
            for c in spec.channels:
                channel = Channel(
                    id=c.id,
                    name=c.name,
                    type=c.type,
                    position=c.position,
                    guild_id=guild.id,
                    parent_id=c.parent_id,
                    nsfw=c.nsfw,
                    topic=c.topic,
                    bitrate=c.bitrate,
                    user_limit=c.user_limit,
                )
                self.channels[c.id] = channel
                self.channel_messages[c.id] = []
                guild.channel_ids.append(c.id)
            for i, m in enumerate(spec.members):
                user = self.users.get(m.id)
                if user is None:
                    self.users[m.id] = User(m.id, m.name, bot=m.bot, dm_open=m.dm_open, avatar=m.avatar)
                guild.members[m.id] = Member(
                    m.id, list(m.roles), joined_at=now - 86400 * 30 + i, nick=m.nick, status=m.status
                )
            for role in guild.roles.values():
                if role.managed and role.bot_id is None:
                    holders = [
                        mid for mid, mem in guild.members.items() if role.id in mem.roles and self.users[mid].bot
                    ]
                    role.bot_id = holders[0] if holders else None
            self.guilds[guild.id] = guild

    # -- ids and time ---------------------------------------------------------------------------

    def snowflake(self) -> int:
        """A new id whose timestamp part is the clock's time, strictly increasing."""
        value = (int(self.clock.time() * 1000) - DISCORD_EPOCH_MS) << 22
        value = max(value, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    def session_id(self) -> str:
        return f"{next(self._session_counter):08x}{self.snowflake() % 16**24:024x}"

    # -- lookups --------------------------------------------------------------------------------

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise unknown("guild") from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise unknown("channel") from None

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise unknown("user") from None

    def member(self, guild: Guild, user_id: int) -> Member:
        try:
            return guild.members[user_id]
        except KeyError:
            raise unknown("member") from None

    def role(self, guild: Guild, role_id: int) -> Role:
        try:
            return guild.roles[role_id]
        except KeyError:
            raise unknown("role") from None

    def message(self, channel_id: int, message_id: int) -> Message:
        message = self.messages.get(message_id)
        if message is None or message.channel_id != channel_id or message.deleted:
            raise unknown("message")
        return message

    def guild_channels(self, guild: Guild) -> list[Channel]:
        return [self.channels[cid] for cid in guild.channel_ids]

    def find_member(self, guild: Guild, needle: str) -> int | None:
        for user_id in guild.members:
            user = self.users[user_id]
            if needle in (user.name, str(user_id), user.global_name):
                return user_id
        return None

    # -- permissions ----------------------------------------------------------------------------

    def permissions(self, guild: Guild, user_id: int) -> int:
        """Guild-level permissions of a member (channel overwrites are not modelled)."""
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        if member is None:
            return 0
        value = guild.roles[guild.id].permissions if guild.id in guild.roles else 0
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        if value & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return value

    def has(self, guild: Guild, user_id: int, *names: str) -> bool:
        value = self.permissions(guild, user_id)
        return all(value & perm(name) for name in names)

    def require(self, guild: Guild, user_id: int, *names: str) -> None:
        if not self.has(guild, user_id, *names):
            raise missing_permissions()

    def top_position(self, guild: Guild, user_id: int) -> int:
        member = guild.members.get(user_id)
        if member is None:
            return -1
        positions = [guild.roles[r].position for r in member.roles if r in guild.roles]
        return max(positions, default=0)

    def check_role_assignable(self, guild: Guild, actor_id: int, role: Role) -> None:
        """Manage Roles, the role below the actor's top role, and not managed (else 403/50013)."""
        self.require(guild, actor_id, "manage_roles")
        if role.managed or role.id == guild.id:
            raise missing_permissions()
        if actor_id != guild.owner_id and role.position >= self.top_position(guild, actor_id):
            raise missing_permissions()

    # -- messages -------------------------------------------------------------------------------

    def add_message(self, message: Message, *, listed: bool = True) -> Message:
        self.messages[message.id] = message
        if listed:
            self.channel_messages.setdefault(message.channel_id, []).append(message.id)
            channel = self.channels.get(message.channel_id)
            if channel is not None:
                channel.last_message_id = message.id
        for attachment in message.attachments:
            self.attachments[attachment.id] = attachment
        remembered = self._remembered.setdefault(message.channel_id, deque())
        remembered.append(message.id)
        if len(remembered) > MESSAGE_LIMIT:
            self._forget(remembered.popleft())
        return message

    def _forget(self, message_id: int) -> None:
        message = self.messages.pop(message_id, None)
        if message is None:
            return
        listed = self.channel_messages.get(message.channel_id)
        if listed and listed[0] == message_id:
            del listed[0]
        elif listed:
            with contextlib.suppress(ValueError):
                listed.remove(message_id)
        for attachment in message.attachments:
            self.attachments.pop(attachment.id, None)

    def delete_message(self, message: Message) -> None:
        message.deleted = True
        ids = self.channel_messages.get(message.channel_id, [])
        if message.id in ids:
            ids.remove(message.id)

    def listed_messages(self, channel_id: int) -> list[Message]:
        return [self.messages[mid] for mid in self.channel_messages.get(channel_id, [])]

    def dm_channel(self, user_id: int) -> Channel:
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            channel = Channel(id=self.snowflake(), name=None, type=DM_TYPE, recipient_id=user_id)
            self.channels[channel.id] = channel
            self.channel_messages[channel.id] = []
            self.dm_channels[user_id] = channel.id
            return channel
        return self.channels[channel_id]

    # -- commands -------------------------------------------------------------------------------

    def commands_for(self, guild_id: int | None) -> list[dict[str, Any]]:
        if guild_id is None:
            return self.global_commands
        return self.guild_commands.get(guild_id, [])

    def find_command(self, guild_id: int | None, name: str, kind: int = 1) -> dict[str, Any] | None:
        scopes = ([self.guild_commands.get(guild_id, [])] if guild_id is not None else []) + [self.global_commands]
        for commands in scopes:
            for command in commands:
                if command["name"] == name and command.get("type", 1) == kind:
                    return command
        return None
