"""Nothing acknowledged is lost: the bot as a separate process, killed under a write load and restarted.

Twelve clients write through the HTTP API (transfers, bulk adds, inventory changes, statistics
events) and read statistics, each with one request in flight at a time and its own members, so every
outcome can be accounted for: a 2xx must be in the database after a SIGKILL, a request cut off by the kill may or
may not be, and nothing else may appear. Balances must still equal their ledger rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from core.clock import ManualClock
from fakediscord import FakeDiscord, default_world
from storage import Repositories, Storage
from tests.e2e.test_processes import free_port, read_until, spawn

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 12
IN_FLIGHT_AT_KILL = 8
ROUNDS = 3
ITEM = "gem"
GUILD = default_world().guilds[0].id
DAX, EVE = 1179000000000000104, 1179000000000000105
LOUNGE = 1179000000000003021
STATS_CHECK = "/modules/serverstats/stats/command/check"
CONFIG = '[api]\nrate_limits = { economy = "off" }\n[logging]\naccess_log = false\n'


@dataclass
class Bot:
    process: asyncio.subprocess.Process
    api: str
    control: str
    key: str


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Path, db: Path) -> AsyncIterator[Bot]:
    """``python bot.py sandbox`` on ``db`` in its own process; killed at the end if still alive."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    api_port, discord_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bot.py"),
        "--config",
        str(config),
        "--db",
        str(db),
        "sandbox",
        "--api-port",
        str(api_port),
        "--discord-port",
        str(discord_port),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    try:
        banner = await read_until(process.stdout, "Press Ctrl+C")
        key = next(line.split()[-1] for line in banner if "API key:" in line)
        yield Bot(process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{discord_port}", key)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def user_of(worker: int) -> int:
    return 1179000000000090000 + worker


def second_user_of(worker: int) -> int:
    return 1179000000000091000 + worker


@dataclass
class Outcome:
    """What the clients know: acknowledged writes, and the one write each client had in flight."""

    reasons: set[str] = field(default_factory=set)  # ledger rows acknowledged by POST /transaction
    timespent: dict[int, int] = field(default_factory=dict)  # acknowledged bulk adds, per user
    stock: dict[int, int] = field(default_factory=dict)  # acknowledged inventory changes, per user
    events: dict[int, int] = field(default_factory=dict)  # acknowledged statistics events, per worker
    pending: dict[int, tuple[str, Any]] = field(default_factory=dict)  # worker -> (kind, detail)
    acknowledged: int = 0
    in_flight: int = 0
    in_flight_at_signal: int = 0
    answered_after_signal: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def maybe(self, kind: str) -> list[Any]:
        return [detail for pending_kind, detail in self.pending.values() if pending_kind == kind]


async def load(bot: Bot, outcome: Outcome, worker: int, round_: int, stop: asyncio.Event) -> None:
    rng = random.Random(f"{round_}-{worker}")
    user, other, neighbour = user_of(worker), second_user_of(worker), user_of((worker + 1) % WORKERS)
    headers = {"Authorization": bot.key}
    number = 0
    async with aiohttp.ClientSession(headers=headers) as session:
        while not stop.is_set():
            number += 1
            reason = f"crash-{round_}-{worker}-{number}"
            kind = rng.choice(("grant", "give", "bulk", "inventory", "stats", "read"))
            amount = rng.randint(1, 5)
            if kind in ("grant", "give"):
                sender, receiver = ("self", party(user)) if kind == "grant" else (party(user), party(neighbour))
                transfer = {"from": sender, "to": receiver, "amount": amount, "reason": reason}
                request = ("POST", "/transaction", transfer)
                detail: Any = reason
            elif kind == "bulk":
                items = [party(u) | {"timespent": {"global": 1}, "voicepoints": 2} for u in (user, other)]
                request = ("PATCH", "/profile/add", items)
                detail = user
            elif kind == "inventory":
                body = {"items": [{"itemID": ITEM, "amount": amount}]}
                request = ("POST", f"/api/guilds/{GUILD}/users/{user}/inventory", body)
                detail = (user, amount)
            elif kind == "stats":
                request = ("POST", STATS_CHECK, {"guild_id": str(GUILD), "command": f"crash-{worker}"})
                detail = worker
            else:
                request = ("GET", f"/stats?guild_id={GUILD}", None)
                detail = None
            outcome.pending[worker] = (kind, detail)
            outcome.in_flight += 1
            outcome.changed.set()
            try:
                method, path, body = request
                async with session.request(method, bot.api + path, json=body) as response:
                    answer = await response.read()
                    status = response.status
            except aiohttp.ClientConnectorError:
                del outcome.pending[worker]  # never reached the process: the listener was closed
                return
            except (aiohttp.ClientError, TimeoutError):
                return  # the process died with this request in flight: it stays pending
            finally:
                outcome.in_flight -= 1
                outcome.changed.set()
            if stop.is_set():
                outcome.answered_after_signal += 1
            del outcome.pending[worker]
            if not 200 <= status < 300:
                assert kind == "give" and status == 400, (kind, status)  # only a poor sender may be refused
                continue
            outcome.acknowledged += 1
            if kind in ("grant", "give"):
                outcome.reasons.add(detail)
            elif kind == "bulk":
                outcome.timespent[user] = outcome.timespent.get(user, 0) + 1
            elif kind == "inventory":
                outcome.stock[user] = outcome.stock.get(user, 0) + amount
            elif kind == "stats":
                assert json.loads(answer)["data"] == {"recorded": True}
                outcome.events[worker] = outcome.events.get(worker, 0) + 1


def party(user: int) -> dict[str, str]:
    return {"user_id": str(user), "guild_id": str(GUILD)}


async def set_up(bot: Bot, outcome: Outcome) -> None:
    """Every client's members exist with some points, before any load."""
    async with aiohttp.ClientSession(headers={"Authorization": bot.key}) as session:
        for worker in range(WORKERS):
            reason = f"crash-setup-{worker}"
            body = {"from": "self", "to": party(user_of(worker)), "amount": 100, "reason": reason}
            async with session.post(f"{bot.api}/transaction", json=body) as response:
                assert response.status in (200, 201), await response.text()
            outcome.reasons.add(reason)
        async with session.post(f"{bot.api}/modules/serverstats/enable", json={"guild_id": str(GUILD)}) as response:
            assert response.status == 200, await response.text()


async def load_until_killed(bot: Bot, outcome: Outcome, round_: int, how: signal.Signals) -> None:
    """Run the load; at a random moment with enough requests in flight, send ``how``."""
    stop = asyncio.Event()
    workers = [asyncio.create_task(load(bot, outcome, worker, round_, stop)) for worker in range(WORKERS)]
    before = outcome.acknowledged
    await asyncio.sleep(random.uniform(0.3, 1.5))  # the kill point
    async with asyncio.timeout(30):
        while outcome.acknowledged - before < 20 or outcome.in_flight < IN_FLIGHT_AT_KILL:
            outcome.changed.clear()
            await outcome.changed.wait()
    outcome.in_flight_at_signal = outcome.in_flight
    bot.process.send_signal(how)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*workers), 60)
    await asyncio.wait_for(bot.process.wait(), 60)


