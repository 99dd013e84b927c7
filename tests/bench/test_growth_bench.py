"""``bench/seed.py`` and ``bench/growth_bench.py`` on a tiny guild: consistent data, indexed plans (no timing)."""

from __future__ import annotations

from pathlib import Path

from bench import growth_bench, seed
from bench.__main__ import Line, format_table
from storage import Repositories, Storage
from storage.ledger import LedgerFilter


async def test_seeded_balances_equal_their_ledger_rows_and_plans_use_indexes(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite3"
    storage = await Storage.open(path)
    await storage.close()
    seed.seed(path, profiles=2_000, ledger_rows=20_000, events=2_000, now=growth_bench.NOW)

    storage = await Storage.open(path)
    try:
        repos = Repositories(storage)
        assert await repos.ledger.verify_balances() == []
        member = await repos.members.get(seed.GUILD, seed.user(7))
        assert member is not None and member.voicepoints > 0
        history = await repos.ledger.search(LedgerFilter(user_id=seed.user(7), guild_id=seed.GUILD), limit=0, offset=0)
        assert history and sum(entry.amount for entry in history) == member.voicepoints
    finally:
        await storage.close()

    plans = await growth_bench.plans(path, 2_000)
    assert set(plans) == set(growth_bench.QUERIES)
    assert all(plans.values())
    assert all(growth_bench.uses_indexes(plan) for plan in plans.values()), plans
    assert any("ledger_to_user" in line for line in plans["member history"])


def test_a_full_scan_is_not_an_indexed_plan() -> None:
    assert not growth_bench.uses_indexes(["SCAN ledger"])
    assert growth_bench.uses_indexes(["SEARCH ledger USING INDEX ledger_to (to_guild_id=?)", "SCAN n"])


def test_growth_rows_pass_only_when_flat_and_fast() -> None:
    assert growth_bench.GrowthRow("q", {10: 2.0, 1000: 3.9}).passed
    assert not growth_bench.GrowthRow("q", {10: 2.0, 1000: 4.1}).passed
    assert not growth_bench.GrowthRow("q", {10: 15.0, 1000: 21.0}).passed


def test_the_table_has_one_line_per_row() -> None:
    table = format_table([Line("1 reads", "GET /x", "10 req/s", "bare 20 req/s", 0.5, ">= 0.60", False)])
    lines = table.splitlines()
    assert len(lines) == 3
    assert lines[2].split()[-1] == "FAIL"
