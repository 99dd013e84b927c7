"""``python -m fakediscord [--world FILE] [--port N] [--token T]``: fakediscord alone, on real time.

A bot in another process reaches it through ``[discord] api_base`` and ``gateway_url`` (printed on
start-up). Control calls then wait for a quiet period instead of the bot's event tasks. Stops on
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from core.clock import Clock

from .server import FakeDiscord
from .world import WorldError, default_world, load_world


async def serve(args: argparse.Namespace) -> None:
    world = load_world(args.world) if args.world else default_world()
    fake = FakeDiscord(world, clock=Clock(), token=args.token, port=args.port)
    await fake.start()
    try:
        sys.stdout.write(f"fakediscord api_base {fake.api_base}\nfakediscord gateway_url {fake.gateway_url}\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakediscord", description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="world file (TOML); default: the built-in world")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--token", default="sandbox-token", help="the bot token it accepts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        asyncio.run(serve(args))
    except WorldError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
