"""Discord misbehaving: dropped gateways, invalid sessions, 429s and 5xx, Discord down at startup.

Everything goes through fakediscord's fault, disconnect and outage controls; the bot and the API are
the real ones, with their default timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.clock import ManualClock
from core.config import Settings
from fakediscord import FakeDiscord, World, default_world, validate_rest_log
from guildhall.bot import LOGIN_RETRY_MAX
from guildhall.sandbox import Sandbox, open_sandbox
from storage.ledger import Party
from tests.conftest import make_settings
from tests.e2e.conftest import DISCORD_SPEC, FailingBot, Ids, assert_healthy
from tests.e2e.nameless_site import NamelessSite
from tests.e2e.test_processes import free_port, read_until, spawn

BRAM, CLEO, DAX, EVE = 1179000000000000102, 1179000000000000103, 1179000000000000104, 1179000000000000105
LOUNGE = 1179000000000003021
ROLE_PUT = r"/guilds/\d+/members/\d+/roles/\d+"
ANSWER_WITHIN = 5.0


@pytest.fixture
def e2e_settings(db_path: Path) -> Settings:
    # The link's default Discord timeouts: the 5 s promise holds for the shipped configuration.
    return make_settings(db_path, logging={"access_log": False}, link={"allow_private_targets": True})


@pytest.fixture
async def site() -> AsyncIterator[NamelessSite]:
    site = NamelessSite()
    await site.start()
    yield site
    await site.stop()


async def link_guild(sandbox: Sandbox, ids: Ids, site: NamelessSite) -> None:
    await sandbox.repos.guild_links.put(ids.guild, site.api_url, site.api_key, now=int(sandbox.clock.time()))


async def call(
    sandbox: Sandbox, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, str, float]:
    """(status, body text, seconds it took to answer)."""
    headers = {"Authorization": key} if key else {}
    started = time.monotonic()
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{sandbox.api.url}{path}", json=body, headers=headers) as response,
    ):
        text = await response.text()
    return response.status, text, time.monotonic() - started


async def voice_seconds(sandbox: Sandbox, ids: Ids, user: int) -> int:
    member = await sandbox.repos.members.get(ids.guild, user)
    return 0 if member is None else member.voice_seconds


def roles_of(sandbox: Sandbox, guild_id: int, user_id: int) -> set[int]:
    [guild] = [g for g in sandbox.fake.state()["guilds"] if g["id"] == str(guild_id)]
    [member] = [m for m in guild["members"] if m["id"] == str(user_id)]
    return {int(role) for role in member["roles"]}


def role_changes(ids: Ids, site: NamelessSite, *items: tuple[int, int, str]) -> dict[str, Any]:
    changes = [{"user_id": str(user), "role_id": str(role), "action": action} for user, role, action in items]
    return {"guild_id": str(ids.guild), "api_key": site.api_key, "role_changes": changes}


def direct_message(ids: Ids, site: NamelessSite, user: int, message: str) -> dict[str, Any]:
    return {"guild_id": str(ids.guild), "user_id": str(user), "api_key": site.api_key, "message": message}


# --- the gateway ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def bot_sees(sandbox: Sandbox, event: str) -> AsyncIterator[None]:
    """Wait, after the block, until the bot has dispatched ``on_<event>`` (a close or a delayed READY
    reaches it a moment after the fake's control call returned) and handled what followed."""
    happened = asyncio.Event()

    async def listener(*_: Any) -> None:
        happened.set()

    sandbox.bot.add_listener(listener, f"on_{event}")
    try:
        yield
        await asyncio.wait_for(happened.wait(), 10)
    finally:
        sandbox.bot.remove_listener(listener, f"on_{event}")
    await sandbox.fake.settled()


async def test_gateway_dropped_mid_voice_session_neither_loses_nor_doubles_time(sandbox: Sandbox, ids: Ids):
    fake = sandbox.fake
    await fake.voice(ids.guild, DAX, LOUNGE)
    await fake.voice(ids.guild, EVE, LOUNGE)
    await fake.advance_clock(40)  # inside the first flush interval (flushes at 60, 120, ...): nothing stored yet
    assert await voice_seconds(sandbox, ids, DAX) == 0
    await fake.disconnect(resume=True)  # the 40 s before the drop are kept, the resume replays nothing new
    await fake.advance_clock(80)
    assert await voice_seconds(sandbox, ids, DAX) == 120
    assert await voice_seconds(sandbox, ids, EVE) == 120

    # Down for two minutes; eve leaves meanwhile. The resume replays her leave: the outage counts for
    # nobody, and dax, alone afterwards, earns nothing more.
    await fake.advance_clock(10)
    async with bot_sees(sandbox, "disconnect"):
        await fake.set_outage(True)
    await fake.voice(ids.guild, EVE, None)
    await fake.advance_clock(120)
    assert await voice_seconds(sandbox, ids, DAX) == 130
    await fake.set_outage(False)
    await fake.advance_clock(120)
    assert await voice_seconds(sandbox, ids, DAX) == 130
    assert await voice_seconds(sandbox, ids, EVE) == 130
    assert await sandbox.repos.ledger.verify_balances() == []
    assert_healthy(sandbox)


async def test_invalid_session_mid_voice_session_counts_once(sandbox: Sandbox, ids: Ids):
    fake = sandbox.fake
    identifies = fake.gateway.identify_count
    await fake.voice(ids.guild, DAX, LOUNGE)
    await fake.voice(ids.guild, EVE, LOUNGE)
    await fake.advance_clock(45)
    async with bot_sees(sandbox, "ready"):
        await fake.disconnect(resume=False)  # a fresh identify: sessions restart from the new READY's voice states
    assert fake.gateway.identify_count == identifies + 1
    await fake.advance_clock(75)  # flushes at 60 and 120
    assert await voice_seconds(sandbox, ids, DAX) == 120
    assert await voice_seconds(sandbox, ids, EVE) == 120
    await fake.voice(ids.guild, EVE, None)
    await fake.advance_clock(60)
    assert await voice_seconds(sandbox, ids, DAX) == 120
    assert_healthy(sandbox)


# --- REST faults on role changes and DMs ----------------------------------------------------------


async def test_rest_429_and_5xx_on_roles_and_dms_answer_within_5_s(sandbox: Sandbox, ids: Ids, site: NamelessSite):
    await link_guild(sandbox, ids, site)
    verified, member = ids.roles["Verified"], ids.roles["Member"]
    fake = sandbox.fake
    fake.fault("PUT", rf"/guilds/\d+/members/{CLEO}/roles/\d+", status=502, code=0, count=50)
    fake.fault("PUT", rf"/guilds/\d+/members/{EVE}/roles/\d+", status=429, retry_after=120.0)
    items = [(BRAM, member, "remove"), (CLEO, verified, "add"), (EVE, verified, "add")]
    status, text, took = await call(sandbox, "POST", "/applyRoleChanges", role_changes(ids, site, *items))
    assert took < ANSWER_WITHIN
    assert status == 200
    assert [(item["user_id"], item["status"]) for item in json.loads(text)["role_changes"]] == [
        (str(BRAM), "removed"),
        (str(CLEO), "error"),
        (str(EVE), "error"),
    ]
    assert member not in roles_of(sandbox, ids.guild, BRAM)
    assert verified not in roles_of(sandbox, ids.guild, CLEO) | roles_of(sandbox, ids.guild, EVE)

    fake.fault("POST", r"/channels/\d+/messages", status=429, retry_after=90.0)
    status, text, took = await call(sandbox, "POST", "/sendDirectMessage", direct_message(ids, site, BRAM, "one"))
    assert (status, text) == (503, "Discord is rate limiting the bot; the message was not sent")
    assert took < ANSWER_WITHIN
    fake.fault("POST", r"/channels/\d+/messages", status=500, code=0, count=50)
    status, text, took = await call(sandbox, "POST", "/sendDirectMessage", direct_message(ids, site, BRAM, "two"))
    assert (status, text) == (503, "Discord is unreachable; the message was not sent")
    assert took < ANSWER_WITHIN
    assert fake.state()["dms"].get(str(BRAM), []) == []

    fake.faults.clear()
    status, text, _ = await call(sandbox, "POST", "/sendDirectMessage", direct_message(ids, site, BRAM, "three"))
    assert (status, text) == (200, "Message sent")
    assert [message["content"] for message in fake.state()["dms"][str(BRAM)]] == ["three"]
    await fake.settled()
    assert_healthy(sandbox)


# --- Discord unreachable at startup ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def down_at_start(world: World, settings: Settings, db_path: Path) -> AsyncIterator[Sandbox]:
    async with open_sandbox(settings, world=world, db_path=db_path, bot_cls=FailingBot, discord_down=True) as running:
        yield running
    assert validate_rest_log(running.fake.rest_log, DISCORD_SPEC) == []


async def connected_when_back(sandbox: Sandbox) -> None:
    """Lift the outage and move the clock past the login backoff until the bot is ready."""
    await sandbox.fake.set_outage(False)
    for _ in range(10):
        await sandbox.fake.advance_clock(LOGIN_RETRY_MAX)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sandbox.bot.wait_until_ready(), 2)
            await sandbox.fake.settled()
            return
    raise AssertionError("the bot did not connect after Discord came back")


