"""Bulk profile edits: the set-based unit of work does what editing each profile in turn does."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storage import Repositories, Storage
from storage.ledger import LedgerError, Party
from storage.members import EditRejected, Member, ProfileEdit, _apply_edit

G = 1179000000000001000
H = 1179000000000002000
BOT = 1179000000000000001
NOW = 1_764_150_000
USERS = [1179000000000000100 + n for n in range(8)]
BIG = 2**53 - 1


def one_by_one(edits: list[ProfileEdit], *, add: bool, now: int):
    """The reference: every edit through the single-profile path, in turn, all or nothing."""

    def work(conn: sqlite3.Connection) -> list[Member]:
        members = []
        for index, edit in enumerate(edits):
            try:
                members.append(_apply_edit(conn, edit, add=add, issuer=Party(edit.guild_id, BOT), actor="k", now=now))
            except LedgerError as error:
                raise EditRejected(index, str(error)) from None
        return members

    return work


def random_edits(rng: random.Random, *, add: bool, counters_only: bool) -> list[ProfileEdit]:
    count = rng.randint(1, 12)
    if not counters_only:
        return [random_edit(rng, add=add, counters_only=False) for _ in range(count)]
    # each profile once, counters only: the set-based path
    parties = rng.sample([(guild, user) for guild in (G, H) for user in (*USERS, BOT, 1179000000000000999)], count)
    return [random_edit(rng, add=add, counters_only=True, party=party) for party in parties]


def random_edit(
    rng: random.Random, *, add: bool, counters_only: bool, party: tuple[int, int] | None = None
) -> ProfileEdit:
    guild, user = party or (
        rng.choice((G, G, G, H)),
        rng.choice([*USERS, BOT, 1179000000000000999]),  # the issuer and a member without a record too
    )
    fields: dict[str, Any] = {}

    def number() -> int:
        if rng.random() < 0.03:  # now and then a value out of range
            return rng.choice((-BIG, BIG, -1 if not add else -(10**6)))
        return rng.choice((0, 1, 3, 40, 1000)) if add or rng.random() < 0.5 else rng.choice((0, 2, 7, 500))

    if rng.random() < 0.1:
        fields["pray_date"] = rng.choice((1_764_150_000, 1_764_150_000_123))  # seconds or milliseconds
    for name in ("experience", "level", "pray_date", "pray_streak", "pray_total", "text_level", "text_experience",
                 "message_count", "voice_seconds"):  # fmt: skip
        if rng.random() < 0.3:
            fields[name] = number()
    if counters_only:
        return ProfileEdit(guild, user, **fields)
    if rng.random() < 0.35:
        fields["voicepoints"] = rng.choice((-300, -20, -1, 0, 5, 5, 250, 250, 60))
    if not add and rng.random() < 0.1:
        fields["text_null"] = True
    if rng.random() < 0.2:
        fields["data_given"] = True
        fields["data"] = rng.choice((None, {"a": 1}, {"a": {"b": 2}, "c": "x"}, [1, 2], 3.5, "text", {"a": 2.25}))
    return ProfileEdit(guild, user, **fields)


async def seed(repos: Repositories) -> None:
    for user in USERS[:5]:
        await repos.members.create(ProfileEdit(G, user), overwrite=False, issuer=Party(G, BOT), actor="s", now=NOW)
    await repos.ledger.adjust(Party(G, USERS[0]), Party(G, BOT), delta=100, reason="seed", actor="s", now=NOW)
    await repos.ledger.adjust(Party(H, USERS[1]), Party(H, BOT), delta=40, reason="seed", actor="s", now=NOW)
    await repos.members.apply_edits(
        [ProfileEdit(G, USERS[2], data_given=True, data={"a": 1, "n": [1]}, level=3)],
        add=False,
        bot_user_id=BOT,
        actor="s",
        now=NOW,
    )


def dump(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        members = conn.execute("SELECT * FROM members ORDER BY guild_id, user_id").fetchall()
        ledger = conn.execute("SELECT * FROM ledger ORDER BY id").fetchall()
    finally:
        conn.close()
    return members, ledger


async def outcome(storage: Storage, work) -> Any:
    try:
        return await storage.write(work)
    except EditRejected as error:
        return ("rejected", error.index, error.message)


@pytest.mark.parametrize(("counters_only", "answer"), [(False, True), (True, True), (True, False)])
@pytest.mark.parametrize("add", [True, False])
async def test_bulk_edits_match_editing_each_profile_in_turn(
    tmp_path: Path, add: bool, counters_only: bool, answer: bool
):
    bulk = await Storage.open(tmp_path / "bulk.sqlite3")
    reference = await Storage.open(tmp_path / "reference.sqlite3")
    try:
        for store in (bulk, reference):
            await seed(Repositories(store))
        rng = random.Random(8 + add)
        rejected = accepted = 0
        for round_ in range(120):
            edits = random_edits(rng, add=add, counters_only=counters_only)
            now = NOW + 60 * (round_ + 1)
            expected = await outcome(reference, one_by_one(edits, add=add, now=now))
            repos = Repositories(bulk)
            try:
                got: Any = await repos.members.apply_edits(
                    edits, add=add, bot_user_id=BOT, actor="k", now=now, answer=answer
                )
            except EditRejected as error:
                got = ("rejected", error.index, error.message)
            # answer=False: the profiles, or none when they were not read back
            assert got == expected or (not answer and got == [] and not isinstance(expected, tuple)), (round_, edits)
            assert dump(tmp_path / "bulk.sqlite3") == dump(tmp_path / "reference.sqlite3"), round_
            if isinstance(expected, tuple):
                rejected += 1
            else:
                accepted += 1
        assert rejected > 10 and accepted > 10  # both kinds of outcome were compared
        assert await Repositories(bulk).ledger.verify_balances() == []
    finally:
        await bulk.close()
        await reference.close()


async def test_ten_thousand_adds_land_exactly_with_their_ledger_rows(repos: Repositories, db_path: Path):
    users = [1179000000000100000 + n for n in range(10_000)]
    await repos.members.apply_edits(
        [ProfileEdit(G, user, voice_seconds=5) for user in users[::2]], add=True, bot_user_id=BOT, actor="s", now=NOW
    )
    edits = [
        ProfileEdit(G, user, experience=n % 7, voice_seconds=60, voicepoints=n % 3) for n, user in enumerate(users)
    ]
    members = await repos.members.apply_edits(edits, add=True, bot_user_id=BOT, actor="k", now=NOW + 1)
    assert [(m.user_id, m.experience, m.voice_seconds, m.voicepoints) for m in members] == [
        (user, n % 7, 60 + (5 if n % 2 == 0 else 0), n % 3) for n, user in enumerate(users)
    ]
    conn = sqlite3.connect(db_path)
    try:
        stored = conn.execute(
            "SELECT COUNT(*), SUM(experience), SUM(voice_seconds), SUM(voicepoints) FROM members"
            " WHERE guild_id = ? AND user_id != ?",
            (G, BOT),
        ).fetchone()
        rows = conn.execute("SELECT COUNT(*), SUM(amount) FROM ledger WHERE reason = 'api add'").fetchone()
    finally:
        conn.close()
    assert stored == (
        10_000,
        sum(n % 7 for n in range(10_000)),
        10_000 * 60 + 5_000 * 5,
        sum(n % 3 for n in range(10_000)),
    )
    assert rows == (sum(1 for n in range(10_000) if n % 3), sum(n % 3 for n in range(10_000)))
    assert (await repos.members.get(G, BOT)).voicepoints == -sum(n % 3 for n in range(10_000))
    assert await repos.ledger.verify_balances() == []


async def test_a_bad_last_item_of_ten_thousand_changes_nothing(repos: Repositories, db_path: Path):
    users = [1179000000000100000 + n for n in range(10_000)]
    edits = [ProfileEdit(G, user, experience=1, voicepoints=2) for user in users[:-1]]
    edits.append(ProfileEdit(G, users[-1], voicepoints=-1))  # more than the member has
    before = dump(db_path)
    with pytest.raises(EditRejected) as rejected:
        await repos.members.apply_edits(edits, add=True, bot_user_id=BOT, actor="k", now=NOW)
    assert rejected.value.index == 9_999
    assert "fewer than 1" in rejected.value.message
    assert dump(db_path) == before


@pytest.mark.parametrize("answer", [True, False])
async def test_the_first_bad_edit_is_named_when_a_later_group_of_columns_fails_first(
    repos: Repositories, db_path: Path, answer: bool
):
    # Edits of the same columns are applied together, the group of the first edit first: that
    # group fails on its second edit (item 2), but item 1, of another group, is the first bad one.
    await seed(repos)
    edits = [
        ProfileEdit(G, USERS[0], experience=5),
        ProfileEdit(G, USERS[1], level=-3),
        ProfileEdit(G, USERS[2], experience=-BIG),
        ProfileEdit(G, USERS[5], experience=1),  # no profile yet
    ]
    before = dump(db_path)
    with pytest.raises(EditRejected) as rejected:
        await repos.members.apply_edits(edits, add=True, bot_user_id=BOT, actor="k", now=NOW, answer=answer)
    assert (rejected.value.index, rejected.value.message) == (1, "level would be -2, outside 1..9007199254740991")
    assert dump(db_path) == before
