"""About the bot itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    from guildhall.bot import Guildhall


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value]
    return " ".join([*parts, f"{seconds}s"]) if not parts or seconds else " ".join(parts)


class Meta(commands.Cog):
    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Version, uptime, guilds and where the HTTP API listens."""
        bot = self.bot
        embed = discord.Embed(title="Guildhall", description="A self-hosted community bot with an HTTP API.")
        embed.add_field(name="Version", value=bot.version)
        embed.add_field(name="Uptime", value=format_duration(bot.clock.time() - bot.started_at))
        embed.add_field(name="Guilds", value=str(len(bot.guilds)))
        embed.add_field(name="API", value=bot.api_url, inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: Guildhall) -> None:
    await bot.add_cog(Meta(bot))
