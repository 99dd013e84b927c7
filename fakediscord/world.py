"""The world fakediscord starts from: guilds, roles, channels and members, loaded from TOML.

The file format is DESIGN §7. Everything is validated up front; a mistake raises :class:`WorldError`
naming the offending key, e.g. ``guilds[0].roles[2].permissions: unknown permission 'manage_rolez'``.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import discord

from .ratelimits import RateLimitSpec, parse_spec

log = logging.getLogger(__name__)

CHANNEL_TYPES = {"text": 0, "voice": 2, "category": 4, "stage": 13}
STATUSES = ("online", "idle", "dnd", "offline")
GENERATED_ID_BASE = 1_300_000_000_000_000_000


class WorldError(ValueError):
    """The world file is malformed; the message names the offending key."""


@dataclass
class BotSpec:
    id: int
    name: str
    owner_id: int


@dataclass
class RoleSpec:
    id: int
    name: str
    position: int
    permissions: int
    managed: bool = False
    color: int = 0
    hoist: bool = False
    mentionable: bool = False


@dataclass
class ChannelSpec:
    id: int
    name: str
    type: int
    position: int
    parent_id: int | None = None
    nsfw: bool = False
    topic: str | None = None
    bitrate: int = 64000
    user_limit: int = 0


@dataclass(slots=True)
class MemberSpec:
    id: int
    name: str
    bot: bool = False
    roles: list[int] = field(default_factory=list)
    dm_open: bool = True
    status: str = "online"
    nick: str | None = None
    avatar: str | None = None


@dataclass
class GuildSpec:
    id: int
    name: str
    owner_id: int
    afk_channel_id: int | None = None
    premium_subscription_count: int = 0
    generate_members: int = 0
    roles: list[RoleSpec] = field(default_factory=list)
    channels: list[ChannelSpec] = field(default_factory=list)
    members: list[MemberSpec] = field(default_factory=list)


@dataclass
class World:
    bot: BotSpec
    guilds: list[GuildSpec]
    rate_limits: RateLimitSpec = field(default_factory=RateLimitSpec)

    def guild(self, guild_id: int) -> GuildSpec:
        for guild in self.guilds:
            if guild.id == guild_id:
                return guild
        raise KeyError(guild_id)


def permission_value(names: list[str], where: str) -> int:
    """Map permission names (discord.Permissions flag names) to Discord's bit value."""
    if not isinstance(names, list):
        raise WorldError(f"{where}: expected a list of permission names")
    value = 0
    for name in names:
        if not isinstance(name, str) or name not in discord.Permissions.VALID_FLAGS:
            raise WorldError(f"{where}: unknown permission {name!r}")
        value |= discord.Permissions(**{name: True}).value
    return value


