"""The server-stats family (Husqy serverstats module, seed 003) under ``/modules/serverstats``.

Success answers ``{"success": true, "data": ..., "error": null}``; failures use the family's
envelope (web/families.py) with Husqy's codes: 800/801 with HTTP 409, 802 with 404, 803 with 500,
804 with 502 (503 while Discord is unreachable).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any, NamedTuple

import msgspec
from aiohttp import web
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

from core import counters, serverstats, starboard
from core.serverstats import (
    DiscordUnavailable,
    InvalidSettings,
    ModuleDisabled,
    ModuleEnabled,
    SettingsChange,
    SettingsMissing,
)
from storage import StorageError
from web import keys, typedbody
from web.api import (
    SNOWFLAKE_SCHEMA,
    ApiError,
    Param,
    id_param,
    json_response,
    parse_model,
    read_json,
    read_model,
    snowflake,
)
from web.families import serverstats as family
from web.typedbody import Id, Plain

log = logging.getLogger(__name__)

BASE = "/modules/serverstats"
MODULE_DISABLED = "This module is disabled for this guild!"
MODULE_ENABLED = "This module is enabled for this guild!"
SETTINGS_ERROR = "Unable to fetch the settings of the guild!"
DATABASE_ERROR = "Unable to edit the database for the guild!"
DISCORD_ERROR = "Got an error interacting with the Discord API. Does Guildhall have the right permissions?"


def _snowflake(value: Any) -> int:
    try:
        return snowflake(value, "id")
    except ApiError as error:
        raise ValueError(error.message) from None


Snowflake = Annotated[int, BeforeValidator(_snowflake), WithJsonSchema(SNOWFLAKE_SCHEMA)]
Delay = Annotated[StrictInt, Field(ge=0, le=2**53 - 1)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class GuildBody(Body):
    guild_id: Snowflake


class MessageRef(GuildBody):
    channel_id: Snowflake
    message_id: Snowflake


class ChannelRef(GuildBody):
    channel_id: Snowflake


class CustomPanelBody(Body):
    channel_name: Annotated[StrictStr, Field(min_length=1, max_length=80)]
    role_id: Snowflake


class SettingsBody(GuildBody):
    counter_panel_enabled: StrictBool
    counter_panel_category_channel: Snowflake | None
    counter_panel_member_count_channel: Snowflake | None
    counter_panel_online_member_count_channel: Snowflake | None
    counter_panel_custom_panels_create: list[CustomPanelBody]
    counter_panel_custom_panels_delete: list[Snowflake]
    counter_panel_server_boost_number_channel: Snowflake | None
    starboard_enabled: StrictBool
    starboard_channel: Snowflake | None
    starboard_count: StrictInt | None
    stats_command_usage: StrictBool
    stats_message_statistics: StrictBool
    stats_track_bot_messages: StrictBool
    stats_functions_reminders_statistics_enabled: StrictBool
    stats_functions_giveaways_statistics_enabled: StrictBool
    stats_modules_tempchannels_statistics_enabled: StrictBool
    stats_modules_autoresponder_statistics_enabled: StrictBool
    stats_modules_reactionroles_statistics_enabled: StrictBool
    stats_modules_tags_statistics_enabled: StrictBool


class CommandCheck(GuildBody):
    command: Annotated[StrictStr, Field(min_length=1, max_length=100)]


class MessageCheck(GuildBody):
    member_is_bot: StrictBool
    channel_id: Snowflake
    message_id: Snowflake


class MessageCheckValues(NamedTuple):
    """A message check's body read by :func:`message_check`: :class:`MessageCheck`'s fields."""

    guild_id: int
    member_is_bot: bool
    channel_id: int
    message_id: int


class _MessageCheckStruct(Plain):
    guild_id: Id
    member_is_bot: bool
    channel_id: Id
    message_id: Id


_MESSAGE_CHECK = msgspec.json.Decoder(_MessageCheckStruct)


def message_check(raw: bytes) -> MessageCheckValues | None:
    """A plain, valid message check's body, read as typed structs (web.typedbody); else None."""
    body = typedbody.decode(_MESSAGE_CHECK, raw)
    ids = None if body is None else typedbody.snowflakes([body.guild_id, body.channel_id, body.message_id])
    if body is None or ids is None:
        return None
    return MessageCheckValues(ids[0], body.member_is_bot, ids[1], ids[2])


class GiveawayResponder(GuildBody):
    old_giveaway_id: Annotated[StrictStr, Field(min_length=1, max_length=100)]


class TempchannelCreated(GuildBody):
    initial_creator_id: Snowflake


