"""Shared fixtures: settings over a temporary database, storage, the injected clock, the web app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.clock import ManualClock
from core.config import Settings
from storage import Repositories, Storage
from web.app import create_app


def make_settings(db_path: Path, **sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {"storage": {"path": str(db_path)}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "guildhall.sqlite3"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return make_settings(db_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_764_150_000.0)


@pytest.fixture
async def storage(db_path: Path) -> AsyncIterator[Storage]:
    storage = await Storage.open(db_path)
    yield storage
    await storage.close()


@pytest.fixture
def repos(storage: Storage) -> Repositories:
    return Repositories(storage)


AppFactory = Callable[..., "web.Application"]


@pytest.fixture
async def client_for(repos: Repositories, clock: ManualClock, settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """Build the real app (optionally with other settings or extra routes) behind aiohttp's test client."""
    clients: list[TestClient] = []

    async def make(*, app_settings: Settings | None = None, prepare: Callable[[web.Application], None] | None = None):
        app = create_app(settings=app_settings or settings, repos=repos, clock=clock)
        if prepare is not None:
            prepare(app)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def api_key(repos: Repositories, clock: ManualClock) -> str:
    _, secret = await repos.api_keys.create("test", now=int(clock.time()))
    return secret