async def check(db: Path, outcome: Outcome) -> None:
    """The database against what the clients know; then take what it shows as the new baseline."""
    storage = await Storage.open(db)
    try:
        repos = Repositories(storage)
        assert await storage.integrity_check() == "ok"
        assert await repos.ledger.verify_balances() == []
        stored = set(
            await storage.read(
                lambda conn: [row[0] for row in conn.execute("SELECT reason FROM ledger WHERE reason LIKE 'crash-%'")]
            )
        )
        assert outcome.reasons <= stored, sorted(outcome.reasons - stored)[:5]  # every 2xx is there
        unexplained = stored - outcome.reasons - set(outcome.maybe("grant")) - set(outcome.maybe("give"))
        assert unexplained == set()  # and nothing that was never asked for
        outcome.reasons = stored
        events = dict(
            await storage.read(
                lambda conn: conn.execute(
                    "SELECT label, COUNT(*) FROM serverstats_events WHERE kind = 'command' GROUP BY label"
                ).fetchall()
            )
        )
        daily = await storage.read(
            lambda conn: conn.execute("SELECT SUM(count) FROM serverstats_daily WHERE kind = 'command'").fetchone()[0]
        )
        assert daily == sum(events.values())  # the per-day totals move with their events
        cut_off_events = set(outcome.maybe("stats"))
        for worker in range(WORKERS):
            extra = events.get(f"crash-{worker}", 0) - outcome.events.get(worker, 0)
            assert extra in ((0, 1) if worker in cut_off_events else (0,)), (worker, extra)
            outcome.events[worker] = events.get(f"crash-{worker}", 0)
        cut_off_bulk = set(outcome.maybe("bulk"))
        cut_off_stock = dict(outcome.maybe("inventory"))
        for worker in range(WORKERS):
            user = user_of(worker)
            member = await repos.members.get(GUILD, user)
            assert member is not None
            extra = member.voice_seconds - outcome.timespent.get(user, 0)
            assert extra in ((0, 1) if user in cut_off_bulk else (0,)), (user, extra)
            outcome.timespent[user] = member.voice_seconds
            stacks = {stack.item_id: stack.amount for stack in await repos.economy.inventory(GUILD, user)}
            extra = stacks.get(ITEM, 0) - outcome.stock.get(user, 0)
            assert extra in ((0, cut_off_stock[user]) if user in cut_off_stock else (0,)), (user, extra)
            outcome.stock[user] = stacks.get(ITEM, 0)
        outcome.pending.clear()
    finally:
        await storage.close()


