"""The command line, run as an operator runs it: ``python bot.py ...`` in a subprocess."""

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage import Repositories, Storage
from storage.db import load_migrations
from storage.ledger import Party

ROOT = Path(__file__).resolve().parents[1]


def bot(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_missing_config_file(tmp_path: Path):
    assert_one_line_error(bot("--config", str(tmp_path / "nope.toml"), "migrate"), "does not exist")


def test_unknown_key_and_wrong_type(tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text("[storage]\npaht = 'x'\n")
    assert_one_line_error(bot("--config", str(config), "migrate"), "unknown setting 'storage.paht'")
    config.write_text("[api]\nport = 'x'\n")
    assert_one_line_error(bot("--config", str(config), "migrate"), "setting 'api.port'")


def test_apikey_create_list_revoke(tmp_path: Path):
    db = str(tmp_path / "g.sqlite3")
    created = bot("--db", db, "apikey", "create", "website", "--guild", "11", "--guild", "12", "--read-only")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("gh_")

    listed = bot("--db", db, "apikey", "list")
    assert "website" in listed.stdout
    assert "read-only" in listed.stdout
    assert "11,12" in listed.stdout
    assert secret not in listed.stdout

    assert_one_line_error(bot("--db", db, "apikey", "create", "website"), "already exists")

    stored = sqlite3.connect(db).execute("SELECT key_hash FROM api_keys").fetchall()
    assert len(stored) == 1
    assert secret not in stored[0][0]

    assert bot("--db", db, "apikey", "revoke", "website").returncode == 0
    assert "revoked" in bot("--db", db, "apikey", "list").stdout
    assert_one_line_error(bot("--db", db, "apikey", "revoke", "website"), "no active API key")


async def test_created_key_authenticates_and_link_is_stored(tmp_path: Path):
    db = tmp_path / "g.sqlite3"
    secret = bot("--db", str(db), "apikey", "create", "site").stdout.strip().splitlines()[-1]
    linked = bot("--db", str(db), "link", "77", "--api-url", "https://site.example/api/v2/", "--api-key", "k1")
    assert linked.returncode == 0, linked.stderr
    assert_one_line_error(bot("--db", str(db), "link", "77", "--api-url", "ftp://x", "--api-key", "k"), "http(s)")
    storage = await Storage.open(db)
    try:
        repos = Repositories(storage)
        assert (await repos.api_keys.authenticate(secret)).name == "site"
        link = await repos.guild_links.get(77)
        assert (link.api_url, link.api_key) == ("https://site.example/api/v2", "k1")
    finally:
        await storage.close()


def test_migrate_and_refusal_of_a_newer_database(tmp_path: Path):
    db = tmp_path / "g.sqlite3"
    result = bot("--db", str(db), "migrate")
    assert result.returncode == 0
    assert f"schema version {max(m.version for m in load_migrations())}" in result.stdout
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    assert_one_line_error(bot("--db", str(db), "migrate"), "newer than this Guildhall")


async def test_backup_while_the_database_is_in_use_restores_every_row(tmp_path: Path):
    db = tmp_path / "g.sqlite3"
    storage = await Storage.open(db)
    repos = Repositories(storage)
    try:
        for number in range(50):
            await repos.api_keys.create(f"key{number}", now=number)
        # The bot keeps its connection open (and WAL pages uncheckpointed) while the backup runs.
        result = bot("--db", str(db), "backup", str(tmp_path / "copy.sqlite3"))
        assert result.returncode == 0, result.stderr
        assert_one_line_error(bot("--db", str(db), "backup", str(tmp_path / "copy.sqlite3")), "exists already")
    finally:
        await storage.close()
    restored = await Storage.open(tmp_path / "copy.sqlite3")
    try:
        assert await restored.integrity_check() == "ok"
        names = {key.name for key in await Repositories(restored).api_keys.list()}
        assert names == {f"key{number}" for number in range(50)}
    finally:
        await restored.close()


async def test_backup_during_concurrent_writes_is_consistent_and_restores(tmp_path: Path):
    db, copy = tmp_path / "g.sqlite3", tmp_path / "copy.sqlite3"
    storage = await Storage.open(db)
    repos = Repositories(storage)
    issuer = Party(1, 999)
    written = 0
    try:
        for number in range(300):
            await repos.ledger.transfer(
                issuer, Party(1, number % 7), 5, reason="seed", actor="t", now=number, issuer=issuer
            )
        done = asyncio.Event()

        async def writer() -> int:
            count = 0
            while not done.is_set():
                sender, receiver = Party(1, count % 7), Party(1, (count + 1) % 7)
                await asyncio.gather(
                    repos.ledger.transfer(issuer, sender, 3, reason=f"w{count}", actor="t", now=count, issuer=issuer),
                    repos.ledger.transfer(sender, receiver, 1, reason=f"g{count}", actor="t", now=count),
                )
                count += 1
            return count

        writing = asyncio.create_task(writer())
        backup = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bot.py"), "--db", str(db), "backup", str(copy),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(backup.communicate(), 60)
        done.set()
        written = await writing
        assert backup.returncode == 0, stderr.decode()
        original = await storage.read(lambda conn: conn.execute("SELECT * FROM ledger ORDER BY id").fetchall())
    finally:
        await storage.close()
    assert written > 0  # the writer really ran beside the backup

    restored = await Storage.open(copy)
    try:
        assert await restored.integrity_check() == "ok"
        repos = Repositories(restored)
        # One moment's snapshot: the copy's rows are the first rows of the original, each whole, and
        # every balance equals its rows (a copy torn between two writes would break that).
        rows = await restored.read(lambda conn: conn.execute("SELECT * FROM ledger ORDER BY id").fetchall())
        assert 300 <= len(rows) <= len(original)
        assert [tuple(row) for row in rows] == [tuple(row) for row in original[: len(rows)]]
        assert await repos.ledger.verify_balances() == []
        # The restored database is a working one.
        await repos.ledger.transfer(issuer, Party(1, 1), 1, reason="after restore", actor="t", now=1, issuer=issuer)
        assert await repos.ledger.verify_balances() == []
    finally:
        await restored.close()


def test_the_bot_runs_on_the_configured_event_loop(tmp_path: Path):
    import uvloop

    from core.config import Settings
    from guildhall.cli import main

    seen: list[asyncio.AbstractEventLoop] = []

    async def run(settings: Settings) -> None:
        seen.append(asyncio.get_running_loop())

    config = tmp_path / "c.toml"
    for kind in ("uvloop", "asyncio"):
        config.write_text(
            f'[discord]\ntoken = "t"\n[storage]\npath = "{tmp_path / "db.sqlite3"}"\n[runtime]\nevent_loop = "{kind}"\n'
        )
        assert main(["--config", str(config), "run"], run=run) == 0
    assert isinstance(seen[0], uvloop.Loop)
    assert not isinstance(seen[1], uvloop.Loop) and isinstance(seen[1], asyncio.BaseEventLoop)
    config.write_text('[runtime]\nevent_loop = "trio"\n')
    assert_one_line_error(bot("--config", str(config), "migrate"), "setting 'runtime.event_loop'")
