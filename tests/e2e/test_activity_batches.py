"""Text activity in batches: a burst of messages is counted exactly, and nothing gathered is lost at shutdown."""

from __future__ import annotations

import asyncio

import aiohttp

from guildhall.sandbox import Sandbox
from tests.e2e.conftest import Ids, assert_healthy

BRAM = 1179000000000000102
DAX = 1179000000000000104
EVE = 1179000000000000105
STATS = "/modules/serverstats/stats/message/view"


async def api(sandbox: Sandbox, path: str, **params: str) -> tuple[int, dict]:
    _, key = await sandbox.repos.api_keys.create(f"batches-{len(params)}-{path}", now=int(sandbox.clock.time()))
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.api.url}{path}", params=params, headers={"Authorization": key}) as response,
    ):
        return response.status, await response.json()


async def test_a_burst_of_messages_is_counted_exactly_in_few_units_of_work(sandbox: Sandbox, ids: Ids):
    fake = sandbox.fake
    await fake.command(ids.guild, ids.general, ids.owner, "serverstats enable", {})
    tracking = sandbox.bot.get_cog("VoiceTracking")
    flushes = []
    flush = tracking.messages._flush

    async def counting_flush(items):
        flushes.append(len(items))
        await flush(items)

    tracking.messages._flush = counting_flush
    authors = [BRAM, DAX, EVE] * 40
    await asyncio.gather(*(fake.message(ids.guild, ids.general, user, f"burst {n}") for n, user in enumerate(authors)))
    await fake.settled()
    for user in (BRAM, DAX, EVE):
        status, body = await api(sandbox, f"/profile/{ids.guild}/{user}")
        assert status == 200
        assert body["text"]["message_count"] == 40
        assert body["text"]["experience"] > 0 or body["text"]["level"] > 1
    assert sum(flushes) == 120
    assert len(flushes) < 120  # gathered: fewer units of work than messages
    status, body = await api(sandbox, STATS, guild_id=str(ids.guild))
    assert status == 200
    assert body["data"][-1]["count"] == 120
    assert_healthy(sandbox)


async def test_messages_gathered_but_not_yet_written_are_written_at_shutdown(sandbox: Sandbox, ids: Ids):
    fake = sandbox.fake
    await fake.message(ids.guild, ids.general, BRAM, "first")  # flushed at once: the next flush waits a moment
    tracking = sandbox.bot.get_cog("VoiceTracking")
    tracking.messages._min_interval = 60.0  # real seconds: nothing more is written before the shutdown
    for n in range(25):
        await fake.message(ids.guild, ids.general, BRAM, f"late {n}", settle=False)
    while len(tracking.messages) < 25:  # the bot handled them: gathered, not yet written  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    stored = await sandbox.repos.members.get(ids.guild, BRAM)
    assert stored.message_count == 1
    assert_healthy(sandbox)
    await asyncio.wait_for(sandbox.bot.close(), 10)  # a clean shutdown: the cog flushes what it gathered
    stored = await sandbox.repos.members.get(ids.guild, BRAM)
    assert stored.message_count == 26


async def test_a_failing_message_sink_is_reported_and_the_others_still_count(sandbox: Sandbox, ids: Ids):
    def broken(message) -> None:
        raise RuntimeError("sink failed")

    sandbox.bot.add_message_sink(broken)
    await sandbox.fake.message(ids.guild, ids.general, DAX, "hello")
    sandbox.bot.remove_message_sink(broken)
    await sandbox.fake.message(ids.guild, ids.general, DAX, "again")
    status, body = await api(sandbox, f"/profile/{ids.guild}/{DAX}")
    assert status == 200 and body["text"]["message_count"] == 2
    [(where, error)] = sandbox.bot.failures
    assert "message sink" in where and str(error) == "sink failed"
    sandbox.bot.failures.clear()
    assert_healthy(sandbox)
