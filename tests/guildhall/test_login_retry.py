"""Logging in while Discord is unreachable: retried with backoff on the clock; a rejected token is final."""

from __future__ import annotations

import asyncio

import discord
import pytest

from core.clock import ManualClock
from core.config import Settings
from guildhall.bot import LOGIN_RETRY_MAX, Guildhall
from storage import Repositories


class ScriptedLogin:
    """Stands in for discord.py's login: raises the scripted errors in turn, then succeeds."""

    def __init__(self, clock: ManualClock, errors: list[BaseException]) -> None:
        self.clock = clock
        self.errors = errors
        self.attempts: list[float] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def login(client: discord.Client, token: str) -> None:
            self.attempts.append(self.clock.time())
            if self.errors:
                raise self.errors.pop(0)

        monkeypatch.setattr(discord.Client, "login", login)


class FakeResponse:
    """Just enough of an aiohttp response for discord.py's HTTPException."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "Service Unavailable"


def bot_with(settings: Settings, repos: Repositories, clock: ManualClock) -> Guildhall:
    return Guildhall(settings=settings, repos=repos, clock=clock, api_url="")


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_backoff_doubles_from_one_second_up_to_the_cap(monkeypatch, settings, repos, clock):
    errors: list[BaseException] = [OSError("connection refused"), TimeoutError()]
    errors += [discord.DiscordServerError(FakeResponse(503), "Service Unavailable")] * 9
    login = ScriptedLogin(clock, errors)
    login.install(monkeypatch)
    bot = bot_with(settings, repos, clock)
    logging_in = asyncio.create_task(bot.login("token"))
    expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, LOGIN_RETRY_MAX, LOGIN_RETRY_MAX]
    assert expected[-3] < LOGIN_RETRY_MAX
    for attempt, wait in enumerate(expected, start=1):
        await settle()
        assert len(login.attempts) == attempt
        await clock.advance(wait - 0.5)
        await settle()
        assert len(login.attempts) == attempt  # still waiting
        await clock.advance(0.5)
    await asyncio.wait_for(logging_in, 1)
    assert len(login.attempts) == len(expected) + 1
    await bot.close()


async def test_a_rejected_token_is_final(monkeypatch, settings, repos, clock):
    login = ScriptedLogin(clock, [discord.LoginFailure("Improper token has been passed.")])
    login.install(monkeypatch)
    bot = bot_with(settings, repos, clock)
    with pytest.raises(discord.LoginFailure):
        await asyncio.wait_for(bot.login("token"), 1)
    assert len(login.attempts) == 1
    await bot.close()
