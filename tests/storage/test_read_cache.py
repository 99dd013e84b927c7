"""Point reads on the loop thread and their cache: a write through any path is visible to the next read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.clock import ManualClock
from storage import Repositories, Storage
from storage.members import ProfileEdit

GUILD, USER, BOT = 10, 20, 99


async def test_cached_read_sees_a_write_through_the_group_writer(storage: Storage) -> None:
    await storage.write(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)"))
    await storage.write(lambda conn: conn.execute("INSERT INTO t VALUES (1, 10)"))

    def read(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT v FROM t WHERE k = 1").fetchone()[0]

    assert await storage.read_cached("t1", read) == 10
    await storage.write(lambda conn: conn.execute("UPDATE t SET v = 11 WHERE k = 1"))
    assert await storage.read_cached("t1", read) == 11


async def test_a_rolled_back_unit_leaves_the_cached_value(storage: Storage) -> None:
    await storage.write(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)"))
    await storage.write(lambda conn: conn.execute("INSERT INTO t VALUES (1, 10)"))
    calls = []

    def read(conn: sqlite3.Connection) -> int:
        calls.append(1)
        return conn.execute("SELECT v FROM t WHERE k = 1").fetchone()[0]

    assert await storage.read_cached("t1", read) == 10
    assert await storage.read_cached("t1", read) == 10
    assert len(calls) == 1  # the second read came from the cache

    def fails(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE t SET v = 12 WHERE k = 1")
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await storage.write(fails)
    assert await storage.read_cached("t1", read) == 10


async def test_profile_edits_and_transfers_are_visible_to_the_next_get(repos: Repositories, clock: ManualClock) -> None:
    now = int(clock.time())
    edit = ProfileEdit(guild_id=GUILD, user_id=USER, experience=5)
    await repos.members.apply_edits([edit], add=False, bot_user_id=BOT, actor="test", now=now)
    first = await repos.members.get(GUILD, USER)
    assert first is not None and first.experience == 5

    await repos.members.apply_edits(
        [ProfileEdit(guild_id=GUILD, user_id=USER, experience=3, voicepoints=7)],
        add=True,
        bot_user_id=BOT,
        actor="test",
        now=now,
    )
    second = await repos.members.get(GUILD, USER)
    assert second is not None and (second.experience, second.voicepoints) == (8, 7)


async def test_a_key_revoked_by_another_process_stops_working_at_once(
    repos: Repositories, clock: ManualClock, db_path: Path
) -> None:
    _, secret = await repos.api_keys.create("site", now=int(clock.time()))
    assert await repos.api_keys.authenticate(secret) is not None
    assert await repos.api_keys.authenticate(secret) is not None  # now cached

    # Another process (``bot.py apikey revoke``) has its own connection to the file.
    other = await Storage.open(db_path)
    try:
        assert await Repositories(other).api_keys.revoke("site", now=int(clock.time()))
    finally:
        await other.close()
    assert await repos.api_keys.authenticate(secret) is None


async def test_in_memory_storage_reads_through_the_worker(tmp_path: Path) -> None:
    storage = await Storage.open(":memory:")
    try:
        value = await storage.read_cached("one", lambda conn: conn.execute("SELECT 1").fetchone()[0])
        assert value == 1
        assert await storage.read_point(lambda conn: conn.execute("SELECT 2").fetchone()[0]) == 2
    finally:
        await storage.close()
