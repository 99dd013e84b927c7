"""A bounded mixed soak against the real listener: zero 5xx, no leaked connections or file descriptors.

``GUILDHALL_SOAK_SECONDS`` sets its length (default 10; 60 for the full soak).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from pathlib import Path

import aiohttp

from guildhall.runtime import start_api
from tests.conftest import make_settings
from web.app import create_app

log = logging.getLogger(__name__)

SECONDS = float(os.environ.get("GUILDHALL_SOAK_SECONDS", "10"))
CONCURRENCY = 32  # the HTTP benchmark's default connection count
GUILD, MEMBERS = 1, range(2, 12)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else 0


def _requests(worker: int, step: int, secret: str) -> tuple[str, str, dict | None]:
    member = MEMBERS[(worker + step) % len(MEMBERS)]
    other = MEMBERS[(worker + step + 1) % len(MEMBERS)]
    mix = [
        ("GET", f"/profile/{GUILD}/{member}", None),
        ("POST", "/transaction", {"from": "self", "to": {"guild_id": str(GUILD), "user_id": str(member)}, "amount": 3}),
        (
            "POST",
            "/transaction",
            {
                "from": {"guild_id": str(GUILD), "user_id": str(member)},
                "to": {"guild_id": str(GUILD), "user_id": str(other)},
                "amount": 1,
            },
        ),
        ("PATCH", f"/profile/{GUILD}/{member}/add", {"experience": 1}),
        ("GET", "/transaction?limit=20&reason=soak", None),
        ("GET", f"/profile/{GUILD}/top?by=points", None),
        ("GET", f"/api/guilds/{GUILD}/users/{member}", None),
        ("GET", f"/modules/serverstats/status?guild_id={GUILD}", None),
        ("GET", "/stats", None),
        ("POST", "/transaction", {"from": "self", "to": "self", "amount": 1}),  # refused: 400
    ]
    return mix[(worker * 7 + step) % len(mix)]


async def test_mixed_soak_has_no_5xx_and_leaks_nothing(db_path, repos, clock):
    settings = make_settings(db_path)
    _, secret = await repos.api_keys.create("soak", now=int(clock.time()), bot_user_id=999)
    api = await start_api(create_app(settings=settings, repos=repos, clock=clock), settings, host="127.0.0.1", port=0)
    statuses: Counter[int] = Counter()
    try:
        headers = {"Authorization": secret, "Content-Type": "application/json"}
        async with aiohttp.ClientSession(api.url, headers=headers) as warm:
            for member in MEMBERS:
                async with warm.post(f"/profile/{GUILD}/{member}", json={}) as answer:
                    assert answer.status == 201
        fds_before = open_fds()
        deadline = time.monotonic() + SECONDS

        async def worker(index: int, session: aiohttp.ClientSession) -> None:
            step = 0
            while time.monotonic() < deadline:
                method, url, body = _requests(index, step, secret)
                async with session.request(method, url, json=body) as answer:
                    await answer.read()
                    statuses[answer.status] += 1
                step += 1

        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(api.url, headers=headers, connector=connector) as session:
            await asyncio.gather(*(worker(index, session) for index in range(CONCURRENCY)))
        await asyncio.sleep(0)  # let the server see the closed connections
        for _ in range(100):
            if not api.runner.server.connections:
                break
            await asyncio.sleep(0.02)
        fds_after = open_fds()
        open_connections = len(api.runner.server.connections)
    finally:
        await api.runner.cleanup()
    total = sum(statuses.values())
    log.info("soak: %d requests in %.0f s, statuses %s", total, SECONDS, dict(statuses))
    assert total > CONCURRENCY * 10
    assert not [status for status in statuses if status >= 500], statuses
    assert statuses[200] > total / 2
    assert open_connections == 0
    assert fds_after <= fds_before + 2, (fds_before, fds_after)
    assert await repos.ledger.verify_balances() == []  # every balance still equals its ledger rows
