"""The bot-list family under ``/bot-api``: the Bots on Discord bot API over the local registry.

Limits count per bot id, as the original's do; the rules of what may be posted live in core.botlist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from core.botlist import BotListError, validate_command_data, validate_guild_count
from web import keys
from web.api import ApiError, id_param, json_response, read_json, snowflake
from web.families import botlist

BOT_PATH = r"/bot-api/bots/{bot_id:\d+}"


def _per_bot(request: web.Request, key: Any) -> str:
    return f"bot:{request.match_info['bot_id']}"


class GuildCount(BaseModel):
    guildCount: Annotated[int, Field(ge=0)]


class CommandArg(BaseModel):
    text: str
    type: Literal["required", "optional"]


class BotCommand(BaseModel):
    name: str
    description: Annotated[str, Field(max_length=1000)] | None = None
    args: Annotated[list[CommandArg | str], Field(max_length=20)] | None = None
    cooldown: Annotated[float, Field(ge=0)] | None = None
    cooldownUnit: Literal["s", "m", "h", "d"] | None = None
    aliases: Annotated[list[str], Field(max_length=10)] | None = None
    examples: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=6)] | None = None
    permissions: Annotated[list[str], Field(max_length=10)] | None = None
    category: str | None = None
    prefix: str | None = None


class CommandData(BaseModel):
    sort: Literal["default", "none"] | None = None
    commands: Annotated[list[BotCommand], Field(max_length=200)] | None


class ReviewExists(BaseModel):
    exists: bool


async def _registered(request: web.Request) -> int:
    bot_id = snowflake(request.match_info["bot_id"], "bot id")
    if await request.app[keys.REPOS].botlist.get(bot_id) is None:
        raise ApiError(404, "Bot not found: it is not registered on this list")
    return bot_id


@botlist.route(
    "POST",
    f"{BOT_PATH}/guilds",
    summary="Update a bot's guild count",
    access="write",
    limit="guilds",
    guild_param=None,
    identity=_per_bot,
    body=GuildCount,
    status=204,
)
async def post_guild_count(request: web.Request) -> web.Response:
    bot_id = await _registered(request)
    try:
        count = validate_guild_count(await read_json(request))
    except BotListError as error:
        raise ApiError(400, str(error)) from None
    now = int(request.app[keys.CLOCK].time())
    if not await request.app[keys.REPOS].botlist.set_guild_count(bot_id, count, now=now):
        raise ApiError(404, "Bot not found: it is not registered on this list")
    return web.Response(status=204)


@botlist.route(
    "GET",
    f"{BOT_PATH}/review",
    summary="Check whether a user has reviewed a bot (?owner=USER_ID)",
    access="read",
    limit="review",
    guild_param=None,
    identity=_per_bot,
    response=ReviewExists,
    query=(id_param("owner", required=True),),
)
async def check_review(request: web.Request) -> web.Response:
    bot_id = await _registered(request)
    owner = request.query.get("owner")
    if owner is None or owner == "":
        raise ApiError(400, "owner is required: the id of the user whose review to check")
    user_id = snowflake(owner, "owner")
    review = await request.app[keys.REPOS].botlist.review(bot_id, user_id)
    return json_response({"exists": review is not None})


@botlist.route(
    "POST",
    f"{BOT_PATH}/commands",
    summary="Update a bot's commands (null unsets them)",
    access="write",
    limit="commands",
    guild_param=None,
    identity=_per_bot,
    body=CommandData,
    status=204,
)
async def post_commands(request: web.Request) -> web.Response:
    bot_id = await _registered(request)
    try:
        sort, commands = validate_command_data(await read_json(request))
    except BotListError as error:
        raise ApiError(400, str(error)) from None
    now = int(request.app[keys.CLOCK].time())
    if not await request.app[keys.REPOS].botlist.set_commands(bot_id, sort, commands, now=now):
        raise ApiError(404, "Bot not found: it is not registered on this list")
    return web.Response(status=204)
