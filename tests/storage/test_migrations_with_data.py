"""Upgrading keeps data: every migration applied to a database of the first release, full of rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage import Repositories, Storage
from storage.db import load_migrations

RELEASE1 = Path(__file__).parent / "data" / "release1.sql"
RELEASE1_TABLES = ("api_keys", "api_key_guilds", "guild_settings", "bot_state", "guild_links")
GUILD_ONE, GUILD_TWO = 1179000000000000001, 1179000000000000002


def restore_release1(path: Path) -> dict[str, list[tuple]]:
    """Build the first release's database from the dump; return its rows table by table."""
    with sqlite3.connect(path) as conn:
        conn.executescript(RELEASE1.read_text(encoding="utf-8"))
        assert [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == [1, 2]
        rows = {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall()) for table in RELEASE1_TABLES}
    conn.close()
    return rows


async def test_every_row_of_the_first_release_survives_all_migrations(tmp_path: Path):
    db = tmp_path / "release1.sqlite3"
    before = restore_release1(db)
    assert all(before.values())  # the dump has rows in every table

    storage = await Storage.open(db)  # opening migrates, as an upgraded bot does at startup
    try:
        latest = max(migration.version for migration in load_migrations())
        assert latest > 2
        assert await storage.schema_version() == latest
        assert await storage.integrity_check() == "ok"
        after = await storage.read(
            lambda conn: {
                table: sorted(tuple(row) for row in conn.execute(f"SELECT * FROM {table}")) for table in RELEASE1_TABLES
            }
        )
        for table in RELEASE1_TABLES:
            # Later migrations may add columns; the first release's columns keep their values.
            assert [row[: len(before[table][0])] for row in after[table]] == before[table], table
        assert await storage.read(lambda conn: conn.execute("PRAGMA foreign_key_check").fetchall()) == []

        # The kept rows still work through the repositories of today.
        repos = Repositories(storage)
        website = await repos.api_keys.authenticate("gh_release1_website_secret_0001")
        assert website is not None and website.name == "website" and website.guild_ids == frozenset({GUILD_ONE})
        dashboard = await repos.api_keys.authenticate("gh_release1_dashboard_secret_0003")
        assert dashboard is not None and dashboard.read_only
        companion = await repos.api_keys.authenticate("gh_release1_companion_secret_0002")
        assert companion is not None and companion.bot_user_id == 1179000000000000201
        assert await repos.api_keys.authenticate("gh_release1_oldsite_secret_0004") is None  # revoked stays revoked
        link = await repos.guild_links.get(GUILD_TWO)
        assert link is not None
        assert (link.api_url, link.api_key) == ("https://forum.example.net/api/v2", "nameless-key-guild-two")
        assert await repos.guild_settings.get(GUILD_ONE, "voice") == {"points_per_minute": 2, "count_alone": False}
        assert await repos.bot_state.get("sandbox_api_key") == "gh_release1_sandbox_secret_0005"

        # And the upgraded database takes new data beside the old.
        await repos.guild_links.put(GUILD_ONE + 5, "https://new.example/api/v2", "k", now=1764150000)
        assert len(await repos.api_keys.list()) == 4
    finally:
        await storage.close()

    # Opening it again applies nothing more and changes nothing.
    reopened = await Storage.open(db)
    try:
        assert await reopened.migrate() == []
        assert (await Repositories(reopened).guild_links.get(GUILD_ONE)).api_key == "nameless-key-guild-one"
    finally:
        await reopened.close()


async def test_ledger_rows_keep_their_parties_when_the_stored_vp_ids_go(tmp_path: Path):
    """Migration 0010 drops the ledger's vp id columns: the rows read back the same, vp ids included."""
    from core.members import vp_id
    from storage.db import _apply_migration
    from storage.ledger import LedgerFilter

    db = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    for migration in load_migrations():
        if migration.version < 10:
            _apply_migration(conn, migration)
    members = [(GUILD_ONE, 0, 1), (GUILD_ONE, 7, 0), (GUILD_ONE, 8, 0)]  # the tombstone and two members
    conn.executemany(
        "INSERT INTO members (guild_id, user_id, vp_id, is_bot, created_at, updated_at) VALUES (?, ?, ?, ?, 1, 1)",
        [(g, u, vp_id(g, u), bot) for g, u, bot in members],
    )
    rows = [(GUILD_ONE, 7, GUILD_ONE, 8, 5), (GUILD_ONE, 0, GUILD_ONE, 7, 3)]
    conn.executemany(
        "INSERT INTO ledger (from_guild_id, from_user_id, from_vp_id, to_guild_id, to_user_id, to_vp_id, amount,"
        " reason, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'r', 'a', 1)",
        [(fg, fu, vp_id(fg, fu), tg, tu, vp_id(tg, tu), amount) for fg, fu, tg, tu, amount in rows],
    )
    conn.close()

    storage = await Storage.open(db)
    try:
        columns = await storage.read(lambda conn: [row[1] for row in conn.execute("PRAGMA table_info(ledger)")])
        assert "from_vp_id" not in columns and "to_vp_id" not in columns
        ledger = Repositories(storage).ledger
        entries = await ledger.search(LedgerFilter(), limit=0, offset=0)
        assert sorted((e.source_vp_id, e.target_vp_id, e.amount) for e in entries) == sorted(
            (vp_id(fg, fu), vp_id(tg, tu), amount) for fg, fu, tg, tu, amount in rows
        )
        found = await ledger.search(LedgerFilter(vp_id=vp_id(GUILD_ONE, 7)), limit=0, offset=0)
        assert sorted(e.amount for e in found) == [3, 5]
        assert [e.amount for e in await ledger.search(LedgerFilter(source=vp_id(GUILD_ONE, 0)), limit=0, offset=0)] == [
            3
        ]
    finally:
        await storage.close()
