"""The process as an operator runs it: sandbox from the command line, a rejected token, doctor."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from core.clock import ManualClock
from fakediscord import FakeDiscord, default_world
from guildhall.doctor import diagnose
from storage import Repositories, Storage
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def spawn(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bot.py"),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
    )


async def read_until(stream: asyncio.StreamReader, marker: str, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while not lines or marker not in lines[-1]:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"stream ended before {marker!r}: {lines}")
            lines.append(line.decode().rstrip("\n"))
    return lines


async def test_no_token_runs_the_sandbox_and_about_answers(tmp_path: Path):
    api_port, discord_port = free_port(), free_port()
    db = tmp_path / "sandbox.sqlite3"
    process = await spawn("--db", str(db), "sandbox", "--api-port", str(api_port), "--discord-port", str(discord_port))
    try:
        banner = await read_until(process.stdout, "Press Ctrl+C")
        text = "\n".join(banner)
        assert f"http://127.0.0.1:{api_port}" in text
        assert f"http://127.0.0.1:{discord_port}/_control/state" in text
        key = next(line.split()[-1] for line in banner if "API key:" in line)
        website_key = next(line.split()[-1] for line in banner if "Website:" in line)
        world = default_world()
        guild = world.guilds[0]
        assert str(guild.id) in text
        general = next(channel.id for channel in guild.channels if channel.name == "general")
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"http://127.0.0.1:{discord_port}/_control/command",
                json={"guild_id": guild.id, "channel_id": general, "user_id": guild.owner_id, "name": "about"},
            ) as response:
                assert response.status == 200
                [reply] = (await response.json())["responses"]
            assert reply["ephemeral"] is True
            assert reply["embeds"][0]["title"] == "Guildhall"
            async with session.get(f"http://127.0.0.1:{api_port}/healthz", headers={"Authorization": key}) as health:
                assert (await health.json())["ready"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0
    storage = await Storage.open(db)
    try:
        link = await Repositories(storage).guild_links.get(default_world().guilds[0].id)
        assert link.api_key == website_key
    finally:
        await storage.close()
    stderr = (await process.stderr.read()).decode()
    assert "Traceback" not in stderr


async def test_a_rejected_token_is_one_line_and_a_nonzero_exit(tmp_path: Path):
    async with FakeDiscord(default_world(), clock=ManualClock(), token="the-right-token") as fake:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[storage]\npath = "{tmp_path / "g.sqlite3"}"\n[api]\nport = {free_port()}\n'
        )
        process = await spawn("--config", str(config), env={"DISCORD_TOKEN": "a-wrong-token"})
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    errors = [line for line in stderr.decode().splitlines() if line.startswith("error:")]
    assert errors == ["error: Discord rejected the token (401 Unauthorized): check DISCORD_TOKEN"]
    assert "Traceback" not in stderr.decode()


async def test_doctor_names_what_to_fix(tmp_path: Path):
    world = default_world()
    async with FakeDiscord(world, clock=ManualClock(), token="t0ken") as fake:
        settings = make_settings(
            tmp_path / "g.sqlite3",
            discord={"token": "t0ken", "api_base": fake.api_base, "gateway_url": fake.gateway_url},
        )
        with fake.patched_discord():
            report = await diagnose(settings)
    assert any("token accepted" in line for line in report.ok)
    # The fake application has no privileged intents switched on in the portal.
    assert any(line.startswith("Server Members Intent is off") for line in report.problems)
    assert any(line.startswith("Message Content Intent is off") for line in report.problems)
    guild = world.guilds[0]
    above = [role.name for role in guild.roles if role.name in ("Moderator", "Admin")]
    role_problem = next(line for line in report.problems if "is below" in line)
    for name in above:
        assert name in role_problem
    assert "Drag the bot's role above them" in role_problem
