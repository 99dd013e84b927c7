"""The ledger: every balance equals its rows, under concurrency too; refusals change nothing."""

from __future__ import annotations

import asyncio
import random
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import ledger
from core.members import MAX_AMOUNT, vp_id
from storage import Repositories, Storage
from storage import ledger as ledger_rules
from storage.db import load_migrations, split_statements
from storage.ledger import REVERSED_ALREADY, LedgerFilter, Party, _checked_move, post

G = 111
BOT = 999
NOW = 1_764_150_000


async def test_pay_from_self_lets_the_bot_profile_go_negative(repos: Repositories):
    entry = await ledger.pay_from_self(
        repos, guild_id=G, bot_user_id=BOT, user_id=1, amount=300, reason="level up", actor="cog:voice", now=NOW
    )
    assert entry.source == Party(G, BOT) and entry.target == Party(G, 1)
    bot = await repos.members.get(G, BOT)
    member = await repos.members.get(G, 1)
    assert bot is not None and member is not None
    assert (bot.voicepoints, bot.is_bot) == (-300, True)
    assert (member.voicepoints, member.is_bot) == (300, False)
    assert member.vp_id == vp_id(G, 1)
    assert await repos.ledger.verify_balances() == []


async def test_a_member_cannot_go_below_zero_and_nothing_is_written(repos: Repositories):
    await ledger.pay_from_self(repos, guild_id=G, bot_user_id=BOT, user_id=1, amount=50, reason="r", actor="a", now=NOW)
    with pytest.raises(ledger.InsufficientFunds):
        await ledger.transfer(
            repos,
            guild_id_from=G,
            user_id_from=1,
            guild_id_to=G,
            user_id_to=2,
            amount=51,
            reason="",
            actor="a",
            now=NOW,
        )
    assert (await repos.members.get(G, 1)).voicepoints == 50
    assert await repos.members.get(G, 2) is None
    assert await repos.ledger.count() == 1


async def test_self_transfer_bad_amounts_and_impostors_are_refused(repos: Repositories):
    with pytest.raises(ledger.SelfTransfer):
        await ledger.send(repos, Party(G, 1), Party(G, 1), amount=1, reason="", actor="a", now=NOW)
    for amount in (0, -5, MAX_AMOUNT + 1):
        with pytest.raises(ledger.OutOfRange):
            await ledger.send(repos, Party(G, 1), Party(G, 2), amount=amount, reason="", actor="a", now=NOW)
    other_bot = Party(G, 555)
    await ledger.send(repos, other_bot, Party(G, 1), amount=5, reason="", actor="a", now=NOW, issuer=other_bot)
    with pytest.raises(ledger.NotAllowed):
        await ledger.send(repos, other_bot, Party(G, 2), amount=1, reason="", actor="a", now=NOW, issuer=Party(G, BOT))
    with pytest.raises(ledger.UnknownProfile):
        await ledger.send(repos, "0" * 64, Party(G, 2), amount=1, reason="", actor="a", now=NOW)
    assert await repos.ledger.count() == 1


async def test_balances_stay_within_the_safe_integer_range(repos: Repositories):
    await ledger.pay_from_self(
        repos, guild_id=G, bot_user_id=BOT, user_id=1, amount=MAX_AMOUNT, reason="", actor="a", now=NOW
    )
    with pytest.raises(ledger.OutOfRange):
        await ledger.pay_from_self(
            repos, guild_id=G, bot_user_id=BOT, user_id=1, amount=1, reason="", actor="a", now=NOW
        )
    assert (await repos.members.get(G, 1)).voicepoints == MAX_AMOUNT


async def test_hundreds_of_concurrent_transfers_conserve_points(repos: Repositories):
    people = [Party(G, user) for user in range(1, 6)]
    for party in people:
        await ledger.pay_from_self(
            repos, guild_id=G, bot_user_id=BOT, user_id=party.user_id, amount=100, reason="seed", actor="a", now=NOW
        )
    rng = random.Random(4)

    async def one() -> bool:
        source, target = rng.sample(people, 2)
        try:
            await ledger.send(repos, source, target, amount=rng.randint(1, 60), reason="", actor="a", now=NOW)
        except ledger.InsufficientFunds:
            return False
        return True

    outcomes = await asyncio.gather(*(one() for _ in range(400)))
    assert any(outcomes) and not all(outcomes)  # some went through, some were refused
    assert await repos.ledger.verify_balances() == []
    balances = [(await repos.members.get(G, p.user_id)).voicepoints for p in people]
    assert sum(balances) == 500
    assert min(balances) >= 0
    assert await repos.ledger.count() == 5 + sum(outcomes)


