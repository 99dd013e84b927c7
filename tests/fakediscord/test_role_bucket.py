"""Member-role calls state their rate-limit bucket, so discord.py runs several of them at once."""

from __future__ import annotations

import asyncio

import discord
import pytest

from fakediscord import FakeDiscord
from fakediscord.server import ROLE_BUCKET_LIMIT

from .conftest import BRAM, DAX, EVE, GUILD, MEMBER_ROLE, TestBot


async def test_role_calls_state_their_bucket(fake: FakeDiscord, bot: TestBot) -> None:
    guild = bot.get_guild(GUILD)
    assert guild is not None
    members = [guild.get_member(user) for user in (EVE, DAX, BRAM)]
    await members[0].add_roles(discord.Object(MEMBER_ROLE))  # learns the bucket
    [first] = fake.find_requests("PUT", r"/guilds/\d+/members/\d+/roles/\d+")
    assert first.headers["X-RateLimit-Limit"] == str(ROLE_BUCKET_LIMIT)
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