class _Table:
    """Typed access to one TOML table that remembers where it is and rejects unknown keys."""

    def __init__(self, data: Any, where: str, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise WorldError(f"{where}: expected a table")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise WorldError(f"{where}.{unknown[0]}: unknown key")
        self.data = data
        self.where = where

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise WorldError(f"{self.where}.{key}: missing")
            return default
        value = self.data[key]
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise WorldError(f"{self.where}.{key}: expected {_kind_name(kind)}")
        if not isinstance(value, kind):
            raise WorldError(f"{self.where}.{key}: expected {_kind_name(kind)}")
        return value

    def snowflake(self, key: str, *, required: bool = True) -> int | None:
        value = self._get(key, (int, str), None, required)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise WorldError(f"{self.where}.{key}: not a snowflake: {value!r}") from None
        if not 0 < number < 2**63:
            raise WorldError(f"{self.where}.{key}: snowflake out of range: {value!r}")
        return number

    def string(self, key: str, *, required: bool = True, default: str | None = None) -> str | None:
        value = self._get(key, str, default, required)
        if value is not None and required and not value.strip():
            raise WorldError(f"{self.where}.{key}: must not be empty")
        return value

    def integer(self, key: str, default: int = 0, *, minimum: int = 0) -> int:
        value = self._get(key, int, default, False)
        if value < minimum:
            raise WorldError(f"{self.where}.{key}: must be >= {minimum}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return self._get(key, bool, default, False)

    def tables(self, key: str) -> list[Any]:
        value = self._get(key, list, [], False)
        return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {"int": "an integer", "str": "a string", "bool": "true or false", "list": "a list"}.get(k.__name__, k.__name__)
        for k in kinds
    )


def parse_world(data: dict[str, Any]) -> World:
    """Validate a parsed TOML document and build the :class:`World`."""
    top = _Table(data, "world", {"bot", "guilds", "rate_limits"})
    if "bot" not in data:
        raise WorldError("bot: missing [bot] table")
    bot_t = _Table(data["bot"], "bot", {"id", "name", "owner_id"})
    bot = BotSpec(id=bot_t.snowflake("id"), name=bot_t.string("name"), owner_id=bot_t.snowflake("owner_id"))
    raw_guilds = top.tables("guilds")
    if not raw_guilds:
        raise WorldError("guilds: at least one [[guilds]] entry is needed")
    guilds = [_parse_guild(raw, f"guilds[{i}]", bot) for i, raw in enumerate(raw_guilds)]
    seen: dict[int, str] = {}

    def claim(snowflake: int, where: str) -> None:
        if snowflake in seen:
            raise WorldError(f"{where}: id {snowflake} is already used by {seen[snowflake]}")
        seen[snowflake] = where

    for i, guild in enumerate(guilds):
        claim(guild.id, f"guilds[{i}].id")
        for j, role in enumerate(guild.roles):
            if role.id != guild.id:
                claim(role.id, f"guilds[{i}].roles[{j}].id")
        for j, channel in enumerate(guild.channels):
            claim(channel.id, f"guilds[{i}].channels[{j}].id")
    try:
        rate_limits = parse_spec(data["rate_limits"]) if "rate_limits" in data else RateLimitSpec()
    except ValueError as error:
        raise WorldError(str(error)) from None
    return World(bot=bot, guilds=guilds, rate_limits=rate_limits)


def _parse_guild(raw: Any, where: str, bot: BotSpec) -> GuildSpec:
    allowed = {"id", "name", "owner_id", "afk_channel_id", "premium_subscription_count", "generate_members"}
    t = _Table(raw, where, allowed | {"roles", "channels", "members"})
    guild = GuildSpec(
        id=t.snowflake("id"),
        name=t.string("name"),
        owner_id=t.snowflake("owner_id"),
        afk_channel_id=t.snowflake("afk_channel_id", required=False),
        premium_subscription_count=t.integer("premium_subscription_count"),
        generate_members=t.integer("generate_members"),
    )
    guild.roles = [_parse_role(r, f"{where}.roles[{i}]") for i, r in enumerate(t.tables("roles"))]
    if not any(role.id == guild.id for role in guild.roles):
        guild.roles.insert(0, RoleSpec(id=guild.id, name="@everyone", position=0, permissions=_default_everyone()))
    guild.channels = [_parse_channel(c, f"{where}.channels[{i}]", i) for i, c in enumerate(t.tables("channels"))]
    guild.members = [_parse_member(m, f"{where}.members[{i}]") for i, m in enumerate(t.tables("members"))]
    _check_guild(guild, where, bot)
    guild.members.extend(_generate_members(guild, len(guild.members)))
    return guild


def _default_everyone() -> int:
    return permission_value(
        ["view_channel", "send_messages", "read_message_history", "add_reactions", "connect", "speak"], "everyone"
    )


def _parse_role(raw: Any, where: str) -> RoleSpec:
    t = _Table(raw, where, {"id", "name", "position", "permissions", "managed", "color", "hoist", "mentionable"})
    return RoleSpec(
        id=t.snowflake("id"),
        name=t.string("name"),
        position=t.integer("position"),
        permissions=permission_value(t.tables("permissions"), f"{where}.permissions"),
        managed=t.boolean("managed", False),
        color=t.integer("color"),
        hoist=t.boolean("hoist", False),
        mentionable=t.boolean("mentionable", False),
    )


def _parse_channel(raw: Any, where: str, index: int) -> ChannelSpec:
    t = _Table(raw, where, {"id", "name", "type", "parent_id", "nsfw", "topic", "position", "bitrate", "user_limit"})
    kind = t.string("type", required=False, default="text")
    if kind not in CHANNEL_TYPES:
        raise WorldError(f"{where}.type: unknown channel type {kind!r} (use {', '.join(CHANNEL_TYPES)})")
    return ChannelSpec(
        id=t.snowflake("id"),
        name=t.string("name"),
        type=CHANNEL_TYPES[kind],
        position=t.integer("position", index),
        parent_id=t.snowflake("parent_id", required=False),
        nsfw=t.boolean("nsfw", False),
        topic=t.string("topic", required=False),
        bitrate=t.integer("bitrate", 64000, minimum=8000),
        user_limit=t.integer("user_limit"),
    )


def _parse_member(raw: Any, where: str) -> MemberSpec:
    t = _Table(raw, where, {"id", "name", "bot", "roles", "dm_open", "status", "nick", "avatar"})
    roles = t.tables("roles")
    role_ids = []
    for i, role in enumerate(roles):
        try:
            role_ids.append(int(role))
        except (TypeError, ValueError):
            raise WorldError(f"{where}.roles[{i}]: not a role id: {role!r}") from None
    status = t.string("status", required=False, default="online")
    if status not in STATUSES:
        raise WorldError(f"{where}.status: must be one of {', '.join(STATUSES)}")
    return MemberSpec(
        id=t.snowflake("id"),
        name=t.string("name"),
        bot=t.boolean("bot", False),
        roles=role_ids,
        dm_open=t.boolean("dm_open", True),
        status=status,
        nick=t.string("nick", required=False),
        avatar=t.string("avatar", required=False),
    )


def _check_guild(guild: GuildSpec, where: str, bot: BotSpec) -> None:
    role_ids = {role.id for role in guild.roles}
    channels = {channel.id: channel for channel in guild.channels}
    for i, role in enumerate(guild.roles):
        if role.id == guild.id and role.position != 0:
            raise WorldError(f"{where}.roles[{i}].position: @everyone must have position 0")
    for i, channel in enumerate(guild.channels):
        if channel.parent_id is not None:
            parent = channels.get(channel.parent_id)
            if parent is None or parent.type != CHANNEL_TYPES["category"]:
                raise WorldError(f"{where}.channels[{i}].parent_id: {channel.parent_id} is not a category here")
    if guild.afk_channel_id is not None:
        afk = channels.get(guild.afk_channel_id)
        if afk is None or afk.type != CHANNEL_TYPES["voice"]:
            raise WorldError(f"{where}.afk_channel_id: {guild.afk_channel_id} is not a voice channel here")
    member_ids: set[int] = set()
    for i, member in enumerate(guild.members):
        if member.id in member_ids:
            raise WorldError(f"{where}.members[{i}].id: duplicate member {member.id}")
        member_ids.add(member.id)
        for j, role_id in enumerate(member.roles):
            if role_id not in role_ids or role_id == guild.id:
                raise WorldError(f"{where}.members[{i}].roles[{j}]: unknown role {role_id}")
        if member.id == bot.id and not member.bot:
            member.bot = True
    if guild.owner_id not in member_ids:
        raise WorldError(f"{where}.owner_id: the owner {guild.owner_id} must be one of the members")
    if bot.id not in member_ids:
        raise WorldError(f"{where}.members: the bot (id {bot.id}) must be a member")


def _generate_members(guild: GuildSpec, offset: int) -> list[MemberSpec]:
    taken = {member.id for member in guild.members}
    base = GENERATED_ID_BASE + (guild.id % 1000) * 1_000_000
    members = []
    for n in range(guild.generate_members):
        member_id = base + n
        while member_id in taken:
            member_id += 1_000_000_000
        taken.add(member_id)
        status = STATUSES[n % len(STATUSES)]
        members.append(MemberSpec(id=member_id, name=f"member-{offset + n:05d}", status=status))
    return members


def load_world(path: str | Path) -> World:
    """Read and validate a world file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise WorldError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise WorldError(f"{path}: cannot read: {error}") from None
    world = parse_world(data)
    log.debug("loaded world %s with %d guild(s)", path, len(world.guilds))
    return world


def default_world() -> World:
    """The world that ships with fakediscord (``default_world.toml``)."""
    text = resources.files(__package__).joinpath("default_world.toml").read_text(encoding="utf-8")
    return parse_world(tomllib.loads(text))
