"""The command line: ``python bot.py [--config FILE] [--db PATH] [COMMAND]``."""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TextIO

from core.config import ConfigError, Settings, load_settings
from core.links import LinkError, normalise_website_url
from storage import DuplicateName, Repositories, Storage, StorageError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.toml")


class CliError(Exception):
    """A failure to report as one line, with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python bot.py",
        description="Guildhall: a Discord bot with an HTTP API. With no command it runs the bot "
        "(sandbox mode when no Discord token is configured).",
    )
    parser.add_argument("--config", type=Path, help="config file (default: ./config.toml when present)")
    parser.add_argument("--db", help="database path (overrides [storage] path)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("run", help="run the bot and the HTTP API (the default)")

    sandbox = commands.add_parser("sandbox", help="run offline against a local fake Discord")
    sandbox.add_argument("--world", type=Path, help="world file (TOML); default: the built-in world")
    sandbox.add_argument("--api-port", type=int, help="HTTP API port (default: [sandbox] api_port)")
    sandbox.add_argument("--discord-port", type=int, help="fake Discord port (default: [sandbox] discord_port)")

    apikey = commands.add_parser("apikey", help="manage HTTP API keys").add_subparsers(dest="action", required=True)
    create = apikey.add_parser("create", help="create a key and print it once")
    create.add_argument("name")
    create.add_argument("--guild", type=int, action="append", default=[], metavar="ID", help="limit to a guild")
    create.add_argument("--bot-user", type=int, metavar="ID", help='the bot profile "self" means for this key')
    create.add_argument("--read-only", action="store_true", help="may read, never write")
    apikey.add_parser("list", help="list keys (never their secrets)")
    revoke = apikey.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("name")

    link = commands.add_parser("link", help="store a guild's link to a NamelessMC website")
    link.add_argument("guild_id", type=int)
    link.add_argument("--api-url", required=True)
    link.add_argument("--api-key", required=True)

    backup = commands.add_parser("backup", help="write a consistent copy of the database (also while it runs)")
    backup.add_argument("path", type=Path)

    botlist = commands.add_parser("botlist", help="the local bot-list registry (/bot-api)")
    botlist_actions = botlist.add_subparsers(dest="action", required=True)
    botlist_actions.add_parser("register", help="register a bot so it may post to /bot-api").add_argument(
        "bot_id", type=int
    )

    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("doctor", help="check the token, intents, permissions and role positions")
    return parser


def main(argv: Sequence[str] | None = None, *, run: Callable[[Settings], Awaitable[None]]) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        stop_logging = log_off_the_loop(settings.logging.level, sys.stderr)
        try:
            with asyncio.Runner(loop_factory=event_loop_factory(settings.runtime.event_loop)) as runner:
                return runner.run(_dispatch(args, settings, run))
        finally:
            stop_logging()  # every line gathered so far is written first
    except (CliError, ConfigError, StorageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def event_loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The ``[runtime] event_loop`` to run on: uvloop's, or None for asyncio's own."""
    if kind != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:  # no build for this platform (Windows)
        log.warning("uvloop is not installed; running on asyncio's event loop")
        return None
    return uvloop.new_event_loop


FLUSH_EVERY = 0.05  # seconds between the log writer's turns (a warning or worse is written at once)


