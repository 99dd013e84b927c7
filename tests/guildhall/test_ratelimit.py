"""The bot's Discord limiter: sliding windows on the injected clock, the aiohttp hook, and no 429 under a burst."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import aiohttp
import discord
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.clock import ManualClock
from core.config import RateLimit
from fakediscord.world import parse_world
from guildhall.ratelimit import DiscordRateLimiter, api_path
from tests.conftest import make_settings
from tests.e2e.conftest import assert_healthy, start

G, OTHER = 1179000000000001000, 42
MARGIN = 0.05


def limiter(clock: ManualClock, *, global_rule: str = "50/1", member_roles: str = "10/1") -> DiscordRateLimiter:
    return DiscordRateLimiter(
        clock,
        global_rule=RateLimit.parse(global_rule),
        member_roles_rule=RateLimit.parse(member_roles),
        margin=MARGIN,
    )


def role(guild: int, user: int = 7) -> str:
    return f"/guilds/{guild}/members/{user}/roles/9"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_api_paths() -> None:
    assert api_path("/api/v10/guilds/1/members/2") == "/guilds/1/members/2"
    assert api_path("/api/v9/users/@me") == "/users/@me"
    assert api_path("/avatars/1/a.png") is None and api_path("/gateway") is None


async def test_the_eleventh_member_role_call_waits_a_window_and_the_margin() -> None:
    clock = ManualClock()
    limits = limiter(clock)
    for n in range(10):
        await limits.admit("PUT" if n % 2 else "DELETE", role(G, n))
    await limits.admit("PATCH", f"/guilds/{OTHER}/members/1")  # another guild's bucket
    await limits.admit("PATCH", f"/guilds/{G}/members/@me")  # not a member-role call
    eleventh = asyncio.create_task(limits.admit("PATCH", f"/guilds/{G}/members/5"))
    await settle()
    assert not eleventh.done() and limits.waited == 1
    await clock.advance(1.0)
    await settle()
    assert not eleventh.done()
    await clock.advance(MARGIN)
    await settle()
    assert eleventh.done()


async def test_the_global_limit_spares_interactions_and_webhooks() -> None:
    clock = ManualClock()
    limits = limiter(clock, global_rule="3/1", member_roles="off")
    for n in range(3):
        await limits.admit("GET", f"/channels/{n}")
    for _ in range(10):
        await limits.admit("POST", "/interactions/1/token/callback")
        await limits.admit("PATCH", "/webhooks/1/token/messages/@original")
    fourth = asyncio.create_task(limits.admit("PUT", role(G)))
    await settle()
    assert not fourth.done()
    await clock.advance(1 + MARGIN)
    await settle()
    assert fourth.done()


async def test_a_burst_never_puts_more_than_the_limit_in_any_window() -> None:
    clock = ManualClock()
    limits = limiter(clock)
    admitted: list[float] = []

    async def one(n: int) -> None:
        await limits.admit("PUT", role(G, n))
        admitted.append(clock.monotonic())

    tasks = [asyncio.create_task(one(n)) for n in range(35)]
    await settle()
    while not all(task.done() for task in tasks):
        await clock.advance(0.01)
        await settle()
    assert len(admitted) == 35
    assert all(later - earlier >= 1 + MARGIN - 1e-5 for earlier, later in zip(admitted, admitted[10:], strict=False))
    assert admitted[-1] == pytest.approx(3 * (1 + MARGIN), abs=0.011)  # four windows: no time lost either


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, list[str]]]:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    async with TestServer(app) as running:
        yield running, seen


async def test_the_hook_holds_requests_before_they_are_sent(server: tuple[TestServer, list[str]]) -> None:
    running, seen = server
    clock = ManualClock()
    limits = limiter(clock, member_roles="2/1")
    async with aiohttp.ClientSession(trace_configs=[limits.trace_config()]) as session:

        async def put(user: int) -> int:
            async with session.put(str(running.make_url(f"/api/v10{role(G, user)}"))) as response:
                return response.status

        tasks = [asyncio.create_task(put(user)) for user in range(3)]
        done, _ = await asyncio.wait(tasks, timeout=0.5)
        assert len(done) == 2 and len(seen) == 2
        async with session.get(str(running.make_url("/avatars/1/a.png"))) as response:  # not the API: not held
            assert response.status == 204
        await clock.advance(1 + MARGIN)
        assert await asyncio.gather(*tasks) == [204, 204, 204]

        # A request whose turn was taken before is not counted twice; a success is seen as soon as it arrives.
        await clock.advance(1 + MARGIN)
        for user in (10, 11):
            path = role(G, user)
            async with limits.turn("PUT", path):
                await limits.answered(put(user))
        assert seen[-2:] == [f"PUT /api/v10{role(G, 10)}", f"PUT /api/v10{role(G, 11)}"]


WORLD_MEMBERS = 8


async def burst(limited: bool, db_path: Path) -> tuple[int, int]:
    """8 members get a role, half of them lose another, all at once through discord.py: (429s, calls)."""
    data = tomllib.loads(resources.files("fakediscord").joinpath("default_world.toml").read_text(encoding="utf-8"))
    data["guilds"][0]["generate_members"] = WORLD_MEMBERS
    world = parse_world(data)
    rules = {} if limited else {"global_rate_limit": "off", "member_role_rate_limit": "off"}
    settings = make_settings(db_path, logging={"access_log": False}, discord=rules)
    guild_spec = world.guilds[0]
    roles = {r.name: r.id for r in guild_spec.roles}
    members = [m.id for m in guild_spec.members if m.name.startswith("member-")]
    async with start(world, settings, db_path) as sandbox:
        guild = sandbox.bot.get_guild(guild_spec.id)
        assert guild is not None
        await asyncio.gather(*(guild.get_member(m).add_roles(discord.Object(roles["Member"])) for m in members[:4]))
        calls = [guild.get_member(m).add_roles(discord.Object(roles["Verified"])) for m in members]
        calls += [guild.get_member(m).remove_roles(discord.Object(roles["Member"])) for m in members[:4]]
        await asyncio.gather(*calls)
        await sandbox.fake.settled()
        state = {m["id"]: set(m["roles"]) for m in sandbox.fake.state()["guilds"][0]["members"]}
        assert all(str(roles["Verified"]) in state[str(m)] for m in members)
        assert all(str(roles["Member"]) not in state[str(m)] for m in members)
        assert_healthy(sandbox)
        return sandbox.fake.ratelimits.total_429s, len(sandbox.fake.find_requests(None, r"/roles/"))


async def test_a_burst_of_role_calls_gets_no_429_and_discord_py_alone_does(tmp_path: Path) -> None:
    rate_limited, calls = await burst(True, tmp_path / "limited.sqlite3")
    assert (rate_limited, calls) == (0, 16)
    rate_limited, _ = await burst(False, tmp_path / "alone.sqlite3")
    assert rate_limited > 0
