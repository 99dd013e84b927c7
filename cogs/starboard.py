"""The starboard: starred messages are highlighted in the starboard channel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._serverstats_discord import DiscordStats
from cogs.serverstats import EXPECTED, explain, is_manager
from core import serverstats, starboard
from core.serverstats import DiscordUnavailable, ModuleDisabled

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Starboard(commands.GroupCog, group_name="starboard"):
    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot
        self.discord = DiscordStats(bot)

    async def _check(self, payload: discord.RawReactionActionEvent) -> None:
        emoji = self.bot.settings.serverstats.starboard_emoji
        if payload.guild_id is None or str(payload.emoji) != emoji:
            return
        try:
            await starboard.check(
                self.bot.repos,
                self.discord,
                payload.guild_id,
                payload.channel_id,
                payload.message_id,
                now=int(self.bot.clock.time()),
                emoji=emoji,
            )
        except ModuleDisabled:
            pass
        except DiscordUnavailable as error:
            log.warning("starboard of guild %s not updated: %s", payload.guild_id, error)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._check(payload)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._check(payload)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is None:
            return
        try:
            await starboard.message_deleted(self.bot.repos, self.discord, payload.guild_id, payload.message_id)
        except DiscordUnavailable as error:
            log.warning("starboard post of a deleted message not removed: %s", error)

    @app_commands.command(name="setup")
    @is_manager()
    @app_commands.describe(channel="where starred messages go", count="stars needed (1-1000)")
    async def setup_board(
        self, interaction: discord.Interaction, channel: discord.TextChannel, count: app_commands.Range[int, 1, 1000]
    ) -> None:
        """Turn the starboard on in a channel with a star threshold."""
        await interaction.response.defer(ephemeral=True)
        try:
            await serverstats.update_settings(
                self.bot.repos,
                self.discord,
                interaction.guild_id,
                now=int(self.bot.clock.time()),
                starboard_enabled=True,
                starboard_channel=channel.id,
                starboard_count=count,
            )
        except EXPECTED as error:
            await interaction.followup.send(explain(error), ephemeral=True)
            return
        await interaction.followup.send(f"Messages with {count} ⭐ go to {channel.mention}.", ephemeral=True)

    @app_commands.command(name="off")
    @is_manager()
    async def off(self, interaction: discord.Interaction) -> None:
        """Turn the starboard off (its posts stay)."""
        await interaction.response.defer(ephemeral=True)
        try:
            await serverstats.update_settings(
                self.bot.repos,
                self.discord,
                interaction.guild_id,
                now=int(self.bot.clock.time()),
                starboard_enabled=False,
            )
        except EXPECTED as error:
            await interaction.followup.send(explain(error), ephemeral=True)
            return
        await interaction.followup.send("The starboard is off.", ephemeral=True)


async def setup(bot: Guildhall) -> None:
    await bot.add_cog(Starboard(bot))
