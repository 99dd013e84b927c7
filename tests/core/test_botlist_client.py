"""The auto-poster against local stand-ins for each kind of list and against Guildhall's own /bot-api."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.botlist_client import BotListPoster, CommandPayloads, ReviewCheckError
from core.clock import ManualClock
from core.config import BotListsSettings
from storage import Repositories

BOT = 1179000000000000001


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: Any
    at: float


@dataclass
class StandIn:
    """A list's API that records every call and answers from a script (then 204, or ``default``)."""

    clock: ManualClock
    calls: list[Call] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    default: tuple[int, Any] = (204, None)
    hang: asyncio.Event | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.calls.append(
            Call(
                request.method,
                request.path,
                dict(request.query),
                request.headers.get("Authorization"),
                json.loads(raw) if raw else None,
                self.clock.time(),
            )
        )
        if self.hang is not None:
            await self.hang.wait()
        status, headers, body = self.script.pop(0) if self.script else (*self.default[:1], {}, self.default[1])
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    def posts(self, suffix: str) -> list[Call]:
        return [call for call in self.calls if call.method == "POST" and call.path.endswith(suffix)]


@pytest.fixture
async def stand_in(clock: ManualClock) -> AsyncIterator[StandIn]:
    fake = StandIn(clock)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("/api"))
    yield fake
    if fake.hang is not None:
        fake.hang.set()
    await server.close()


class Guilds:
    def __init__(self, count: int) -> None:
        self.count = count

    def __call__(self) -> int:
        return self.count


COMMANDS = CommandPayloads(
    botsondiscord=[{"name": "about", "description": "Version", "args": None, "category": "Meta", "prefix": "/"}],
    discord=[{"name": "about", "description": "Version", "type": 1}],
)


def poster_for(repos: Repositories, clock: ManualClock, *lists: dict[str, Any], **settings: Any) -> BotListPoster:
    config = BotListsSettings.model_validate({"lists": list(lists), **settings})
    return BotListPoster(config, clock=clock, state=repos.bot_state)


def bod(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "botsondiscord", "base_url": url, "key": "bod-key", **extra}


@pytest.fixture
async def posters() -> AsyncIterator[list[BotListPoster]]:
    made: list[BotListPoster] = []
    yield made
    for poster in made:
        await poster.close()


async def started(
    made: list[BotListPoster], poster: BotListPoster, guilds: Guilds, commands: CommandPayloads = COMMANDS
) -> BotListPoster:
    made.append(poster)
    poster.start(bot_id=BOT, guild_count=guilds, commands=lambda: commands)
    return poster


async def test_nothing_is_posted_before_ready_and_then_the_count_and_commands(stand_in, repos, clock, posters):
    poster = poster_for(repos, clock, bod(stand_in.url))
    posters.append(poster)
    poster.guilds_changed()
    await clock.advance(600)
    assert stand_in.calls == []
    await started(posters, poster, Guilds(54))
    await clock.advance(0)
    [guilds] = stand_in.posts("/guilds")
    assert guilds.path == f"/api/bots/{BOT}/guilds"
    assert guilds.body == {"guildCount": 54}
    assert guilds.authorization == "bod-key"
    [commands] = stand_in.posts("/commands")
    assert commands.body == {"sort": "default", "commands": COMMANDS.botsondiscord}
    [status] = poster.statuses()
    assert status.state == "ok"
    assert status.guilds.startswith("posted 54 guilds")


async def test_zero_guilds_is_never_posted(stand_in, repos, clock, posters):
    guilds = Guilds(0)
    poster = await started(posters, poster_for(repos, clock, bod(stand_in.url, post=["guilds"])), guilds)
    await clock.advance(0)
    poster.guilds_changed()
    await clock.advance(3600)
    assert stand_in.calls == []
    assert "no guilds" in poster.statuses()[0].guilds
    guilds.count = 1
    poster.guilds_changed()
    await clock.advance(5)
    assert [call.body for call in stand_in.posts("/guilds")] == [{"guildCount": 1}]


async def test_a_burst_of_joins_is_merged_and_stays_within_two_per_four_minutes(stand_in, repos, clock, posters):
    guilds = Guilds(10)
    poster = await started(posters, poster_for(repos, clock, bod(stand_in.url, post=["guilds"])), guilds)
    await clock.advance(0)
    start = clock.time()
    for _ in range(30):  # 30 joins, one every 2 s
        guilds.count += 1
        poster.guilds_changed()
        await clock.advance(2)
    await clock.advance(600)
    posts = stand_in.posts("/guilds")
    assert posts[-1].body == {"guildCount": 40}
    times = [call.at for call in posts]
    assert times[0] == start
    for index in range(2, len(times)):
        assert times[index] - times[index - 2] >= 240, times
    assert len(posts) <= 3


