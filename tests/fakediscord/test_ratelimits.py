"""fakediscord's rate limits: Discord's headers and 429 bodies, global against per-guild, the world file,
the control route, and the count of every 429 sent."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest

from fakediscord import FakeDiscord, WorldError
from fakediscord.ratelimits import Limit, RateLimits, RateLimitSpec
from fakediscord.world import parse_world

from .conftest import BRAM, DAX, EVE, GUILD, MEMBER_ROLE, TOKEN, TestBot, world_text

OTHER_GUILD = 42


class Ticks:
    """Monotonic and wall time that move only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_764_150_000.0 + self.now


def limits(spec: RateLimitSpec | None = None) -> tuple[RateLimits, Ticks]:
    ticks = Ticks()
    return RateLimits(spec, monotonic=ticks.monotonic, wall=ticks.wall), ticks


def role_path(guild: int, user: int = 7, role: int = 9) -> str:
    return f"/guilds/{guild}/members/{user}/roles/{role}"


def test_the_defaults_are_discords() -> None:
    assert RateLimitSpec() == RateLimitSpec(Limit(50, 1.0), Limit(10, 1.0))


def test_the_member_role_bucket_states_its_headers_and_refuses_the_eleventh() -> None:
    rl, ticks = limits()
    remaining = []
    for n in range(10):
        refusal, headers = rl.check("PUT" if n % 2 else "DELETE", role_path(GUILD, user=n), TOKEN)
        assert refusal is None
        assert headers["X-RateLimit-Limit"] == "10" and headers["X-RateLimit-Bucket"] == "member-roles"
        remaining.append(int(headers["X-RateLimit-Remaining"]))
        ticks.now += 0.01
    assert remaining == list(range(9, -1, -1))
    refusal, headers = rl.check("PATCH", f"/guilds/{GUILD}/members/99", TOKEN)  # PATCH shares the bucket
    assert refusal is not None and headers == {}
    assert refusal.body == {"message": "You are being rate limited.", "retry_after": 0.9, "global": False, "code": 0}
    assert refusal.headers == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{1_764_150_000.0 + 101.0:.3f}",
        "X-RateLimit-Reset-After": "0.900",
        "X-RateLimit-Bucket": "member-roles",
        "X-RateLimit-Scope": "user",
        "Retry-After": "1",
        "Via": "1.1 google",
    }
    # Another guild has its own bucket; calls outside the bucket only count globally.
    assert rl.check("PUT", role_path(OTHER_GUILD), TOKEN)[0] is None
    assert rl.check("PATCH", f"/guilds/{GUILD}/members/@me", TOKEN) == (None, {})
    assert rl.check("DELETE", f"/guilds/{GUILD}/members/7", TOKEN) == (None, {})  # a kick
    # The window reopens one second after its first call; the refused call did not count.
    ticks.now = 101.0
    refusal, headers = rl.check("PUT", role_path(GUILD), TOKEN)
    assert refusal is None and headers["X-RateLimit-Remaining"] == "9" and headers["X-RateLimit-Reset-After"] == "1.000"


def test_the_global_limit_counts_every_route_but_interactions_and_webhooks() -> None:
    rl, ticks = limits()
    for n in range(50):
        assert rl.check("GET", f"/channels/{n}", TOKEN) == (None, {})
    for path in ("/interactions/1/tok/callback", "/webhooks/1/tok/messages/@original"):
        assert rl.check("POST", path, TOKEN) == (None, {})
    refusal, _ = rl.check("PUT", role_path(GUILD), TOKEN)
    assert refusal is not None
    assert refusal.body == {"message": "You are being rate limited.", "retry_after": 1.0, "global": True, "code": 0}
    assert refusal.headers == {
        "Retry-After": "1",
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
        "Via": "1.1 google",
    }
    ticks.now += 1.0
    assert rl.check("GET", "/users/@me", TOKEN) == (None, {})


def test_limits_change_and_turn_off() -> None:
    rl, _ = limits(RateLimitSpec(global_=None, member_roles=Limit(1, 5.0)))
    assert rl.check("PUT", role_path(GUILD), TOKEN)[0] is None
    assert rl.check("PUT", role_path(GUILD), TOKEN)[0] is not None
    rl.configure(member_roles=None)
    for _ in range(100):
        assert rl.check("PUT", role_path(GUILD), TOKEN) == (None, {})
    assert rl.describe()["global"] is None and rl.describe()["member_roles"] is None
    with pytest.raises(TypeError):
        rl.configure(channel=None)


