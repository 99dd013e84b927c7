"""Slash commands, components and modals built from the synced definitions, and Discord's reply rules."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from discord.ext import commands

from fakediscord import ActionError, EventTracker, FakeDiscord

from .conftest import (
    BRAM,
    CLEO,
    EVE,
    GENERAL,
    GUILD,
    LOUNGE,
    MEMBER_ROLE,
    MOD_ROLE,
    OWNER,
    TestBot,
    start_bot,
    stop_bot,
)


async def test_ephemeral_reply(fake: FakeDiscord, bot: TestBot) -> None:
    result = await fake.command(GUILD, GENERAL, BRAM, "ping")
    [reply] = result["responses"]
    assert reply["kind"] == "reply" and reply["content"] == "pong" and reply["ephemeral"] is True
    assert fake.state()["guilds"][0]["messages"][str(GENERAL)] == []  # ephemeral: not in the channel


async def test_command_with_member_and_role_options(fake: FakeDiscord, bot: TestBot) -> None:
    result = await fake.command(GUILD, GENERAL, OWNER, "grant", {"member": EVE, "role": str(MEMBER_ROLE)})
    assert [r["content"] for r in result["responses"]] == ["eve now has Member"]
    member = bot.get_guild(GUILD).get_member(EVE)  # type: ignore[union-attr]
    assert member is not None and MEMBER_ROLE in [r.id for r in member.roles]
    refused = await fake.command(GUILD, GENERAL, OWNER, "grant", {"member": "cleo", "role": MOD_ROLE})
    assert refused["responses"][0]["content"] == "cannot: 50013"
    sent = fake.find_requests("POST", r"/interactions/\d+/[^/]+/callback")[0]
    assert sent.status == 200 and sent.body["data"]["flags"] == 64


async def test_subcommand_and_optional_member(fake: FakeDiscord, bot: TestBot) -> None:
    result = await fake.command(GUILD, GENERAL, BRAM, "item create", {"name": "Sword", "price": 30, "owner": CLEO})
    assert result["responses"][0]["content"] == "created Sword for 30 owned by cleo"
    result = await fake.command(GUILD, GENERAL, BRAM, "item create", {"name": "Shield", "price": "5"})
    assert result["responses"][0]["content"] == "created Shield for 5 owned by nobody"


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("nothing", {}, "no synced slash command named 'nothing'"),
        ("item", {}, "needs a subcommand"),
        ("item create", {"name": "x"}, r"needs option\(s\) price"),
        ("item create", {"name": "x", "price": 1, "colour": "red"}, "has no option 'colour'"),
        ("item create", {"name": "x", "price": "many"}, "not a valid value"),
        ("grant", {"member": 1179000000000009999, "role": MEMBER_ROLE}, "nothing in guild"),
    ],
)
async def test_bad_commands_are_refused(
    fake: FakeDiscord, bot: TestBot, name: str, options: dict, message: str
) -> None:
    with pytest.raises(ActionError, match=message):
        await fake.command(GUILD, GENERAL, BRAM, name, options)


async def test_defer_followup_and_edit(fake: FakeDiscord, bot: TestBot) -> None:
    result = await fake.command(GUILD, GENERAL, BRAM, "slow", {"channel": LOUNGE})
    kinds = [(r["kind"], r["content"], r["ephemeral"]) for r in result["responses"]]
    assert kinds == [("defer", None, True), ("followup", f"renamed {LOUNGE}", True), ("edit", "renamed, edited", True)]
    assert result["responses"][1]["message_id"] == result["responses"][2]["message_id"]  # followup replaced "thinking"
    assert bot.get_channel(LOUNGE).name == "Renamed"  # type: ignore[union-attr]


async def test_original_response_and_followup_messages(fake: FakeDiscord, bot: TestBot) -> None:
    result = await fake.command(GUILD, GENERAL, BRAM, "tidy")
    assert [(r["kind"], r["content"]) for r in result["responses"]] == [
        ("reply", "first"),
        ("followup", "second"),
        ("edit", "second, edited"),
        ("delete", None),
    ]
    assert bot.events["tidy"] == [("first", "second, edited")]
    [left] = fake.state()["guilds"][0]["messages"][str(GENERAL)]
    assert left["content"] == "second, edited" and left["id"] == result["responses"][1]["message_id"]


async def test_late_first_reply_is_unknown_interaction(fake: FakeDiscord, bot: TestBot) -> None:
    result = await fake.command(GUILD, GENERAL, BRAM, "late")
    assert result["responses"] == []
    [error] = bot.events["late"]
    assert isinstance(error, discord.NotFound) and error.code == 10062


async def test_file_reply_button_and_select(fake: FakeDiscord, bot: TestBot) -> None:
    result = await fake.command(GUILD, GENERAL, BRAM, "post")
    [reply] = result["responses"]
    assert reply["attachments"][0] | {"id": None} == {
        "id": None,
        "filename": "hello.txt",
        "content_type": "text/plain",
        "size": 10,
    }
    message_id = reply["message_id"]
    [posted] = fake.state()["guilds"][0]["messages"][str(GENERAL)]
    assert posted["id"] == message_id and posted["content"] == "here"
    clicked = await fake.component(GUILD, GENERAL, EVE, message_id, "choice:ok")
    [update] = clicked["responses"]
    assert update["kind"] == "update" and update["content"] == "eve chose OK" and update["components"] == []
    with pytest.raises(ActionError, match="no component"):
        await fake.component(GUILD, GENERAL, EVE, message_id, "choice:ok")


async def test_select_menu(fake: FakeDiscord, bot: TestBot) -> None:
    message_id = (await fake.command(GUILD, GENERAL, BRAM, "post"))["responses"][0]["message_id"]
    picked = await fake.component(GUILD, GENERAL, BRAM, message_id, "choice:colour", values=["blue"])
    assert picked["responses"][0]["content"] == "colour blue"
    with pytest.raises(ActionError, match="no option"):
        await fake.component(GUILD, GENERAL, BRAM, message_id, "choice:colour", values=["green"])


async def test_modal_round_trip(fake: FakeDiscord, bot: TestBot) -> None:
    asked = await fake.command(GUILD, GENERAL, BRAM, "ask")
    [modal] = asked["responses"]
    assert modal["kind"] == "modal" and modal["modal"]["custom_id"] == "modal:ask"
    submitted = await fake.component(GUILD, GENERAL, BRAM, None, "modal:ask", fields={"modal:name": "Zed"})
    assert submitted["responses"][0]["content"] == "hello Zed"


async def test_second_acknowledgement_is_refused(fake: FakeDiscord, bot: TestBot) -> None:
    await fake.command(GUILD, GENERAL, BRAM, "ping")
    callback = fake.find_requests("POST", r"/interactions/")[0]
    async with aiohttp.ClientSession() as session:
        body = {"type": 4, "data": {"content": "again"}}
        async with session.post(f"{fake.api_base}{callback.path}?with_response=1", json=body) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 40060
        webhooks = f"{fake.api_base}/webhooks/{fake.store.application_id}"
        async with session.post(f"{webhooks}/bad-token?wait=1", json=body) as response:
            assert response.status == 404 and (await response.json())["code"] == 10015
        token = callback.path.split("/")[3]
        async with session.post(f"{webhooks}/{token}?wait=1", json={"content": "followup"}) as response:
            assert response.status == 200
        await fake.advance_clock(901)
        async with session.post(f"{webhooks}/{token}?wait=1", json={"content": "followup"}) as response:
            assert response.status == 401 and (await response.json())["code"] == 50027


async def test_tracker_install_on_a_plain_bot(fake: FakeDiscord) -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.all(), guild_ready_timeout=0.1)
    tracker = EventTracker()
    tracker.install(bot)
    fake.settle = tracker.settle_for(bot)

    @bot.tree.command(description="Slow echo")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer()
        for _ in range(3):
            await bot.get_channel(GENERAL).typing()  # type: ignore[union-attr]
        await interaction.followup.send(text)

    task = await start_bot(bot)
    try:
        bot.tree.copy_global_to(guild=discord.Object(GUILD))
        await bot.tree.sync(guild=discord.Object(GUILD))
        result = await fake.command(GUILD, GENERAL, BRAM, "echo", {"text": "hi"})
        assert [r["kind"] for r in result["responses"]] == ["defer", "followup"]
        assert result["responses"][1]["content"] == "hi" and result["responses"][1]["ephemeral"] is False
        assert fake.store.guild_commands[GUILD][0]["guild_id"] == str(GUILD)
    finally:
        await stop_bot(bot, task)
