"""A person deleting a channel by hand reaches the bot as CHANNEL_DELETE."""

from __future__ import annotations

import pytest

from fakediscord import ActionError, FakeDiscord

from .conftest import GUILD, MEMBERS_COUNTER, TestBot


async def test_deleting_a_channel_by_hand(fake: FakeDiscord, bot: TestBot) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None and guild.get_channel(MEMBERS_COUNTER) is not None
    await fake.delete_channel(GUILD, MEMBERS_COUNTER)
    assert guild.get_channel(MEMBERS_COUNTER) is None
    assert MEMBERS_COUNTER not in fake.store.channels
    with pytest.raises(ActionError):
        await fake.delete_channel(GUILD, MEMBERS_COUNTER)