async def test_retry_after_of_a_429_is_honoured(stand_in, repos, clock, posters):
    stand_in.script = [(429, {"Retry-After": "100"}, {"message": "slow down"})]
    guilds = Guilds(5)
    poster = await started(posters, poster_for(repos, clock, bod(stand_in.url, post=["guilds"])), guilds)
    await clock.advance(0)
    assert poster.statuses()[0].state == "rate limited for 100 s"
    poster.guilds_changed()
    await clock.advance(99)
    assert len(stand_in.calls) == 1
    await clock.advance(1)
    assert [call.body for call in stand_in.calls] == [{"guildCount": 5}, {"guildCount": 5}]
    assert poster.statuses()[0].posted_guild_count == 5


async def test_a_401_stops_that_list_and_says_so_but_not_the_others(stand_in, repos, clock, posters, caplog):
    stand_in.script = [(401, {}, {"message": "Unauthorized"})]
    guilds = Guilds(5)
    broken = bod(stand_in.url, name="broken", post=["guilds"])
    working = {"kind": "discordbotlist", "name": "dbl", "base_url": stand_in.url, "key": "k", "post": ["guilds"]}
    poster = await started(posters, poster_for(repos, clock, broken, working), guilds)
    await clock.advance(0)
    for _ in range(3):
        guilds.count += 1
        poster.guilds_changed()
        await clock.advance(3600)
    stopped, dbl = poster.statuses()
    assert stopped.stopped
    assert stopped.state.startswith("stopped: the list refused the key (401 Unauthorized)")
    assert len(stand_in.posts("/guilds")) == 1  # never asked again
    assert dbl.posted_guild_count == 8
    assert any("broken stopped" in record.getMessage() for record in caplog.records)
    await poster.post_now()
    assert len(stand_in.posts("/guilds")) == 1


async def test_5xx_and_timeouts_retry_with_backoff_on_the_clock(stand_in, repos, clock, posters):
    stand_in.script = [(503, {}, None), (502, {}, {"message": "bad gateway"})]
    guilds = Guilds(7)
    poster = await started(posters, poster_for(repos, clock, bod(stand_in.url, post=["guilds"])), guilds)
    await clock.advance(0)
    assert "retrying guilds in 30 s" in poster.statuses()[0].state
    await clock.advance(30)
    assert len(stand_in.calls) == 2
    assert "retrying guilds in 60 s" in poster.statuses()[0].state  # the second wait doubles
    # ...and the retry still waits for the list's own limit: 2 per 240 s, both used at 0 and 30.
    await clock.advance(209)
    assert len(stand_in.calls) == 2
    await clock.advance(1)
    assert len(stand_in.calls) == 3
    assert stand_in.calls[2].at - stand_in.calls[0].at == 240
    assert poster.statuses()[0].posted_guild_count == 7


async def test_a_timeout_is_retried_and_never_raises(stand_in, repos, clock, posters):
    stand_in.hang = asyncio.Event()
    guilds = Guilds(3)
    poster = poster_for(repos, clock, bod(stand_in.url, post=["guilds"]), timeout=0.05)
    await started(posters, poster, guilds)
    await clock.advance(0)
    assert "timed out" in poster.statuses()[0].state
    stand_in.hang.set()
    stand_in.hang = None
    await clock.advance(30)
    assert poster.statuses()[0].posted_guild_count == 3
    assert clock.errors == []


async def test_an_unreachable_list_is_retried(repos, clock, posters):
    poster = await started(posters, poster_for(repos, clock, bod("http://127.0.0.1:9/api", post=["guilds"])), Guilds(3))
    await clock.advance(0)
    assert "unreachable" in poster.statuses()[0].state
    assert clock.errors == []


