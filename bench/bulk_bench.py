"""Bulk: ``PATCH /profile/add`` with 10,000 items against a raw ``executemany`` of the same rows.

Both add the same deltas (experience and voice time) to the same 10,000 seeded members of one
database: Guildhall through its HTTP API (validation, one all-or-nothing unit of work), the
reference through a plain ``sqlite3`` connection, one ``executemany`` in one transaction. The API
is timed twice: answering every profile as edited (the default), and with ``Prefer:
return=minimal`` (204, nothing read back). Runs alternate (raw, API, API minimal, raw, ...) and
the medians are compared.

Where the API's time goes (in-process, 2026-11-27, raw ~56 ms): reading and checking the body
into edits ~22 ms (``web.typedbody``); the unit of work, one ``UPDATE ... FROM json_each(...)``
per set of touched columns, ~75 ms with ``return=minimal`` and ~150 ms when it returns the rows;
building the 10,000 profiles and their JSON another ~30 ms.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import seed

ITEMS = 10_000
TARGET = 0.5


@dataclass(frozen=True)
class BulkResult:
    api_rows_per_s: float  # answered with every profile (the default)
    minimal_rows_per_s: float  # ``Prefer: return=minimal``: answered 204
    raw_rows_per_s: float

    @property
    def ratio(self) -> float:
        return self.api_rows_per_s / self.raw_rows_per_s if self.raw_rows_per_s else 0.0

    @property
    def minimal_ratio(self) -> float:
        return self.minimal_rows_per_s / self.raw_rows_per_s if self.raw_rows_per_s else 0.0


def body(items: int) -> bytes:
    return json.dumps(
        [
            {"guild_id": str(seed.GUILD), "user_id": str(seed.user(i)), "experience": 1, "timespent": {"global": 60}}
            for i in range(items)
        ],
        separators=(",", ":"),
    ).encode()


def raw_add(path: Path, items: int) -> float:
    """Seconds for one executemany of the same deltas, committed (the durability the API gives)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        rows = [(1, 60, seed.GUILD, seed.user(i)) for i in range(items)]
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "UPDATE members SET experience = experience + ?, voice_seconds = voice_seconds + ?"
            " WHERE guild_id = ? AND user_id = ?",
            rows,
        )
        conn.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()


def api_add(url: str, secret: str, payload: bytes, *, minimal: bool = False) -> float:
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    if minimal:
        headers["Prefer"] = "return=minimal"
    request = urllib.request.Request(url + "/profile/add", data=payload, method="PATCH", headers=headers)
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        if response.status != (204 if minimal else 200):
            raise RuntimeError(f"PATCH /profile/add answered {response.status}")
    return time.perf_counter() - start


def run(workdir: Path, *, quick: bool, server_factory: Callable[[Path], Any]) -> BulkResult:
    """``server_factory(db)`` starts a Guildhall server over ``db`` and returns it (with its ``url``)."""
    from bench.http_bench import seed_database

    db = workdir / "bulk.sqlite3"
    secret = asyncio.run(seed_database(db))
    server = server_factory(db)
    payload = body(ITEMS)
    api_add(server.url, secret, payload)  # warm-up: imports, caches, the first WAL growth
    raw, api, minimal = [], [], []
    for _ in range(2 if quick else 5):
        raw.append(raw_add(db, ITEMS))
        api.append(api_add(server.url, secret, payload))
        minimal.append(api_add(server.url, secret, payload, minimal=True))
    print(
        f"bulk: raw {statistics.median(raw) * 1000:.0f} ms, api {statistics.median(api) * 1000:.0f} ms,"
        f" api with return=minimal {statistics.median(minimal) * 1000:.0f} ms",
        file=sys.stderr,
    )
    return BulkResult(*(ITEMS / statistics.median(times) for times in (api, minimal, raw)))
