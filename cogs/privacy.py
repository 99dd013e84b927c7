"""Privacy for every feature: see, delete or stop the data Guildhall keeps about you in a server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core import privacy
from core.clock import Timer

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)


def summary(counts: dict[str, int]) -> str:
    lines = [f"- {kind}: {count}" for kind, count in sorted(counts.items())]
    return "\n".join(lines) or "- nothing"


@app_commands.guild_only()
class Privacy(commands.GroupCog, group_name="privacy"):
    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot
        self._timer: Timer | None = None

    async def cog_load(self) -> None:
        interval = self.bot.settings.privacy.purge_check_interval
        self._timer = self.bot.clock.every(interval, self.purge_departed, name="privacy-guild-purge")

    async def cog_unload(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def purge_departed(self) -> None:
        grace = self.bot.settings.privacy.guild_purge_days
        await privacy.purge_departed_guilds(self.bot.repos, now=self.bot.clock.time(), grace_days=grace)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await privacy.guild_left(self.bot.repos, guild.id, now=int(self.bot.clock.time()))

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await privacy.guild_joined(self.bot.repos, guild.id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await privacy.guild_joined(self.bot.repos, guild.id)

    @app_commands.command(name="data")
    async def data(self, interaction: discord.Interaction) -> None:
        """What Guildhall stores about you in this server, per kind."""
        await interaction.response.defer(ephemeral=True)
        counts = await privacy.user_data(self.bot.repos, interaction.guild_id, interaction.user.id)
        opted_out = await self.bot.repos.privacy.is_opted_out(interaction.guild_id, interaction.user.id)
        collection = "stopped (you opted out)" if opted_out else "on"
        await interaction.followup.send(
            f"Stored about you in this server:\n{summary(counts)}\nCollection: {collection}.", ephemeral=True
        )

    @app_commands.command(name="delete")
    @app_commands.describe(confirm="set to True to delete for good; without it you only see what would go")
    async def delete(self, interaction: discord.Interaction, confirm: bool = False) -> None:
        """Delete everything Guildhall stores about you in this server (asks for confirmation)."""
        await interaction.response.defer(ephemeral=True)
        guild_id, user_id = interaction.guild_id, interaction.user.id
        if not confirm:
            counts = await privacy.user_data(self.bot.repos, guild_id, user_id)
            await interaction.followup.send(
                f"This would delete, irreversibly:\n{summary(counts)}\n"
                "Run `/privacy delete confirm:True` to delete it.",
                ephemeral=True,
            )
            return
        deleted = await privacy.delete_user_data(self.bot.repos, guild_id, user_id)
        await interaction.followup.send(f"Deleted:\n{summary(deleted)}", ephemeral=True)

    @app_commands.command(name="optout")
    @app_commands.describe(stop="True: collect nothing more about you here; False: collect again")
    async def optout(self, interaction: discord.Interaction, stop: bool = True) -> None:
        """Stop (or resume) the collection of data about you in this server."""
        await privacy.set_opt_out(
            self.bot.repos, interaction.guild_id, interaction.user.id, stop, now=int(self.bot.clock.time())
        )
        message = "Nothing more will be collected about you here." if stop else "Collection about you here is back on."
        await interaction.response.send_message(message, ephemeral=True)


async def setup(bot: Guildhall) -> None:
    await bot.add_cog(Privacy(bot))