async def test_adjust_writes_the_difference_and_reverse_undoes_once(repos: Repositories):
    entry = await ledger.adjust_balance(
        repos, guild_id=G, user_id=1, delta=40, reason="bonus", actor="admin", now=NOW, bot_user_id=BOT
    )
    assert entry is not None and entry.source == Party(G, BOT)
    gift = await ledger.send(repos, Party(G, 1), Party(G, 2), amount=15, reason="gift", actor="a", now=NOW)
    back = await ledger.reverse(repos, gift.id, actor="admin", now=NOW + 1)
    assert (back.source, back.target, back.amount, back.reason) == (
        Party(G, 2),
        Party(G, 1),
        15,
        f"reversal of #{gift.id}",
    )
    with pytest.raises(ledger.AlreadyReversed):
        await ledger.reverse(repos, gift.id, actor="admin", now=NOW + 2)
    with pytest.raises(ledger.UnknownTransaction):
        await ledger.reverse(repos, 9999, actor="admin", now=NOW + 2)
    assert (await repos.members.get(G, 1)).voicepoints == 40
    assert await repos.ledger.verify_balances() == []


async def test_search_filters_by_side_reason_and_time(repos: Repositories):
    await ledger.pay_from_self(
        repos, guild_id=G, bot_user_id=BOT, user_id=1, amount=10, reason="level up", actor="a", now=NOW
    )
    await ledger.send(repos, Party(G, 1), Party(G, 2), amount=3, reason="Very generous gift", actor="a", now=NOW + 10)
    everything = await repos.ledger.search(LedgerFilter(), limit=0, offset=0)
    assert [e.amount for e in everything] == [3, 10]  # newest first
    assert [e.amount for e in await repos.ledger.search(LedgerFilter(reason="generous"), limit=0, offset=0)] == [3]
    assert [e.amount for e in await repos.ledger.search(LedgerFilter(source="1"), limit=0, offset=0)] == [3]
    assert [e.amount for e in await repos.ledger.search(LedgerFilter(target=vp_id(G, 1)), limit=0, offset=0)] == [10]
    assert [e.amount for e in await repos.ledger.search(LedgerFilter(after=NOW), limit=0, offset=0)] == [3]
    assert len(await repos.ledger.search(LedgerFilter(), limit=1, offset=1)) == 1


async def test_search_by_vp_id_finds_both_sides_and_follows_rows_to_a_tombstone(repos: Repositories):
    await ledger.pay_from_self(repos, guild_id=G, bot_user_id=BOT, user_id=1, amount=10, reason="", actor="a", now=NOW)
    await ledger.send(repos, Party(G, 1), Party(G, 2), amount=3, reason="gift", actor="a", now=NOW + 1)
    await ledger.send(repos, Party(G, 2), Party(G, 3), amount=1, reason="gift", actor="a", now=NOW + 2)

    async def amounts(**filters: str) -> list[int]:
        return [e.amount for e in await repos.ledger.search(LedgerFilter(**filters), limit=0, offset=0)]

    assert await amounts(vp_id=vp_id(G, 2)) == [1, 3]
    assert await amounts(source=vp_id(G, 2)) == [1]
    assert await amounts(target=vp_id(G, 2)) == [3]
    assert await amounts(vp_id=vp_id(G, 4)) == []  # no such profile
    await repos.members.delete_user_data(G, 2)
    assert await amounts(vp_id=vp_id(G, 2)) == []  # the rows now belong to the guild's tombstone
    tomb = (await repos.ledger.search(LedgerFilter(target="3"), limit=0, offset=0))[0].source_vp_id
    assert await amounts(vp_id=tomb) == [1, 3]
    assert await repos.ledger.verify_balances() == []


async def test_vp_id_searches_and_the_reversal_check_walk_indexes(storage: Storage, repos: Repositories):
    statements: list[str] = []
    await storage.read(lambda conn: conn.set_trace_callback(statements.append))
    for filters in (LedgerFilter(vp_id=vp_id(G, 1)), LedgerFilter(source=vp_id(G, 1)), LedgerFilter(target="1")):
        await repos.ledger.search(filters, limit=50, offset=0)
    await storage.read(lambda conn: conn.set_trace_callback(None))
    statements.append(REVERSED_ALREADY)
    searches = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(searches) == 4
    for sql in searches:
        plan = await storage.read(
            lambda conn, sql=sql: [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, _blanks(sql))]
        )
        assert not any(line.startswith("SCAN ledger") for line in plan), (sql, plan)


