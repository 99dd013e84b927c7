"""Role changes and direct messages for the website link: one piece of code for the API and the cogs.

The rules decide from the bot's cache what needs a Discord call (``none``, ``no_permission``,
``invalid_user``, ``invalid_role`` never call Discord), then apply the rest: different members at
the same time, one call per member carrying the net of that member's changes in order, each call
bounded once sent (waiting for Discord's rate limits is not), the whole within a time budget.
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
    """One status per change, in request order. Changes not finished within ``pace.budget`` are ``error``.

    A member's changes are decided in order against the cached roles, then sent as one call (the
    member's net change), so Discord's member-role limit is spent once per member, not per change.
    """
    statuses: list[ItemStatus | None] = [None] * len(changes)
    by_member: dict[int, list[int]] = {}
    for index, change in enumerate(changes):
        by_member.setdefault(change.user_id, []).append(index)
    calls = asyncio.Semaphore(pace.concurrency)

    async def one_member(user_id: int, indexes: list[int]) -> None:
        items = [(index, changes[index]) for index in indexes]
        await _apply_member(discord, guild_id, user_id, items, statuses, calls, pace, reason)

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


def _decide(
    discord: DiscordActions, guild_id: int, change: RoleChange, held: set[int]
) -> ItemStatus | Literal["apply"]:
    role = discord.role(guild_id, change.role_id)
    if role is None:
        return "invalid_role"
    if (change.role_id in held) == (change.action == "add"):
        return "none"  # decided before permissions, as the original does
    if not may_assign(discord, guild_id, role):
        return "no_permission"
    return "apply"


async def _apply_member(
    discord: DiscordActions,
    guild_id: int,
    user_id: int,
    items: list[tuple[int, RoleChange]],
    statuses: list[ItemStatus | None],
    calls: asyncio.Semaphore,
    pace: Pace,
    reason: str,
) -> None:
    cached = discord.member_roles(guild_id, user_id)
    if cached is None:
        for index, _ in items:
            statuses[index] = "invalid_user"
        return
    held = set(cached)
    applied: list[tuple[int, RoleChange]] = []
    for index, change in items:
        decision = _decide(discord, guild_id, change, held)
        if decision != "apply":
            statuses[index] = decision
            continue
        applied.append((index, change))
        held.add(change.role_id) if change.action == "add" else held.discard(change.role_id)
    add, remove = frozenset(held - cached), frozenset(cached - held)
    failure = None
    if add or remove:
        failure = await _call(discord, guild_id, user_id, add, remove, calls, pace, reason)
    if failure in ("no_permission", "invalid_role") and len(applied) > 1:
        # One role of the member's call was refused: apply them one by one, so each change gets its own status.
        await _apply_one_by_one(discord, guild_id, user_id, applied, statuses, calls, pace, reason)
        return
    for index, change in applied:
        statuses[index] = failure or ("added" if change.action == "add" else "removed")


async def _apply_one_by_one(
    discord: DiscordActions,
    guild_id: int,
    user_id: int,
    applied: list[tuple[int, RoleChange]],
    statuses: list[ItemStatus | None],
    calls: asyncio.Semaphore,
    pace: Pace,
    reason: str,
) -> None:
    for index, change in applied:
        one = frozenset({change.role_id})
        add, remove = (one, frozenset()) if change.action == "add" else (frozenset(), one)
        failure = await _call(discord, guild_id, user_id, add, remove, calls, pace, reason)
        statuses[index] = failure or ("added" if change.action == "add" else "removed")
        if failure == "invalid_user":
            for rest, _ in applied:
                statuses[rest] = statuses[rest] or "invalid_user"  # the member left: the rest needs no call
            return


async def _call(
    discord: DiscordActions,
    guild_id: int,
    user_id: int,
    add: frozenset[int],
    remove: frozenset[int],
    calls: asyncio.Semaphore,
    pace: Pace,
    reason: str,
) -> ItemStatus | None:
    """One Discord call; None when it went through, else the status its changes get."""
    try:
        async with calls:
            await discord.edit_member_roles(
                guild_id, user_id, add=add, remove=remove, reason=reason, timeout=pace.call_timeout
            )
    except DiscordFailure as failure:
        log.info("roles +%s -%s of %s in guild %s: %s", sorted(add), sorted(remove), user_id, guild_id, failure)
        return _FAILURE_STATUS.get(failure.kind, "error")
    except TimeoutError:
        log.warning("roles +%s -%s of %s in guild %s timed out", sorted(add), sorted(remove), user_id, guild_id)
        return "error"
    return None


DirectMessageOutcome = Literal[
    "sent",
    "empty",
    "too_long",
    "not_in_guild",
    "unknown_user",
    "not_member",
    "dms_closed",
    "rejected",
    "limited",
    "down",
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
        if failure.kind == "limited":
            return "limited"
        return "rejected" if failure.kind == "rejected" else "down"
    except TimeoutError:
        return "down"
    return "sent"
