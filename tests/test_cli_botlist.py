"""``python bot.py botlist register BOT_ID``, run as an operator runs it."""

from pathlib import Path

from storage import Repositories, Storage
from tests.test_cli import assert_one_line_error, bot


async def test_register_a_bot_then_again(tmp_path: Path):
    db = str(tmp_path / "g.sqlite3")
    first = bot("--db", db, "botlist", "register", "125367104336691200")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "bot 125367104336691200 registered on the local bot list"
    again = bot("--db", db, "botlist", "register", "125367104336691200")
    assert again.stdout.strip() == "bot 125367104336691200 was already registered on the local bot list"
    storage = await Storage.open(db)
    try:
        listed = await Repositories(storage).botlist.get(125367104336691200)
    finally:
        await storage.close()
    assert listed is not None
    assert listed.registered_by == "cli"
    assert listed.guild_count is None


def test_register_refuses_a_bad_id(tmp_path: Path):
    db = str(tmp_path / "g.sqlite3")
    assert bot("--db", db, "migrate").returncode == 0
    assert_one_line_error(bot("--db", db, "botlist", "register", "0"), "BOT_ID")