async def make_item(db: Path) -> None:
    storage = await Storage.open(db)
    try:
        await Repositories(storage).economy.create_item(GUILD, ITEM, "Gem", "shiny", now=1_764_150_000)
    finally:
        await storage.close()


async def test_sigkill_under_load_loses_no_acknowledged_write(tmp_path: Path):
    db = tmp_path / "guildhall.sqlite3"
    await make_item(db)
    outcome = Outcome()
    for round_ in range(ROUNDS):
        async with running_bot(tmp_path, db) as bot:
            if round_ == 0:
                await set_up(bot, outcome)
            else:
                await check(db, outcome)  # after the restart: the previous round's kill lost nothing
            await load_until_killed(bot, outcome, round_, signal.SIGKILL)
        assert bot.process.returncode == -signal.SIGKILL
    async with running_bot(tmp_path, db) as bot:
        await check(db, outcome)
        bot.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.process.wait(), 60) == 0
    assert len(outcome.reasons) > 3 * 20


async def test_sigterm_under_load_loses_nothing_and_pays_open_voice_sessions(tmp_path: Path):
    db = tmp_path / "guildhall.sqlite3"
    await make_item(db)
    outcome = Outcome()
    async with running_bot(tmp_path, db) as bot:
        await set_up(bot, outcome)
        async with aiohttp.ClientSession() as control:
            for user in (DAX, EVE):
                body = {"guild_id": str(GUILD), "user_id": str(user), "channel_id": str(LOUNGE)}
                async with control.post(f"{bot.control}/_control/voice", json=body) as response:
                    assert response.status == 200
            async with control.post(f"{bot.control}/_control/clock", json={"advance_seconds": 90}) as response:
                assert response.status == 200  # one flush at 60 s; 30 s still open
        await load_until_killed(bot, outcome, 0, signal.SIGTERM)
        assert bot.process.returncode == 0
    # A graceful stop answered every request in flight when it came: none is left in doubt.
    assert outcome.in_flight_at_signal >= IN_FLIGHT_AT_KILL
    assert outcome.answered_after_signal == outcome.in_flight_at_signal
    assert outcome.pending == {}
    await check(db, outcome)
    storage = await Storage.open(db)
    try:
        repos = Repositories(storage)
        for user in (DAX, EVE):
            member = await repos.members.get(GUILD, user)
            assert member is not None and member.voice_seconds == 90  # the open 30 s were stored at shutdown
            assert (member.level, member.experience) == (1, 15)  # and paid: 10 experience a minute
    finally:
        await storage.close()


async def test_sigterm_of_the_run_command_stores_open_voice_sessions(tmp_path: Path):
    """The production path (``python bot.py`` with a token): the voice cog flushes before storage closes."""
    db = tmp_path / "guildhall.sqlite3"
    async with FakeDiscord(default_world(), clock=ManualClock(), token="t0ken") as fake:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[storage]\npath = "{db}"\n[api]\nport = {free_port()}\n[logging]\naccess_log = false\n'
        )
        process = await spawn("--config", str(config), env={"DISCORD_TOKEN": "t0ken"})
        try:
            await read_until(process.stderr, "ready as")
            await fake.voice(GUILD, DAX, LOUNGE)
            await fake.voice(GUILD, EVE, LOUNGE)
            joined = time.monotonic()
            # This bot runs on the real clock, far from its first flush (60 s): only shutdown can store this.
            await asyncio.sleep(2.5)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        together = time.monotonic() - joined
    assert process.returncode == 0, stderr.decode()[-2000:]
    storage = await Storage.open(db)
    try:
        repos = Repositories(storage)
        for user in (DAX, EVE):
            member = await repos.members.get(GUILD, user)
            assert member is not None
            assert 2 <= member.voice_seconds <= together + 1
        assert await repos.ledger.verify_balances() == []
    finally:
        await storage.close()
