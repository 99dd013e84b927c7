"""Sandbox mode: fakediscord, the bot and the HTTP API in one process, offline, on 127.0.0.1.

The bot, its timers and fakediscord's limits read one :class:`ManualClock`, which the control API
(``POST /_control/clock``) advances. The same :class:`Sandbox` runs the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import ManualClock
from core.config import Settings
from fakediscord import FakeDiscord, World, default_world, load_world
from fakediscord.settle import EventTracker
from guildhall.bot import Guildhall
from guildhall.runtime import ApiServer, StartupError, start_api, stop_signals
from storage import Repositories, Storage
from web.app import create_app

log = logging.getLogger(__name__)

SANDBOX_KEY_NAME = "sandbox"
DEMO_WEBSITE_URL = "http://127.0.0.1:8000/index.php?route=/api/v2"
SANDBOX_KEY_STATE = "sandbox_api_key"
READY_TIMEOUT = 30.0


def sandbox_db_path(configured: str) -> Path:
    """The sandbox's own database, beside the configured one, so sandbox data never mixes in."""
    path = Path(configured)
    return path.with_name(f"{path.stem}.sandbox{path.suffix or '.sqlite3'}")


@dataclass
class Sandbox:
    settings: Settings
    clock: ManualClock
    storage: Storage
    repos: Repositories
    fake: FakeDiscord
    bot: Guildhall
    api: ApiServer
    tracker: EventTracker
    bot_task: asyncio.Task[None] | None = None


@contextlib.asynccontextmanager
async def open_sandbox(
    settings: Settings,
    *,
    world: World,
    db_path: str | Path,
    api_port: int = 0,
    discord_port: int = 0,
    bot_cls: type[Guildhall] = Guildhall,
    bot_options: dict[str, Any] | None = None,
    discord_down: bool = False,
) -> AsyncIterator[Sandbox]:
    """Start everything, wait until the bot is ready, and stop it all in reverse order afterwards.

    With ``discord_down`` fakediscord starts in an outage and nobody waits for the bot: it keeps
    retrying its login on the clock until ``fake.set_outage(False)``."""
    clock = ManualClock(start=float(int(time.time())))
    storage = await Storage.open(db_path, synchronous=settings.storage.synchronous)
    tracker = EventTracker()
    fake = FakeDiscord(world, clock=clock, port=discord_port)
    api: ApiServer | None = None
    bot: Guildhall | None = None
    try:
        await fake.start()
        fake.apply_overrides()  # discord.py's REST, gateway and CDN now reach the fake
        repos = Repositories(storage)
        options = {"guild_ready_timeout": 0.1, "identify_pause": 0.0, **(bot_options or {})}
        bot = bot_cls(settings=settings, repos=repos, clock=clock, api_url="", tracker=tracker, **options)
        app = create_app(settings=settings, repos=repos, clock=clock, bot=bot)
        api = await start_api(app, settings, host="127.0.0.1", port=api_port)
        bot.api_url = api.url
        sandbox = Sandbox(settings, clock, storage, repos, fake, bot, api, tracker)
        fake.settle = tracker.settle_for(bot)  # control calls return once the bot handled their events
        if discord_down:
            await fake.set_outage(True)
        sandbox.bot_task = asyncio.create_task(bot.start(fake.token), name="discord-gateway")
        if not discord_down:
            await _wait_ready(bot, sandbox.bot_task)
        yield sandbox
    finally:
        if api is not None:
            await api.runner.cleanup()
        if bot is not None and not bot.is_closed():
            await bot.close()
        await fake.stop()
        fake.restore_overrides()
        await storage.close()


async def _wait_ready(bot: Guildhall, task: asyncio.Task[None]) -> None:
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({ready, task}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task.done() and task.exception() is not None:
            raise StartupError(f"the bot stopped before it was ready: {task.exception()}")
        raise StartupError("the bot did not become ready against fakediscord")


async def sandbox_key(repos: Repositories) -> str:
    """The sandbox database's demo key, created on first use (kept readable: sandbox data only)."""
    secret = await repos.bot_state.get(SANDBOX_KEY_STATE)
    if secret is None or await repos.api_keys.authenticate(secret) is None:
        name = SANDBOX_KEY_NAME
        existing = {key.name for key in await repos.api_keys.list()}
        suffix = 1
        while name in existing:
            suffix += 1
            name = f"{SANDBOX_KEY_NAME}-{suffix}"
        _, secret = await repos.api_keys.create(name, now=int(time.time()))
        await repos.bot_state.put(SANDBOX_KEY_STATE, secret)
    return secret


async def demo_website_link(repos: Repositories, guild_id: int) -> str:
    """Link the guild to a demo NamelessMC website key (once), so website calls can be tried at once."""
    link = await repos.guild_links.get(guild_id)
    if link is None:
        key = secrets.token_hex(16)
        await repos.guild_links.put(guild_id, DEMO_WEBSITE_URL, key, now=int(time.time()))
        return key
    return link.api_key


async def run_sandbox(
    settings: Settings,
    *,
    world_path: Path | None,
    api_port: int | None,
    discord_port: int | None,
    own_db: bool,
) -> None:
    path = world_path or (Path(settings.sandbox.world) if settings.sandbox.world else None)
    world = load_world(path) if path else default_world()
    db_path = Path(settings.storage.path) if own_db else sandbox_db_path(settings.storage.path)
    # Every sandbox run starts a fresh fakediscord that knows no commands yet: always sync.
    discord_settings = settings.discord.model_copy(update={"sync_commands": "always"})
    # The sandbox's websites run on this machine too.
    link_settings = settings.link.model_copy(update={"allow_private_targets": True})
    settings = settings.model_copy(update={"discord": discord_settings, "link": link_settings})
    async with open_sandbox(
        settings,
        world=world,
        db_path=db_path,
        api_port=settings.sandbox.api_port if api_port is None else api_port,
        discord_port=settings.sandbox.discord_port if discord_port is None else discord_port,
    ) as sandbox:
        key = await sandbox_key(sandbox.repos)
        website_key = await demo_website_link(sandbox.repos, world.guilds[0].id)
        guilds = ", ".join(f"{guild.id} ({guild.name})" for guild in world.guilds)
        print(f"Guildhall sandbox is up (database {db_path}).", flush=True)
        print(f"  API:      {sandbox.api.url}  (index at /, OpenAPI at /openapi.json)", flush=True)
        print(f"  Control:  {sandbox.fake.url}/_control/state", flush=True)
        print(f"  Guilds:   {guilds}", flush=True)
        print(f"  API key:  {key}", flush=True)
        print(f"  Website:  {world.guilds[0].id} linked; the website's api_key is {website_key}", flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        async with stop_signals() as stop:
            stopper = asyncio.create_task(stop.wait())
            assert sandbox.bot_task is not None
            await asyncio.wait({stopper, sandbox.bot_task}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()


__all__ = ["Sandbox", "open_sandbox", "run_sandbox", "sandbox_db_path", "sandbox_key"]
