"""Growth is flat: the read paths that grow with a guild, timed at three sizes of one database.

One database per size (10k, 100k and 1M profiles, ten ledger rows and one message event per
profile); at each size every query below runs ``samples`` times through the real repositories
(one thread hop each, as the API does) for members spread over the guild, in rounds that visit
every size in turn, and its p99 over all rounds is kept.
A row passes when the p99 at the largest size is within 2× of the smallest size's and under 20 ms.
``plans()`` returns SQLite's query plans of the same statements, to show they walk indexes.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import seed
from storage import Repositories, Storage
from storage.ledger import LedgerFilter

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000, 100_000)
LEDGER_PER_PROFILE = 10
EVENTS_PER_PROFILE = 1
P99_LIMIT_MS = 20.0
GROWTH_LIMIT = 2.0
DAY = 86_400

Query = Callable[[Repositories, int, int], Awaitable[Any]]


def _member(size: int, n: int) -> int:
    return seed.user((n * 7_919) % size)


QUERIES: dict[str, Query] = {
    "top by=points": lambda r, size, n: r.members.top(seed.GUILD, "points", amount=10),
    "top by=levels": lambda r, size, n: r.members.top(seed.GUILD, "levels", amount=10),
    "top by=time": lambda r, size, n: r.members.top(seed.GUILD, "time", amount=10),
    "member history": lambda r, size, n: r.ledger.search(
        LedgerFilter(user_id=_member(size, n), guild_id=seed.GUILD), limit=50, offset=0
    ),
    "member graph 30d": lambda r, size, n: r.ledger.graph(
        guild_id=seed.GUILD, user_id=_member(size, n), since=NOW - 30 * DAY, until=NOW, interval="day"
    ),
    "messages view 30d": lambda r, size, n: r.serverstats.daily(seed.GUILD, "message", since=NOW - 30 * DAY),
    "member messages 30d": lambda r, size, n: r.serverstats.daily(
        seed.GUILD, "message", since=NOW - 30 * DAY, user_id=_member(size, n)
    ),
}

NOW = int(time.time()) // DAY * DAY + DAY // 2


@dataclass(frozen=True)
class GrowthRow:
    name: str
    p99_ms: dict[int, float]  # size -> p99

    @property
    def small(self) -> float:
        return self.p99_ms[min(self.p99_ms)]

    @property
    def large(self) -> float:
        return self.p99_ms[max(self.p99_ms)]

    @property
    def ratio(self) -> float:
        return self.large / self.small if self.small else float("inf")

    @property
    def passed(self) -> bool:
        # A floor of 1 ms on the reference: below it, the ratio measures scheduler noise.
        return self.large < P99_LIMIT_MS and self.large <= GROWTH_LIMIT * max(self.small, 1.0)


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


async def _time(repos: Repositories, query: Query, size: int, samples: int, round_: int) -> list[float]:
    for n in range(min(20, samples)):  # warm the page cache and the statement cache
        await query(repos, size, n)
    took = []
    for n in range(samples):
        start = time.perf_counter()
        await query(repos, size, n + round_ * samples)
        took.append((time.perf_counter() - start) * 1000)
    return took


async def _measure(paths: dict[int, Path], samples: int, rounds: int) -> dict[int, dict[str, float]]:
    """Every size's samples, taken in interleaved rounds, so a burst of other load hits all sizes alike."""
    storages = {size: await Storage.open(path) for size, path in paths.items()}
    try:
        took: dict[int, dict[str, list[float]]] = {size: {name: [] for name in QUERIES} for size in paths}
        for round_ in range(rounds):
            for size, storage in storages.items():
                repos = Repositories(storage)
                for name, query in QUERIES.items():
                    took[size][name] += await _time(repos, query, size, samples, round_)
        return {size: {name: p99(values) for name, values in by_name.items()} for size, by_name in took.items()}
    finally:
        for storage in storages.values():
            await storage.close()


async def _migrate(path: Path) -> None:
    storage = await Storage.open(path)
    await storage.close()


Plans = dict[str, list[str]]


def run(workdir: Path, *, quick: bool, samples: int = 200, rounds: int = 3) -> tuple[list[GrowthRow], Plans]:
    """Seed one database per size, measure them interleaved; the rows and the query plans at the largest size."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    paths = {size: workdir / f"growth-{size}.sqlite3" for size in sizes}
    for size, path in paths.items():
        started = time.monotonic()
        asyncio.run(_migrate(path))
        seed.seed(
            path,
            profiles=size,
            ledger_rows=size * LEDGER_PER_PROFILE,
            events=size * EVENTS_PER_PROFILE,
            now=NOW,
        )
        print(f"growth: seeded {size:,} profiles in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    by_size = asyncio.run(_measure(paths, samples, 1 if quick else rounds))
    rows = [GrowthRow(name, {size: by_size[size][name] for size in sizes}) for name in QUERIES]
    return rows, asyncio.run(plans(paths[sizes[-1]], sizes[-1]))


async def plans(path: Path, size: int) -> dict[str, list[str]]:
    """``EXPLAIN QUERY PLAN`` of every statement each query runs, captured from the connection."""
    storage = await Storage.open(path)
    try:
        repos = Repositories(storage)
        found: dict[str, list[str]] = {}
        for name, query in QUERIES.items():
            statements: list[str] = []
            trace = statements.append
            await storage.read(lambda conn, trace=trace: conn.set_trace_callback(trace))
            await query(repos, size, 1)
            await storage.read(lambda conn: conn.set_trace_callback(None))
            lines = []
            for sql in statements:
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                rows = await storage.read(lambda conn, sql=sql: conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
                lines += [row[3] for row in rows]
            found[name] = lines
        return found
    finally:
        await storage.close()


def uses_indexes(plan: list[str]) -> bool:
    """No full scan of a big table (a scan of a CTE or a subquery's result is fine)."""
    big = ("members", "ledger", "serverstats_events", "serverstats_daily")
    return not any(line.startswith("SCAN ") and line.split()[1] in big and "USING" not in line for line in plan)
