"""The bot-list review reward: the claim and its ledger row are one unit of work."""

from __future__ import annotations

import asyncio

import pytest

from core import botlist
from core.members import MAX_AMOUNT
from storage import Repositories
from storage.ledger import LedgerFilter, OutOfRange, Party

G = 111
BOT = 999
NOW = 1_764_150_000


async def claimed(repos: Repositories, user_id: int) -> bool:
    return await repos.botlist.review_reward_granted(guild_id=G, user_id=user_id)


async def grant(repos: Repositories, user_id: int, amount: int = 250):
    return await botlist.grant_review_reward(
        repos, guild_id=G, bot_user_id=BOT, user_id=user_id, amount=amount, list_name="Bots on Discord", now=NOW
    )


async def test_concurrent_claims_pay_once_with_one_ledger_row(repos: Repositories):
    rewards = await asyncio.gather(*(grant(repos, 1) for _ in range(10)))
    assert sorted(reward.amount for reward in rewards) == [0] * 9 + [250]
    assert sum(reward.already for reward in rewards) == 9
    assert (await repos.members.get(G, 1)).voicepoints == 250
    rows = await repos.ledger.search(LedgerFilter(reason="review on Bots on Discord"), limit=0, offset=0)
    assert [(row.source, row.target, row.amount) for row in rows] == [(Party(G, BOT), Party(G, 1), 250)]
    assert await claimed(repos, 1)
    assert await repos.ledger.verify_balances() == []


async def test_a_payment_that_fails_leaves_no_claim(repos: Repositories):
    # The issuer cannot go below -MAX_AMOUNT: this payment is refused inside the unit of work.
    await repos.ledger.adjust(Party(G, 2), Party(G, BOT), delta=MAX_AMOUNT, reason="setup", actor="t", now=NOW)
    with pytest.raises(OutOfRange):
        await grant(repos, 3, amount=10)
    assert not await claimed(repos, 3)  # the claim was rolled back with the payment
    assert await repos.members.get(G, 3) is None
    assert await repos.ledger.count() == 1
    # Once the bot's profile can pay again, the member is paid exactly once.
    await repos.ledger.adjust(Party(G, 2), Party(G, BOT), delta=-MAX_AMOUNT, reason="undo", actor="t", now=NOW)
    assert (await grant(repos, 3, amount=10)).amount == 10
    assert (await grant(repos, 3, amount=10)).already
    assert (await repos.members.get(G, 3)).voicepoints == 10
    assert await repos.ledger.verify_balances() == []
