"""Bot-list rules: the command list built from a command tree, reviews, and the /reviewed reward."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from core.botlist import (
    BotListError,
    commands_from_tree,
    discord_commands,
    grant_review_reward,
    validate_command_data,
    validate_review,
)
from storage import Repositories
from storage.ledger import Party

GUILD = 1179000000000001000
BOT_USER = 1179000000000000001
MEMBER = 1179000000000000102


class Tools(commands.Cog, name="Tools"):
    admin = app_commands.Group(
        name="admin", description="Admin tools", default_permissions=discord.Permissions(manage_guild=True)
    )

    @app_commands.command(name="roll")
    @app_commands.checks.cooldown(1, 30.0)
    async def roll(self, interaction: discord.Interaction, sides: int, times: int | None = None) -> None:
        """Roll a die."""

    @admin.command(name="purge")
    async def purge(self, interaction: discord.Interaction, amount: int) -> None:
        """Delete messages."""


@pytest.fixture
async def tree():
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    await bot.add_cog(Tools())

    @bot.tree.command(name="ping", extras={"cooldown": 5})
    async def ping(interaction: discord.Interaction) -> None:
        """Pong."""

    @bot.tree.context_menu(name="Report")
    async def report(interaction: discord.Interaction, message: discord.Message) -> None:
        pass

    yield bot.tree
    await bot.close()


async def test_the_command_list_follows_the_tree(tree):
    listed = {command["name"]: command for command in commands_from_tree(tree)}
    assert set(listed) == {"roll", "admin purge", "ping"}
    assert listed["roll"] == {
        "name": "roll",
        "description": "Roll a die.",
        "args": [{"text": "sides", "type": "required"}, {"text": "times", "type": "optional"}],
        "cooldown": 30,
        "cooldownUnit": "s",
        "aliases": None,
        "examples": None,
        "permissions": None,
        "category": "Tools",
        "prefix": "/",
    }
    assert listed["admin purge"]["permissions"] == ["Manage Guild"]
    assert listed["admin purge"]["category"] == "Tools"
    assert listed["ping"]["category"] == "General"
    assert listed["ping"]["cooldown"] == 5
    assert listed["ping"]["args"] is None
    # The list is valid by the rules the lists apply.
    _, validated = validate_command_data({"sort": "default", "commands": list(listed.values())})
    assert validated == list(listed.values())


async def test_discord_shaped_commands_are_what_a_sync_sends(tree):
    names = {command["name"] for command in discord_commands(tree)}
    assert names == {"roll", "admin", "ping", "Report"}


@pytest.mark.parametrize(
    ("rating", "text", "message"),
    [(0, "fine", "1 to 5 stars"), (6, "fine", "1 to 5 stars"), (3, "   ", "needs some text"), (3, "x" * 1001, "1,000")],
)
def test_bad_reviews_are_refused(rating, text, message):
    with pytest.raises(BotListError, match=message):
        validate_review(rating, text)


def test_a_review_text_is_stripped():
    assert validate_review(5, "  great bot \n") == "great bot"


async def test_the_review_reward_is_paid_once_even_when_asked_at_the_same_time(repos: Repositories, clock):
    async def claim():
        return await grant_review_reward(
            repos,
            guild_id=GUILD,
            bot_user_id=BOT_USER,
            user_id=MEMBER,
            amount=250,
            list_name="bod",
            now=int(clock.time()),
        )

    outcomes = await asyncio.gather(*(claim() for _ in range(8)))
    assert sorted(outcome.amount for outcome in outcomes) == [0] * 7 + [250]
    assert sum(outcome.already for outcome in outcomes) == 7
    assert await repos.ledger.balance(Party(GUILD, MEMBER)) == 250
    assert await repos.ledger.balance(Party(GUILD, BOT_USER)) == -250
    assert await repos.ledger.verify_balances() == []
    assert await repos.botlist.review_reward_granted(guild_id=GUILD, user_id=MEMBER)
    # Another guild's member is another member.
    other = await grant_review_reward(
        repos, guild_id=GUILD + 1, bot_user_id=BOT_USER, user_id=MEMBER, amount=250, list_name="bod", now=1
    )
    assert other.amount == 250


async def test_no_reward_configured_pays_nothing(repos: Repositories, clock):
    outcome = await grant_review_reward(
        repos, guild_id=GUILD, bot_user_id=BOT_USER, user_id=MEMBER, amount=0, list_name="bod", now=1
    )
    assert outcome.amount == 0
    assert not outcome.already
    assert await repos.ledger.balance(Party(GUILD, MEMBER)) == 0
    assert not await repos.botlist.review_reward_granted(guild_id=GUILD, user_id=MEMBER)


async def test_reviews_are_member_data_for_privacy(repos: Repositories, clock):
    await repos.botlist.register(BOT_USER, by="test", now=1)
    assert repos.botlist in repos.user_data_owners()
    assert await repos.botlist.put_review(BOT_USER, guild_id=GUILD, user_id=MEMBER, rating=4, text="ok", now=1)
    await grant_review_reward(
        repos, guild_id=GUILD, bot_user_id=BOT_USER, user_id=MEMBER, amount=5, list_name="bod", now=1
    )
    assert await repos.botlist.count_user_data(GUILD, MEMBER) == 2
    assert await repos.botlist.delete_user_data(GUILD, MEMBER) == 2
    assert await repos.botlist.review(BOT_USER, MEMBER) is None
    assert not await repos.botlist.put_review(404, guild_id=GUILD, user_id=MEMBER, rating=4, text="ok", now=1)
