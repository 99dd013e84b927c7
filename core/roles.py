"""Role changes and direct messages for the website link: one piece of code for the API and the cogs.

The rules decide from the bot's cache what needs a Discord call (``none``, ``no_permission``,
``invalid_user``, ``invalid_role`` never call Discord), then apply the rest: different members at
the same time, one member's changes in order, each call bounded, the whole within a time budget.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.ports import DiscordActions, DiscordFailure, RoleFacts

log = logging.getLogger(__name__)

ItemStatus = Literal["added", "removed", "none", "no_permission", "invalid_user", "invalid_role", "error"]
MAX_MESSAGE_LENGTH = 2000

_FAILURE_STATUS: dict[str, ItemStatus] = {
    "forbidden": "no_permission",
    "unknown_member": "invalid_user",
    "unknown_user": "invalid_user",
    "unknown_role": "invalid_role",
}


@dataclass(frozen=True, slots=True)
class RoleChange:
    user_id: int
    role_id: int
    action: Literal["add", "remove"]


@dataclass(frozen=True, slots=True)
class Pace:
    """How long a Discord call and a whole batch may take, and how many members at once."""

    call_timeout: float = 2.0
    budget: float = 4.5
    concurrency: int = 8


def may_assign(discord: DiscordActions, guild_id: int, role: RoleFacts) -> bool:
    """Manage Roles, a role below the bot's top role, and not a managed role or @everyone."""
    return (
        discord.can_manage_roles(guild_id)
        and not role.managed
        and not role.default
        and role.position < discord.top_role_position(guild_id)
    )


async def apply_role_changes(
    discord: DiscordActions, guild_id: int, changes: Sequence[RoleChange], *, pace: Pace, reason: str
) -> list[ItemStatus]:
    """One status per change, in request order. Changes not finished within ``pace.budget`` are ``error``."""
    statuses: list[ItemStatus | None] = [None] * len(changes)
    by_member: dict[int, list[int]] = {}
    for index, change in enumerate(changes):
        by_member.setdefault(change.user_id, []).append(index)
    calls = asyncio.Semaphore(pace.concurrency)

    async def one_member(user_id: int, indexes: list[int]) -> None:
        cached = discord.member_roles(guild_id, user_id)
        held = set(cached) if cached is not None else None
        for index in indexes:
            statuses[index] = status = await _apply_one(discord, guild_id, changes[index], held, calls, pace, reason)
            if status == "invalid_user":
                held = None  # the member left: the rest of theirs needs no call

    tasks = [asyncio.create_task(one_member(user, indexes)) for user, indexes in by_member.items()]
    if tasks:
        done, pending = await asyncio.wait(tasks, timeout=pace.budget)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "role changes in guild %s ran past %.1f s; the rest are reported as error", guild_id, pace.budget
            )
            await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()  # a bug in the rules must not pass silently
    return [status or "error" for status in statuses]


async def _apply_one(
    discord: DiscordActions,
    guild_id: int,
    change: RoleChange,
    held: set[int] | None,
    calls: asyncio.Semaphore,
    pace: Pace,
    reason: str,
) -> ItemStatus:
    if held is None:
        return "invalid_user"
    role = discord.role(guild_id, change.role_id)
    if role is None:
        return "invalid_role"
    adding = change.action == "add"
    if (change.role_id in held) == adding:
        return "none"  # decided before permissions, as the original does
    if not may_assign(discord, guild_id, role):
        return "no_permission"
    call = discord.add_role if adding else discord.remove_role
    try:
        async with calls:
            async with asyncio.timeout(pace.call_timeout):
                await call(guild_id, change.user_id, change.role_id, reason=reason)
    except DiscordFailure as failure:
        status = _FAILURE_STATUS.get(failure.kind, "error")
        log.info("role %s of %s in guild %s: %s", change.action, change.user_id, guild_id, failure)
        return status
    except TimeoutError:
        log.warning("role %s of %s in guild %s timed out", change.action, change.user_id, guild_id)
        return "error"
    if adding:
        held.add(change.role_id)
        return "added"
    held.discard(change.role_id)
    return "removed"


DirectMessageOutcome = Literal[
    "sent", "empty", "too_long", "not_in_guild", "unknown_user", "not_member", "dms_closed", "rejected", "down"
]


async def send_direct_message(
    discord: DiscordActions, guild_id: int, user_id: int, content: str, *, timeout: float
) -> DirectMessageOutcome:
    """DM a member of a guild the bot is in; ``sent`` only once Discord accepted the message."""
    if not content.strip():
        return "empty"
    if len(content) > MAX_MESSAGE_LENGTH:
        return "too_long"
    if not discord.available:
        return "down"
    if not discord.in_guild(guild_id):
        return "not_in_guild"
    try:
        async with asyncio.timeout(timeout):
            if discord.member_roles(guild_id, user_id) is None:
                return "not_member" if await discord.user_exists(user_id) else "unknown_user"
            await discord.send_direct_message(user_id, content)
    except DiscordFailure as failure:
        if failure.kind in ("unknown_user", "unknown_member"):
            return "unknown_user"
        if failure.kind in ("dms_closed", "forbidden"):
            return "dms_closed"
        return "rejected" if failure.kind == "rejected" else "down"
    except TimeoutError:
        return "down"
    return "sent"
