"""The economy family (WetBot member API) under ``/api``: a member's profile, edits and inventory.

Every request must say ``Content-Type: application/json``, as the original documents (415
otherwise). Answers are ``{"code": 200, "response": <profile>}``; errors come from the family's
envelope.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aiohttp import hdrs, web
from pydantic import BaseModel, ConfigDict, Field

from core import economy
from core.ports import BotStatus
from web import keys
from web.api import ApiError, json_body_response, path_id, read_model
from web.families import economy as family

PATH = r"/api/guilds/{guild_id:\d+}/users/{user_id:\d+}"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ProfileEdit(Strict):
    """Deltas: each field is added to the member's current value."""

    currency: Annotated[int, Field(ge=-economy.MAX_CURRENCY_CHANGE, le=economy.MAX_CURRENCY_CHANGE)] | None = None
    xp: Annotated[int, Field(ge=-economy.MAX_XP_CHANGE, le=economy.MAX_XP_CHANGE)] | None = None
    rp: Annotated[int, Field(ge=-economy.MAX_RP_CHANGE, le=economy.MAX_RP_CHANGE)] | None = None


class ItemChange(Strict):
    itemID: Annotated[str, Field(min_length=1, max_length=64)]  # the original's field name
    amount: Annotated[int, Field(ge=-economy.MAX_ITEM_CHANGE, le=economy.MAX_ITEM_CHANGE)]


class InventoryChange(Strict):
    items: Annotated[list[ItemChange], Field(min_length=1, max_length=500)]


INT = {"type": "integer"}
COLOUR = {"type": "object", "properties": dict.fromkeys("rgba", INT), "required": list("rgba")}
PROFILE = {
    "type": "object",
    "properties": {
        "code": {"type": "integer", "enum": [200]},
        "response": {
            "type": "object",
            "description": "The WetBot profile object (README: which fields are live).",
            "properties": {
                "userID": {"type": "string"},
                "guildID": {"type": "string"},
                "totalxp": {"type": "integer"},
                "xp": {"type": "integer"},
                "level": {"type": "integer"},
                "messages": {"type": "integer"},
                "hours": {"type": "number"},
                "rp": {"type": "integer"},
                "likes": {"type": "integer"},
                "currency": {"type": "integer"},
                "currencySpent": {"type": "integer"},
                "inventory": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "itemID": {"type": "string"},
                            "amount": {"type": "integer"},
                            "fav": {"type": "boolean"},
                        },
                        "required": ["itemID", "amount", "fav"],
                    },
                },
                "itemsReceived": {"type": "integer"},
                "stats": {
                    "type": "object",
                    "description": "per period (day, week, month, year...): counters of that period",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"totalxp": INT, "messages": INT, "currency": INT, "rp": INT, "likes": INT},
                        "required": ["totalxp", "messages", "currency", "rp", "likes"],
                    },
                },
                "startTime": {"type": ["string", "null"]},
                "rank_card": {
                    "type": "object",
                    "properties": {"font_color": COLOUR, "xp_color": COLOUR, "xp_background_color": COLOUR},
                    "required": ["font_color", "xp_color", "xp_background_color"],
                },
            },
            "required": ["userID", "guildID", "totalxp", "xp", "level", "currency", "inventory", "stats"],
        },
    },
    "required": ["code", "response"],
}


def _require_json(request: web.Request) -> None:
    # The header exactly as clients send it needs no parsing; any other form (parameters, case) is parsed.
    if request.headers.get(hdrs.CONTENT_TYPE) != "application/json" and request.content_type != "application/json":
        raise ApiError(415, "the Content-Type header must be application/json")


def _ids(request: web.Request) -> tuple[int, int]:
    return path_id(request, "guild_id", "guildId"), path_id(request, "user_id", "userId")


def _in_guild(bot: BotStatus, guild_id: int, user_id: int) -> bool:
    return bot.member_name(guild_id, user_id) is not None


def _actor(request: web.Request) -> str:
    key = request[keys.API_KEY]
    return f"api:{key.name}" if key is not None else "api"


def _fail(error: economy.EconomyError) -> ApiError:
    return ApiError(error.status, str(error))


def _body(profile: dict[str, Any]) -> bytes:
    """The answer's bytes, as ``json_response`` writes them (they are remembered with the profile)."""
    return json.dumps({"code": 200, "response": profile}, separators=(",", ":"), ensure_ascii=False).encode()


async def _answer(request: web.Request, guild_id: int, user_id: int) -> web.Response:
    app = request.app
    bot = app[keys.BOT]
    body = await economy.load_profile(
        app[keys.REPOS],
        app[keys.SETTINGS],
        guild_id,
        user_id,
        in_guild=_in_guild(bot, guild_id, user_id),
        now=int(app[keys.CLOCK].time()),
        voice_since=bot.voice_session_start(guild_id, user_id),
        shape=_body,
    )
    if body is None:
        raise ApiError(404, f"user {user_id} has no profile in guild {guild_id}")
    return json_body_response(body)


@family.route("GET", PATH, summary="A member's economy profile", access="read", response=PROFILE, tried_first=True)
async def get_profile(request: web.Request) -> web.Response:
    _require_json(request)
    guild_id, user_id = _ids(request)
    return await _answer(request, guild_id, user_id)


@family.route(
    "PATCH",
    PATH,
    summary="Add to a member's currency (±1e9), xp (±1e5) and rp (±100)",
    access="write",
    body=ProfileEdit,
    response=PROFILE,
)
async def edit_profile(request: web.Request) -> web.Response:
    _require_json(request)
    guild_id, user_id = _ids(request)
    edit = await read_model(request, ProfileEdit)
    app = request.app
    key = request[keys.API_KEY]
    try:
        await economy.edit_profile(
            app[keys.REPOS],
            app[keys.SETTINGS],
            guild_id,
            user_id,
            currency=edit.currency,
            xp=edit.xp,
            rp=edit.rp,
            actor=_actor(request),
            bot_user_id=(key.bot_user_id if key is not None else None) or app[keys.BOT].bot_user_id,
            in_guild=_in_guild(app[keys.BOT], guild_id, user_id),
            now=int(app[keys.CLOCK].time()),
        )
    except economy.EconomyError as error:
        raise _fail(error) from None
    return await _answer(request, guild_id, user_id)


@family.route(
    "POST",
    PATH + "/inventory",
    summary="Add or remove items (±1e9 each), all or nothing",
    access="write",
    body=InventoryChange,
    response=PROFILE,
)
async def change_inventory(request: web.Request) -> web.Response:
    _require_json(request)
    guild_id, user_id = _ids(request)
    change = await read_model(request, InventoryChange)
    app = request.app
    try:
        await economy.require_known(
            app[keys.REPOS],
            guild_id,
            user_id,
            in_guild=_in_guild(app[keys.BOT], guild_id, user_id),
            actor=_actor(request),
            now=int(app[keys.CLOCK].time()),
        )
        await economy.change_inventory(
            app[keys.REPOS],
            guild_id,
            user_id,
            [(item.itemID, item.amount) for item in change.items],
            now=int(app[keys.CLOCK].time()),
        )
    except economy.EconomyError as error:
        raise _fail(error) from None
    return await _answer(request, guild_id, user_id)
