"""Tracking in batches: many messages or voice credits in one unit of work, as each would count alone."""

from __future__ import annotations

import random

from core import levels
from core.members import MAX_AMOUNT
from storage import Repositories
from storage.members import CountedMessage, Earned, EarningTerms

BOT = 99
ONE, BATCHED = 5, 6  # the same activity one message at a time in ONE, in batches in BATCHED
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
    for start in range(0, len(messages), 37):
        levelled = await repos.members.record_messages(
            BATCHED,
            messages[start : start + 37],
            bot_user_id=BOT,
            text_cooldown=TERMS.text_cooldown,
            voice_curve=TERMS.voice_curve,
            text_curve=TERMS.text_curve,
            reward=TERMS.reward,
            actor=TERMS.actor,
        )
        assert levelled == []  # text experience never levels voice up
    for user in (1, 2, 3):
        one, batched = await repos.members.get(ONE, user), await repos.members.get(BATCHED, user)
        assert profile(one) == profile(batched)
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