def _blanks(sql: str) -> list[str]:
    return ["x"] * sql.count("?")


async def test_privacy_deletion_keeps_every_other_balance_equal_to_its_rows(repos: Repositories):
    await ledger.pay_from_self(repos, guild_id=G, bot_user_id=BOT, user_id=1, amount=10, reason="", actor="a", now=NOW)
    await ledger.send(repos, Party(G, 1), Party(G, 2), amount=4, reason="", actor="a", now=NOW)
    assert await repos.members.count_user_data(G, 1) == 3
    assert await repos.members.delete_user_data(G, 1) >= 3
    assert await repos.members.get(G, 1) is None
    assert await repos.ledger.verify_balances() == []
    assert (await repos.members.get(G, 2)).voicepoints == 4
    assert await repos.members.count_user_data(G, 1) == 0
    assert repos.members in repos.user_data_owners()


async def test_flows_give_what_left_a_profile_and_its_net_change_per_period(repos: Repositories):
    alice, bob = Party(G, 10), Party(G, 20)
    await ledger.pay_from_self(
        repos, guild_id=G, bot_user_id=BOT, user_id=10, amount=500, reason="r", actor="a", now=100
    )
    for source, target, amount, now in ((alice, bob, 120, 200), (bob, alice, 20, 300), (alice, bob, 30, 400)):
        await ledger.send(repos, source, target, amount=amount, reason="gift", actor="a", now=now)
    flows = await repos.ledger.flows(alice, {"all": 0, "late": 250, "last": 400, "future": 500})
    assert flows.sent == 150
    assert flows.since == {"all": 370, "late": -10, "last": -30, "future": 0}
    assert (await repos.members.get(G, 10)).voicepoints == 370


def _schema() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    for migration in load_migrations():
        for statement in split_statements(migration.sql):
            conn.execute(statement)
    return conn


_BALANCES = st.one_of(
    st.none(),  # no profile yet
    st.integers(-MAX_AMOUNT, MAX_AMOUNT),
    st.sampled_from([-MAX_AMOUNT, -MAX_AMOUNT + 1, -1, 0, 1, MAX_AMOUNT - 1, MAX_AMOUNT]),
)


@settings(max_examples=400, deadline=None)
@given(
    balances=st.tuples(_BALANCES, _BALANCES),
    bots=st.tuples(st.booleans(), st.booleans()),
    amount=st.one_of(st.integers(1, 5), st.integers(1, MAX_AMOUNT), st.just(MAX_AMOUNT)),
    issuer=st.sampled_from(["none", "source", "target"]),
)
def test_the_guarded_updates_decide_every_transfer_as_reading_both_sides_first(balances, bots, amount, issuer):
    """``post`` moves balances with two guarded updates and reads the rows only when one does not
    apply; ``_checked_move`` reads both sides first and applies the rules in Python. They must
    agree on every state: the same refusal, or the same rows afterwards."""
    conn = _schema()
    source, target = Party(G, 1), Party(G, 2)
    issuer_party = {"none": None, "source": source, "target": target}[issuer]
    for party, balance, is_bot in zip((source, target), balances, bots, strict=True):
        if balance is not None:
            conn.execute(
                "INSERT INTO members (guild_id, user_id, vp_id, voicepoints, is_bot, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 0, 0)",
                (*party, party.vp_id, balance, int(is_bot)),
            )

    def outcome(move) -> object:
        conn.execute("BEGIN")
        try:
            move()
        except ledger_rules.LedgerError as error:
            # A refusal leaves the unit to be rolled back by its batch: only the error is compared.
            result: object = type(error)
        else:
            result = [tuple(row) for row in conn.execute("SELECT user_id, voicepoints, is_bot FROM members ORDER BY 1")]
        conn.execute("ROLLBACK")
        return result

    guarded = outcome(lambda: post(conn, source, target, amount, reason="r", actor="a", now=NOW, issuer=issuer_party))
    checked = outcome(lambda: _checked_move(conn, source, target, amount, now=NOW, issuer=issuer_party))
    assert guarded == checked
