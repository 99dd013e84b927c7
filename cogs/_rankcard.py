"""The rank-card attachment, shared by /rankcard show and /profile."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

import aiohttp
import discord

from core import economy
from core.rankcard import render_rank_card

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)

AVATAR_TIMEOUT = 5.0


async def avatar_bytes(member: discord.Member | discord.User) -> bytes | None:
    try:
        async with asyncio.timeout(AVATAR_TIMEOUT):
            return await member.display_avatar.read()
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError, ValueError):
        log.info("could not fetch the avatar of %s; drawing its initial", member.id)
        return None


async def rank_card_file(bot: Guildhall, member: discord.Member) -> discord.File:
    """The member's rank card as a PNG attachment (rendered off the event loop)."""
    card = await economy.rank_card(
        bot.repos,
        bot.settings,
        member.guild.id,
        member.id,
        name=member.display_name,
        avatar=await avatar_bytes(member),
    )
    png = await asyncio.to_thread(render_rank_card, card)
    return discord.File(io.BytesIO(png), filename="rank.png")
