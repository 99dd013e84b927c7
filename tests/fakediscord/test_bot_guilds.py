"""The bot is added to a guild or removed from one: GUILD_CREATE and GUILD_DELETE reach discord.py."""

from __future__ import annotations

import pytest

from fakediscord import ActionError, FakeDiscord

from .conftest import BOT, GUILD, OWNER, TestBot

NEW_GUILD = 1179000000000009000


async def test_added_to_a_guild_and_removed_again(fake: FakeDiscord, bot: TestBot) -> None:
    assert [guild.id for guild in bot.guilds] == [GUILD]
    await fake.bot_added(NEW_GUILD, "Second Home")
    guild = bot.get_guild(NEW_GUILD)
    assert guild is not None
    assert guild.name == "Second Home"
    assert {member.id for member in guild.members} == {OWNER, BOT}
    assert [channel.name for channel in guild.text_channels] == ["general"]
    assert str(NEW_GUILD) in {g["id"] for g in fake.state()["guilds"]}
    await fake.bot_removed(NEW_GUILD)
    assert bot.get_guild(NEW_GUILD) is None
    assert [guild.id for guild in bot.guilds] == [GUILD]
    assert str(NEW_GUILD) not in {g["id"] for g in fake.state()["guilds"]}


async def test_bad_guild_actions_are_refused(fake: FakeDiscord, bot: TestBot) -> None:
    with pytest.raises(ActionError, match="already in guild"):
        await fake.bot_added(GUILD)
    with pytest.raises(ActionError, match="unknown guild"):
        await fake.bot_removed(NEW_GUILD)
    assert [guild.id for guild in bot.guilds] == [GUILD]
