"""Login, READY and GUILD_CREATE, chunking, intents, resume, re-identify and outages."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import discord
import pytest
from discord.ext import commands

from core.clock import ManualClock
from fakediscord import ActionError, EventTracker, FakeDiscord, load_world

from .conftest import (
    BOT,
    BOT_ROLE,
    BRAM,
    GENERAL,
    GUILD,
    LOUNGE,
    OWNER,
    TOKEN,
    TestBot,
    start_bot,
    stop_bot,
    world_text,
    world_with,
)


async def test_login_ready_and_guild_create_snapshot(fake: FakeDiscord, bot: TestBot) -> None:
    assert bot.user is not None and bot.user.id == BOT and bot.user.bot
    assert bot.application_id == BOT
    [guild] = bot.guilds
    assert (guild.id, guild.name, guild.owner_id) == (GUILD, "Guildhall Sandbox", OWNER)
    assert guild.member_count == len(guild.members) == 7
    assert [r.name for r in guild.roles] == ["@everyone", "Member", "Verified", "Guildhall", "Moderator", "Admin"]
    me = guild.me
    assert me.top_role.id == BOT_ROLE and me.top_role.managed
    assert me.guild_permissions.manage_roles and not me.guild_permissions.administrator
    assert guild.premium_subscription_count == 2 and guild.premium_tier == 1
    assert guild.afk_channel is not None and guild.afk_channel.name == "AFK"
    names = {c.name: type(c) for c in guild.channels}
    assert names["general"] is discord.TextChannel
    assert names["Stats"] is discord.CategoryChannel
    assert names["Lounge"] is discord.VoiceChannel
    nsfw = discord.utils.get(guild.text_channels, name="nsfw-chat")
    assert nsfw is not None and nsfw.is_nsfw() and nsfw.category is not None
    bram = guild.get_member(BRAM)
    assert bram is not None and {r.name for r in bram.roles} == {"@everyone", "Member", "Verified"}
    assert bram.status is discord.Status.online
    identify = [f for f in fake.gateway.received if f["op"] == 2]
    assert len(identify) == 1 and identify[0]["d"]["token"] == TOKEN
    assert fake.ready and fake.last_seq == 2  # READY, GUILD_CREATE


@pytest.mark.parametrize("world", [world_with("generate_members = 2000")])
async def test_large_guild_is_chunked(fake: FakeDiscord, bot: TestBot) -> None:
    [guild] = bot.guilds
    assert guild.member_count == 2007
    assert len(guild.members) == 2007 and guild.chunked
    requests = [f["d"] for f in fake.gateway.received if f["op"] == 8]
    assert len(requests) == 1 and int(requests[0]["guild_id"]) == GUILD
    chunks = [f.frame() for f in fake.gateway.current.buffer if f.event == "GUILD_MEMBERS_CHUNK"]
    assert [c["d"]["chunk_index"] for c in chunks] == [0, 1, 2]
    assert all(c["d"]["nonce"] == requests[0]["nonce"] for c in chunks)


def test_generate_members_in_world_file(tmp_path: Path) -> None:
    path = tmp_path / "world.toml"
    path.write_text(world_text("generate_members = 30"), encoding="utf-8")
    world = load_world(path)
    members = world.guilds[0].members
    assert len(members) == 37 and len({m.id for m in members}) == 37
    assert all(len(str(m.id)) >= 18 for m in members)


async def test_wrong_token_is_rejected(fake: FakeDiscord) -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await bot.start("not-the-token")
    await bot.close()
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 2, "d": {"token": "nope", "intents": 0, "properties": {}}})
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004


async def test_heartbeat_is_acknowledged(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        await ws.receive_json()
        await ws.send_str(json.dumps({"op": 1, "d": None}))
        assert (await ws.receive_json())["op"] == 11


async def test_intents_filter_events_and_content(fake: FakeDiscord, clock: ManualClock) -> None:
    intents = discord.Intents.default()  # no members, presences or message content
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
    tracker = EventTracker()
    tracker.install(bot)
    fake.settle = tracker.settle_for(bot)
    seen: list[discord.Message] = []
    joined: list[discord.Member] = []

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    @bot.listen()
    async def on_member_join(member: discord.Member) -> None:
        joined.append(member)

    task = await start_bot(bot)
    try:
        await fake.message(GUILD, GENERAL, BRAM, "secret words")
        await fake.message(GUILD, GENERAL, BRAM, f"hey <@{BOT}>")
        await fake.member(GUILD, 1179000000000000999, "join", name="newcomer")
        assert [m.content for m in seen] == ["", f"hey <@{BOT}>"]
        assert joined == []
    finally:
        await stop_bot(bot, task)


async def test_disconnect_and_resume(fake: FakeDiscord, bot: TestBot) -> None:
    await fake.disconnect(resume=True)
    assert bot.events["resumed"] == [True]
    assert fake.gateway.identify_count == 1 and fake.gateway.resume_count == 1
    await fake.voice(GUILD, BRAM, LOUNGE)
    assert bot.events["voice"][-1][2].id == LOUNGE


async def test_resume_replays_missed_dispatches(fake: FakeDiscord, bot: TestBot) -> None:
    generation = fake.gateway.generation
    await fake.gateway.close_current(4000, "test")
    message_id = await fake.message(GUILD, GENERAL, BRAM, "sent while away")  # buffered, not yet read
    assert await fake.gateway.wait_live(generation, 5)
    await fake.settled()
    assert bot.events["message"][-1].id == message_id
    assert bot.events["resumed"] == [True]


async def test_disconnect_without_resume_identifies_again(fake: FakeDiscord, bot: TestBot) -> None:
    await fake.disconnect(resume=False)
    assert fake.gateway.identify_count == 2
    ops = [f["op"] for f in fake.gateway.received if f["op"] != 1]
    assert ops == [2, 6, 2]  # identify, the refused resume, identify again
    await fake.message(GUILD, GENERAL, BRAM, "after re-identify")
    assert bot.events["message"][-1].content == "after re-identify"
    assert bot.events["resumed"] == []


async def test_outage_down_and_up(fake: FakeDiscord, bot: TestBot) -> None:
    channel = bot.get_channel(GENERAL)
    assert isinstance(channel, discord.TextChannel)
    await fake.set_outage(True)
    with pytest.raises(discord.DiscordServerError) as caught:
        await channel.send("nobody hears")
    assert caught.value.status == 503
    message_id = await fake.message(GUILD, GENERAL, BRAM, "said during the outage")
    assert not any(m.id == message_id for m in bot.events["message"])
    with pytest.raises(ActionError):
        await fake.disconnect()  # nothing to disconnect while Discord is down
    await fake.set_outage(False)
    assert any(m.id == message_id for m in bot.events["message"])
    assert bot.events["resumed"] == [True]
    sent = await channel.send("back")
    assert sent.content == "back"
    await fake.set_outage(False)  # already up: returns at once
    assert bot.events["resumed"] == [True]
