"""The server-stats module's rules: settings, enabling, statistics recording and per-day views.

Both doors call these: the ``/serverstats`` commands and ``/modules/serverstats`` routes. What they
need from Discord comes through :class:`StatsDiscord`, implemented by the serverstats cog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from storage import Repositories
from storage.serverstats import RecordedEvent

DAY = 86_400
MAX_VIEW_DAYS = 30


class ModuleDisabled(Exception):
    """The module is off for this guild (code 800)."""


class ModuleEnabled(Exception):
    """The module is already on for this guild (code 801)."""


class SettingsMissing(Exception):
    """The guild has no settings, or the bot is not in it (code 802)."""


class InvalidSettings(ValueError):
    """Settings that cannot be stored as given (400)."""


class DiscordUnavailable(Exception):
    """Discord could not be reached or refused the change (code 804)."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: int
    kind: str  # text, voice, category, stage, forum, news, other
    nsfw: bool = False
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class GuildCounts:
    members: int
    online: int
    boosts: int
    online_source: str  # "presences" or "approximate (no presences intent)"
    role_online: dict[int, int] = field(default_factory=dict)
    role_source: str = "presences"


class StatsDiscord(Protocol):
    """What the module asks of Discord; no discord.py types cross this line."""

    def guild_channels(self, guild_id: int) -> dict[int, ChannelInfo] | None:
        """The guild's channels, or None when the bot is not in the guild."""

    def guild_roles(self, guild_id: int) -> set[int]: ...

    async def create_voice_channel(self, guild_id: int, category_id: int, name: str) -> int: ...

    async def delete_channel(self, guild_id: int, channel_id: int) -> None: ...


# --- settings -------------------------------------------------------------------------------------

BOOLEAN_FIELDS = (
    "counter_panel_enabled",
    "starboard_enabled",
    "stats_command_usage",
    "stats_message_statistics",
    "stats_track_bot_messages",
    "stats_functions_reminders_statistics_enabled",
    "stats_functions_giveaways_statistics_enabled",
    "stats_modules_tempchannels_statistics_enabled",
    "stats_modules_autoresponder_statistics_enabled",
    "stats_modules_reactionroles_statistics_enabled",
    "stats_modules_tags_statistics_enabled",
)
CHANNEL_FIELDS = (
    "counter_panel_category_channel",
    "counter_panel_member_count_channel",
    "counter_panel_online_member_count_channel",
    "counter_panel_server_boost_number_channel",
    "starboard_channel",
)

DEFAULT_SETTINGS: dict[str, Any] = {
    "counter_panel_enabled": False,
    "counter_panel_category_channel": None,
    "counter_panel_member_count_channel": None,
    "counter_panel_online_member_count_channel": None,
    "counter_panel_server_boost_number_channel": None,
    "counter_panel_custom_panels": [],
    "starboard_enabled": False,
    "starboard_channel": None,
    "starboard_count": None,
    "stats_command_usage": True,
    "stats_message_statistics": True,
    "stats_track_bot_messages": False,
    "stats_functions_reminders_statistics_enabled": True,
    "stats_functions_giveaways_statistics_enabled": True,
    "stats_modules_tempchannels_statistics_enabled": True,
    "stats_modules_autoresponder_statistics_enabled": True,
    "stats_modules_reactionroles_statistics_enabled": True,
    "stats_modules_tags_statistics_enabled": True,
}


@dataclass(frozen=True, slots=True)
class CustomPanel:
    channel_name: str
    role_id: int


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """A complete PUT of the settings (every field given, as the API requires)."""

    values: dict[str, Any]
    custom_create: list[CustomPanel]
    custom_delete: list[int]