class _LineWriter(logging.Handler):
    """Formats each record on the thread that logs it; a writer thread writes the lines gathered.

    Formatting stays where the record is made because a thread only moves blocking calls off the
    event loop: Python work in another thread still takes the interpreter lock from the loop, and
    each handover makes the loop wait (with one line per request, a writer thread woken for every
    record cost the API more than the formatting itself). The writer wakes every ``FLUSH_EVERY``
    seconds, or at once for a warning, and writes what gathered in one call.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._lines: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._writer = threading.Thread(target=self._write_until_stopped, name="log-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
        if record.levelno >= logging.WARNING:
            self._wake.set()

    def close(self) -> None:
        """Write every line gathered so far, then stop the writer."""
        self._stopping = True
        self._wake.set()
        self._writer.join()
        super().close()

    def _write_until_stopped(self) -> None:
        while not self._stopping:
            self._wake.wait(FLUSH_EVERY)
            self._wake.clear()
            self._write_gathered()
        self._write_gathered()

    def _write_gathered(self) -> None:
        lines = [self._lines.popleft() for _ in range(len(self._lines))]  # others may append meanwhile
        if not lines:
            return
        try:
            self._stream.write("".join(lines))
            self._stream.flush()
        except (OSError, ValueError):  # the stream is gone: there is nowhere left to report it
            pass


def log_off_the_loop(level: str, stream: TextIO) -> Callable[[], None]:
    """Write log lines from a thread, so the event loop never waits on the stream.

    One access-log line per request, written where the loop runs, makes every request wait for
    stderr: when whatever reads it falls behind, the API and the bot stall with it. Returns the
    function that writes what is gathered and stops. Like ``logging.basicConfig``, it leaves
    logging alone when it is configured already.
    """
    root = logging.getLogger()
    if root.handlers:
        return lambda: None
    handler = _LineWriter(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)

    def stop() -> None:
        root.removeHandler(handler)
        handler.close()

    return stop


def _settings(args: argparse.Namespace) -> Settings:
    path = args.config
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    settings = load_settings(path)
    if args.db:
        settings = settings.model_copy(
            update={"storage": settings.storage.model_copy(update={"path": args.db})}, deep=True
        )
    return settings


async def _dispatch(args: argparse.Namespace, settings: Settings, run: Callable[[Settings], Awaitable[None]]) -> int:
    # Imported here so that key and database commands start fast and never load fakediscord.
    from guildhall.runtime import StartupError

    command = args.command or "run"
    try:
        if command == "run" and not settings.has_token:
            print("No Discord token configured (DISCORD_TOKEN or [discord] token): starting sandbox mode.")
            command = "sandbox"
        if command == "run":
            await run(settings)
            return 0
        if command == "sandbox":
            from guildhall.sandbox import run_sandbox

            await run_sandbox(
                settings,
                world_path=getattr(args, "world", None),
                api_port=getattr(args, "api_port", None),
                discord_port=getattr(args, "discord_port", None),
                own_db=bool(args.db),
            )
            return 0
        if command == "doctor":
            from guildhall.doctor import run_doctor

            return await run_doctor(settings)
        handlers: dict[str, Callable[[argparse.Namespace, Repositories], Awaitable[int]]] = {
            "apikey": _apikey,
            "backup": _backup,
            "link": _link,
            "botlist": _botlist,
            "migrate": _migrate,
        }
        return await _with_repos(settings, args, handlers[command])
    except StartupError as error:
        raise CliError(str(error)) from None


async def _with_repos(
    settings: Settings,
    args: argparse.Namespace,
    handler: Callable[[argparse.Namespace, Repositories], Awaitable[int]],
) -> int:
    storage = await Storage.open(
        settings.storage.path, synchronous=settings.storage.synchronous, migrate=args.command == "migrate"
    )
    try:
        if args.command != "migrate" and await storage.schema_version() == 0:
            await storage.migrate()
        return await handler(args, Repositories(storage))
    finally:
        await storage.close()


async def _backup(args: argparse.Namespace, repos: Repositories) -> int:
    pages = await repos.storage.backup(args.path)
    print(f"backed up {repos.storage.path} to {args.path} ({pages} pages)")
    return 0


async def _migrate(args: argparse.Namespace, repos: Repositories) -> int:
    version = await repos.storage.schema_version()
    print(f"database {repos.storage.path} is at schema version {version}")
    return 0


async def _apikey(args: argparse.Namespace, repos: Repositories) -> int:
    if args.action == "create":
        try:
            key, secret = await repos.api_keys.create(
                args.name,
                now=int(time.time()),
                guild_ids=frozenset(args.guild),
                bot_user_id=args.bot_user,
                read_only=args.read_only,
            )
        except DuplicateName as error:
            raise CliError(str(error)) from None
        scope = ", ".join(map(str, sorted(key.guild_ids))) or "all guilds"
        print(f"created API key {key.name!r} ({'read-only' if key.read_only else 'read-write'}, {scope});")
        print("it is shown only now. Send it as the Authorization header:")
        print(secret)
        return 0
    if args.action == "list":
        for key in await repos.api_keys.list():
            state = "revoked" if key.revoked_at else "active"
            scope = ",".join(map(str, sorted(key.guild_ids))) or "all guilds"
            bot = key.bot_user_id or "this bot"
            access = "read-only" if key.read_only else "read-write"
            print(f"{key.name}\t{key.prefix}…\t{state}\t{access}\t{scope}\tself={bot}")
        return 0
    if not await repos.api_keys.revoke(args.name, now=int(time.time())):
        raise CliError(f"no active API key named {args.name!r}")
    print(f"revoked API key {args.name!r}")
    return 0


async def _link(args: argparse.Namespace, repos: Repositories) -> int:
    try:
        url = normalise_website_url(args.api_url)
    except LinkError as error:
        raise CliError(str(error)) from None
    if not args.api_key.strip():
        raise CliError("--api-key must not be empty")
    await repos.guild_links.put(args.guild_id, url, args.api_key, now=int(time.time()))
    print(f"linked guild {args.guild_id} to {url}")
    return 0


async def _botlist(args: argparse.Namespace, repos: Repositories) -> int:
    if not 0 < args.bot_id < 2**63:
        raise CliError("BOT_ID must be a Discord user id")
    added = await repos.botlist.register(args.bot_id, by="cli", now=int(time.time()))
    print(f"bot {args.bot_id} {'registered' if added else 'was already registered'} on the local bot list")
    return 0
