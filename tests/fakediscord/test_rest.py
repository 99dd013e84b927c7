"""REST through the unmodified discord.py: roles, DMs, errors, the rename limit, faults, messages."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import discord
import pytest

from core.clock import ManualClock
from fakediscord import FakeDiscord, World

from .conftest import (
    BOT,
    BOT_ROLE,
    BRAM,
    DAX,
    EVE,
    GENERAL,
    GUILD,
    MEMBER_ROLE,
    MEMBERS_COUNTER,
    MOD_ROLE,
    OWNER,
    STARBOARD,
    TOKEN,
    TestBot,
    world_with,
)


def guild_of(bot: TestBot) -> discord.Guild:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    return guild


def text_channel(bot: TestBot, channel_id: int = GENERAL) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def member_roles(fake: FakeDiscord, user_id: int) -> list[int]:
    return fake.store.guilds[GUILD].members[user_id].roles


async def test_add_and_remove_role(fake: FakeDiscord, bot: TestBot) -> None:
    guild = guild_of(bot)
    eve = guild.get_member(EVE)
    role = guild.get_role(MEMBER_ROLE)
    assert eve is not None and role is not None
    await eve.add_roles(role, reason="test")
    assert MEMBER_ROLE in member_roles(fake, EVE)
    await fake.settled()
    assert role in guild.get_member(EVE).roles  # type: ignore[union-attr]  # the GUILD_MEMBER_UPDATE echo
    await eve.remove_roles(role)
    await fake.settled()
    assert MEMBER_ROLE not in member_roles(fake, EVE)
    assert role not in guild.get_member(EVE).roles  # type: ignore[union-attr]
    put = fake.find_requests("PUT", rf"/guilds/{GUILD}/members/{EVE}/roles/{MEMBER_ROLE}")
    assert len(put) == 1 and put[0].status == 204


async def test_role_above_the_bot_or_managed_is_forbidden(fake: FakeDiscord, bot: TestBot) -> None:
    guild = guild_of(bot)
    eve = guild.get_member(EVE)
    assert eve is not None
    for role_id in (MOD_ROLE, BOT_ROLE):
        with pytest.raises(discord.Forbidden) as caught:
            await eve.add_roles(discord.Object(role_id))
        assert caught.value.code == 50013 and caught.value.text == "Missing Permissions"
    assert member_roles(fake, EVE) == []


async def test_atomic_false_role_patch(fake: FakeDiscord, bot: TestBot) -> None:
    eve = guild_of(bot).get_member(EVE)
    assert eve is not None
    await eve.add_roles(discord.Object(MEMBER_ROLE), atomic=False)
    assert member_roles(fake, EVE) == [MEMBER_ROLE]
    with pytest.raises(discord.Forbidden):
        await eve.edit(roles=[discord.Object(MOD_ROLE)])


def world_without_manage_roles() -> World:
    world = world_with()
    bot_role = next(r for r in world.guilds[0].roles if r.id == BOT_ROLE)
    bot_role.permissions &= ~discord.Permissions(manage_roles=True).value
    return world


@pytest.mark.parametrize("world", [world_without_manage_roles()])
async def test_role_without_manage_roles_is_forbidden(fake: FakeDiscord, bot: TestBot) -> None:
    eve = guild_of(bot).get_member(EVE)
    assert eve is not None and not guild_of(bot).me.guild_permissions.manage_roles
    with pytest.raises(discord.Forbidden) as caught:
        await eve.add_roles(discord.Object(MEMBER_ROLE))
    assert caught.value.code == 50013


async def test_dm_success_and_closed_dms(fake: FakeDiscord, bot: TestBot) -> None:
    guild = guild_of(bot)
    bram = guild.get_member(BRAM)
    dax = guild.get_member(DAX)
    assert bram is not None and dax is not None
    sent = await bram.send("welcome")
    assert isinstance(sent.channel, discord.DMChannel) and sent.content == "welcome"
    assert [m["content"] for m in fake.state()["dms"][str(BRAM)]] == ["welcome"]
    with pytest.raises(discord.Forbidden) as caught:
        await dax.send("you will not see this")
    assert caught.value.code == 50007
    assert fake.state()["dms"][str(DAX)] == []
    await fake.settled()
    assert bot.events["message"][-1].content == "welcome"  # the MESSAGE_CREATE echo of the DM


async def test_unknown_ids_raise_not_found(fake: FakeDiscord, bot: TestBot) -> None:
    guild = guild_of(bot)
    with pytest.raises(discord.NotFound) as caught:
        await guild.fetch_member(1179000000000009999)
    assert caught.value.code == 10007
    with pytest.raises(discord.NotFound) as caught:
        await bot.fetch_channel(1179000000000009999)
    assert caught.value.code == 10003
    with pytest.raises(discord.NotFound) as caught:
        await bot.fetch_user(1179000000000009999)
    assert caught.value.code == 10013
    with pytest.raises(discord.NotFound) as caught:
        await bot.fetch_guild(1179000000000009999)
    assert caught.value.code == 10004
    with pytest.raises(discord.NotFound) as caught:
        await text_channel(bot).fetch_message(1179000000000009999)
    assert caught.value.code == 10008
    with pytest.raises(discord.NotFound) as caught:
        await guild.get_member(EVE).add_roles(discord.Object(1179000000000009999))  # type: ignore[union-attr]
    assert caught.value.code == 10011


async def test_fetches(fake: FakeDiscord, bot: TestBot) -> None:
    guild = guild_of(bot)
    fetched = await bot.fetch_guild(GUILD, with_counts=True)
    assert fetched.approximate_member_count == 7
    assert len(await guild.fetch_roles()) == 6
    assert len(await guild.fetch_channels()) == 11
    members = [m async for m in guild.fetch_members(limit=None)]
    assert len(members) == 7
    member = await guild.fetch_member(BRAM)
    assert member.name == "bram"
    user = await bot.fetch_user(OWNER)
    assert user.name == "ada"
    channel = await bot.fetch_channel(GENERAL)
    assert isinstance(channel, discord.TextChannel) and channel.topic == "Say hello"
    [partial] = [g async for g in bot.fetch_guilds(with_counts=True)]
    assert partial.id == GUILD and partial.approximate_member_count == 7
    info = await bot.application_info()
    assert info.id == BOT and info.owner.id == OWNER
    commands = await bot.tree.fetch_commands()
    assert {c.name for c in commands} == {"ping", "grant", "item", "slow", "late", "post", "ask", "tidy"}
    assert fake.store.command_syncs == 1
    avatar = await member.display_avatar.read()
    assert avatar.startswith(b"\x89PNG")
    default_avatar = await guild.get_member(EVE).display_avatar.read()  # type: ignore[union-attr]
    assert default_avatar.startswith(b"\x89PNG")


async def test_channel_rename_limit(fake: FakeDiscord, bot: TestBot, clock: ManualClock) -> None:
    channel = bot.get_channel(MEMBERS_COUNTER)
    assert isinstance(channel, discord.VoiceChannel)
    await channel.edit(name="Members: 7")
    await channel.edit(name="Members: 8")
    with pytest.raises(discord.RateLimited) as caught:
        await channel.edit(name="Members: 9")
    assert caught.value.retry_after == pytest.approx(600, abs=1)
    limited = fake.find_requests("PATCH", rf"/channels/{MEMBERS_COUNTER}$")[-1]
    assert limited.status == 429 and limited.response["global"] is False
    assert limited.headers["Via"] == "1.1 google" and limited.headers["X-RateLimit-Remaining"] == "0"
    assert float(limited.headers["X-RateLimit-Reset-After"]) == pytest.approx(600, abs=1)
    await clock.advance(600)
    await channel.edit(name="Members: 9")
    await fake.settled()
    assert bot.get_channel(MEMBERS_COUNTER).name == "Members: 9"  # type: ignore[union-attr]
    assert bot.events["channel_update"][-1][1].name == "Members: 9"


async def test_injected_forbidden_fault(fake: FakeDiscord, bot: TestBot) -> None:
    channel = text_channel(bot)
    fake.fault("POST", r"/channels/\d+/messages", 403, 50013)
    with pytest.raises(discord.Forbidden) as caught:
        await channel.send("blocked")
    assert caught.value.status == 403 and caught.value.code == 50013
    sent = await channel.send("allowed again")
    assert sent.content == "allowed again"
    assert fake.faults == []


async def test_injected_rate_limit_is_honoured(fake: FakeDiscord, bot: TestBot) -> None:
    channel = text_channel(bot)
    fake.fault("POST", rf"/channels/{GENERAL}/messages", 429, 0, retry_after=0.2)
    started = time.monotonic()
    sent = await channel.send("eventually")
    assert time.monotonic() - started >= 0.2
    assert sent.content == "eventually"
    assert [c.status for c in fake.find_requests("POST", rf"/channels/{GENERAL}/messages")] == [429, 200]


async def test_injected_long_rate_limit_raises(fake: FakeDiscord, bot: TestBot) -> None:
    fake.fault("*", r"/channels/\d+/messages", 429, 0, retry_after=45, global_=True)
    with pytest.raises(discord.RateLimited):
        await text_channel(bot).send("too long to wait")


async def test_send_files_edit_react_delete(fake: FakeDiscord, bot: TestBot) -> None:
    channel = text_channel(bot, STARBOARD)
    message = await channel.send("look", file=discord.File(io.BytesIO(b"PNGDATA"), filename="star.png"))
    [attachment] = message.attachments
    assert (attachment.filename, attachment.size, attachment.content_type) == ("star.png", 7, "image/png")
    assert await attachment.read() == b"PNGDATA"
    assert fake.store.attachments[attachment.id].data == b"PNGDATA"
    await message.add_reaction("⭐")
    await message.add_reaction("⭐")
    await fake.settled()
    adds = bot.events["reaction_add"]
    assert len(adds) == 1 and adds[0].user_id == BOT and str(adds[0].emoji) == "⭐"
    fetched = await channel.fetch_message(message.id)
    assert fetched.reactions[0].count == 1 and fetched.reactions[0].me
    users = [u async for u in fetched.reactions[0].users()]
    assert [u.id for u in users] == [BOT]
    await message.remove_reaction("⭐", guild_of(bot).me)
    await fake.settled()
    assert bot.events["reaction_remove"][0].user_id == BOT
    edited = await message.edit(content="looked")
    assert edited.content == "looked" and edited.edited_at is not None
    history = [m async for m in channel.history(limit=5)]
    assert [m.content for m in history] == ["looked"]
    await message.delete()
    assert fake.state()["guilds"][0]["messages"][str(STARBOARD)] == []
    with pytest.raises(discord.HTTPException) as caught:
        await message.add_reaction("star")
    assert caught.value.code == 10008
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("")
    assert caught.value.code == 50006


async def test_wait_for_request(fake: FakeDiscord, bot: TestBot) -> None:
    sending = asyncio.create_task(text_channel(bot).send("later"))
    call = await fake.wait_for_request("POST", rf"/channels/{GENERAL}/messages", timeout=5)
    assert call.body["content"] == "later" and call.status == 200 and call.response["content"] == "later"
    await sending
    with pytest.raises(TimeoutError):
        await fake.wait_for_request("DELETE", r"/channels/", timeout=0.05)


async def test_create_channel_and_typing(fake: FakeDiscord, bot: TestBot) -> None:
    guild = guild_of(bot)
    category = discord.utils.get(guild.categories, name="Stats")
    created = await guild.create_voice_channel("Online: 5", category=category)
    await fake.settled()
    assert guild.get_channel(created.id) is not None and created.category == category
    async with text_channel(bot).typing():
        pass
    with pytest.raises(discord.Forbidden):
        await guild.get_member(BRAM).kick()  # type: ignore[union-attr]  # no Kick Members


async def test_rest_needs_the_bot_token(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/users/@me") as response:
            assert response.status == 401
            assert response.headers["Content-Type"] == "application/json"
            assert await response.json() == {"message": "401: Unauthorized", "code": 0}
        headers = {"Authorization": f"Bot {TOKEN}"}
        async with session.get(f"{fake.api_base}/users/@me", headers=headers) as response:
            assert response.status == 200 and (await response.json())["id"] == str(BOT)
        async with session.get(f"{fake.api_base}/nowhere", headers=headers) as response:
            assert response.status == 404 and (await response.json())["code"] == 0
        async with session.get(f"{fake.api_base}/gateway") as response:
            assert (await response.json())["url"] == fake.gateway_url
        async with session.get(f"{fake.api_base}/gateway/bot", headers=headers) as response:
            assert (await response.json())["shards"] == 1


def test_synced_command_permissions_are_answered_as_a_string(fake: FakeDiscord) -> None:
    # discord.py sends a group's default_member_permissions as an integer; Discord answers a string.
    for sent, answered in ((32, "32"), ("8", "8"), (None, None)):
        body = {"name": "probe", "description": "probe", "default_member_permissions": sent}
        assert fake.payloads.command(body, guild_id=None, command_id=1)["default_member_permissions"] == answered
