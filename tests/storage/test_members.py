"""The member record: tracking with level-ups and rewards, text cooldown, activity buckets, prayers, tops."""

from __future__ import annotations

import pytest

from core import levels
from storage import Repositories
from storage.members import AlreadyPrayed, EditRejected, ProfileEdit

G, BOT, U = 5, 99, 7
NOW = 1_764_150_000


async def record(repos: Repositories, **kwargs):
    defaults = {
        "now": NOW,
        "bot_user_id": BOT,
        "voice_curve": levels.mee6,
        "text_curve": levels.mee6,
        "reward": lambda level: 10 * level,
        "actor": "cog:voice",
    }
    return await repos.members.record_activity(G, U, **(defaults | kwargs))


async def test_experience_levels_up_within_level_and_pays_one_reward_row(repos: Repositories):
    progress = await record(repos, voice_seconds=600, experience=155 + 220 + 3, voicepoints=10)
    assert progress.levels_gained == [2, 3]
    member = progress.member
    assert (member.level, member.experience, member.voice_seconds) == (3, 3, 600)
    assert member.voicepoints == 10 + 20 + 30
    assert [(e.reason, e.amount) for e in progress.entries] == [("voice time", 10), ("level up", 50)]
    assert await repos.ledger.verify_balances() == []
    totals = await repos.members.activity_since(G, U, NOW - 3600)
    assert (totals.voice_seconds, totals.experience, totals.messages) == (600, 378, 0)
    assert (await repos.members.activity_since(G, U, NOW + 3600)).voice_seconds == 0


async def test_text_experience_respects_the_cooldown_but_messages_always_count(repos: Repositories):
    first = await record(repos, messages=1, text_experience=20, text_cooldown=60)
    second = await record(repos, messages=1, text_experience=20, text_cooldown=60, now=NOW + 30)
    third = await record(repos, messages=1, text_experience=20, text_cooldown=60, now=NOW + 61)
    assert [p.text_experience_granted for p in (first, second, third)] == [20, 0, 20]
    assert (third.member.message_count, third.member.text_experience, third.member.has_text) == (3, 40, True)
    assert third.member.level == 1 and third.member.voicepoints == 0  # text never pays a voice level-up


async def test_pray_once_a_day_with_a_streak_kept_for_two_days(repos: Repositories):
    def reward(streak: int) -> int:
        return 100 + streak

    day = 86_400
    first = await repos.members.pray(G, U, now=NOW, bot_user_id=BOT, reward=reward, actor="cog:pray")
    assert (first.streak, first.amount, first.entry.reason) == (1, 101, "pray | streak 1")
    with pytest.raises(AlreadyPrayed):
        await repos.members.pray(G, U, now=NOW + 60, bot_user_id=BOT, reward=reward, actor="cog:pray")
    second = await repos.members.pray(G, U, now=NOW + 2 * day, bot_user_id=BOT, reward=reward, actor="cog:pray")
    assert second.streak == 2
    third = await repos.members.pray(G, U, now=NOW + 6 * day, bot_user_id=BOT, reward=reward, actor="cog:pray")
    assert third.streak == 1 and third.member.pray.total == 3
    assert third.member.voicepoints == 101 + 102 + 101


async def test_bulk_edits_are_all_or_nothing(repos: Repositories):
    edits = [ProfileEdit(G, 1, level=4), ProfileEdit(G, 2, experience=-1)]
    with pytest.raises(EditRejected) as rejected:
        await repos.members.apply_edits(edits, add=False, bot_user_id=BOT, actor="k", now=NOW)
    assert rejected.value.index == 1
    assert await repos.members.get(G, 1) is None


@pytest.mark.parametrize("by", ["points", "levels", "time", "text-level", "text-message", "pray-streak"])
async def test_guild_tops_walk_an_index_instead_of_sorting(repos: Repositories, by):
    from storage.members import TOP_ORDER

    order = TOP_ORDER[by]
    plan = await repos.storage.read(
        lambda conn: conn.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM members WHERE guild_id = ? AND user_id != 0 ORDER BY guild_id, {order}"
            " LIMIT 5 OFFSET 0",
            (G,),
        ).fetchall()
    )
    details = " ".join(row[3] for row in plan)
    assert "members_top_" in details
    assert "TEMP B-TREE" not in details
