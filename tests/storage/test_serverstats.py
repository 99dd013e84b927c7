"""Statistics events and their per-day totals stay equal through recording, deletion and retention."""

import sqlite3

from storage import Repositories

DAY = 86_400
GUILD = 10
START = 1_764_000_000 // DAY * DAY


async def totals(repos: Repositories) -> tuple[list[tuple], list[tuple]]:
    def work(conn: sqlite3.Connection) -> tuple[list[tuple], list[tuple]]:
        kept = conn.execute(
            "SELECT guild_id, kind, day, count, delay_sum, delay_count, delay_max"
            " FROM serverstats_daily ORDER BY 1, 2, 3"
        ).fetchall()
        raw = conn.execute(
            "SELECT guild_id, kind, created_at / 86400 * 86400, COUNT(*), COALESCE(SUM(delay), 0), COUNT(delay),"
            " MAX(delay) FROM serverstats_events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
        return [tuple(r) for r in kept], [tuple(r) for r in raw]

    return await repos.storage.read(work)


async def test_daily_totals_follow_the_events(repos: Repositories):
    for index in range(40):
        await repos.serverstats.record(
            GUILD,
            "tags.send-time" if index % 3 else "message",
            now=START + index * DAY // 4,
            user_id=100 + index % 4,
            delay=index if index % 3 else None,
        )
    kept, raw = await totals(repos)
    assert kept == raw and len(kept) > 10
    row = (await repos.serverstats.daily(GUILD, "tags.send-time", since=START, timing=True))[0]
    assert (row.count, row.avg, row.max) == (2, 1.5, 2)  # day one: events 0-3, of which 1 and 2 are timed
    assert await repos.serverstats.delete_user_data(GUILD, 101) == 10
    kept, raw = await totals(repos)
    assert kept == raw
    assert await repos.serverstats.delete_older_than(START + 5 * DAY + DAY // 2) > 0
    kept, raw = await totals(repos)
    assert kept == raw
    assert min(r[2] for r in kept) == START + 5 * DAY