async def test_discord_down_at_startup_serves_reads_and_connects_when_back(
    world: World, e2e_settings: Settings, db_path: Path, ids: Ids, site: NamelessSite
):
    async with down_at_start(world, e2e_settings, db_path) as sandbox:
        fake, repos = sandbox.fake, sandbox.repos
        await fake.wait_for_request("GET", r"^/users/@me$")  # the first login was refused
        assert [call.status for call in fake.find_requests("GET", r"^/users/@me$")] == [503]
        assert not sandbox.bot.is_ready() and not sandbox.bot_task.done()
        now = int(sandbox.clock.time())
        _, key = await repos.api_keys.create("ops", now=now)
        await repos.ledger.adjust(
            Party(ids.guild, DAX),
            Party(ids.guild, 1),
            delta=70,
            reason="before the outage",
            actor="test",
            now=now,
        )
        await link_guild(sandbox, ids, site)

        # Reads are served from storage.
        status, text, _ = await call(sandbox, "GET", f"/profile/{ids.guild}/{DAX}", key=key)
        assert status == 200 and json.loads(text)["voicepoints"] == 70
        status, text, _ = await call(sandbox, "GET", "/healthz")
        assert status == 503
        health = json.loads(text)
        assert "p99" in health.pop("loop_lag_ms")
        assert health == {"live": True, "ready": False, "checks": {"gateway": False, "database": True}}

        # Routes that need Discord say so at once, in their family's envelope, and change nothing.
        verified = ids.roles["Verified"]
        status, text, took = await call(
            sandbox, "POST", "/applyRoleChanges", role_changes(ids, site, (EVE, verified, "add"))
        )
        assert status == 503 and json.loads(text)["status"] == "error" and took < 2
        status, text, took = await call(sandbox, "POST", "/sendDirectMessage", direct_message(ids, site, BRAM, "hi"))
        assert (status, text) == (503, "Discord is unreachable; the message was not sent") and took < 2
        status, text, took = await call(
            sandbox, "POST", "/modules/serverstats/enable", {"guild_id": str(ids.guild)}, key=key
        )
        body = json.loads(text)
        assert status == 503 and body["success"] is False and body["error"]["code"] == 804 and took < 2
        assert "unreachable" in body["error"]["message"]
        assert await repos.serverstats.get(ids.guild) is None
        assert fake.find_requests("PUT", ROLE_PUT) == []

        await connected_when_back(sandbox)
        assert sandbox.bot.gateway_connected
        assert fake.find_requests("PUT", r"/applications/\d+/commands")  # setup ran once Discord was back
        status, text, _ = await call(sandbox, "GET", "/healthz")
        assert status == 200
        status, text, _ = await call(
            sandbox, "POST", "/applyRoleChanges", role_changes(ids, site, (EVE, verified, "add"))
        )
        assert [item["status"] for item in json.loads(text)["role_changes"]] == ["added"]
        assert roles_of(sandbox, ids.guild, EVE) == {verified}
        await fake.settled()
        assert_healthy(sandbox)


