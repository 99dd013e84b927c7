"""Every control route over HTTP, as the sandbox and out-of-process tests use them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from fakediscord import FakeDiscord

from .conftest import BOT, BRAM, CLEO, DAX, EVE, GENERAL, GUILD, LOUNGE, MEMBER_ROLE, OWNER, TestBot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, fake: FakeDiscord, route: str, body: Any = None, status: int = 200) -> Any:
    method = "GET" if body is None else "POST"
    async with http.request(method, f"{fake.url}/_control/{route}", json=body) as response:
        assert response.headers["Content-Type"] == "application/json"
        data = await response.json()
        assert response.status == status, data
        return data


async def test_control_answers_503_before_a_bot_is_ready(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    for route, body in (
        ("state", None),
        ("requests", None),
        ("message", {"guild_id": GUILD}),
        ("clock", {"advance_seconds": 1}),
    ):
        data = await call(http, fake, route, body, status=503)
        assert "error" in data


async def test_state(fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession) -> None:
    state = await call(http, fake, "state")
    [guild] = state["guilds"]
    assert guild["id"] == str(GUILD) and guild["name"] == "Guildhall Sandbox"
    assert {r["name"] for r in guild["roles"]} >= {"@everyone", "Guildhall", "Moderator"}
    assert {c["name"] for c in guild["channels"]} >= {"general", "starboard", "Lounge"}
    bram = next(m for m in guild["members"] if m["id"] == str(BRAM))
    assert bram == bram | {"name": "bram", "bot": False, "voice": None}
    assert all(isinstance(r, str) for r in bram["roles"])
    assert guild["messages"][str(GENERAL)] == [] and state["dms"] == {}
    assert state["commands"]["syncs"] == 1 and "ping" in state["commands"]["global"]


async def test_people_actions(fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession) -> None:
    await call(
        http, fake, "voice", {"guild_id": str(GUILD), "user_id": BRAM, "channel_id": str(LOUNGE), "self_deaf": True}
    )
    assert bot.events["voice"][-1][3].self_deaf
    sent = await call(
        http, fake, "message", {"guild_id": GUILD, "channel_id": GENERAL, "user_id": str(CLEO), "content": "hi"}
    )
    assert bot.events["message"][-1].id == int(sent["id"])
    react = {"guild_id": GUILD, "channel_id": GENERAL, "message_id": sent["id"], "user_id": EVE, "emoji": "⭐"}
    await call(http, fake, "reaction", react)
    await call(http, fake, "reaction", react | {"add": False})
    assert len(bot.events["reaction_add"]) == len(bot.events["reaction_remove"]) == 1
    newcomer = "1179000000000000302"
    await call(http, fake, "member", {"guild_id": GUILD, "user_id": newcomer, "action": "join", "name": "yan"})
    await call(
        http, fake, "member", {"guild_id": GUILD, "user_id": newcomer, "action": "update", "roles": [str(MEMBER_ROLE)]}
    )
    await call(http, fake, "member", {"guild_id": GUILD, "user_id": newcomer, "action": "update", "status": "idle"})
    assert bot.events["member_join"][-1].id == int(newcomer)
    assert bot.events["presence"][-1][1] is discord.Status.idle
    await call(http, fake, "guild", {"guild_id": GUILD, "name": "Hall", "premium_subscription_count": 7})
    assert bot.events["guild_update"][-1][1].premium_tier == 2
    state = await call(http, fake, "state")
    assert state["guilds"][0]["messages"][str(GENERAL)][0]["content"] == "hi"


async def test_command_component_and_attachment(fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession) -> None:
    body = {
        "guild_id": GUILD,
        "channel_id": GENERAL,
        "user_id": OWNER,
        "name": "item create",
        "options": {"name": "Bow", "price": 3},
    }
    result = await call(http, fake, "command", body)
    assert result["responses"][0]["content"] == "created Bow for 3 owned by nobody"
    posted = await call(
        http, fake, "command", {"guild_id": GUILD, "channel_id": GENERAL, "user_id": BRAM, "name": "post"}
    )
    reply = posted["responses"][0]
    click = {
        "guild_id": GUILD,
        "channel_id": GENERAL,
        "user_id": BRAM,
        "message_id": reply["message_id"],
        "custom_id": "choice:ok",
    }
    clicked = await call(http, fake, "component", click)
    assert clicked["responses"][0]["content"] == "bram chose OK"
    await call(http, fake, "command", {"guild_id": GUILD, "channel_id": GENERAL, "user_id": BRAM, "name": "ask"})
    modal = {
        "guild_id": GUILD,
        "channel_id": GENERAL,
        "user_id": BRAM,
        "custom_id": "modal:ask",
        "fields": {"modal:name": "Q"},
    }
    assert (await call(http, fake, "component", modal))["responses"][0]["content"] == "hello Q"
    attachment_id = reply["attachments"][0]["id"]
    async with http.get(f"{fake.url}/_control/attachments/{attachment_id}") as response:
        assert response.status == 200 and await response.read() == b"hello file"
    async with http.get(f"{fake.url}/_control/attachments/42") as response:
        assert response.status == 404


async def test_clock_fault_outage_disconnect(fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession) -> None:
    before = fake.clock.time()
    assert (await call(http, fake, "clock", {"advance_seconds": 90}))["time"] == before + 90
    fault = {"method": "POST", "path_pattern": r"/channels/\d+/messages", "status": 403, "code": 50007, "count": 1}
    await call(http, fake, "fault", fault)
    with pytest.raises(discord.Forbidden) as caught:
        await bot.get_channel(GENERAL).send("x")  # type: ignore[union-attr]
    assert caught.value.code == 50007
    assert (await call(http, fake, "outage", {"down": True}))["down"] is True
    with pytest.raises(discord.DiscordServerError):
        await bot.get_channel(GENERAL).send("x")  # type: ignore[union-attr]
    await call(http, fake, "message", {"guild_id": GUILD, "channel_id": GENERAL, "user_id": DAX, "content": "missed"})
    await call(http, fake, "outage", {"down": False})
    assert bot.events["message"][-1].content == "missed"
    await call(http, fake, "disconnect", {"resume": True})
    await call(http, fake, "disconnect", {"resume": False})
    assert len(bot.events["resumed"]) == 2 and fake.gateway.identify_count == 2
    requests = await call(http, fake, "requests?method=POST&path=/messages")
    assert [r["status"] for r in requests] == [403, 503]


@pytest.mark.parametrize(
    ("route", "body", "error"),
    [
        ("voice", {"guild_id": GUILD, "user_id": BRAM, "channel_id": GENERAL}, "not a voice channel"),
        ("voice", {"guild_id": "abc", "user_id": BRAM}, "snowflake"),
        (
            "message",
            {"guild_id": GUILD, "channel_id": GENERAL, "user_id": BRAM, "contents": "typo"},
            "unknown key 'contents'",
        ),
        ("message", {"guild_id": 1, "channel_id": GENERAL, "user_id": BRAM, "content": "x"}, "unknown guild"),
        (
            "reaction",
            {"guild_id": GUILD, "channel_id": GENERAL, "message_id": 5, "user_id": BRAM, "emoji": "⭐"},
            "unknown message",
        ),
        ("member", {"guild_id": GUILD, "user_id": BOT, "action": "join"}, "already a member"),
        ("member", {"guild_id": GUILD, "user_id": EVE, "action": "update", "status": "asleep"}, "status"),
        ("command", {"guild_id": GUILD, "channel_id": GENERAL, "user_id": BRAM}, "name is required"),
        ("component", {"guild_id": GUILD, "channel_id": GENERAL, "user_id": BRAM, "custom_id": "x"}, "message_id"),
        ("guild", {"guild_id": GUILD, "premium_subscription_count": -1}, "non-negative"),
        ("outage", {"down": "yes"}, "true or false"),
        ("clock", {"advance_seconds": -5}, "non-negative"),
        ("fault", {"method": "GET", "path_pattern": "(", "status": 500}, "regular expression"),
        ("fault", {"method": "GET", "path_pattern": "/x", "status": 200}, "4xx or 5xx"),
        ("disconnect", {"resume": "no"}, "true or false"),
    ],
)
async def test_bad_input_is_400(
    fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession, route: str, body: dict[str, Any], error: str
) -> None:
    data = await call(http, fake, route, body, status=400)
    assert error in data["error"]


async def test_malformed_json_is_400(fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{fake.url}/_control/message", data=b"{not json") as response:
        assert response.status == 400 and "JSON" in (await response.json())["error"]
    async with http.post(f"{fake.url}/_control/message", json=[1, 2]) as response:
        assert response.status == 400
