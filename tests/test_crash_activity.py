"""What a crash can cost text activity: at most the messages of the last moment, never older ones."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from core.clock import ManualClock
from fakediscord import FakeDiscord, default_world
from storage import Repositories, Storage
from tests.e2e.test_processes import free_port, read_until, spawn

GUILD = default_world().guilds[0].id
GENERAL = 1179000000000003001
DAX, EVE = 1179000000000000104, 1179000000000000105


async def test_sigkill_loses_no_message_older_than_one_flush(tmp_path: Path):
    db = tmp_path / "guildhall.sqlite3"
    async with FakeDiscord(default_world(), clock=ManualClock(), token="t0ken", quiet_period=0.3) as fake:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[storage]\npath = "{db}"\n[api]\nport = {free_port()}\n[logging]\naccess_log = false\n'
        )
        process = await spawn("--config", str(config), env={"DISCORD_TOKEN": "t0ken"})
        try:
            lines = await read_until(process.stderr, "ready as")
            # Once ready, the start-up heap leaves the garbage collector's full passes (no long pauses).
            if not any("froze" in line for line in lines):
                await read_until(process.stderr, "froze")
            for n in range(30):
                await fake.message(GUILD, GENERAL, (DAX, EVE)[n % 2], f"before the crash {n}", settle=False)
            await fake.quiet()  # the bot read them all and went quiet for 0.3 s: far more than one flush (20 ms)
        finally:
            process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == -signal.SIGKILL
    storage = await Storage.open(db)
    try:
        repos = Repositories(storage)
        counts = [(await repos.members.get(GUILD, user)).message_count for user in (DAX, EVE)]
        assert counts == [15, 15]
    finally:
        await storage.close()
