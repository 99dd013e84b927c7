"""The command line, run as an operator runs it: ``python bot.py ...`` in a subprocess."""

import sqlite3
import subprocess
import sys
from pathlib import Path

from storage import Repositories, Storage
from storage.db import load_migrations

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
