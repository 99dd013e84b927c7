"""``bench/profile.py`` and ``bench.serve --profile``: the server samples itself and writes where its time went."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.http_bench import Server, fetch, request_headers
from bench.profile import profile_path, spec_named
from core.clock import Clock
from storage import Repositories, Storage


def test_a_row_is_picked_by_part_of_its_name() -> None:
    assert spec_named("transaction").name == "POST /transaction"
    assert spec_named("get /STATUS").path == "/status"
    with pytest.raises(SystemExit, match="names 3 rows"):
        spec_named("GET ")
    with pytest.raises(SystemExit, match="names 0 rows"):
        spec_named("no such row")
    assert profile_path(spec_named("transaction"), html=False).name == "profile-post-transaction.txt"
    assert profile_path(spec_named("/status"), html=True).name == "profile-get-status.html"


async def _key(db: Path) -> str:
    storage = await Storage.open(db)
    try:
        _, secret = await Repositories(storage).api_keys.create("bench", now=int(Clock().time()))
    finally:
        await storage.close()
    return secret


def test_the_server_writes_its_profile_when_it_stops(tmp_path: Path) -> None:
    db, out = tmp_path / "bench.sqlite3", tmp_path / "profile.txt"
    secret = asyncio.run(_key(db))
    spec = spec_named("GET /status")
    server = Server("guildhall", ["--db", str(db), "--profile", str(out)], tmp_path, pin=False)
    try:
        server.wait_ready()
        headers = request_headers(spec, secret)
        with ThreadPoolExecutor(max_workers=8) as pool:  # enough load that requests fill the samples
            statuses = set(pool.map(lambda _: fetch(server.url, spec, headers)[0], range(1500)))
        assert not out.exists()  # written at the stop, once every sample is in
    finally:
        server.stop()
    assert statuses == {200}
    profile = out.read_text(encoding="utf-8")
    assert "Samples:" in profile
    assert "Application._handle" in profile  # aiohttp handling the requests, sampled from inside the server
    assert "guarded" in profile  # and every route's wrapper (web.api.guard) in it