def test_the_world_file_sets_the_limits() -> None:
    world = parse_world(tomllib.loads(world_text() + '\n[rate_limits]\nglobal = "off"\n'))
    assert world.rate_limits == RateLimitSpec(global_=None, member_roles=Limit(10, 1.0))
    text = world_text() + '\n[rate_limits]\nmember_roles = "5/2.5"\n'
    assert parse_world(tomllib.loads(text)).rate_limits.member_roles == Limit(5, 2.5)
    for bad in ('member_roles = "fast"', 'global = "0/1"', "global = 50", 'channels = "1/1"'):
        with pytest.raises(WorldError, match="rate_limits"):
            parse_world(tomllib.loads(world_text() + f"\n[rate_limits]\n{bad}\n"))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as session:
        yield session


async def test_a_burst_past_the_bucket_gets_discord_shaped_429s_and_they_are_counted(
    fake: FakeDiscord, bot: TestBot, http: aiohttp.ClientSession
) -> None:
    """Raw HTTP, no client-side limiting: 12 role calls at once in one guild, 2 refused."""
    fake.ratelimits.configure(member_roles=Limit(10, 60.0))  # a long window: the burst cannot outlast it
    members = [BRAM, DAX, EVE]

    async def put(n: int) -> tuple[int, dict[str, str], object]:
        url = f"{fake.api_base}/guilds/{GUILD}/members/{members[n % 3]}/roles/{MEMBER_ROLE}"
        async with http.put(url) as response:
            body = await response.json() if response.status == 429 else None
            return response.status, dict(response.headers), body

    answers = await asyncio.gather(*(put(n) for n in range(12)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [204] * 10 + [429] * 2
    for status, headers, body in answers:
        assert headers["X-RateLimit-Bucket"] == "member-roles" and headers["X-RateLimit-Limit"] == "10"
        if status == 429:
            assert headers["X-RateLimit-Scope"] == "user" and int(headers["Retry-After"]) >= 59
            assert body["global"] is False and body["code"] == 0 and 59 < body["retry_after"] <= 60
    assert fake.ratelimits.sent["member_roles"] == 2 and fake.ratelimits.total_429s == 2
    # Injected 429s count too, apart.
    fake.fault("GET", r"/users/@me", 429, retry_after=0.01)
    async with http.get(f"{fake.api_base}/users/@me") as response:
        assert response.status == 429
    assert fake.ratelimits.sent["injected"] == 1 and fake.ratelimits.total_429s == 3


async def test_discord_py_waits_out_a_global_429_from_the_fake(fake: FakeDiscord, bot: TestBot) -> None:
    fake.ratelimits.configure(global_=Limit(1, 0.2), member_roles=None)
    guild = bot.get_guild(GUILD)
    assert guild is not None
    await asyncio.gather(*(guild.get_member(user).add_roles(discord.Object(MEMBER_ROLE)) for user in (BRAM, DAX)))
    assert all(MEMBER_ROLE in fake.store.guilds[GUILD].members[user].roles for user in (BRAM, DAX))
    refused = [c for c in fake.find_requests("PUT") if c.status == 429]
    assert refused and all(c.response["global"] is True for c in refused)
    assert fake.ratelimits.sent["global"] == len(refused)


async def test_the_control_route_reads_and_sets_the_limits(fake: FakeDiscord, bot: TestBot) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.url}/_control/ratelimits") as response:
            assert await response.json() == {
                "global": {"limit": 50, "per": 1.0},
                "member_roles": {"limit": 10, "per": 1.0},
                "rate_limited": {"total": 0},
            }
        fake.ratelimits.count_429("member_roles")
        body = {"global": "off", "member_roles": "3/2", "reset_count": True}
        async with http.post(f"{fake.url}/_control/ratelimits", json=body) as response:
            assert await response.json() == {
                "global": None,
                "member_roles": {"limit": 3, "per": 2.0},
                "rate_limited": {"total": 0},
            }
        async with http.post(f"{fake.url}/_control/ratelimits", json={"member_roles": "lots"}) as response:
            assert response.status == 400 and "member_roles" in (await response.json())["error"]
    assert fake.ratelimits.member_roles == Limit(3, 2.0) and fake.ratelimits.global_limit is None
