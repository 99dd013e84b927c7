"""The Guildhall bot: a ``commands.Bot`` built from its dependencies, loading the cogs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import pkgutil
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

import cogs
from core import __version__
from core.clock import Clock
from core.config import RateLimit, Settings
from guildhall.discord_actions import BotDiscordActions
from guildhall.ratelimit import DiscordRateLimiter
from storage import Repositories

log = logging.getLogger(__name__)


def discover_extensions() -> list[str]:
    """Every module in ``cogs/`` is an extension, except helpers whose names start with ``_``."""
    return sorted(
        f"cogs.{module.name}" for module in pkgutil.iter_modules(cogs.__path__) if not module.name.startswith("_")
    )


COMMAND_TREE_HASH = "command_tree_hash"

LOGIN_RETRY_FIRST, LOGIN_RETRY_MAX = 1.0, 300.0
# Discord unreachable or failing (not a rejected token): worth another login later. TimeoutError is an OSError.
LOGIN_RETRYABLE = (OSError, aiohttp.ClientError, discord.DiscordServerError)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


GATEWAY_SLICE = 0.001  # seconds of gateway events handled before the rest of the loop gets a turn


def pace_gateway(http: discord.http.HTTPClient) -> None:
    """Have the gateway reader hand the event loop back every ``GATEWAY_SLICE`` seconds.

    discord.py handles gateway events one after another while its socket has any buffered, without
    suspending: after a burst, or a moment behind, that is one step of the loop lasting as long as
    hundreds of events (it measured 88 ms), with every API request and timer waiting behind it.
    The gateway socket's ``receive`` now yields first whenever the current step has run for a
    slice; at most one extra turn of the loop per slice of events.
    """
    connect = http.ws_connect

    async def ws_connect(url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
        socket = await connect(url, compress=compress)
        receive = socket.receive
        slice_started = time.perf_counter()  # uvloop's loop.time() stands still within a step

        async def paced_receive(timeout: float | None = None) -> aiohttp.WSMessage:
            nonlocal slice_started
            if time.perf_counter() - slice_started >= GATEWAY_SLICE:
                await asyncio.sleep(0)
                slice_started = time.perf_counter()
            return await receive(timeout)

        socket.receive = paced_receive  # type: ignore[method-assign]
        return socket

    http.ws_connect = ws_connect  # type: ignore[method-assign]


class TaskTracker(Protocol):
    """Told about every event and command task, so a caller can wait until the bot is idle."""

    def track(self, task: asyncio.Task[Any]) -> None: ...


class GuildhallTree(app_commands.CommandTree["Guildhall"]):
    """The command tree: one error handler for every slash command, and tracked invocations."""

    def _from_interaction(self, interaction: discord.Interaction[Guildhall]) -> None:
        async def invoke() -> None:
            try:
                await self._call(interaction)
            except app_commands.AppCommandError as error:
                await self._dispatch_error(interaction, error)

        self.client.track(self.client.loop.create_task(invoke(), name="CommandTree-invoker"))

    async def on_error(self, interaction: discord.Interaction[Guildhall], error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CheckFailure):
            message = str(error) or "You can't use this command here."
        elif isinstance(error, app_commands.CommandOnCooldown):
            message = f"Slow down: try again in {error.retry_after:.0f} s."
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            self.client.report_failure(f"command /{name}", error)
            message = "Something went wrong on my side; it has been logged. Please try again later."
        await reply(interaction, message)


async def reply(interaction: discord.Interaction[Any], content: str, **kwargs: Any) -> None:
    """An ephemeral answer whether or not the interaction was answered or deferred already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(content, ephemeral=True, **kwargs)
    except discord.HTTPException:
        log.warning("could not answer interaction %s", interaction.id, exc_info=True)


def build_intents(names: list[str]) -> discord.Intents:
    intents = discord.Intents.default()
    for name in ("members", "message_content", "presences", "voice_states", "guild_messages"):
        setattr(intents, name, name in names)
    intents.guilds = True
    intents.guild_reactions = True
    return intents


def discord_limiter(settings: Settings, clock: Clock) -> DiscordRateLimiter:
    config = settings.discord
    return DiscordRateLimiter(
        clock,
        global_rule=RateLimit.parse(config.global_rate_limit),
        member_roles_rule=RateLimit.parse(config.member_role_rate_limit),
        margin=config.rate_limit_margin,
    )