def settings_view(guild_id: int, enabled: bool, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as the API shows them: ids as strings."""
    view: dict[str, Any] = {"guild_id": str(guild_id), "enabled": enabled}
    for name in DEFAULT_SETTINGS:
        value = settings.get(name, DEFAULT_SETTINGS[name])
        if name in CHANNEL_FIELDS:
            value = None if value is None else str(value)
        elif name == "counter_panel_custom_panels":
            value = [
                {"channel_id": str(p["channel_id"]), "channel_name": p["channel_name"], "role_id": str(p["role_id"])}
                for p in value
            ]
        view[name] = value
    return view


async def enabled_settings(repos: Repositories, guild_id: int) -> dict[str, Any]:
    """The settings of a guild where the module is on, or ModuleDisabled."""
    state = await repos.serverstats.get(guild_id)
    if state is None or not state.enabled:
        raise ModuleDisabled(guild_id)
    return {**DEFAULT_SETTINGS, **state.settings}


def require_guild(discord: StatsDiscord | None, guild_id: int) -> dict[int, ChannelInfo]:
    if discord is None:
        raise DiscordUnavailable("Discord is not reachable right now")
    channels = discord.guild_channels(guild_id)
    if channels is None:
        raise SettingsMissing(f"the bot is not in guild {guild_id}")
    return channels


async def enable(repos: Repositories, discord: StatsDiscord | None, guild_id: int, *, now: int) -> None:
    require_guild(discord, guild_id)
    if not await repos.serverstats.enable(guild_id, DEFAULT_SETTINGS, now=now):
        raise ModuleEnabled(guild_id)


async def disable(repos: Repositories, guild_id: int, *, now: int) -> None:
    """Turn the module off; everything it collected in the guild is deleted, as the original does."""
    if not await repos.serverstats.disable(guild_id, now=now):
        state = await repos.serverstats.get(guild_id)
        raise ModuleDisabled(guild_id) if state is not None else SettingsMissing(guild_id)


def _check_channel(channels: dict[int, ChannelInfo], name: str, value: int | None, kinds: tuple[str, ...]) -> None:
    if value is None:
        return
    channel = channels.get(value)
    if channel is None:
        raise InvalidSettings(f"{name}: channel {value} is not a channel of this guild")
    if channel.kind not in kinds:
        raise InvalidSettings(f"{name}: channel {value} is a {channel.kind} channel, not {' or '.join(kinds)}")


def validate(
    change: SettingsChange, channels: dict[int, ChannelInfo], roles: set[int], current: dict[str, Any]
) -> None:
    values = change.values
    counter_kinds = ("voice", "text", "stage", "news")
    _check_channel(channels, "counter_panel_category_channel", values["counter_panel_category_channel"], ("category",))
    for name in (
        "counter_panel_member_count_channel",
        "counter_panel_online_member_count_channel",
        "counter_panel_server_boost_number_channel",
    ):
        _check_channel(channels, name, values[name], counter_kinds)
    _check_channel(channels, "starboard_channel", values["starboard_channel"], ("text", "news"))
    if values["starboard_enabled"]:
        if values["starboard_channel"] is None:
            raise InvalidSettings("starboard_channel is required while the starboard is enabled")
        if values["starboard_count"] is None:
            raise InvalidSettings("starboard_count may be null only while the starboard is disabled")
    if values["starboard_count"] is not None and not 1 <= values["starboard_count"] <= 1000:
        raise InvalidSettings("starboard_count must be between 1 and 1000")
    if values["counter_panel_enabled"] and values["counter_panel_category_channel"] is None:
        raise InvalidSettings("counter_panel_category_channel is required while the counter panel is enabled")
    for panel in change.custom_create:
        if panel.role_id not in roles:
            raise InvalidSettings(
                f"counter_panel_custom_panels_create: role {panel.role_id} is not a role of this guild"
            )
        if not 1 <= len(panel.channel_name.strip()) <= 80:
            raise InvalidSettings("counter_panel_custom_panels_create: channel_name must be 1 to 80 characters")
    if change.custom_create and values["counter_panel_category_channel"] is None:
        raise InvalidSettings("custom panels need counter_panel_category_channel")
    existing = {p["channel_id"] for p in current.get("counter_panel_custom_panels", [])}
    for channel_id in change.custom_delete:
        if channel_id not in existing:
            raise InvalidSettings(f"counter_panel_custom_panels_delete: {channel_id} is not a custom panel channel")


async def put_settings(
    repos: Repositories, discord: StatsDiscord | None, guild_id: int, change: SettingsChange, *, now: int
) -> dict[str, Any]:
    """Validate and store a complete settings change; creates and deletes custom panel channels."""
    channels = require_guild(discord, guild_id)
    assert discord is not None
    current = await enabled_settings(repos, guild_id)
    validate(change, channels, discord.guild_roles(guild_id), current)
    panels = [p for p in current.get("counter_panel_custom_panels", []) if p["channel_id"] not in change.custom_delete]
    for channel_id in change.custom_delete:
        if channel_id in channels:
            await discord.delete_channel(guild_id, channel_id)
    category = change.values["counter_panel_category_channel"]
    for panel in change.custom_create:
        channel_id = await discord.create_voice_channel(guild_id, category, f"{panel.channel_name}: 0")
        panels.append({"channel_id": channel_id, "channel_name": panel.channel_name, "role_id": panel.role_id})
    settings = {**current, **change.values, "counter_panel_custom_panels": panels}
    await repos.serverstats.put_settings(guild_id, settings, now=now)
    await sync_counter_channels(repos, guild_id, settings)
    return settings


async def update_settings(repos: Repositories, discord: StatsDiscord | None, guild_id: int, *, now: int, **values: Any):
    """Change some settings (the slash commands' way): the rest stays as it is."""
    current = await enabled_settings(repos, guild_id)
    merged = {name: current.get(name) for name in (*BOOLEAN_FIELDS, *CHANNEL_FIELDS, "starboard_count")}
    merged.update(values)
    return await put_settings(repos, discord, guild_id, SettingsChange(merged, [], []), now=now)


async def change_custom_panels(
    repos: Repositories,
    discord: StatsDiscord | None,
    guild_id: int,
    *,
    now: int,
    create: list[CustomPanel] | None = None,
    delete: list[int] | None = None,
) -> dict[str, Any]:
    """Add or remove "online with role" counter channels, the rest of the settings unchanged."""
    current = await enabled_settings(repos, guild_id)
    merged = {name: current.get(name) for name in (*BOOLEAN_FIELDS, *CHANNEL_FIELDS, "starboard_count")}
    change = SettingsChange(merged, create or [], delete or [])
    return await put_settings(repos, discord, guild_id, change, now=now)


async def sync_counter_channels(repos: Repositories, guild_id: int, settings: dict[str, Any]) -> None:
    """Make the counter channel table say what the settings say."""
    from storage.serverstats import CounterChannel

    counters: list[CounterChannel] = []
    if settings.get("counter_panel_enabled"):
        for name, kind, label in (
            ("counter_panel_member_count_channel", "members", "Members"),
            ("counter_panel_online_member_count_channel", "online", "Online"),
            ("counter_panel_server_boost_number_channel", "boosts", "Boosts"),
        ):
            if settings.get(name) is not None:
                counters.append(CounterChannel(settings[name], guild_id, kind, label, None, None))
        for panel in settings.get("counter_panel_custom_panels", []):
            counters.append(
                CounterChannel(panel["channel_id"], guild_id, "role", panel["channel_name"], panel["role_id"], None)
            )
    await repos.counters.replace(guild_id, counters)


async def channel_deleted(repos: Repositories, guild_id: int, channel_id: int, *, now: int) -> bool:
    """A channel went: drop it from the settings. True if it was one of the module's channels."""
    settings = await enabled_settings(repos, guild_id)
    changed = False
    if settings.get("counter_panel_category_channel") == channel_id:
        settings["counter_panel_category_channel"] = None
        settings["counter_panel_enabled"] = False
        changed = True
    for name in CHANNEL_FIELDS:
        if settings.get(name) == channel_id:
            settings[name] = None
            changed = True
    if settings.get("starboard_channel") is None and settings.get("starboard_enabled"):
        settings["starboard_enabled"] = False
    panels = settings.get("counter_panel_custom_panels", [])
    kept = [p for p in panels if p["channel_id"] != channel_id]
    if len(kept) != len(panels):
        settings["counter_panel_custom_panels"] = kept
        changed = True
    if changed:
        await repos.serverstats.put_settings(guild_id, settings, now=now)
        await sync_counter_channels(repos, guild_id, settings)
    return changed


# --- statistics -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatKind:
    name: str  # stored kind
    toggle: str  # settings field that switches recording on
    timing: bool = False  # views add avg/max of the delay


STAT_KINDS: dict[str, StatKind] = {
    kind.name: kind
    for kind in (
        StatKind("command", "stats_command_usage"),
        StatKind("message", "stats_message_statistics"),
        StatKind("reminders.created", "stats_functions_reminders_statistics_enabled"),
        StatKind("reminders.deleted", "stats_functions_reminders_statistics_enabled"),
        StatKind("giveaways.responders", "stats_functions_giveaways_statistics_enabled"),
        StatKind("giveaways.created", "stats_functions_giveaways_statistics_enabled"),
        StatKind("giveaways.deleted", "stats_functions_giveaways_statistics_enabled"),
        StatKind("tempchannels.created", "stats_modules_tempchannels_statistics_enabled"),
        StatKind("tempchannels.creation-time", "stats_modules_tempchannels_statistics_enabled", timing=True),
        StatKind("tempchannels.deletion-time", "stats_modules_tempchannels_statistics_enabled", timing=True),
        StatKind("reactionroles.check-time", "stats_modules_reactionroles_statistics_enabled", timing=True),
        StatKind("tags.send-time", "stats_modules_tags_statistics_enabled", timing=True),
        StatKind("autoresponder.response-time", "stats_modules_autoresponder_statistics_enabled", timing=True),
    )
}


@dataclass(frozen=True, slots=True)
class GatheredMessage:
    """A message the bot saw, kept for :func:`record_messages`."""

    user_id: int
    channel_id: int
    message_id: int
    is_bot: bool
    at: int


async def record(
    repos: Repositories,
    guild_id: int,
    kind: str,
    *,
    now: int,
    user_id: int | None = None,
    channel_id: int | None = None,
    ref_id: int | None = None,
    label: str | None = None,
    delay: int | None = None,
    is_bot: bool = False,
) -> bool:
    """Record one event if the module, its toggle and the member's consent allow; True if recorded."""
    stat = STAT_KINDS[kind]
    settings = await enabled_settings(repos, guild_id)
    if not settings.get(stat.toggle):
        return False
    if kind == "message" and is_bot and not settings.get("stats_track_bot_messages"):
        return False
    if user_id is not None and await repos.privacy.is_opted_out(guild_id, user_id):
        return False
    await repos.serverstats.record(
        guild_id, kind, now=now, user_id=user_id, channel_id=channel_id, ref_id=ref_id, label=label, delay=delay
    )
    return True


async def record_messages(repos: Repositories, guild_id: int, events: Sequence[GatheredMessage]) -> int:
    """Record gathered messages of one guild as :func:`record` would each; answers how many were recorded."""
    try:
        settings = await enabled_settings(repos, guild_id)
    except ModuleDisabled:
        return 0
    if not settings.get(STAT_KINDS["message"].toggle):
        return 0
    if not settings.get("stats_track_bot_messages"):
        events = [event for event in events if not event.is_bot]
    opted_out = await repos.privacy.opted_out_among(guild_id, {event.user_id for event in events})
    kept = [
        RecordedEvent(event.user_id, event.channel_id, event.message_id, event.at)
        for event in events
        if event.user_id not in opted_out
    ]
    if kept:
        await repos.serverstats.record_many(guild_id, "message", kept)
    return len(kept)


def day_start(timestamp: float) -> int:
    return int(timestamp) // DAY * DAY


async def view(
    repos: Repositories,
    guild_id: int,
    kind: str,
    *,
    now: float,
    days: int = 1,
    user_id: int | None = None,
    channel_id: int | None = None,
) -> list[dict[str, Any]]:
    """One entry per day of the last ``days`` days (today included), oldest first."""
    if not 1 <= days <= MAX_VIEW_DAYS:
        raise InvalidSettings(f"days must be between 1 and {MAX_VIEW_DAYS}")
    await enabled_settings(repos, guild_id)
    first = day_start(now) - (days - 1) * DAY
    timing = STAT_KINDS[kind].timing
    found = await repos.serverstats.daily(
        guild_id, kind, since=first, user_id=user_id, channel_id=channel_id, timing=timing
    )
    rows = {row.day: row for row in found}
    series = []
    for index in range(days):
        day = first + index * DAY
        row = rows.get(day)
        entry: dict[str, Any] = {
            "date": dt.datetime.fromtimestamp(day, dt.UTC).date().isoformat(),
            "count": row.count if row else 0,
        }
        if timing:
            entry["avg"] = round(row.avg, 3) if row and row.avg is not None else None
            entry["max"] = row.max if row else None
        series.append(entry)
    return series


async def apply_retention(repos: Repositories, *, now: float, retention_days: int) -> int:
    """Delete statistics older than the retention period; the number of events deleted."""
    return await repos.serverstats.delete_older_than(int(now) - retention_days * DAY)
