"""One benchmark server in its own process: ``python -m bench.serve --kind bare|guildhall ...``.

``guildhall`` serves the real app (``create_app`` + ``start_api``) over an existing database.
``bare`` serves a plain aiohttp app with one handler per entry of ``--responses``, each answering
with fixed bytes: the floor Guildhall is compared against. Both run on the event loop Guildhall runs
on by default (``[runtime] event_loop``), so a ratio compares the app, not the loop.

Prints ``READY <port>`` once listening; stops on SIGINT/SIGTERM or when its stdin closes (so it
never outlives the benchmark driver, even if the driver is killed). With ``--profile PATH``, the
event-loop thread is sampled by pyinstrument from READY until the stop, and the profile written to
``PATH`` (HTML when it ends in ``.html``, else text): ``bench/profile.py`` drives it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from core.clock import Clock
from core.config import RuntimeSettings, Settings
from guildhall.cli import event_loop_factory
from guildhall.runtime import freeze_heap, start_api
from storage import Repositories, Storage
from web.app import create_app

HOST = "127.0.0.1"
STDIN = 0
RATE_LIMITED_FAMILIES = ("link", "voice", "economy", "serverstats", "botlist")
LIFTED_LIMIT = "1000000000/60"


def fixed_handler(status: int, content_type: str, body: bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})

    return handler


def bare_app(responses: list[dict[str, Any]]) -> web.Application:
    app = web.Application()
    for entry in responses:
        handler = fixed_handler(int(entry["status"]), str(entry["content_type"]), base64.b64decode(entry["body_b64"]))
        app.router.add_route(str(entry["method"]), str(entry["path"]), handler)
    return app


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> None:
    if args.kind == "bare":
        runner = web.AppRunner(bare_app(args.responses), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, args.port).start()
        await _run_until(stop, runner, args.profile)
        return

    settings = Settings.model_validate(
        {
            "storage": {"path": args.db},
            "logging": {"access_log": False},
            # Lifted through config, as an operator would, to a limit no run reaches: the limiter
            # still counts every request and the rate-limit headers are still sent.
            "api": {
                "rate_limits": dict.fromkeys(RATE_LIMITED_FAMILIES, LIFTED_LIMIT),
                "max_body_bytes": 16 * 1024 * 1024,  # a 10,000-item bulk add is ~1 MB
            },
        }
    )
    storage = await Storage.open(settings.storage.path, synchronous=settings.storage.synchronous)
    try:
        clock = Clock()
        app = create_app(settings=settings, repos=Repositories(storage), clock=clock)
        api = await start_api(app, settings, host=HOST, port=args.port)
        await _run_until(stop, api.runner, args.profile)
    finally:
        await storage.close()


async def _run_until(stop: asyncio.Event, runner: web.AppRunner, profile: Path | None = None) -> None:
    try:
        port = runner.addresses[0][1]
        freeze_heap()  # as Guildhall does once its bot is ready (guildhall.runtime.freeze_heap_when_ready)
        with _profiled(profile):
            print(f"READY {port}", flush=True)
            await stop.wait()
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def _profiled(path: Path | None) -> Iterator[None]:
    """Sample the loop thread (every task, not one) while the body runs; write the profile to ``path``."""
    if path is None:
        yield
        return
    from pyinstrument import Profiler  # a development dependency: only a profiling run needs it

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        rendered = profiler.output_html() if path.suffix == ".html" else profiler.output_text(color=False)
        path.write_text(rendered, encoding="utf-8")


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def on_stdin() -> None:
        try:
            data = os.read(STDIN, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(STDIN)
            stop.set()

    # The driver holds our stdin open; EOF means it is gone. (Not watchable if it is a file.)
    with contextlib.suppress(OSError, ValueError):
        loop.add_reader(STDIN, on_stdin)
    await serve(args, stop)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("bare", "guildhall"), required=True)
    parser.add_argument("--db", help="database path (guildhall)")
    parser.add_argument("--responses", help="JSON list of {method, path, status, content_type, body_b64} (bare)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--profile", type=Path, help="sample the server with pyinstrument and write the profile here")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=RuntimeSettings().event_loop,
        help="the event loop (default: Guildhall's default; both kinds run on the same one)",
    )
    args = parser.parse_args(argv)
    if args.responses:
        args.responses = json.loads(Path(args.responses).read_text(encoding="utf-8"))
    if args.kind == "guildhall" and not args.db:
        parser.error("--kind guildhall needs --db")
    if args.kind == "bare" and not args.responses:
        parser.error("--kind bare needs --responses")
    return args


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    arguments = parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory(arguments.loop)) as runner:
        runner.run(main(arguments))
