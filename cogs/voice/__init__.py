"""Voice profiles on Discord: voice and text tracking, level-ups, and the profile and ledger commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.voice.commands import PointsAdmin, Profiles, VoiceAdmin
from cogs.voice.tracking import VoiceTracking

if TYPE_CHECKING:
    from guildhall.bot import Guildhall


async def setup(bot: Guildhall) -> None:
    tracking = VoiceTracking(bot)
    await bot.add_cog(tracking)
    await bot.add_cog(Profiles(bot, tracking))
    await bot.add_cog(VoiceAdmin(bot, tracking))
    await bot.add_cog(PointsAdmin(bot))
