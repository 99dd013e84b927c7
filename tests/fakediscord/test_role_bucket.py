"""Roles in the fake: member-role calls state their rate-limit bucket; people create, rename, delete roles."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import pytest

from fakediscord import FakeDiscord
from fakediscord.commands import ActionError
from fakediscord.ratelimits import DISCORD_MEMBER_ROLES

from .conftest import BRAM, DAX, EVE, GUILD, MEMBER_ROLE, TestBot


async def test_role_calls_state_their_bucket(fake: FakeDiscord, bot: TestBot) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    members = [guild.get_member(user) for user in (EVE, DAX, BRAM)]
    await members[0].add_roles(discord.Object(MEMBER_ROLE))  # learns the bucket
    [first] = fake.find_requests("PUT", r"/guilds/\d+/members/\d+/roles/\d+")
    assert first.headers["X-RateLimit-Limit"] == str(DISCORD_MEMBER_ROLES.limit)
    assert first.headers["X-RateLimit-Remaining"] == str(DISCORD_MEMBER_ROLES.limit - 1)
    assert first.headers["X-RateLimit-Bucket"] == "member-roles"
    await asyncio.gather(*(member.remove_roles(discord.Object(MEMBER_ROLE)) for member in members))
    assert all(MEMBER_ROLE not in fake.store.guilds[GUILD].members[user].roles for user in (EVE, DAX, BRAM))
    removals = fake.find_requests("DELETE", r"/guilds/\d+/members/\d+/roles/\d+")
    assert [call.status for call in removals] == [204, 204, 204]
    # A refused call states no bucket.
    fake.fault("PUT", r"/guilds/\d+/members/\d+/roles/\d+", status=403, code=50013)
    with pytest.raises(discord.Forbidden):
        await members[0].add_roles(discord.Object(MEMBER_ROLE))
    refused = [call for call in fake.find_requests("PUT", r"/guilds/\d+/members/\d+/roles/\d+") if call.status == 403]
    assert len(refused) == 1
    assert "X-RateLimit-Limit" not in refused[0].headers


async def test_a_person_creates_renames_and_deletes_a_role(fake: FakeDiscord, bot: TestBot) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    role_id = await fake.role(GUILD, "create", name="Raiders")
    assert guild.get_role(role_id).name == "Raiders"  # type: ignore[union-attr]
    await fake.role(GUILD, "update", role_id=role_id, name="Veterans")
    assert guild.get_role(role_id).name == "Veterans"  # type: ignore[union-attr]
    await fake.role(GUILD, "delete", role_id=role_id)
    assert guild.get_role(role_id) is None
    assert role_id not in fake.store.guilds[GUILD].roles
    with pytest.raises(ActionError):
        await fake.role(GUILD, "delete", role_id=role_id)


async def test_the_role_control_route(fake: FakeDiscord, bot: TestBot) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/_control/role", json={"guild_id": str(GUILD), "name": "Raiders"}) as answer:
            assert answer.status == 200
            role_id = int((await answer.json())["id"])
        body = {"guild_id": str(GUILD), "action": "delete", "role_id": "1"}
        async with http.post(f"{fake.url}/_control/role", json=body) as answer:
            assert answer.status == 400
    guild = bot.get_guild(GUILD)
    assert guild is not None
    assert guild.get_role(role_id).name == "Raiders"  # type: ignore[union-attr]
