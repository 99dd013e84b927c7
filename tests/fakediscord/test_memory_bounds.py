"""fakediscord's memory stays bounded under load: messages per channel, the RESUME buffer, the logs."""

from __future__ import annotations

from collections import deque

import discord
import pytest

from fakediscord import FakeDiscord, gateway, interactions, server, state

from .conftest import BRAM, GENERAL, GUILD, STARBOARD, TestBot


def text_channel(bot: TestBot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_channel_remembers_only_its_newest_messages(
    fake: FakeDiscord, bot: TestBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "MESSAGE_LIMIT", 3)
    other = await fake.message(GUILD, STARBOARD, BRAM, "elsewhere")
    ids = [await fake.message(GUILD, GENERAL, BRAM, f"message {n}") for n in range(5)]
    channel = text_channel(bot, GENERAL)
    for forgotten in ids[:2]:
        with pytest.raises(discord.NotFound) as caught:
            await channel.fetch_message(forgotten)
        assert caught.value.code == 10008
    assert (await channel.fetch_message(ids[2])).content == "message 2"
    history = [m.content async for m in channel.history(limit=10)]
    assert history[0] == "message 4" and "message 1" not in history and "message 0" not in history
    kept = {m for m, message in fake.store.messages.items() if message.channel_id == GENERAL}
    assert kept == set(ids[2:])
    assert (await text_channel(bot, STARBOARD).fetch_message(other)).content == "elsewhere"
    await (await channel.fetch_message(ids[2])).delete()  # a deleted message is forgotten in its turn too
    newest = await fake.message(GUILD, GENERAL, BRAM, "message 5")
    assert [m.id async for m in channel.history(limit=10)] == [newest, ids[4], ids[3]]


async def test_forgetting_a_message_drops_its_attachments(
    fake: FakeDiscord, bot: TestBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "MESSAGE_LIMIT", 1)
    await fake.message(GUILD, GENERAL, BRAM, "", attachments=[{"filename": "a.txt", "content": "first"}])
    [first] = fake.store.attachments
    await fake.message(GUILD, GENERAL, BRAM, "", attachments=[{"filename": "b.txt", "content": "second"}])
    assert first not in fake.store.attachments and len(fake.store.attachments) == 1


async def test_the_resume_buffer_is_bounded_and_a_resume_past_it_identifies_again(
    fake: FakeDiscord, bot: TestBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "BUFFER_CHARS", 4000)
    await fake.set_outage(True)
    missed = [await fake.message(GUILD, GENERAL, BRAM, f"while away {n} " + "x" * 500) for n in range(8)]
    session = fake.gateway.current
    assert session is not None
    assert session.buffered_chars == sum(len(sent.text) for sent in session.buffer) <= 4000
    assert session.buffer[0].seq > session.seq - len(missed)  # the oldest missed dispatches are gone
    await fake.set_outage(False)
    assert fake.gateway.identify_count == 2 and bot.events["resumed"] == []
    seen = {m.id for m in bot.events["message"]}
    assert not seen & set(missed)  # a refused resume replays nothing, as on Discord
    await fake.message(GUILD, GENERAL, BRAM, "after identifying again")
    assert bot.events["message"][-1].content == "after identifying again"


async def test_the_rest_log_keeps_the_newest_calls_and_counts_them_all(fake: FakeDiscord, bot: TestBot) -> None:
    assert fake.rest_log.maxlen == server.REST_LOG_LIMIT
    assert fake.gateway.received.maxlen == gateway.RECEIVED_LIMIT
    fake.rest_log = deque(fake.rest_log, maxlen=2)
    before = fake.rest_calls
    channel = text_channel(bot, GENERAL)
    for n in range(3):
        await channel.send(f"bot says {n}")
    assert fake.rest_calls == before + 3
    posted = fake.find_requests("POST", rf"/channels/{GENERAL}/messages")
    assert [call.body["content"] for call in posted] == ["bot says 1", "bot says 2"]
    await fake.quiet(0.01)  # still settles on the count, not on the full log's length


async def test_only_the_newest_interactions_are_kept(
    fake: FakeDiscord, bot: TestBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interactions, "RECORD_LIMIT", 2)
    ids = [int((await fake.command(GUILD, GENERAL, BRAM, "ping"))["interaction_id"]) for _ in range(3)]
    assert list(fake.interactions.records) == ids[1:]
    assert sorted(record.id for record in fake.interactions.by_token.values()) == ids[1:]
