"""The bot-list family end to end: the real bot posts to Guildhall's own /bot-api and to a top.gg stand-in."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.config import Settings
from fakediscord import World, validate_rest_log
from guildhall.sandbox import Sandbox, open_sandbox
from storage import Repositories, Storage
from storage.ledger import Party
from tests.conftest import make_settings
from tests.e2e.conftest import DISCORD_SPEC, FailingBot, Ids, assert_healthy

REWARD = 150


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def prepare(db_path: Path, bot_id: int) -> str:
    """What an owner does before starting: an API key, and the bot registered on the local list."""
    storage = await Storage.open(db_path)
    try:
        repos = Repositories(storage)
        _, secret = await repos.api_keys.create("poster", now=1)
        await repos.botlist.register(bot_id, by="cli", now=1)
    finally:
        await storage.close()
    return secret


@contextlib.asynccontextmanager
async def running(settings: Settings, world: World, db_path: Path, port: int) -> AsyncIterator[Sandbox]:
    async with open_sandbox(settings, world=world, db_path=db_path, api_port=port, bot_cls=FailingBot) as sandbox:
        yield sandbox
    assert validate_rest_log(sandbox.fake.rest_log, DISCORD_SPEC) == []


@pytest.fixture
async def own_list(world: World, db_path: Path) -> AsyncIterator[Sandbox]:
    port = free_port()
    key = await prepare(db_path, world.bot.id)
    settings = make_settings(
        db_path,
        logging={"access_log": False},
        botlists={
            "lists": [
                {
                    "kind": "botsondiscord",
                    "name": "guildhall",
                    "base_url": f"http://127.0.0.1:{port}/bot-api",
                    "key": key,
                }
            ]
        },
        botlist={"review_reward": REWARD},
    )
    async with running(settings, world, db_path, port) as sandbox:
        yield sandbox


def flatten(synced: list[dict[str, Any]]) -> set[str]:
    """Every invocable command path of a synced application-command list."""
    names = set()
    for command in synced:
        if command.get("type", 1) != 1:
            continue
        groups = [o for o in command.get("options", []) if o["type"] in (1, 2)]
        if not groups:
            names.add(command["name"])
        for option in groups:
            subs = [s for s in option.get("options", []) if s["type"] == 1] if option["type"] == 2 else []
            names.update(f"{command['name']} {option['name']} {s['name']}" for s in subs)
            if option["type"] == 1:
                names.add(f"{command['name']} {option['name']}")
    return names


async def test_counts_and_commands_reach_guildhall_own_list(own_list: Sandbox, ids: Ids, world: World):
    sandbox, repos, bot_id = own_list, own_list.repos, world.bot.id
    # Ready, but nothing is posted before the poster's first turn.
    assert (await repos.botlist.get(bot_id)).guild_count is None
    await sandbox.fake.advance_clock(0)
    assert (await repos.botlist.get(bot_id)).guild_count == 1
    stored = await repos.botlist.commands(bot_id)
    [sync] = sandbox.fake.find_requests("PUT", r"/applications/\d+/commands")
    assert {command["name"] for command in stored.commands} == flatten(sync.body)
    assert {"botlist status", "reviewed", "about"} <= {command["name"] for command in stored.commands}
    by_name = {command["name"]: command for command in stored.commands}
    assert by_name["review"]["args"] == [
        {"text": "bot", "type": "required"},
        {"text": "rating", "type": "required"},
        {"text": "text", "type": "required"},
    ]
    assert by_name["botlist post"]["category"] == "Bot lists"

    # A burst of joins and leaves: merged, and never beyond the list's 2 posts per 4 minutes.
    for number in range(5):
        await sandbox.fake.bot_added(1179000000000009000 + number, f"Guild {number}")
    await sandbox.fake.advance_clock(5)
    assert (await repos.botlist.get(bot_id)).guild_count == 6
    await sandbox.fake.bot_removed(1179000000000009000)
    await sandbox.fake.bot_removed(1179000000000009001)
    await sandbox.fake.advance_clock(60)
    assert (await repos.botlist.get(bot_id)).guild_count == 6  # the third post waits for the window
    await sandbox.fake.advance_clock(180)
    assert (await repos.botlist.get(bot_id)).guild_count == 4
    status = await sandbox.fake.command(ids.guild, ids.general, ids.owner, "botlist status", {})
    [answer] = status["responses"]
    assert answer["ephemeral"]
    assert "**guildhall** (botsondiscord): ok" in answer["content"]
    assert "posted 4 guilds" in answer["content"]
    # "Post now" with nothing changed sends nothing more and shows the same results.
    before = await repos.botlist.get(bot_id)
    await sandbox.fake.advance_clock(60)
    now = await sandbox.fake.command(ids.guild, ids.general, ids.owner, "botlist post", {})
    assert "posted 4 guilds" in now["responses"][-1]["content"]
    assert await repos.botlist.get(bot_id) == before
    assert_healthy(sandbox)


async def test_review_then_reviewed_pays_once(own_list: Sandbox, ids: Ids, world: World):
    sandbox = own_list
    await sandbox.fake.advance_clock(0)
    none_yet = await sandbox.fake.command(ids.guild, ids.general, ids.member, "reviewed", {})
    assert "can't find a review from you on guildhall" in none_yet["responses"][-1]["content"]
    review = await sandbox.fake.command(
        ids.guild, ids.general, ids.member, "review", {"bot": str(world.bot.id), "rating": 5, "text": "Lovely bot"}
    )
    assert "5-star review" in review["responses"][0]["content"]
    helper = 1179000000000000201  # a bot of the default world that is not registered here
    unlisted = await sandbox.fake.command(
        ids.guild, ids.general, ids.member, "review", {"bot": str(helper), "rating": 4, "text": "Fine"}
    )
    assert "is not registered on this list" in unlisted["responses"][0]["content"]
    assert unlisted["responses"][0]["ephemeral"]
    human = await sandbox.fake.command(
        ids.guild, ids.general, ids.member, "review", {"bot": str(ids.owner), "rating": 4, "text": "Fine"}
    )
    assert "is not a bot" in human["responses"][0]["content"]
    assert await sandbox.repos.botlist.count_user_data(ids.guild, ids.member) == 1
    stored = await sandbox.repos.botlist.review(world.bot.id, ids.member)
    assert (stored.rating, stored.text, stored.guild_id) == (5, "Lovely bot", ids.guild)
    paid = await sandbox.fake.command(ids.guild, ids.general, ids.member, "reviewed", {})
    assert f"Here are {REWARD} voicepoints" in paid["responses"][-1]["content"]
    again = await sandbox.fake.command(ids.guild, ids.general, ids.member, "reviewed", {})
    assert "already got your reward" in again["responses"][-1]["content"]
    assert await sandbox.repos.ledger.balance(Party(ids.guild, ids.member)) == REWARD
    assert await sandbox.repos.ledger.verify_balances() == []
    # Only the owner sees the lists' status.
    refused = await sandbox.fake.command(ids.guild, ids.general, ids.member, "botlist status", {})
    assert "Only the bot's owner" in refused["responses"][0]["content"]
    assert_healthy(sandbox)


class TopggStandIn:
    """top.gg's v0 stats route and v1 commands route: a 429 with a long Retry-After, then a 401."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.answers = [
            web.json_response({"retry-after": 3600}, status=429, headers={"Retry-After": "3600"}),
            web.json_response({"message": "Unauthorized"}, status=401),
        ]

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((request.method, request.path, await request.json()))
        if request.path.endswith("/commands"):
            return web.Response(status=204)
        return self.answers.pop(0) if self.answers else web.Response(status=204)