class Guildhall(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        repos: Repositories,
        clock: Clock,
        api_url: str,
        tracker: TaskTracker | None = None,
        identify_pause: float = 5.0,
        discord_clock: Clock | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("max_ratelimit_timeout", 30.0)
        # Discord's windows run on real time, also in the sandbox (whose manual clock only moves when told).
        self.discord_limiter = discord_limiter(settings, discord_clock or Clock())
        options.setdefault("http_trace", self.discord_limiter.trace_config())
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=build_intents(settings.discord.intents),
            tree_cls=GuildhallTree,
            owner_ids=set(settings.discord.owner_ids) or None,
            help_command=None,
            **options,
        )
        self.settings = settings
        self.repos = repos
        self.clock = clock
        self.api_url = api_url
        self.version = __version__
        self.started_at = clock.time()
        self._tracker = tracker
        self._identify_pause = identify_pause
        self._connected = False
        self.discord_actions = BotDiscordActions(self)
        self._message_sinks: list[Callable[[discord.Message], None]] = []
        pace_gateway(self.http)

    # --- what the web door may ask (core.ports.BotStatus) -----------------------------------

    @property
    def gateway_connected(self) -> bool:
        return self._connected and not self.is_closed()

    @property
    def ready(self) -> bool:
        return self.is_ready()

    @property
    def guild_count(self) -> int:
        return len(self.guilds)

    @property
    def bot_user_id(self) -> int | None:
        return self.user.id if self.user else None

    def member_name(self, guild_id: int, user_id: int) -> str | None:
        guild = self.get_guild(guild_id)
        member = guild.get_member(user_id) if guild else None
        return member.display_name if member else None

    def voice_session_start(self, guild_id: int, user_id: int) -> float | None:
        tracking = self.get_cog("VoiceTracking")
        return tracking.sessions.session_start(guild_id, user_id) if tracking is not None else None

    # --- lifecycle --------------------------------------------------------------------------

    async def login(self, token: str) -> None:
        """Log in; while Discord is unreachable, try again with backoff on the clock (the API serves
        meanwhile). A rejected token (:class:`discord.LoginFailure`) is final."""
        delay = LOGIN_RETRY_FIRST
        while True:
            try:
                await super().login(token)
                return
            except LOGIN_RETRYABLE as error:
                log.warning("Discord is unreachable (%s); logging in again in %.0f s", _describe(error), delay)
            # Each login opens a new HTTP session (closing one closes its connector too).
            await self.http.close()
            self.http.connector = discord.utils.MISSING
            await self.clock.sleep(delay)
            delay = min(delay * 2, LOGIN_RETRY_MAX)

    async def setup_hook(self) -> None:
        for extension in discover_extensions():
            if extension not in self.extensions:  # a login retried after a failed sync loads them once
                await self.load_extension(extension)
        await self.sync_commands()

    async def sync_commands(self) -> bool:
        """Sync the slash commands when the tree changed since the last sync (Discord limits syncs)."""
        mode = self.settings.discord.sync_commands
        if mode == "never":
            return False
        payload = json.dumps([command.to_dict(self.tree) for command in self.tree.get_commands()], sort_keys=True)
        digest = hashlib.sha256(f"{self.application_id}:{payload}".encode()).hexdigest()
        if mode == "auto" and await self.repos.bot_state.get(COMMAND_TREE_HASH) == digest:
            log.info("command tree unchanged since the last sync; not syncing")
            return False
        synced = await self.tree.sync()
        await self.repos.bot_state.put(COMMAND_TREE_HASH, digest)
        log.info("synced %d slash commands", len(synced))
        return True

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial and self._identify_pause:
            await asyncio.sleep(self._identify_pause)

    async def on_connect(self) -> None:
        self._connected = True

    async def on_resumed(self) -> None:
        self._connected = True

    async def on_disconnect(self) -> None:
        self._connected = False

    async def on_ready(self) -> None:
        self._connected = True
        log.info("ready as %s in %d guilds", self.user, len(self.guilds))

    def add_message_sink(self, sink: Callable[[discord.Message], None]) -> None:
        """Have ``sink`` see every message, called without a task of its own (it must not block)."""
        self._message_sinks.append(sink)

    def remove_message_sink(self, sink: Callable[[discord.Message], None]) -> None:
        if sink in self._message_sinks:
            self._message_sinks.remove(sink)

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """The message sinks (the cogs gathering text activity and statistics) see each message right
        here, in the gateway's own step: a task per message cost more than the sinks' work. The task
        is made only when something else waits for messages (``wait_for``, a listener)."""
        if event_name == "message":
            message = args[0]
            for sink in self._message_sinks:
                try:
                    sink(message)
                except Exception as error:
                    self.report_failure(f"message sink {getattr(sink, '__qualname__', sink)}", error)
            if "message" not in self._listeners and "on_message" not in self.extra_events:
                return
        super().dispatch(event_name, *args, **kwargs)

    async def on_message(self, message: discord.Message, /) -> None:
        """Every command is a slash command: no message is parsed for a prefix command."""

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        error = sys.exc_info()[1] or RuntimeError("unknown error")
        self.report_failure(f"listener {event_method}", error)

    def report_failure(self, where: str, error: BaseException) -> None:
        """Every swallowed failure of a listener or command ends here (tests make it fatal)."""
        log.error("%s failed", where, exc_info=error)

    # --- tracking, so the sandbox can answer a control call once the bot handled its events ---

    def track(self, task: asyncio.Task[Any]) -> None:
        if self._tracker is not None:
            self._tracker.track(task)

    def _schedule_event(
        self, coro: Callable[..., Coroutine[Any, Any, Any]], event_name: str, *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = super()._schedule_event(coro, event_name, *args, **kwargs)
        self.track(task)
        return task