class TempchannelCreationTime(TempchannelCreated):
    creation_time_delay: Delay


class TempchannelDeletionTime(TempchannelCreated):
    deletion_time_delay: Delay


class ReactionroleCheckTime(GuildBody):
    check_time_delay: Delay


class TagSendTime(GuildBody):
    send_time_delay: Delay


class AutoresponderResponseTime(GuildBody):
    response_time_delay: Delay


class PrivacyBody(GuildBody):
    privacy_member_id: Snowflake


def _ok_schema(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"success": {"const": True}, "data": data, "error": {"type": "null"}},
        "required": ["success", "data", "error"],
    }


def _data(**properties: Any) -> dict[str, Any]:
    return _ok_schema({"type": "object", "properties": properties, "required": list(properties)})


_STR = {"type": "string"}
_NULLABLE_ID = {"type": ["string", "null"]}
_BOOL = {"type": "boolean"}
_COUNT = {"type": "integer"}
SETTINGS = _data(
    guild_id=_STR,
    enabled=_BOOL,
    counter_panel_enabled=_BOOL,
    counter_panel_category_channel=_NULLABLE_ID,
    counter_panel_member_count_channel=_NULLABLE_ID,
    counter_panel_online_member_count_channel=_NULLABLE_ID,
    counter_panel_server_boost_number_channel=_NULLABLE_ID,
    counter_panel_custom_panels={
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"channel_id": _STR, "channel_name": _STR, "role_id": _STR},
            "required": ["channel_id", "channel_name", "role_id"],
        },
    },
    starboard_enabled=_BOOL,
    starboard_channel=_NULLABLE_ID,
    starboard_count={"type": ["integer", "null"]},
)
ENABLED = _data(guild_id=_STR, enabled=_BOOL)
HOME = _data(message=_STR)
DELETED = _data(deleted=_BOOL)
STARBOARD = _data(result=_STR, stars=_COUNT, starboard_message_id=_NULLABLE_ID)
CHANNEL_DROPPED = _data(channel_id=_STR, was_counter_channel=_BOOL)
RENAMED = _data(renamed=_COUNT)
RECORDED = _data(recorded=_BOOL)
ENTRIES = _data(username=_COUNT, display_name=_COUNT, global_name=_COUNT, nickname=_COUNT, id=_COUNT)
DELETED_ENTRIES = _data(id=_COUNT)
SERVERSTATS_QUERY_GUILD = id_param("guild_id", required=True)
SERIES = _ok_schema(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "date": {"type": "string", "format": "date"},
                "count": {"type": "integer"},
                "avg": {"type": ["number", "null"]},
                "max": {"type": ["integer", "null"]},
            },
            "required": ["date", "count"],
        },
    }
)


def ok(data: Any, status: int = 200, *, free_json: Iterable[Any] | None = None) -> web.Response:
    return json_response({"success": True, "data": data, "error": None}, status=status, free_json=free_json)


def now(request: web.Request) -> int:
    return int(request.app[keys.CLOCK].time())


def repos(request: web.Request):
    return request.app[keys.REPOS]


def in_scope(request: web.Request, guild_id: int) -> int:
    key = request.get(keys.API_KEY)
    if key is not None and not key.allows_guild(guild_id):
        raise ApiError(403, "Forbidden! You are not allowed to access this resource!", code=403)
    return guild_id


def discord_side(request: web.Request) -> Any | None:
    """The server-stats cog's Discord adapter, or None while there is no connected bot."""
    bot = request.app[keys.BOT]
    get_cog = getattr(bot, "get_cog", None)
    cog = get_cog("ServerStats") if callable(get_cog) else None
    if cog is None or not bot.gateway_connected:
        return None
    return cog.discord


def require_discord(request: web.Request) -> Any:
    side = discord_side(request)
    if side is None:
        raise ApiError(503, f"{DISCORD_ERROR} (Discord is unreachable right now)", code=804)
    return side


@contextlib.contextmanager
def module_errors() -> Iterator[None]:
    """The module's rule failures, as Husqy's error codes."""
    try:
        yield
    except ModuleDisabled:
        raise ApiError(409, MODULE_DISABLED, code=800) from None
    except ModuleEnabled:
        raise ApiError(409, MODULE_ENABLED, code=801) from None
    except SettingsMissing as error:
        raise ApiError(404, f"{SETTINGS_ERROR} ({error})", code=802) from None
    except InvalidSettings as error:
        raise ApiError(400, f"Bad Request Error! {error}", code=400) from None
    except DiscordUnavailable as error:
        raise ApiError(502, f"{DISCORD_ERROR} ({error})", code=804) from None
    except StorageError:
        log.exception("server stats could not write to the database")
        raise ApiError(500, DATABASE_ERROR, code=803) from None