async def test_a_topgg_429_is_waited_out_and_a_401_stops_the_list(world: World, db_path: Path, ids: Ids):
    topgg = TopggStandIn()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", topgg.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        settings = make_settings(
            db_path,
            logging={"access_log": False},
            botlists={"lists": [{"kind": "topgg", "base_url": str(server.make_url("/api")), "key": "tg"}]},
        )
        async with running(settings, world, db_path, 0) as sandbox:
            await sandbox.fake.advance_clock(0)
            stats = [call for call in topgg.calls if call[1].endswith("/stats")]
            assert stats == [("POST", f"/api/bots/{world.bot.id}/stats", {"server_count": 1})]
            # top.gg blocks every route for the Retry-After: the command list waits too.
            assert [call for call in topgg.calls if call[1].endswith("/commands")] == []
            await sandbox.fake.bot_added(1179000000000009000, "Guild A")
            await sandbox.fake.advance_clock(3599)
            assert len([call for call in topgg.calls if call[1].endswith("/stats")]) == 1
            await sandbox.fake.advance_clock(1)
            stats = [call for call in topgg.calls if call[1].endswith("/stats")]
            assert stats[-1][2] == {"server_count": 2}
            await sandbox.fake.bot_added(1179000000000009001, "Guild B")
            await sandbox.fake.advance_clock(7200)
            assert len([call for call in topgg.calls if call[1].endswith("/stats")]) == 2
            assert [call for call in topgg.calls if call[1].endswith("/commands")] == []
            answer = await sandbox.fake.command(ids.guild, ids.general, ids.owner, "botlist status", {})
            assert "stopped: the list refused the key (401 Unauthorized)" in answer["responses"][0]["content"]
            assert_healthy(sandbox)
    finally:
        await server.close()
