"""End-to-end harness: the real bot, the real web app and fakediscord, in one loop.

``sandbox`` is the same :func:`guildhall.sandbox.open_sandbox` that ``python bot.py sandbox``
runs, with a bot whose swallowed listener and command failures fail the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from fakediscord import World, default_world, validate_rest_log
from guildhall.bot import Guildhall
from guildhall.sandbox import Sandbox, open_sandbox
from tests.conftest import make_settings


class FailingBot(Guildhall):
    """A bot whose failures, logged and swallowed in production, are collected for the test."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.failures: list[tuple[str, BaseException]] = []

    def report_failure(self, where: str, error: BaseException) -> None:
        super().report_failure(where, error)
        self.failures.append((where, error))


@pytest.fixture
def world() -> World:
    return default_world()


@pytest.fixture
def e2e_settings(db_path: Path) -> Settings:
    return make_settings(db_path, logging={"access_log": False})


DISCORD_SPEC = Path(__file__).resolve().parents[1] / "fakediscord" / "discord-openapi.json"


@pytest.fixture
async def sandbox(world: World, e2e_settings: Settings, db_path: Path) -> AsyncIterator[Sandbox]:
    async with start(world, e2e_settings, db_path) as running:
        yield running
    # Every REST answer the fake gave in this test has the shape real Discord sends.
    assert validate_rest_log(running.fake.rest_log, DISCORD_SPEC) == []
    # The bot's own limiter kept it under Discord's limits: no 429 but those a test injected.
    assert running.fake.ratelimits.sent["global"] == running.fake.ratelimits.sent["member_roles"] == 0


def start(world: World, settings: Settings, db_path: Path, **options: Any):
    return open_sandbox(settings, world=world, db_path=db_path, bot_cls=FailingBot, bot_options=options)


def assert_healthy(sandbox: Sandbox) -> None:
    """Nothing swallowed: no failed listener or command, no failed timer, the gateway task alive."""
    bot = sandbox.bot
    assert isinstance(bot, FailingBot)
    assert bot.failures == []
    assert sandbox.clock.errors == []
    task = sandbox.bot_task
    assert task is not None
    assert not task.done() or task.cancelled() or task.exception() is None


class Ids:
    """Handy ids of the default world."""

    def __init__(self, world: World) -> None:
        guild = world.guilds[0]
        self.guild = guild.id
        by_name = {channel.name: channel.id for channel in guild.channels}
        self.general = by_name["general"]
        humans = [member for member in guild.members if not member.bot]
        self.owner = guild.owner_id
        self.member = next(member.id for member in humans if member.id != guild.owner_id)
        self.roles = {role.name: role.id for role in guild.roles}


@pytest.fixture
def ids(world: World) -> Ids:
    return Ids(world)
