"""Applying role changes: order per member, concurrency across members, the time budget."""

from __future__ import annotations

import asyncio

from core.ports import DiscordFailure
from core.roles import Pace, RoleChange, apply_role_changes, send_direct_message
from tests.web.test_link import R1, R2, U2, G, StubDiscord, U


async def test_a_member_s_changes_stay_in_order_while_members_run_together():
    discord = StubDiscord(delay=0.01)
    changes = [
        RoleChange(U, R2, "add"),
        RoleChange(U2, R2, "add"),
        RoleChange(U, R2, "remove"),
        RoleChange(U, R1, "remove"),
    ]
    statuses = await apply_role_changes(discord, 1, changes, pace=Pace(), reason="test")
    assert statuses == ["added", "added", "removed", "removed"]
    # U's changes in order net to removing R1: one request.
    assert [c for c in discord.calls if c[1] == U] == [("remove", U, R1)]
    assert discord.requests.count(U) == 1
    assert discord.members[U] == set()
    assert discord.most_at_once == 2


async def test_the_budget_reports_unfinished_changes_as_error():
    discord = StubDiscord(delay=5)
    pace = Pace(call_timeout=10, budget=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    statuses = await apply_role_changes(
        discord, 1, [RoleChange(U, R2, "add"), RoleChange(U, R1, "add")], pace=pace, reason="t"
    )
    assert statuses == ["error", "none"]  # U holds R1 already: known without calling Discord
    assert loop.time() - started < 1


async def test_concurrency_is_capped():
    discord = StubDiscord(delay=0.01)
    for n in range(20):
        discord.members[n + 10] = set()
    changes = [RoleChange(n + 10, R2, "add") for n in range(20)]
    assert set(await apply_role_changes(discord, 1, changes, pace=Pace(concurrency=3), reason="t")) == {"added"}
    assert discord.most_at_once == 3


async def test_direct_message_checks_before_calling():
    discord = StubDiscord()
    assert await send_direct_message(discord, G, U, "   ", timeout=1) == "empty"
    assert await send_direct_message(discord, G, U, "é" * 2000, timeout=1) == "sent"
    assert await send_direct_message(discord, G, U, "é" * 2001, timeout=1) == "too_long"
    assert discord.dms == [(U, "é" * 2000)]


async def test_a_member_s_changes_that_cancel_out_need_no_call():
    discord = StubDiscord()
    changes = [RoleChange(U2, R2, "add"), RoleChange(U2, R2, "remove")]
    assert await apply_role_changes(discord, 1, changes, pace=Pace(), reason="t") == ["added", "removed"]
    assert discord.requests == [] and discord.members[U2] == set()


async def test_a_refused_call_falls_back_to_one_call_per_change():
    """The member's one call is refused for one role: each change is tried alone and gets its own status."""
    discord = StubDiscord()
    discord.failures = {(U2, R1): DiscordFailure("forbidden")}
    changes = [RoleChange(U2, R2, "add"), RoleChange(U2, R1, "add"), RoleChange(U, R1, "remove")]
    statuses = await apply_role_changes(discord, 1, changes, pace=Pace(), reason="t")
    assert statuses == ["added", "no_permission", "removed"]
    assert discord.members[U2] == {R2} and discord.members[U] == set()
    assert discord.requests.count(U2) == 1  # the refused call is not in ``requests``; the retry of R2 is
    assert [c for c in discord.calls if c[1] == U2] == [("add", U2, R2)]


async def test_a_member_who_left_meanwhile_makes_the_rest_invalid_user():
    discord = StubDiscord()
    discord.failures = {(U2, R2): DiscordFailure("unknown_member")}
    changes = [RoleChange(U2, R1, "add"), RoleChange(U2, R2, "add")]
    assert await apply_role_changes(discord, 1, changes, pace=Pace(), reason="t") == ["invalid_user", "invalid_user"]
    # Found out on the one-by-one path: the changes before keep their own status.
    discord.failures[(U2, R1)] = DiscordFailure("forbidden")
    assert await apply_role_changes(discord, 1, changes, pace=Pace(), reason="t") == ["no_permission", "invalid_user"]
    assert discord.requests == [] and discord.members[U2] == set()
