"""Fast bulk seeding of a benchmark database: one guild's profiles, ledger rows and message events.

The database is migrated by :class:`storage.Storage` first; the rows then go in through one plain
``sqlite3`` connection in large transactions, generated inside SQLite (recursive CTEs) with the
table's secondary indexes dropped during the load and rebuilt from their own ``CREATE INDEX``
text afterwards (a sorted build instead of millions of random B-tree inserts). Benchmark data only:
the running bot never seeds like this.

Shapes: members ``USER_BASE + i`` in :data:`GUILD`; the bot (:data:`BOT_ID`) is the issuer and
pays every ledger row (``self`` → member), so every balance equals its ledger rows; message
events spread over the last 30 days, with their per-day totals.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

GUILD = 100_000_000_000_000_001
BOT_ID = 200_000_000_000_000_001
USER_BASE = 300_000_000_000_000_000
CHANNEL = 400_000_000_000_000_001
DAY = 86_400


def vp_id(guild_id: int, user_id: int) -> str:
    return hashlib.sha256(f"{guild_id}:{user_id}".encode()).hexdigest()


def user(index: int) -> int:
    return USER_BASE + index


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    # A throwaway benchmark database, loaded once: no journal while loading (a multi-GB WAL would
    # be written twice); ``seed`` puts it back in WAL mode, as Guildhall runs it, when done.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -524288")  # 512 MiB
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA threads = 2")  # index builds sort with a helper thread on the second core
    return conn


class _IndexesDropped:
    """Drop ``table``'s secondary indexes for a bulk load and rebuild them afterwards."""

    def __init__(self, conn: sqlite3.Connection, table: str) -> None:
        self.conn = conn
        self.table = table
        self.sql: list[tuple[str, str]] = []

    def __enter__(self) -> None:
        rows = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (self.table,),
        ).fetchall()
        self.sql = [(name, sql) for name, sql in rows]
        for name, _ in self.sql:
            self.conn.execute(f'DROP INDEX "{name}"')

    def __exit__(self, *exc: object) -> None:
        for _, sql in self.sql:
            self.conn.execute(sql)


def seed_profiles(conn: sqlite3.Connection, upto: int, now: int) -> None:
    """Members ``0 .. upto-1`` of :data:`GUILD` (those missing), with varied stats, and the bot's profile."""
    have = conn.execute("SELECT COUNT(*) FROM members WHERE guild_id = ? AND user_id != ?", (GUILD, BOT_ID)).fetchone()
    start = have[0]
    if start >= upto:
        return
    conn.execute("BEGIN")
    conn.execute(
        "INSERT OR IGNORE INTO members (guild_id, user_id, vp_id, is_bot, created_at, updated_at)"
        " VALUES (?, ?, ?, 1, ?, ?)",
        (GUILD, BOT_ID, vp_id(GUILD, BOT_ID), now, now),
    )
    with _IndexesDropped(conn, "members"):
        batch = 100_000
        for first in range(start, upto, batch):
            rows = [
                (
                    GUILD,
                    user(i),
                    vp_id(GUILD, user(i)),
                    1 + (i * 7919) % 60,
                    (i * 104_729) % 5000,
                    1,
                    (i * 31) % 40,
                    (i * 131) % 900,
                    (i * 17) % 20_000,
                    (i * 7_777) % 2_000_000,
                    now,
                    now,
                )
                for i in range(first, min(upto, first + batch))
            ]
            conn.executemany(
                "INSERT INTO members (guild_id, user_id, vp_id, level, experience, has_text, text_level,"
                " text_experience, message_count, voice_seconds, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    conn.execute("COMMIT")


def seed_ledger(conn: sqlite3.Connection, upto: int, profiles: int, now: int) -> None:
    """Ledger rows (bot → member ``n % profiles``), spread over 90 days, and the balances they make."""
    start = conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
    if start >= upto:
        return
    conn.execute("BEGIN")
    with _IndexesDropped(conn, "ledger"):
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
            " INSERT INTO ledger (from_guild_id, from_user_id, to_guild_id, to_user_id, amount, reason, actor,"
            " created_at)"
            " SELECT ?, ?, ?, ? + (i * 2654435761) % ?, 1 + i % 50, 'bench', 'bench', ? - (i * 7919) % ? FROM n",
            (start, upto, GUILD, BOT_ID, GUILD, USER_BASE, profiles, now, 90 * DAY),
        )
        # One sorted pass over the ledger, before its indexes are back: a lookup per member would
        # read each member's rows from all over the table.
        conn.execute(
            "UPDATE members SET voicepoints = received.total FROM (SELECT to_user_id, SUM(amount) AS total"
            " FROM ledger WHERE to_guild_id = ? GROUP BY to_user_id) AS received"
            " WHERE members.guild_id = ? AND members.user_id = received.to_user_id AND members.user_id != ?",
            (GUILD, GUILD, BOT_ID),
        )
    conn.execute(
        "UPDATE members SET voicepoints = -(SELECT COALESCE(SUM(amount), 0) FROM ledger"
        " WHERE from_guild_id = ? AND from_user_id = ?) WHERE guild_id = ? AND user_id = ?",
        (GUILD, BOT_ID, GUILD, BOT_ID),
    )
    conn.execute("COMMIT")


def seed_message_events(conn: sqlite3.Connection, upto: int, profiles: int, now: int) -> None:
    """Message events over the last 30 days and their per-day totals; the module switched on."""
    start = conn.execute("SELECT COUNT(*) FROM serverstats_events").fetchone()[0]
    conn.execute("BEGIN")
    conn.execute(
        "INSERT OR IGNORE INTO serverstats_settings (guild_id, enabled, settings, updated_at) VALUES (?, 1, '{}', ?)",
        (GUILD, now),
    )
    if start < upto:
        with _IndexesDropped(conn, "serverstats_events"):
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
                " INSERT INTO serverstats_events (guild_id, kind, user_id, channel_id, ref_id, created_at)"
                " SELECT ?, 'message', ? + (i * 2654435761) % ?, ? + i % 20, i, ? - (i * 7919) % ? FROM n",
                (start, upto, GUILD, USER_BASE, profiles, CHANNEL, now, 30 * DAY),
            )
        conn.execute("DELETE FROM serverstats_daily WHERE guild_id = ? AND kind = 'message'", (GUILD,))
        conn.execute(
            "INSERT INTO serverstats_daily (guild_id, kind, day, count)"
            " SELECT guild_id, kind, created_at / ? * ?, COUNT(*) FROM serverstats_events"
            " WHERE guild_id = ? AND kind = 'message' GROUP BY created_at / ?",
            (DAY, DAY, GUILD, DAY),
        )
    conn.execute("COMMIT")


def seed(path: Path, *, profiles: int, ledger_rows: int, events: int, now: int) -> None:
    """Grow the (already migrated) database at ``path`` to these sizes, then ``ANALYZE`` it."""
    conn = connect(path)
    try:
        seed_profiles(conn, profiles, now)
        seed_ledger(conn, ledger_rows, profiles, now)
        seed_message_events(conn, events, profiles, now)
        conn.execute("PRAGMA analysis_limit = 1000")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
