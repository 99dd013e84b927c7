"""The bot's side of :class:`core.ports.DiscordActions`: cache reads and REST calls, failures translated.

discord.py exceptions stop here; the rules and the web door see :class:`DiscordFailure` kinds only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

import aiohttp
import discord

from core.ports import DiscordFailure, FailureKind, RoleFacts

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

T = TypeVar("T")

# Discord JSON error codes the link cares about.
UNKNOWN_MEMBER, UNKNOWN_ROLE, UNKNOWN_USER, CANNOT_DM = 10007, 10011, 10013, 50007


class BotDiscordActions:
    def __init__(self, bot: Guildhall) -> None:
        self._bot = bot

    @property
    def available(self) -> bool:
        return self._bot.gateway_connected

    def in_guild(self, guild_id: int) -> bool:
        return self._bot.get_guild(guild_id) is not None

    def member_roles(self, guild_id: int, user_id: int) -> frozenset[int] | None:
        guild = self._bot.get_guild(guild_id)
        member = guild.get_member(user_id) if guild is not None else None
        if member is None:
            return None
        return frozenset(role.id for role in member.roles if not role.is_default())

    def role(self, guild_id: int, role_id: int) -> RoleFacts | None:
        guild = self._bot.get_guild(guild_id)
        role = guild.get_role(role_id) if guild is not None else None
        if role is None:
            return None
        return RoleFacts(role.id, role.position, role.managed, role.is_default())

    def can_manage_roles(self, guild_id: int) -> bool:
        guild = self._bot.get_guild(guild_id)
        return guild is not None and guild.me is not None and guild.me.guild_permissions.manage_roles

    def top_role_position(self, guild_id: int) -> int:
        guild = self._bot.get_guild(guild_id)
        if guild is None or guild.me is None:
            return -1
        if guild.owner_id == guild.me.id:
            return 2**31  # the owner is above every role
        return guild.me.top_role.position

    async def edit_member_roles(
        self,
        guild_id: int,
        user_id: int,
        *,
        add: frozenset[int],
        remove: frozenset[int],
        reason: str,
        timeout: float,
    ) -> None:
        """One role: ``PUT``/``DELETE`` it; more: one ``PATCH`` with the member's whole role list, read
        from the gateway cache once Discord's limits let the call go, so a change made meanwhile stays."""
        http, limiter = self._bot.http, self._bot.discord_limiter
        if len(add) + len(remove) == 1:
            [role_id] = add or remove
            method = "PUT" if add else "DELETE"
            async with limiter.turn(method, f"/guilds/{guild_id}/members/{user_id}/roles/{role_id}"):
                call = http.add_role if add else http.remove_role
                async with asyncio.timeout(timeout):
                    await limiter.answered(_translated(call(guild_id, user_id, role_id, reason=reason)))
            return
        async with limiter.turn("PATCH", f"/guilds/{guild_id}/members/{user_id}"):
            current = self.member_roles(guild_id, user_id)
            if current is None:
                raise DiscordFailure("unknown_member", "the member left")
            roles = (current | add) - remove
            if roles == current:
                return
            async with asyncio.timeout(timeout):
                ids = [str(role) for role in sorted(roles)]
                await limiter.answered(_translated(http.edit_member(guild_id, user_id, roles=ids, reason=reason)))

    async def user_exists(self, user_id: int) -> bool:
        if self._bot.get_user(user_id) is not None:
            return True
        try:
            await _translated(self._bot.fetch_user(user_id))
        except DiscordFailure as failure:
            if failure.kind in ("unknown_user", "rejected"):
                return False
            raise
        return True

    async def send_direct_message(self, user_id: int, content: str) -> None:
        channel = await _translated(self._bot.create_dm(discord.Object(user_id)))
        await _translated(channel.send(content, allowed_mentions=discord.AllowedMentions.none()))


async def _translated(call: Awaitable[T]) -> T:
    try:
        return await call
    except discord.Forbidden as error:
        raise DiscordFailure("dms_closed" if error.code == CANNOT_DM else "forbidden", error.text) from None
    except discord.NotFound as error:
        kinds: dict[int, FailureKind] = {
            UNKNOWN_MEMBER: "unknown_member",
            UNKNOWN_ROLE: "unknown_role",
            UNKNOWN_USER: "unknown_user",
        }
        raise DiscordFailure(kinds.get(error.code, "rejected"), error.text) from None
    except discord.DiscordServerError as error:
        raise DiscordFailure("down", f"Discord answered {error.status}") from None
    except discord.RateLimited as error:  # longer than discord.py will wait
        raise DiscordFailure("limited", f"rate limited for {error.retry_after:.1f} s") from None
    except discord.HTTPException as error:
        if error.status == 429:
            raise DiscordFailure("limited", "Discord answered 429") from None
        if error.status >= 500:
            raise DiscordFailure("down", f"Discord answered {error.status}") from None
        raise DiscordFailure("rejected", f"{error.status} {error.code}: {error.text}") from None
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as error:
        raise DiscordFailure("down", str(error) or type(error).__name__) from None
