"""/privacy against fakediscord: every table holding member data is reached, opt-out stops collection."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from guildhall.sandbox import Sandbox
from tests.conftest import make_settings
from tests.e2e.conftest import Ids, assert_healthy, start

USER_COLUMN = re.compile(r"^(\w+_)?(user|author|member|giver|creator|owner|voter|target)_id$")
# Columns with a user id that is not a member's data in a guild, and why.
NOT_MEMBER_DATA = {
    ("api_keys", "bot_user_id"): "the bot an API key acts as, not a guild member",
    ("privacy_optouts", "user_id"): "the opt-out itself is kept so collection stays stopped",
}
OTHER_USER = 1179000000000000777


def member_columns(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(table, user column, guild column) for every guild-scoped user-id column in the schema."""
    found = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
        for column in columns:
            match = USER_COLUMN.match(column)
            if not match or (table, column) in NOT_MEMBER_DATA:
                continue
            prefix = match.group(1) or ""
            guild_column = f"{prefix}guild_id" if f"{prefix}guild_id" in columns else "guild_id"
            assert guild_column in columns, f"{table}.{column} holds a user id with no guild: classify it"
            found.append((table, column, guild_column))
    return found


def insert_row(conn: sqlite3.Connection, table: str, user_column: str, guild_id: int, user_id: int) -> None:
    """A row naming the member in ``user_column`` (an existing one serves); other columns filled generically."""
    create_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    info = list(conn.execute(f'PRAGMA table_info("{table}")'))
    single_integer_key = [row for row in info if row[5]] and len([row for row in info if row[5]]) == 1
    values: dict[str, object] = {}
    for _, name, kind, notnull, default, pk in info:
        if name == user_column:
            values[name] = user_id
        elif name.endswith("guild_id"):
            values[name] = guild_id
        elif USER_COLUMN.match(name):
            values[name] = OTHER_USER
        elif pk and single_integer_key and "INT" in kind.upper():
            continue
        elif notnull and default is None:
            choice = re.search(rf"\b{name}\s+IN\s*\(\s*'([^']*)'", create_sql)
            if choice:
                values[name] = choice.group(1)
            elif "INT" in kind.upper() or "REAL" in kind.upper():
                values[name] = 1
            else:
                values[name] = "{}"
    names = ", ".join(f'"{n}"' for n in values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({marks})', list(values.values()))


def rows_about(conn: sqlite3.Connection, columns, guild_id: int, user_id: int) -> dict[str, int]:
    counts = {}
    for table, user_column, guild_column in columns:
        sql = f'SELECT COUNT(*) FROM "{table}" WHERE "{user_column}" = ? AND "{guild_column}" = ?'
        counts[f"{table}.{user_column}"] = conn.execute(sql, (user_id, guild_id)).fetchone()[0]
    return counts


async def test_privacy_delete_reaches_every_table_with_member_data(sandbox: Sandbox, ids: Ids, db_path: Path):
    user = ids.member
    await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats enable", {})
    await sandbox.fake.message(ids.guild, ids.general, user, "hello")  # recorded by the bot itself
    conn = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        columns = member_columns(conn)
        assert ("serverstats_events", "user_id", "guild_id") in columns
        for table, user_column, _ in columns:
            insert_row(conn, table, user_column, ids.guild, user)
        before = rows_about(conn, columns, ids.guild, user)
        assert all(count >= 1 for count in before.values()), before

        data = await sandbox.fake.command(ids.guild, ids.general, user, "privacy data", {})
        listing = data["responses"][-1]["content"]
        assert "server statistics events: 2" in listing
        preview = await sandbox.fake.command(ids.guild, ids.general, user, "privacy delete", {})
        assert "confirm:True" in preview["responses"][-1]["content"]
        assert rows_about(conn, columns, ids.guild, user) == before  # nothing deleted without confirmation

        await sandbox.fake.command(ids.guild, ids.general, user, "privacy delete", {"confirm": True})
        after = rows_about(conn, columns, ids.guild, user)
        assert {name: count for name, count in after.items() if count} == {}
        # Another member's data in the same guild is untouched (the owner's /serverstats enable).
        assert await sandbox.repos.serverstats.count_user_data(ids.guild, ids.owner) == 1
    finally:
        conn.close()
    assert_healthy(sandbox)


async def test_opting_out_stops_collection(sandbox: Sandbox, ids: Ids):
    user = ids.member
    await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats enable", {})
    await sandbox.fake.message(ids.guild, ids.general, user, "counted")
    answer = await sandbox.fake.command(ids.guild, ids.general, user, "privacy optout", {})
    assert "Nothing more" in answer["responses"][-1]["content"]
    assert await sandbox.repos.privacy.is_opted_out(ids.guild, user)
    await sandbox.fake.message(ids.guild, ids.general, user, "not counted")
    await sandbox.fake.command(ids.guild, ids.general, user, "about", {})
    assert await sandbox.repos.serverstats.count_user_data(ids.guild, user) == 1
    # Other members are still counted; /privacy itself never is.
    await sandbox.fake.message(ids.guild, ids.general, ids.owner, "counted too")
    assert await sandbox.repos.serverstats.count_user_data(ids.guild, ids.owner) == 2  # enable + message
    data = await sandbox.fake.command(ids.guild, ids.general, user, "privacy data", {})
    assert "Collection: stopped" in data["responses"][-1]["content"]
    assert_healthy(sandbox)


async def test_a_guild_the_bot_left_is_purged_after_the_grace_period(world, db_path: Path, ids: Ids):
    settings = make_settings(
        db_path,
        logging={"access_log": False},
        privacy={"guild_purge_days": 1, "purge_check_interval": 600},
        serverstats={"counter_interval": 3600},
    )
    async with start(world, settings, db_path) as sandbox:
        await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats enable", {})
        await sandbox.fake.message(ids.guild, ids.general, ids.member, "hello")
        assert await sandbox.repos.serverstats.count_user_data(ids.guild, ids.member) == 1
        # Removed and added back within the grace period: nothing is purged.
        await sandbox.fake.bot_removed(ids.guild)
        assert ids.guild in await sandbox.repos.privacy.pending_departures()
        await sandbox.fake.bot_added(ids.guild, "Back again")
        assert await sandbox.repos.privacy.pending_departures() == {}
        await sandbox.fake.advance_clock(86_400 + 1200)
        assert await sandbox.repos.serverstats.count_user_data(ids.guild, ids.member) == 1
        # Removed for good: once the grace period has passed, the guild's data is gone.
        await sandbox.fake.bot_removed(ids.guild)
        await sandbox.fake.advance_clock(43_200)
        assert await sandbox.repos.serverstats.get(ids.guild) is not None
        await sandbox.fake.advance_clock(43_200 + 1200)
        assert await sandbox.repos.serverstats.get(ids.guild) is None
        assert await sandbox.repos.serverstats.count_user_data(ids.guild, ids.member) == 0
        assert await sandbox.repos.privacy.pending_departures() == {}
        assert_healthy(sandbox)
