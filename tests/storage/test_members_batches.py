"""Tracking in batches: many messages or voice credits in one unit of work, as each would count alone."""

from __future__ import annotations

import random

from core import levels
from core.members import MAX_AMOUNT
from storage import Repositories
from storage.db import POINT_ROWS
from storage.members import CountedMessage, Earned, EarningTerms

BOT = 99
ONE, BATCHED, WHOLE = 5, 6, 7  # the same activity one message at a time, in batches, in one call
NOW = 1_764_149_000  # 1,000 s before an hour boundary, so messages fall into two activity hours
TERMS = EarningTerms(BOT, 60, levels.mee6, levels.unochi, lambda level: 10 * level, "cog:voice")


def profile(member):
    return (member.message_count, member.text_level, member.text_experience, member.level, member.voicepoints)


async def test_batched_messages_count_exactly_as_one_at_a_time(repos: Repositories):
    rng = random.Random(5)
    messages = sorted(
        (CountedMessage(rng.choice((1, 2, 3)), NOW + rng.randrange(2_000), rng.randint(15, 25)) for _ in range(300)),
        key=lambda m: m.at,
    )
    for message in messages:
        await repos.members.record_activity(
            ONE,
            message.user_id,
            now=message.at,
            bot_user_id=BOT,
            messages=1,
            text_experience=message.text_experience,
            text_cooldown=TERMS.text_cooldown,
            voice_curve=TERMS.voice_curve,
            text_curve=TERMS.text_curve,
            reward=TERMS.reward,
            actor=TERMS.actor,
        )
    terms = {
        "bot_user_id": BOT,
        "text_cooldown": TERMS.text_cooldown,
        "voice_curve": TERMS.voice_curve,
        "text_curve": TERMS.text_curve,
        "reward": TERMS.reward,
        "actor": TERMS.actor,
    }
    for start in range(0, len(messages), 37):
        levelled = await repos.members.record_messages(BATCHED, messages[start : start + 37], **terms)
        assert levelled == []  # text experience never levels voice up
    # More than one loop-thread unit holds (storage.db.point_chunks): committed run after run.
    assert len(messages) > 2 * POINT_ROWS
    assert await repos.members.record_messages(WHOLE, messages, **terms) == []
    for user in (1, 2, 3):
        one, batched = await repos.members.get(ONE, user), await repos.members.get(BATCHED, user)
        assert profile(one) == profile(batched) == profile(await repos.members.get(WHOLE, user))
        assert batched.message_count == sum(m.user_id == user for m in messages)
        assert batched.text_level > 1
        for since in (NOW - 3600, NOW + 1000):
            assert await repos.members.activity_since(ONE, user, since) == await repos.members.activity_since(
                BATCHED, user, since
            )


async def test_voice_credits_in_one_unit_each_in_its_own_savepoint(repos: Repositories):
    credits = [
        (1, Earned(voice_seconds=600, experience=500, voicepoints=10)),
        (2, Earned(voice_seconds=60, experience=10, voicepoints=MAX_AMOUNT + 1)),  # out of range: refused alone
        (3, Earned(voice_seconds=120, experience=20, voicepoints=2)),
    ]
    results = await repos.members.record_voice(BATCHED, credits, TERMS, now=NOW)
    first, refused, third = results
    assert isinstance(refused, Exception)
    assert first.levels_gained == [2, 3] and first.member.voice_seconds == 600
    assert first.member.voicepoints == 10 + 20 + 30  # the level-up reward from "self"
    assert third.member.voicepoints == 2 and third.member.level == 1
    assert await repos.members.get(BATCHED, 2) is None  # rolled back, profile creation included
    assert await repos.ledger.verify_balances() == []


async def test_voice_credits_of_a_crowd_are_stored_in_several_units_and_a_refusal_stays_alone(repos: Repositories):
    crowd = 3 * POINT_ROWS  # a credit is three rows: more than two loop-thread units
    users = [1000 + n for n in range(crowd)]
    credits = [(user, Earned(voice_seconds=60, experience=10, voicepoints=1)) for user in users]
    credits[crowd // 2] = (users[crowd // 2], Earned(voice_seconds=60, experience=10, voicepoints=MAX_AMOUNT + 1))
    results = await repos.members.record_voice(BATCHED, credits, TERMS, now=NOW)
    refused = [n for n, result in enumerate(results) if isinstance(result, Exception)]
    assert refused == [crowd // 2] and len(results) == crowd
    stored = [await repos.members.get(BATCHED, user) for user in users]
    assert [n for n, member in enumerate(stored) if member is None] == [crowd // 2]
    assert all(member.voice_seconds == 60 and member.voicepoints == 1 for member in stored if member is not None)
    assert await repos.ledger.verify_balances() == []