async def test_the_run_command_waits_for_discord_and_serves_meanwhile(tmp_path: Path):
    async with FakeDiscord(default_world(), clock=ManualClock(), token="t0ken") as fake:
        await fake.set_outage(True)
        api_port = free_port()
        config = tmp_path / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[storage]\npath = "{tmp_path / "g.sqlite3"}"\n[api]\nport = {api_port}\n'
        )
        process = await spawn("--config", str(config), env={"DISCORD_TOKEN": "t0ken"})
        try:
            # The API listens before the first login; the login fails and is retried, the process stays up.
            await read_until(process.stderr, "Discord is unreachable")
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{api_port}/healthz") as response:
                    assert response.status == 503
                    health = await response.json()
                    assert "p99" in health.pop("loop_lag_ms")
                    assert health == {
                        "live": True,
                        "ready": False,
                        "checks": {"gateway": False, "database": True},
                    }
                await fake.set_outage(False)
                await read_until(process.stderr, "ready as")
                async with session.get(f"http://127.0.0.1:{api_port}/healthz") as response:
                    assert response.status == 200
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert "Traceback" not in stderr.decode()


async def test_a_stop_while_discord_is_still_down_exits_cleanly(tmp_path: Path):
    async with FakeDiscord(default_world(), clock=ManualClock(), token="t0ken") as fake:
        await fake.set_outage(True)
        config = tmp_path / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[storage]\npath = "{tmp_path / "g.sqlite3"}"\n[api]\nport = {free_port()}\n'
        )
        process = await spawn("--config", str(config), env={"DISCORD_TOKEN": "t0ken"})
        await read_until(process.stderr, "Discord is unreachable")
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert "Traceback" not in stderr.decode()
    assert not [line for line in stderr.decode().splitlines() if line.startswith("error:")]
