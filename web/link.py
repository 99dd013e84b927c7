"""The website-link family: what a NamelessMC website calls on its Discord bot (Nameless-Link's API).

Authentication is the ``api_key`` in the body, compared with the guild's stored link, so the routes
use ``access="none"``. ``/roleChange`` and ``/sendDirectMessage`` answer bare words in text, as the
original does; ``/applyRoleChanges`` answers ``{"status", ...}`` JSON.
"""

from __future__ import annotations

import logging
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from core.links import (
    BadLinkRequest,
    decode_body,
    keys_match,
    legacy_answer,
    parse_apply_request,
    parse_direct_message,
    parse_legacy_role_change,
    parse_role_changes,
)
from core.ports import DiscordActions
from core.roles import Pace, apply_role_changes, send_direct_message
from storage import GuildLink, StorageError
from web import keys
from web.api import ApiError, json_response
from web.families import link

log = logging.getLogger(__name__)

REASON = "website role sync"
Id = str | int


class RoleChangeItem(BaseModel):
    user_id: Id
    role_id: Id
    action: Literal["add", "remove"]


class ApplyRoleChangesBody(BaseModel):
    guild_id: Id
    api_key: str
    role_changes: list[RoleChangeItem]


class RoleChangeResult(BaseModel):
    status: Literal["added", "removed", "none", "no_permission", "invalid_user", "invalid_role", "error"]
    user_id: str
    role_id: str


class ApplyRoleChangesAnswer(BaseModel):
    status: Literal["success"]
    role_changes: list[RoleChangeResult]


class LegacyRole(BaseModel):
    id: Id
    action: Literal["add", "remove"]


class RoleChangeBody(BaseModel):
    guild_id: Id
    user_id: Id
    api_key: str
    roles: list[LegacyRole] | None = None
    add_role_id: Id | None = None
    remove_role_id: Id | None = None


class DirectMessageBody(BaseModel):
    guild_id: Id
    user_id: Id
    api_key: str
    message: str


def text(body: str, status: int = 200) -> web.Response:
    return web.Response(body=body.encode(), status=status, content_type="text/plain")


@link.route(
    "GET",
    "/status",
    summary="Connection test: 200 text/plain `success`",
    access="none",
    guild_param=None,
    content_type="text/plain",
)
async def status(request: web.Request) -> web.Response:
    return text("success")


@link.route(
    "HEAD",
    "/status",
    summary="Connection test without a body",
    access="none",
    guild_param=None,
    content_type="text/plain",
)
async def status_head(request: web.Request) -> web.Response:
    return text("success")


def _pace(request: web.Request) -> Pace:
    config = request.app[keys.SETTINGS].link
    return Pace(call_timeout=config.discord_call_timeout, budget=config.answer_within, concurrency=config.concurrency)


def _discord(request: web.Request) -> DiscordActions | None:
    actions = getattr(request.app[keys.BOT], "discord_actions", None)
    return actions if actions is not None and actions.available else None


async def _stored_link(request: web.Request, guild_id: int) -> GuildLink | None:
    try:
        return await request.app[keys.REPOS].guild_links.get(guild_id)
    except StorageError:
        log.exception("could not read the link of guild %s", guild_id)
        raise ApiError(503, "the database is unavailable") from None


@link.route(
    "POST",
    "/applyRoleChanges",
    summary="Apply a website's role changes; one status per change, in request order",
    access="none",
    guild_param=None,
    body=ApplyRoleChangesBody,
    response=ApplyRoleChangesAnswer,
)
async def apply_role_changes_route(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS].link
    try:
        parsed = parse_apply_request(decode_body(await request.read()), max_items=settings.max_role_changes)
    except BadLinkRequest as error:
        raise ApiError(400, error.meta) from None
    stored = await _stored_link(request, parsed.guild_id)
    if stored is None:
        return json_response({"status": "not_linked"}, status=400)
    if not keys_match(parsed.api_key, stored.api_key):
        raise ApiError(401, "Invalid API key")
    discord = _discord(request)
    if discord is None:
        raise ApiError(503, "Discord is unreachable; nothing was applied")
    if not discord.in_guild(parsed.guild_id):
        return json_response({"status": "invalid_guild"}, status=400)
    try:
        changes = parse_role_changes(parsed.role_changes)
    except BadLinkRequest as error:
        raise ApiError(400, error.meta) from None
    statuses = await apply_role_changes(discord, parsed.guild_id, changes, pace=_pace(request), reason=REASON)
    results = [
        {"status": item, "user_id": str(change.user_id), "role_id": str(change.role_id)}
        for item, change in zip(statuses, changes, strict=True)
    ]
    return json_response({"status": "success", "role_changes": results})


@link.route(
    "POST",
    "/roleChange",
    summary="Legacy role change (websites before 2.1): always 200 with a bare word",
    access="none",
    guild_param=None,
    body=RoleChangeBody,
    content_type="text/plain",
)
async def role_change(request: web.Request) -> web.Response:
    if request.app[keys.SETTINGS].link.role_change_always_fullsuccess:
        return text("fullsuccess")
    try:
        parsed = parse_legacy_role_change(decode_body(await request.read()))
    except BadLinkRequest as error:
        log.info("roleChange: badparameter (%s)", error.meta)
        return text("badparameter")
    try:
        stored = await _stored_link(request, parsed.guild_id)
    except ApiError:
        return text("error")
    if stored is None:
        return text("notlinked")
    if not keys_match(parsed.api_key, stored.api_key):
        return text("unauthorized")
    discord = _discord(request)
    if discord is None:
        return text("error")
    if not discord.in_guild(parsed.guild_id):
        return text("invguild")
    if discord.member_roles(parsed.guild_id, parsed.user_id) is None:
        return text("invuser")
    statuses = await apply_role_changes(discord, parsed.guild_id, parsed.changes, pace=_pace(request), reason=REASON)
    return text(legacy_answer(statuses, parsed.version))


DM_ANSWERS = {
    "sent": (200, "Message sent"),
    "empty": (400, "Message is empty"),
    "too_long": (400, "Message is longer than 2000 characters"),
    "not_in_guild": (400, "Bot is not in the guild"),
    "unknown_user": (400, "User does not exist"),
    "not_member": (400, "User is not a member of the guild"),
    "dms_closed": (403, "Cannot send messages to this user"),
    "rejected": (400, "Discord refused the message"),
    "limited": (503, "Discord is rate limiting the bot; the message was not sent"),
    "down": (503, "Discord is unreachable; the message was not sent"),
}


@link.route(
    "POST",
    "/sendDirectMessage",
    summary="DM a member; plain-text answer once Discord accepted (or refused) the message",
    access="none",
    guild_param=None,
    body=DirectMessageBody,
    content_type="text/plain",
)
async def send_direct_message_route(request: web.Request) -> web.Response:
    try:
        parsed = parse_direct_message(decode_body(await request.read()))
    except BadLinkRequest as error:
        return text(f"Bad request: {error.meta}", status=400)
    try:
        stored = await _stored_link(request, parsed.guild_id)
    except ApiError:
        return text("Database unavailable", status=503)
    if stored is None:
        return text("Bot is not linked", status=401)
    if not keys_match(parsed.api_key, stored.api_key):
        return text("Invalid API key", status=401)
    actions = getattr(request.app[keys.BOT], "discord_actions", None)
    if actions is None:
        outcome = "down"
    else:
        timeout = request.app[keys.SETTINGS].link.answer_within
        outcome = await send_direct_message(actions, parsed.guild_id, parsed.user_id, parsed.message, timeout=timeout)
    status_code, body = DM_ANSWERS[outcome]
    return text(body, status=status_code)
