import asyncio
import re
import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from storage import DatabaseTooNew, Storage
from storage.db import Migration, _apply_migration, load_migrations, split_statements


def test_migration_numbers_are_unique_and_contiguous():
    names = [
        entry.name for entry in (resources.files("storage") / "migrations").iterdir() if entry.name.endswith(".sql")
    ]
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", name) for name in names), names
    numbers = sorted(int(name[:4]) for name in names)
    assert numbers == list(range(1, len(numbers) + 1))


async def test_migrations_apply_to_an_empty_database(tmp_path: Path):
    storage = await Storage.open(tmp_path / "empty.sqlite3")
    try:
        assert await storage.schema_version() == len(load_migrations())
        tables = await storage.read(
            lambda conn: {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        )
        assert {"api_keys", "api_key_guilds", "guild_settings", "bot_state", "guild_links"} <= tables
        assert await storage.integrity_check() == "ok"
        assert await storage.migrate() == []  # nothing left to apply
    finally:
        await storage.close()


async def test_connection_uses_wal_foreign_keys_and_busy_timeout(storage: Storage):
    pragmas = await storage.read(
        lambda conn: tuple(
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        )
    )
    assert pragmas == ("wal", 1, 5000, 1)


async def test_refuses_a_database_newer_than_the_code(tmp_path: Path):
    path = tmp_path / "future.sqlite3"
    storage = await Storage.open(path)
    await storage.write(lambda conn: conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)"))
    await storage.close()
    with pytest.raises(DatabaseTooNew, match="999"):
        await Storage.open(path)


def test_a_failing_migration_leaves_no_trace(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    broken = Migration(1, "broken", "CREATE TABLE a (x INTEGER);\nINSERT INTO missing VALUES (1);\n")
    with pytest.raises(sqlite3.OperationalError):
        _apply_migration(conn, broken)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_split_statements_keeps_trigger_bodies_whole():
    script = "CREATE TABLE t (x);\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = 1;\nEND;\n-- done\n"
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


async def test_concurrent_writes_share_transactions_and_all_land(storage: Storage):
    await storage.write(lambda conn: conn.execute("CREATE TABLE counter (n INTEGER)"))
    commits_before = await storage.read(lambda conn: conn.total_changes)
    results = await asyncio.gather(
        *(
            storage.write(lambda conn, i=i: conn.execute("INSERT INTO counter VALUES (?)", (i,)).lastrowid)
            for i in range(200)
        )
    )
    assert len(set(results)) == 200
    rows = await storage.read(lambda conn: conn.execute("SELECT COUNT(*), SUM(n) FROM counter").fetchone())
    assert tuple(rows) == (200, sum(range(200)))
    assert await storage.read(lambda conn: conn.total_changes) - commits_before == 200


async def test_a_failing_write_is_rolled_back_alone(storage: Storage):
    await storage.write(lambda conn: conn.execute("CREATE TABLE items (name TEXT UNIQUE)"))

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO items VALUES ('half-done')")
        raise ValueError("refused")

    outcomes = await asyncio.gather(
        storage.write(lambda conn: conn.execute("INSERT INTO items VALUES ('a')")),
        storage.write(bad),
        storage.write(lambda conn: conn.execute("INSERT INTO items VALUES ('b')")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ValueError)
    names = await storage.read(lambda conn: [row[0] for row in conn.execute("SELECT name FROM items ORDER BY name")])
    assert names == ["a", "b"]


async def test_acknowledged_writes_are_visible_to_a_new_connection(db_path: Path, storage: Storage):
    await storage.write(lambda conn: conn.execute("CREATE TABLE t (x)"))
    await storage.write(lambda conn: conn.execute("INSERT INTO t VALUES (42)"))
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("SELECT x FROM t").fetchall() == [(42,)]
    finally:
        other.close()


async def test_explicit_transaction_rolls_back_on_error(storage: Storage):
    await storage.write(lambda conn: conn.execute("CREATE TABLE t (x)"))
    with pytest.raises(RuntimeError):
        async with storage.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("boom")
    async with storage.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES (2)")
    assert await storage.read(lambda conn: [row[0] for row in conn.execute("SELECT x FROM t")]) == [2]
