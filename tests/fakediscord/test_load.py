"""``POST /_control/load``: fakediscord paces a stream of messages and voice-state updates itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fakediscord import FakeDiscord

from .conftest import GENERAL, GUILD, LOUNGE, TestBot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def load(http: aiohttp.ClientSession, fake: FakeDiscord, body: dict[str, Any], status: int = 200) -> Any:
    async with http.post(f"{fake.url}/_control/load", json=body) as response:
        data = await response.json()
        assert response.status == status, data
        return data


async def test_a_paced_stream_reaches_the_bot(fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession) -> None:
    body = {"guild_id": str(GUILD), "messages_per_s": 200, "voice_per_s": 50, "seconds": 0.5, "members": 3}
    sent = await load(http, fake, body)
    assert (sent["messages"], sent["voice"]) == (100, 25)
    assert sent["seconds"] >= 0.5 and sent["messages_per_s"] > 0
    # The bot handled every event: the load returns once the bot settled.
    messages = bot.events["message"]
    assert len(messages) == 100
    assert {m.channel.id for m in messages} == {GENERAL}
    assert len({m.author.id for m in messages}) == 3 and not any(m.author.bot for m in messages)
    voice = bot.events["voice"]
    assert len(voice) == 25
    places = {after.channel.id if after.channel else None for *_, after in voice}
    assert None in places and len(places) >= 2  # members join, move and leave


async def test_bad_load_requests_send_nothing(fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession) -> None:
    for body in (
        {"guild_id": "1", "messages_per_s": 10, "seconds": 1},
        {"guild_id": str(GUILD), "messages_per_s": -1, "seconds": 1},
        {"guild_id": str(GUILD), "messages_per_s": 10, "seconds": 0},
        {"guild_id": str(GUILD), "messages_per_s": 10, "seconds": 1, "channel_id": str(LOUNGE)},
        {"guild_id": str(GUILD), "messages_per_s": 10, "seconds": 1, "members": 0},
        {"guild_id": str(GUILD), "messages_per_s": 10, "seconds": 1, "speed": 3},
    ):
        answer = await load(http, fake, body, status=400)
        assert "error" in answer
    assert bot.events["message"] == [] and bot.events["voice"] == []