async def test_commands_are_posted_only_when_they_change(stand_in, repos, clock, posters):
    target = bod(stand_in.url, post=["commands"])
    poster = await started(posters, poster_for(repos, clock, target), Guilds(1))
    await clock.advance(0)
    assert len(stand_in.posts("/commands")) == 1
    await poster.post_now()
    await clock.advance(1800)
    assert len(stand_in.posts("/commands")) == 1
    # A restart with the same tree does not post again: the fingerprint is stored.
    again = await started(posters, poster_for(repos, clock, target), Guilds(1))
    await clock.advance(0)
    assert len(stand_in.posts("/commands")) == 1
    assert again.statuses()[0].commands == "unchanged since the last post"
    changed = CommandPayloads([*COMMANDS.botsondiscord, {"name": "new"}], COMMANDS.discord)
    await started(posters, poster_for(repos, clock, target), Guilds(1), changed)
    await clock.advance(0)
    assert stand_in.posts("/commands")[-1].body["commands"][-1] == {"name": "new"}


async def test_a_command_list_breaking_the_rules_is_not_sent(stand_in, repos, clock, posters):
    too_many = CommandPayloads([{"name": f"c{i}"} for i in range(201)], [])
    poster = poster_for(repos, clock, bod(stand_in.url, post=["commands"]))
    await started(posters, poster, Guilds(1), too_many)
    await clock.advance(0)
    assert stand_in.calls == []
    assert "There is a limit of 200 commands" in poster.statuses()[0].commands


async def test_topgg_and_discordbotlist_shapes(stand_in, repos, clock, posters):
    topgg = {"kind": "topgg", "base_url": stand_in.url, "key": "tg"}
    dbl = {"kind": "discordbotlist", "base_url": stand_in.url, "key": "dbl"}
    await started(posters, poster_for(repos, clock, topgg, dbl), Guilds(12))
    await clock.advance(0)
    calls = {(call.path, call.authorization): call.body for call in stand_in.calls}
    assert calls[(f"/api/bots/{BOT}/stats", "tg")] == {"server_count": 12}
    assert calls[("/api/v1/projects/@me/commands", "Bearer tg")] == COMMANDS.discord
    assert calls[(f"/api/bots/{BOT}/stats", "dbl")] == {"guilds": 12}
    assert calls[(f"/api/bots/{BOT}/commands", "dbl")] == COMMANDS.discord


async def test_review_checks_on_bots_on_discord_and_topgg(stand_in, repos, clock, posters):
    lists = (
        bod(stand_in.url, name="bod", post=[]),
        {"kind": "topgg", "name": "tg", "base_url": stand_in.url, "key": "k", "post": []},
        {"kind": "discordbotlist", "name": "dbl", "base_url": stand_in.url, "key": "k", "post": []},
    )
    poster = poster_for(repos, clock, *lists)
    posters.append(poster)
    with pytest.raises(ReviewCheckError, match="still starting"):
        await poster.check_review(42)
    await started(posters, poster, Guilds(1))
    stand_in.script = [(200, {}, {"exists": True}), (200, {}, {"voted": 0})]
    assert (await poster.check_review(42)).exists is True
    assert stand_in.calls[-1].path == f"/api/bots/{BOT}/review"
    assert stand_in.calls[-1].query == {"owner": "42"}
    result = await poster.check_review(42, "tg")
    assert (result.list_name, result.exists) == ("tg", False)
    assert stand_in.calls[-1].query == {"userId": "42"}
    with pytest.raises(ReviewCheckError, match="no bot list that can check reviews"):
        await poster.check_review(42, "dbl")


async def test_a_list_without_a_key_is_skipped(repos, clock):
    poster = poster_for(repos, clock, {"kind": "topgg", "key": " "})
    assert poster.lists == []
    await poster.close()


async def test_against_guildhall_own_bot_api(client_for, repos: Repositories, clock, api_key, posters):
    client = await client_for()
    await repos.botlist.register(BOT, by="test", now=int(clock.time()))
    url = str(client.make_url("/bot-api"))
    guilds = Guilds(3)
    poster = poster_for(repos, clock, {"kind": "botsondiscord", "base_url": url, "key": api_key})
    await started(posters, poster, guilds)
    await clock.advance(0)
    assert (await repos.botlist.get(BOT)).guild_count == 3
    stored = await repos.botlist.commands(BOT)
    assert [command["name"] for command in stored.commands] == ["about"]
    # Three more changes inside four minutes: the server's 2-per-4-minutes limit is never hit.
    for _ in range(3):
        guilds.count += 1
        poster.guilds_changed()
        await clock.advance(10)
    await clock.advance(240)
    assert (await repos.botlist.get(BOT)).guild_count == 6
    assert poster.statuses()[0].state == "ok"
