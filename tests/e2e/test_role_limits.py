"""``/applyRoleChanges`` against Discord's rate limits (fakediscord's defaults: 50/s, 10 member-role calls/s
per guild): one call per member, no 429, the website answered in time, a role given meanwhile kept."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import pytest

from core.config import Settings
from fakediscord import World
from fakediscord.ratelimits import Limit
from fakediscord.world import parse_world
from guildhall.sandbox import Sandbox
from tests.conftest import make_settings
from tests.e2e.conftest import Ids, assert_healthy, start
from tests.e2e.nameless_site import NamelessSite
from tests.e2e.test_faults import ANSWER_WITHIN, call, link_guild, role_changes, roles_of

MEMBERS = 30
MEMBER_CALLS = r"^/guilds/\d+/members/\d+(/roles/\d+)?$"


@pytest.fixture
def world() -> World:
    data = tomllib.loads(resources.files("fakediscord").joinpath("default_world.toml").read_text(encoding="utf-8"))
    data["guilds"][0]["generate_members"] = MEMBERS
    return parse_world(data)


@pytest.fixture
async def site() -> AsyncIterator[NamelessSite]:
    site = NamelessSite()
    await site.start()
    yield site
    await site.stop()


@pytest.fixture
def e2e_settings(db_path: Path) -> Settings:
    return make_settings(db_path, logging={"access_log": False}, link={"allow_private_targets": True})


def generated(world: World) -> list[int]:
    return [member.id for member in world.guilds[0].members if member.name.startswith("member-")]


async def test_changes_go_one_call_per_member_within_the_limits_and_keep_a_role_given_meanwhile(
    sandbox: Sandbox, ids: Ids, world: World, site: NamelessSite
):
    await link_guild(sandbox, ids, site)
    fake = sandbox.fake
    assert fake.ratelimits.member_roles == Limit(10, 1.0)
    members = generated(world)
    last = members[-1]
    verified, member_role, moderator = ids.roles["Verified"], ids.roles["Member"], ids.roles["Moderator"]
    items = [(user, role, "add") for user in members for role in (member_role, verified)]
    applying = asyncio.create_task(call(sandbox, "POST", "/applyRoleChanges", role_changes(ids, site, *items)))
    await fake.wait_for_request("PATCH", MEMBER_CALLS)
    # A moderator gives the last member a role (above the bot's) while that member's call waits its turn.
    await fake.member(ids.guild, last, "update", roles=[moderator])
    assert not applying.done()

    status, text, took = await applying

    assert status == 200
    assert [item["status"] for item in json.loads(text)["role_changes"]] == ["added"] * len(items)
    # 30 calls at 10 per second: the last can go 2 s after the first, and the website waits 5 s.
    assert 2.0 <= took < ANSWER_WITHIN
    calls = fake.find_requests(None, MEMBER_CALLS)
    assert [c.method for c in calls] == ["PATCH"] * MEMBERS
    assert all(c.status == 200 for c in calls)
    assert fake.ratelimits.total_429s == 0
    assert all(roles_of(sandbox, ids.guild, user) == {member_role, verified} for user in members[:-1])
    # The member's roles were read from the cache when the call went: the moderator's role stays.
    assert roles_of(sandbox, ids.guild, last) == {moderator, member_role, verified}
    assert_healthy(sandbox)


async def test_more_calls_than_the_budget_allows_answer_in_time(
    world: World, db_path: Path, ids: Ids, site: NamelessSite
):
    """At 2 member-role calls per second (world file and bot config alike) 30 members need 14.5 s: the
    website still gets its answer within the budget, with what was applied and ``error`` for the rest."""
    data = tomllib.loads(resources.files("fakediscord").joinpath("default_world.toml").read_text(encoding="utf-8"))
    data["guilds"][0]["generate_members"] = MEMBERS
    data["rate_limits"] = {"member_roles": "2/1"}
    slow_world = parse_world(data)
    settings = make_settings(
        db_path,
        logging={"access_log": False},
        link={"allow_private_targets": True, "answer_within": 1.5},
        discord={"member_role_rate_limit": "2/1"},
    )
    async with start(slow_world, settings, db_path) as sandbox:
        await link_guild(sandbox, ids, site)
        fake = sandbox.fake
        assert fake.ratelimits.member_roles == Limit(2, 1.0)
        members = generated(slow_world)
        verified = ids.roles["Verified"]
        items = [(user, verified, "add") for user in members]

        status, text, took = await call(sandbox, "POST", "/applyRoleChanges", role_changes(ids, site, *items))

        assert status == 200 and 1.5 <= took < 2.5
        statuses = [item["status"] for item in json.loads(text)["role_changes"]]
        added = [user for user, item in zip(members, statuses, strict=True) if item == "added"]
        assert set(statuses) == {"added", "error"}
        assert 2 <= len(added) <= 4  # 2 per 1.05 s within the 1.5 s budget
        await fake.settled()
        assert {user for user in members if verified in roles_of(sandbox, ids.guild, user)} == set(added)
        assert fake.ratelimits.total_429s == 0
        assert_healthy(sandbox)
