"""Counter channels against fakediscord: member counts, Discord's rename limit, 429s, deletions."""

from __future__ import annotations

import aiohttp

from guildhall.sandbox import Sandbox
from tests.e2e.conftest import Ids, assert_healthy

CATEGORY = 1179000000000003010
MEMBERS = 1179000000000003011
BOOSTS = 1179000000000003012
WINDOW = 600


def channel_name(sandbox: Sandbox, channel_id: int) -> str | None:
    channel = sandbox.fake.store.channels.get(channel_id)
    return channel.name if channel else None


def renames(sandbox: Sandbox, channel_id: int) -> list[float]:
    return [
        call.time
        for call in sandbox.fake.find_requests("PATCH", rf"/channels/{channel_id}$")
        if call.status == 200 and "name" in (call.body or {})
    ]


async def set_up_counters(sandbox: Sandbox, ids: Ids) -> None:
    await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats enable", {})
    answer = await sandbox.fake.command(
        ids.guild,
        ids.general,
        ids.owner,
        "serverstats counters",
        {"category": str(CATEGORY), "members": str(MEMBERS), "boosts": str(BOOSTS)},
    )
    assert answer["responses"][-1]["content"].startswith("Counters set")


async def test_member_counter_follows_joins_within_the_rename_limit(sandbox: Sandbox, ids: Ids):
    await set_up_counters(sandbox, ids)
    await sandbox.fake.advance_clock(60)
    assert channel_name(sandbox, MEMBERS) == "Members: 7"
    assert channel_name(sandbox, BOOSTS) == "Boosts: 2"
    # Five quick joins, spread over the next minutes: the newest count wins.
    for index in range(5):
        await sandbox.fake.member(ids.guild, 1179000000000009000 + index, "join", name=f"newcomer{index}")
        await sandbox.fake.advance_clock(60)
    done = renames(sandbox, MEMBERS)
    assert 1 <= len(done) <= 2
    # Never more than two renames of the channel in any ten minutes of clock time.
    assert all(len([t for t in done if start <= t < start + WINDOW]) <= 2 for start in done)
    assert channel_name(sandbox, MEMBERS) != "Members: 12"  # still held back by the limit
    await sandbox.fake.advance_clock(WINDOW)
    assert channel_name(sandbox, MEMBERS) == "Members: 12"
    done = renames(sandbox, MEMBERS)
    assert all(len([t for t in done if start <= t < start + WINDOW]) <= 2 for start in done)
    # Discord itself never had to refuse a rename.
    assert [c for c in sandbox.fake.find_requests("PATCH", rf"/channels/{MEMBERS}$") if c.status == 429] == []
    assert_healthy(sandbox)


async def test_a_429_from_discord_defers_the_rename_without_blocking(sandbox: Sandbox, ids: Ids):
    await set_up_counters(sandbox, ids)
    sandbox.fake.fault("PATCH", rf"/channels/{MEMBERS}", status=429, retry_after=300)
    await sandbox.fake.advance_clock(60)
    assert channel_name(sandbox, MEMBERS) == "Members: 0"
    assert channel_name(sandbox, BOOSTS) == "Boosts: 2"  # the other counter was not held up
    # Commands keep answering while the rename waits.
    answer = await sandbox.fake.command(ids.guild, ids.general, ids.member, "about", {})
    assert answer["responses"][0]["ephemeral"] is True
    await sandbox.fake.advance_clock(300)
    assert channel_name(sandbox, MEMBERS) == "Members: 7"
    assert_healthy(sandbox)


async def test_deleting_a_counter_channel_by_hand_updates_the_settings(sandbox: Sandbox, ids: Ids):
    await set_up_counters(sandbox, ids)
    await sandbox.fake.delete_channel(ids.guild, BOOSTS)
    state = await sandbox.repos.serverstats.get(ids.guild)
    assert state is not None
    assert state.settings["counter_panel_server_boost_number_channel"] is None
    assert state.settings["counter_panel_member_count_channel"] == MEMBERS
    assert [c.channel_id for c in await sandbox.repos.counters.for_guild(ids.guild)] == [MEMBERS]
    await sandbox.fake.advance_clock(60)
    assert channel_name(sandbox, MEMBERS) == "Members: 7"
    answer = await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats status", {})
    fields = {f["name"]: f["value"] for f in answer["responses"][-1]["embeds"][0]["fields"]}
    assert "approximate" in fields["Counter sources"]  # no presences intent in the default settings
    assert str(BOOSTS) not in fields["Counters"]
    assert_healthy(sandbox)


async def test_statistics_chart_and_manage_server_check(sandbox: Sandbox, ids: Ids):
    denied = await sandbox.fake.command(ids.guild, ids.general, ids.member, "serverstats enable", {})
    assert "Manage Server" in denied["responses"][-1]["content"]
    assert await sandbox.repos.serverstats.get(ids.guild) is None
    await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats enable", {})
    for text in ("one", "two", "three"):
        await sandbox.fake.message(ids.guild, ids.general, ids.member, text)
    await sandbox.fake.message(ids.guild, ids.general, 1179000000000000201, "beep")  # a bot: not counted
    answer = await sandbox.fake.command(
        ids.guild, ids.general, ids.owner, "serverstats stats", {"kind": "message", "days": 3}
    )
    [reply] = answer["responses"][-1:]
    assert reply["content"] == "message statistics, last 3 days: 3"
    [attachment] = reply["attachments"]
    assert attachment["content_type"] == "image/png" and attachment["size"] > 0
    assert_healthy(sandbox)


async def test_role_counter_is_created_counted_and_removed(sandbox: Sandbox, ids: Ids):
    await set_up_counters(sandbox, ids)
    answer = await sandbox.fake.command(
        ids.guild,
        ids.general,
        ids.owner,
        "serverstats role-counter",
        {"role": str(ids.roles["Member"]), "name": "Members online"},
    )
    assert answer["responses"][-1]["content"].startswith("Counter for Member added")
    [created] = sandbox.fake.find_requests("POST", rf"/guilds/{ids.guild}/channels$")
    channel_id = int(created.response["id"])
    assert int(created.body["parent_id"]) == CATEGORY
    await sandbox.fake.advance_clock(60)
    # Without the presences intent the counter shows every member with the role (ada, bram, cleo, dax).
    assert channel_name(sandbox, channel_id) == "Members online: 4"
    await sandbox.fake.command(
        ids.guild, ids.general, ids.owner, "serverstats role-counter", {"remove": str(channel_id)}
    )
    assert channel_name(sandbox, channel_id) is None
    assert [c.kind for c in await sandbox.repos.counters.for_guild(ids.guild)] == ["members", "boosts"]
    assert_healthy(sandbox)


async def test_the_update_route_renames_at_once_and_respects_the_budget(sandbox: Sandbox, ids: Ids):
    await set_up_counters(sandbox, ids)
    _, key = await sandbox.repos.api_keys.create("counters", now=0)
    url = f"{sandbox.api.url}/modules/serverstats/stats/counter-panel/update"
    async with aiohttp.ClientSession(headers={"Authorization": key}) as session:
        async with session.post(url) as response:
            assert response.status == 200
            assert (await response.json())["data"] == {"renamed": 2}
        assert channel_name(sandbox, MEMBERS) == "Members: 7"
        async with session.post(url) as response:
            assert (await response.json())["data"] == {"renamed": 0}  # nothing changed
    assert len(renames(sandbox, MEMBERS)) == 1
    assert_healthy(sandbox)