def query_id(request: web.Request, name: str, *, required: bool = True) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, f"Bad Request Error! {name} is required", code=400)
        return None
    try:
        return snowflake(raw, name)
    except ApiError as error:
        raise ApiError(400, f"Bad Request Error! {error.message}", code=400) from None


def query_days(request: web.Request) -> int:
    raw = request.query.get("days", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= serverstats.MAX_VIEW_DAYS:
        raise ApiError(400, f"Bad Request Error! days must be an integer from 1 to {serverstats.MAX_VIEW_DAYS}")
    return int(raw)


FastBody = Callable[[bytes], Any]  # a route's fast path: the body's values read from a plain body, else None


async def body_of(request: web.Request, model: type[Body], fast: FastBody | None = None) -> Any:
    """The body as ``model``, or as what ``fast`` reads from a plain one (web.typedbody); its guild in scope."""
    parsed = None if fast is None else fast(await request.read())
    if parsed is None:
        parsed = parse_model(model, await read_json(request))
    in_scope(request, parsed.guild_id)
    return parsed


# --- general -----------------------------------------------------------------------------------------


@family.route("GET", BASE, summary="Home of the server stats API", access="public", response=HOME)
async def home(request: web.Request) -> web.Response:
    return ok({"message": "This is the Modules Serverstats Guildhall API route."})


@family.route(
    "GET",
    f"{BASE}/settings",
    summary="The guild's server stats settings",
    response=SETTINGS,
    query=(SERVERSTATS_QUERY_GUILD,),
)
async def get_settings(request: web.Request) -> web.Response:
    guild_id = in_scope(request, query_id(request, "guild_id"))
    state = await repos(request).serverstats.get(guild_id)
    if state is None:
        raise ApiError(404, SETTINGS_ERROR, code=802)
    if not state.enabled:
        raise ApiError(409, MODULE_DISABLED, code=800)
    return ok(serverstats.settings_view(guild_id, True, {**serverstats.DEFAULT_SETTINGS, **state.settings}))


@family.route(
    "PUT", f"{BASE}/settings", summary="Change the settings", access="write", body=SettingsBody, response=SETTINGS
)
async def put_settings(request: web.Request) -> web.Response:
    body: SettingsBody = await body_of(request, SettingsBody)
    values = body.model_dump(
        exclude={"guild_id", "counter_panel_custom_panels_create", "counter_panel_custom_panels_delete"}
    )
    change = SettingsChange(
        values,
        [serverstats.CustomPanel(p.channel_name, p.role_id) for p in body.counter_panel_custom_panels_create],
        list(body.counter_panel_custom_panels_delete),
    )
    with module_errors():
        await serverstats.enabled_settings(repos(request), body.guild_id)
        stored = await serverstats.put_settings(
            repos(request), require_discord(request), body.guild_id, change, now=now(request)
        )
    return ok(serverstats.settings_view(body.guild_id, True, stored))


@family.route(
    "DELETE", f"{BASE}/settings/delete", summary="Delete all settings", access="write", body=GuildBody, response=DELETED
)
async def delete_settings(request: web.Request) -> web.Response:
    body: GuildBody = await body_of(request, GuildBody)
    with module_errors():
        deleted = await repos(request).serverstats.delete_settings(body.guild_id)
    return ok({"deleted": deleted})


@family.route(
    "GET", f"{BASE}/status", summary="Whether the module is on", response=ENABLED, query=(SERVERSTATS_QUERY_GUILD,)
)
async def status(request: web.Request) -> web.Response:
    guild_id = in_scope(request, query_id(request, "guild_id"))
    state = await repos(request).serverstats.get(guild_id)
    if state is None:
        raise ApiError(404, SETTINGS_ERROR, code=802)
    return ok({"guild_id": str(guild_id), "enabled": state.enabled})


@family.route("POST", f"{BASE}/enable", summary="Turn the module on", access="write", body=GuildBody, response=ENABLED)
async def enable(request: web.Request) -> web.Response:
    body: GuildBody = await body_of(request, GuildBody)
    with module_errors():
        await serverstats.enable(repos(request), require_discord(request), body.guild_id, now=now(request))
    return ok({"guild_id": str(body.guild_id), "enabled": True})


@family.route(
    "POST",
    f"{BASE}/disable",
    summary="Turn the module off (deletes its data)",
    access="write",
    body=GuildBody,
    response=ENABLED,
)
async def disable(request: web.Request) -> web.Response:
    body: GuildBody = await body_of(request, GuildBody)
    with module_errors():
        await serverstats.disable(repos(request), body.guild_id, now=now(request))
    return ok({"guild_id": str(body.guild_id), "enabled": False})


# --- starboard and counter panel --------------------------------------------------------------------


async def _starboard(request: web.Request) -> web.Response:
    body: MessageRef = await body_of(request, MessageRef)
    emoji = request.app[keys.SETTINGS].serverstats.starboard_emoji
    with module_errors():
        await serverstats.enabled_settings(repos(request), body.guild_id)
        outcome = await starboard.check(
            repos(request),
            require_discord(request),
            body.guild_id,
            body.channel_id,
            body.message_id,
            now=now(request),
            emoji=emoji,
        )
    entry = await repos(request).starboard.entry(body.message_id)
    return ok(
        {
            "result": outcome,
            "stars": entry.stars if entry else 0,
            "starboard_message_id": str(entry.board_message_id) if entry and entry.board_message_id else None,
        }
    )


@family.route(
    "POST",
    f"{BASE}/starboard/add",
    summary="Check a message for the starboard",
    access="write",
    body=MessageRef,
    response=STARBOARD,
)
async def starboard_add(request: web.Request) -> web.Response:
    return await _starboard(request)


@family.route(
    "POST",
    f"{BASE}/starboard/remove",
    summary="Check a message after a star went",
    access="write",
    body=MessageRef,
    response=STARBOARD,
)
async def starboard_remove(request: web.Request) -> web.Response:
    return await _starboard(request)


@family.route(
    "POST",
    f"{BASE}/stats/counter-panel/check-deleted-channel",
    summary="Drop a deleted channel from the counter panel",
    access="write",
    body=ChannelRef,
    response=CHANNEL_DROPPED,
)
async def check_deleted_channel(request: web.Request) -> web.Response:
    body: ChannelRef = await body_of(request, ChannelRef)
    side = discord_side(request)
    channels = side.guild_channels(body.guild_id) if side is not None else None
    if channels is not None and body.channel_id in channels:
        raise ApiError(400, f"Bad Request Error! channel {body.channel_id} still exists", code=400)
    with module_errors():
        changed = await serverstats.channel_deleted(repos(request), body.guild_id, body.channel_id, now=now(request))
    return ok({"channel_id": str(body.channel_id), "was_counter_channel": changed})


@family.route(
    "POST",
    f"{BASE}/stats/counter-panel/update",
    summary="Update every counter channel now",
    access="write",
    response=RENAMED,
)
async def counter_panel_update(request: web.Request) -> web.Response:
    key = request.get(keys.API_KEY)
    if key is not None and key.guild_ids:  # the update acts on every guild
        raise ApiError(403, "Forbidden! This key is limited to some guilds; this route acts on all of them", code=403)
    side = require_discord(request)
    bot = request.app[keys.BOT]
    cog = bot.get_cog("ServerStats")  # type: ignore[attr-defined]
    with module_errors():
        renamed = await counters.update_all(repos(request), side, cog.budget, now=request.app[keys.CLOCK].time())
    return ok({"renamed": renamed})


# --- statistics ---------------------------------------------------------------------------------------


def _check_route(
    path: str, kind: str, model: type[GuildBody], fields: dict[str, str], fast: FastBody | None = None
) -> None:
    """A ``check`` route recording one ``kind`` event; ``fields`` maps event columns to body fields."""

    async def check(request: web.Request) -> web.Response:
        body = await body_of(request, model, fast)
        values = {column: getattr(body, name) for column, name in fields.items()}
        with module_errors():
            recorded = await serverstats.record(repos(request), body.guild_id, kind, now=now(request), **values)
        return ok({"recorded": recorded}, free_json=())

    check.__name__ = "record_" + kind.replace(".", "_").replace("-", "_")
    family.route(
        "POST", f"{BASE}{path}", summary=f"Record a {kind} event", access="write", body=model, response=RECORDED
    )(check)


def _view_route(path: str, kind: str, *, user: bool, channel: bool = False) -> None:
    async def view(request: web.Request) -> web.Response:
        guild_id = in_scope(request, query_id(request, "guild_id"))
        days = query_days(request)
        user_id = query_id(request, "user_id", required=False) if user else None
        channel_id = query_id(request, "channel_id", required=False) if channel else None
        with module_errors():
            series = await serverstats.view(
                repos(request),
                guild_id,
                kind,
                now=request.app[keys.CLOCK].time(),
                days=days,
                user_id=user_id,
                channel_id=channel_id,
            )
        return ok(series)

    view.__name__ = "view_" + kind.replace(".", "_").replace("-", "_")
    query = [SERVERSTATS_QUERY_GUILD, Param("days", {"type": "integer", "minimum": 1})]
    query += [id_param("user_id")] if user else []
    query += [id_param("channel_id")] if channel else []
    family.route("GET", f"{BASE}{path}/view", summary=f"Per-day {kind} statistics", response=SERIES, query=query)(view)


_check_route("/stats/command/check", "command", CommandCheck, {"label": "command"})
_view_route("/stats/command", "command", user=True)
_check_route(
    "/stats/message/check",
    "message",
    MessageCheck,
    {"is_bot": "member_is_bot", "channel_id": "channel_id", "ref_id": "message_id"},
    fast=message_check,  # the busiest check: one for every message a bot sees
)
_view_route("/stats/message", "message", user=True, channel=True)
for _event in ("created", "deleted"):
    _check_route(f"/stats/functions/reminders/{_event}", f"reminders.{_event}", GuildBody, {})
    _view_route(f"/stats/functions/reminders/{_event}", f"reminders.{_event}", user=True)
_check_route(
    "/stats/functions/giveaways/responders", "giveaways.responders", GiveawayResponder, {"label": "old_giveaway_id"}
)
_view_route("/stats/functions/giveaways/responders", "giveaways.responders", user=True)
for _event in ("created", "deleted"):
    _check_route(f"/stats/functions/giveaways/{_event}", f"giveaways.{_event}", GuildBody, {})
    _view_route(f"/stats/functions/giveaways/{_event}", f"giveaways.{_event}", user=True)
_check_route(
    "/stats/modules/tempchannels/created", "tempchannels.created", TempchannelCreated, {"user_id": "initial_creator_id"}
)
_view_route("/stats/modules/tempchannels/created", "tempchannels.created", user=True)
_check_route(
    "/stats/modules/tempchannels/creation-time",
    "tempchannels.creation-time",
    TempchannelCreationTime,
    {"user_id": "initial_creator_id", "delay": "creation_time_delay"},
)
_view_route("/stats/modules/tempchannels/creation-time", "tempchannels.creation-time", user=True)
_check_route(
    "/stats/modules/tempchannels/deletion-time",
    "tempchannels.deletion-time",
    TempchannelDeletionTime,
    {"user_id": "initial_creator_id", "delay": "deletion_time_delay"},
)
_view_route("/stats/modules/tempchannels/deletion-time", "tempchannels.deletion-time", user=True)
_check_route(
    "/stats/modules/reactionroles/check-time",
    "reactionroles.check-time",
    ReactionroleCheckTime,
    {"delay": "check_time_delay"},
)
_view_route("/stats/modules/reactionroles/check-time", "reactionroles.check-time", user=False)
_check_route("/stats/modules/tags/send-time", "tags.send-time", TagSendTime, {"delay": "send_time_delay"})
_view_route("/stats/modules/tags/send-time", "tags.send-time", user=False)
_check_route(
    "/stats/modules/autoresponder/response-time",
    "autoresponder.response-time",
    AutoresponderResponseTime,
    {"delay": "response_time_delay"},
)
_view_route("/stats/modules/autoresponder/response-time", "autoresponder.response-time", user=False)


# --- privacy -----------------------------------------------------------------------------------------


@family.route(
    "GET",
    f"{BASE}/privacy/get-user-entries",
    summary="How many entries refer to a member",
    response=ENTRIES,
    query=(SERVERSTATS_QUERY_GUILD, id_param("privacy_member_id", required=True)),
)
async def privacy_entries(request: web.Request) -> web.Response:
    guild_id = in_scope(request, query_id(request, "guild_id"))
    member_id = query_id(request, "privacy_member_id")
    store = repos(request)
    references = await store.serverstats.count_user_data(guild_id, member_id)
    references += await store.starboard.count_user_data(guild_id, member_id)
    # Names are never stored: only ids can refer to a member.
    return ok({"username": 0, "display_name": 0, "global_name": 0, "nickname": 0, "id": references})


@family.route(
    "DELETE",
    f"{BASE}/privacy/delete-user-entries",
    summary="Delete the entries that refer to a member",
    access="write",
    body=PrivacyBody,
    response=DELETED_ENTRIES,
)
async def privacy_delete(request: web.Request) -> web.Response:
    body: PrivacyBody = await read_model(request, PrivacyBody)
    in_scope(request, body.guild_id)
    store = repos(request)
    with module_errors():
        deleted = await store.serverstats.delete_user_data(body.guild_id, body.privacy_member_id)
        deleted += await store.starboard.delete_user_data(body.guild_id, body.privacy_member_id)
    return ok({"id": deleted})
