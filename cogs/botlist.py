"""Bot lists: keep the guild count and command list current on the configured lists; reviews."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from core.botlist import BotListError, commands_from_tree, discord_commands, grant_review_reward, validate_review
from core.botlist_client import BotListPoster, CommandPayloads, ListStatus, ReviewCheckError
from core.ledger import LedgerError
from guildhall.bot import reply

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)

T = TypeVar("T")


def is_bot_owner() -> Callable[[T], T]:
    """Only the bot's owners (``[discord] owner_ids``, else the application owner)."""

    async def predicate(interaction: discord.Interaction[Guildhall]) -> bool:
        if await interaction.client.is_owner(interaction.user):
            return True
        raise app_commands.CheckFailure("Only the bot's owner can use this command.")

    return app_commands.check(predicate)


def describe(status: ListStatus) -> str:
    return (
        f"**{status.name}** ({status.kind}): {status.state}\nguild count: {status.guilds}\ncommands: {status.commands}"
    )


class BotList(commands.Cog, name="Bot lists"):
    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot
        self.poster = BotListPoster(bot.settings.botlists, clock=bot.clock, state=bot.repos.bot_state)

    async def cog_load(self) -> None:
        if self.bot.is_ready():
            self._start()

    async def cog_unload(self) -> None:
        await self.poster.close()

    def _start(self) -> None:
        assert self.bot.user is not None
        self.poster.start(bot_id=self.bot.user.id, guild_count=lambda: len(self.bot.guilds), commands=self._commands)

    def _commands(self) -> CommandPayloads:
        return CommandPayloads(commands_from_tree(self.bot.tree), discord_commands(self.bot.tree))

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self._start()

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.poster.guilds_changed()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.poster.guilds_changed()

    botlist = app_commands.Group(
        name="botlist",
        description="The bot lists this bot posts to",
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @botlist.command(name="status")
    @is_bot_owner()
    async def status(self, interaction: discord.Interaction[Guildhall]) -> None:
        """The last result of every configured bot list."""
        statuses = self.poster.statuses()
        if not statuses:
            await reply(interaction, "No bot lists are configured (see [[botlists.lists]] in config.toml).")
            return
        await reply(interaction, "\n\n".join(describe(status) for status in statuses))

    @botlist.command(name="post")
    @is_bot_owner()
    async def post(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Post the guild count and commands to every list now (within each list's limits)."""
        if not self.poster.lists:
            await reply(interaction, "No bot lists are configured (see [[botlists.lists]] in config.toml).")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        statuses = await self.poster.post_now()
        await reply(interaction, "\n\n".join(describe(status) for status in statuses))

    @botlist.command(name="register")
    @app_commands.describe(bot="The bot to list here (its user id, or mention it)")
    @is_bot_owner()
    async def register(self, interaction: discord.Interaction[Guildhall], bot: discord.User) -> None:
        """Register a bot on this bot's own list (/bot-api), so it can post its guild count and commands."""
        if not bot.bot:
            await reply(interaction, f"{bot.mention} is not a bot.")
            return
        added = await self.bot.repos.botlist.register(
            bot.id, by=f"owner:{interaction.user.id}", now=int(self.bot.clock.time())
        )
        await reply(interaction, f"{bot.mention} is {'now' if added else 'already'} registered (id {bot.id}).")

    @app_commands.command(name="review")
    @app_commands.guild_only()
    @app_commands.describe(bot="The bot you review", rating="1 to 5 stars", text="What you think of it")
    async def review(
        self,
        interaction: discord.Interaction[Guildhall],
        bot: discord.User,
        rating: app_commands.Range[int, 1, 5],
        text: app_commands.Range[str, 1, 1000],
    ) -> None:
        """Review a bot registered on this bot's list."""
        assert interaction.guild_id is not None
        try:
            text = validate_review(rating, text)
        except BotListError as error:
            await reply(interaction, str(error))
            return
        if not bot.bot:
            await reply(interaction, f"{bot.mention} is not a bot.")
            return
        stored = await self.bot.repos.botlist.put_review(
            bot.id,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            rating=rating,
            text=text,
            now=int(self.bot.clock.time()),
        )
        if not stored:
            await reply(interaction, f"{bot.mention} is not registered on this list.")
            return
        await reply(interaction, f"Thanks! Your {rating}-star review of {bot.mention} is saved.")

    @app_commands.command(name="reviewed")
    @app_commands.guild_only()
    async def reviewed(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Check whether you reviewed this bot on its bot list."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            check = await self.poster.check_review(interaction.user.id, self.bot.settings.botlist.review_list)
        except ReviewCheckError as error:
            await reply(interaction, f"I couldn't check your review: {error}.")
            return
        if not check.exists:
            await reply(interaction, f"I can't find a review from you on {check.list_name} yet.")
            return
        assert interaction.guild_id is not None and self.bot.user is not None
        try:
            reward = await grant_review_reward(
                self.bot.repos,
                guild_id=interaction.guild_id,
                bot_user_id=self.bot.user.id,
                user_id=interaction.user.id,
                amount=self.bot.settings.botlist.review_reward,
                list_name=check.list_name,
                now=int(self.bot.clock.time()),
            )
        except LedgerError as error:
            await reply(interaction, f"Thank you for reviewing me on {check.list_name}! The reward failed: {error}")
            return
        if reward.amount:
            thanks = f" Here are {reward.amount:,} voicepoints."
        elif reward.already:
            thanks = " You already got your reward for it."
        else:
            thanks = ""
        await reply(interaction, f"Thank you for reviewing me on {check.list_name}!{thanks}")


async def setup(bot: Guildhall) -> None:
    await bot.add_cog(BotList(bot))
