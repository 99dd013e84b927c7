"""People's actions reach the bot as discord.py events; settling means no test ever sleeps."""

from __future__ import annotations

import discord
import pytest

from core.clock import Clock, ManualClock
from fakediscord import ActionError, FakeDiscord, default_world

from .conftest import BOT, BRAM, CLEO, EVE, GAMING, GENERAL, GUILD, LOUNGE, MEMBER_ROLE, OWNER, VERIFIED_ROLE, TestBot


async def test_message_reaches_the_bot(fake: FakeDiscord, bot: TestBot) -> None:
    message_id = await fake.message(GUILD, GENERAL, BRAM, f"hello <@{BOT}> and <@&{MEMBER_ROLE}>")
    message = bot.events["message"][-1]
    assert message.id == message_id and message.guild is not None and message.guild.id == GUILD
    assert isinstance(message.author, discord.Member) and message.author.id == BRAM
    assert isinstance(message.channel, discord.TextChannel) and message.channel.id == GENERAL
    assert [u.id for u in message.mentions] == [BOT] and [r.id for r in message.role_mentions] == [MEMBER_ROLE]


async def test_direct_message_and_attachment(fake: FakeDiscord, bot: TestBot) -> None:
    await fake.message(None, None, EVE, "psst")
    dm = bot.events["message"][-1]
    assert isinstance(dm.channel, discord.DMChannel) and dm.guild is None and dm.author.id == EVE
    await fake.message(GUILD, GENERAL, BRAM, "a picture", attachments=[{"filename": "cat.png", "content": b"meow"}])
    [attachment] = bot.events["message"][-1].attachments
    assert attachment.filename == "cat.png" and await attachment.read() == b"meow"


async def test_reactions_reach_the_bot(fake: FakeDiscord, bot: TestBot) -> None:
    message_id = await fake.message(GUILD, GENERAL, BRAM, "star me")
    await fake.reaction(GUILD, GENERAL, message_id, CLEO, "⭐")
    await fake.reaction(GUILD, GENERAL, message_id, CLEO, "⭐")  # a second add changes nothing
    [added] = bot.events["reaction_add"]
    assert (added.user_id, added.message_id, str(added.emoji)) == (CLEO, message_id, "⭐")
    assert added.member is not None and added.member.id == CLEO and added.guild_id == GUILD
    cached = discord.utils.get(bot.cached_messages, id=message_id)
    assert cached is not None and cached.reactions[0].count == 1
    await fake.reaction(GUILD, GENERAL, message_id, CLEO, "<:blob:1179000000000007777>")
    assert bot.events["reaction_add"][-1].emoji.id == 1179000000000007777
    await fake.reaction(GUILD, GENERAL, message_id, CLEO, "⭐", add=False)
    [removed] = bot.events["reaction_remove"]
    assert removed.user_id == CLEO and str(removed.emoji) == "⭐"
    assert fake.state()["guilds"][0]["messages"][str(GENERAL)][0]["reactions"] == [
        {"emoji": "blob:1179000000000007777", "count": 1, "users": [str(CLEO)]}
    ]


async def test_voice_states_reach_the_bot(fake: FakeDiscord, bot: TestBot) -> None:
    await fake.voice(GUILD, BRAM, LOUNGE)
    member, before, after, state = bot.events["voice"][-1]
    assert member.id == BRAM and before is None and after.id == LOUNGE and not state.self_mute
    await fake.voice(GUILD, BRAM, LOUNGE, self_mute=True)
    assert bot.events["voice"][-1][3].self_mute
    await fake.voice(GUILD, BRAM, GAMING, mute=True)
    _, before, after, state = bot.events["voice"][-1]
    assert before.id == LOUNGE and after.id == GAMING and state.mute and not state.self_mute
    guild = bot.get_guild(GUILD)
    assert guild is not None and [m.id for m in guild.get_channel(GAMING).members] == [BRAM]  # type: ignore[union-attr]
    assert fake.state()["guilds"][0]["members"][1]["voice"]["channel_id"] == str(GAMING)
    await fake.voice(GUILD, BRAM, None)
    assert bot.events["voice"][-1][2] is None
    with pytest.raises(ActionError, match="not a voice channel"):
        await fake.voice(GUILD, BRAM, GENERAL)


async def test_member_join_update_presence_leave(fake: FakeDiscord, bot: TestBot) -> None:
    newcomer = 1179000000000000301
    await fake.member(GUILD, newcomer, "join", name="zoe", roles=[MEMBER_ROLE])
    [joined] = bot.events["member_join"]
    assert joined.id == newcomer and joined.name == "zoe" and [r.id for r in joined.roles[1:]] == [MEMBER_ROLE]
    await fake.member(GUILD, newcomer, "update", roles=[MEMBER_ROLE, VERIFIED_ROLE], status="dnd")
    before, after = bot.events["member_update"][-1]
    assert len(after.roles) == 3 and len(before.roles) == 2
    assert bot.events["presence"][-1][1] is discord.Status.dnd
    await fake.voice(GUILD, newcomer, LOUNGE)
    await fake.member(GUILD, newcomer, "leave")
    assert bot.events["voice"][-1][2] is None  # leaving the guild leaves voice first
    assert bot.events["member_remove"][-1].user.id == newcomer
    assert bot.get_guild(GUILD).get_member(newcomer) is None  # type: ignore[union-attr]
    with pytest.raises(ActionError):
        await fake.member(GUILD, newcomer, "leave")
    with pytest.raises(ActionError):
        await fake.member(GUILD, OWNER, "dance")


async def test_guild_update(fake: FakeDiscord, bot: TestBot) -> None:
    await fake.guild(GUILD, name="Renamed Hall", premium_subscription_count=14)
    before, after = bot.events["guild_update"][-1]
    assert (before.name, after.name) == ("Guildhall Sandbox", "Renamed Hall")
    assert after.premium_subscription_count == 14 and after.premium_tier == 3


async def test_advance_clock_runs_timers_then_settles(fake: FakeDiscord, bot: TestBot, clock: ManualClock) -> None:
    channel = bot.get_channel(GENERAL)
    assert isinstance(channel, discord.TextChannel)

    async def post() -> None:
        await channel.send("timer fired")

    clock.call_later(60, post)
    await fake.advance_clock(59)
    assert fake.find_requests("POST", r"/messages$") == []
    await fake.advance_clock(1)
    assert bot.events["message"][-1].content == "timer fired"  # the echo was handled before advance returned


async def test_without_a_settle_callback_actions_wait_for_quiet(fake: FakeDiscord, bot: TestBot) -> None:
    fake.settle = None  # as with a bot in another process
    fake.quiet_period = 0.05
    result = await fake.command(GUILD, GENERAL, BRAM, "slow", {"channel": LOUNGE})
    assert [r["kind"] for r in result["responses"]] == ["defer", "followup", "edit"]
    message_id = await fake.message(GUILD, GENERAL, BRAM, "quietly")
    assert bot.events["message"][-1].id == message_id


async def test_real_clock_cannot_be_advanced() -> None:
    fake = FakeDiscord(default_world(), clock=Clock())
    with pytest.raises(ActionError, match="ManualClock"):
        await fake.advance_clock(5)
