"""The economy: the item catalog, inventories, reputation and likes, rank cards and balance charts."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._checks import is_manager
from cogs._rankcard import rank_card_file
from core import economy
from core.charts import render_balance_chart
from core.economy import Cooldown, EconomyError
from core.rankcard import ColourError, parse_hex

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)


def explain(error: EconomyError) -> str:
    if isinstance(error, Cooldown):
        return f"{error} — try again <t:{error.retry_at}:R>."
    return f"{error}."


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Items(commands.GroupCog, group_name="item"):
    """The server's item catalog."""

    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot

    def _now(self) -> int:
        return int(self.bot.clock.time())

    @app_commands.command(name="create")
    @app_commands.describe(item_id="A short id (letters, digits, - and _)", name="The name members see")
    @is_manager()
    async def create(
        self, interaction: discord.Interaction[Guildhall], item_id: str, name: str, description: str = ""
    ) -> None:
        """Add an item to this server's catalog."""
        assert interaction.guild is not None
        try:
            item = await economy.create_item(
                self.bot.repos, interaction.guild.id, item_id, name, description, now=self._now()
            )
        except EconomyError as error:
            await interaction.response.send_message(explain(error), ephemeral=True)
            return
        await interaction.response.send_message(f"Created item `{item.item_id}`: {item.name}.", ephemeral=True)

    @app_commands.command(name="edit")
    @is_manager()
    async def edit(
        self,
        interaction: discord.Interaction[Guildhall],
        item_id: str,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        """Rename an item or change its description."""
        assert interaction.guild is not None
        try:
            item = await economy.edit_item(
                self.bot.repos, interaction.guild.id, item_id, name=name, description=description
            )
        except EconomyError as error:
            await interaction.response.send_message(explain(error), ephemeral=True)
            return
        await interaction.response.send_message(f"Item `{item.item_id}` is now {item.name}.", ephemeral=True)

    @app_commands.command(name="delete")
    @is_manager()
    async def delete(self, interaction: discord.Interaction[Guildhall], item_id: str) -> None:
        """Remove an item from the catalog and from every inventory."""
        assert interaction.guild is not None
        try:
            await economy.delete_item(self.bot.repos, interaction.guild.id, item_id)
        except EconomyError as error:
            await interaction.response.send_message(explain(error), ephemeral=True)
            return
        await interaction.response.send_message(f"Deleted item `{item_id}`.", ephemeral=True)

    @app_commands.command(name="list")
    @is_manager()
    async def list_items(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Show this server's item catalog."""
        assert interaction.guild is not None
        items = await self.bot.repos.economy.items(interaction.guild.id)
        if not items:
            await interaction.response.send_message(
                "The catalog is empty: add items with `/item create`.", ephemeral=True
            )
            return
        lines = [
            f"`{item.item_id}` — {item.name}" + (f": {item.description}" if item.description else "") for item in items
        ]
        embed = discord.Embed(title="Items", description="\n".join(lines)[:4000])
        await interaction.response.send_message(embed=embed, ephemeral=True)


@app_commands.guild_only()
class RankCards(commands.GroupCog, group_name="rankcard"):
    """Rank cards and their colours."""

    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction[Guildhall], member: discord.Member | None = None) -> None:
        """Show a member's rank card."""
        assert isinstance(interaction.user, discord.Member)
        await interaction.response.defer()
        card = await rank_card_file(self.bot, member or interaction.user)
        await interaction.followup.send(file=card)

    @app_commands.command(name="colours")
    @app_commands.describe(text="Text colour, e.g. #ffffff", bar="Progress bar, e.g. #5865f2", bar_background="#484b4e")
    async def colours(
        self,
        interaction: discord.Interaction[Guildhall],
        text: str | None = None,
        bar: str | None = None,
        bar_background: str | None = None,
    ) -> None:
        """Choose your rank card's colours (#rrggbb or #rrggbbaa)."""
        assert interaction.guild is not None
        try:
            parsed = {name: parse_hex(value) if value else None for name, value in (("font", text), ("xp", bar))}
            background = parse_hex(bar_background) if bar_background else None
        except ColourError as error:
            await interaction.response.send_message(f"{error}.", ephemeral=True)
            return
        await economy.set_colours(
            self.bot.repos,
            interaction.guild.id,
            interaction.user.id,
            now=int(self.bot.clock.time()),
            font=parsed["font"],
            xp=parsed["xp"],
            xp_background=background,
        )
        await interaction.response.send_message("Your rank card colours are saved.", ephemeral=True)

    @app_commands.command(name="reset")
    async def reset(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Go back to the default rank card colours."""
        assert interaction.guild is not None
        await economy.set_colours(
            self.bot.repos, interaction.guild.id, interaction.user.id, now=int(self.bot.clock.time()), reset=True
        )
        await interaction.response.send_message("Your rank card colours are the defaults again.", ephemeral=True)


@app_commands.guild_only()
class Economy(commands.Cog):
    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot

    def _now(self) -> int:
        return int(self.bot.clock.time())

    @app_commands.command(name="inventory")
    async def inventory(
        self, interaction: discord.Interaction[Guildhall], member: discord.Member | None = None
    ) -> None:
        """Show the items you (or another member) hold."""
        assert isinstance(interaction.user, discord.Member)
        target = member or interaction.user
        repos = self.bot.repos
        stacks = [s for s in await repos.economy.inventory(target.guild.id, target.id) if s.amount > 0]
        names = {item.item_id: item.name for item in await repos.economy.items(target.guild.id)}
        if not stacks:
            await interaction.response.send_message(f"{target.display_name} holds no items.", ephemeral=True)
            return
        lines = [f"{names.get(s.item_id, s.item_id)} × {s.amount:,}" for s in stacks]
        embed = discord.Embed(title=f"Inventory of {target.display_name}", description="\n".join(lines)[:4000])
        await interaction.response.send_message(embed=embed)

    @app_commands.command(name="rep")
    async def rep(self, interaction: discord.Interaction[Guildhall], member: discord.Member) -> None:
        """Give a member +1 reputation (once a day)."""
        total = await self._give(interaction, member, economy.REP)
        if total is not None:
            await interaction.response.send_message(f"+1 reputation for {member.mention} (now {total}).")

    @app_commands.command(name="like")
    async def like(self, interaction: discord.Interaction[Guildhall], member: discord.Member) -> None:
        """Like a member (once a day per member)."""
        total = await self._give(interaction, member, economy.LIKE)
        if total is not None:
            await interaction.response.send_message(
                f"{interaction.user.mention} likes {member.mention} ({total} likes)."
            )

    async def _give(
        self, interaction: discord.Interaction[Guildhall], member: discord.Member, what: economy.Appreciation
    ) -> int | None:
        """The receiver's new total, or None after explaining why not."""
        assert interaction.guild is not None
        try:
            return await economy.give(
                self.bot.repos,
                self.bot.settings.economy,
                interaction.guild.id,
                what,
                giver_id=interaction.user.id,
                receiver_id=member.id,
                receiver_is_bot=member.bot,
                now=self._now(),
            )
        except EconomyError as error:
            await interaction.response.send_message(explain(error), ephemeral=True)
            return None

    @app_commands.command(name="balance")
    async def balance(self, interaction: discord.Interaction[Guildhall], member: discord.Member | None = None) -> None:
        """Show a balance and its history as a chart."""
        assert isinstance(interaction.user, discord.Member)
        target = member or interaction.user
        await interaction.response.defer()
        repos = self.bot.repos
        record = await repos.members.get(target.guild.id, target.id)
        points = await economy.balance_history(repos, target.guild.id, target.id)
        guild = await economy.guild_economy(repos, self.bot.settings.economy, target.guild.id)
        png = await asyncio.to_thread(
            render_balance_chart, points, title=f"Balance of {target.display_name}", now=self._now(), tz=guild.zone
        )
        balance = record.voicepoints if record else 0
        await interaction.followup.send(
            f"{target.display_name} has **{balance:,}** points.",
            file=discord.File(io.BytesIO(png), filename="balance.png"),
        )

    @app_commands.command(name="economy-settings")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(timezone="IANA name for the stats calendar", public_leaderboard="Serve /leaderboard/<id>")
    @is_manager()
    async def settings(
        self,
        interaction: discord.Interaction[Guildhall],
        timezone: str | None = None,
        public_leaderboard: bool | None = None,
    ) -> None:
        """Set this server's stats time zone and whether its leaderboard page is public."""
        assert interaction.guild is not None
        try:
            guild = await economy.configure_guild(
                self.bot.repos,
                self.bot.settings.economy,
                interaction.guild.id,
                now=self._now(),
                timezone=timezone,
                leaderboard_public=public_leaderboard,
            )
        except EconomyError as error:
            await interaction.response.send_message(explain(error), ephemeral=True)
            return
        page = f"{self.bot.api_url}/leaderboard/{interaction.guild.id}"
        state = f"public at {page}" if guild.leaderboard_public else "not public"
        await interaction.response.send_message(
            f"Stats follow the {guild.timezone} calendar; the leaderboard is {state}.", ephemeral=True
        )


async def setup(bot: Guildhall) -> None:
    await bot.add_cog(Items(bot))
    await bot.add_cog(RankCards(bot))
    await bot.add_cog(Economy(bot))
