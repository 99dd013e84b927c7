"""Guildhall's composition root: ``python bot.py [--config FILE] [--db PATH] [COMMAND]``.

Settings in, storage opened, the bot and the web app built and run in one loop, then shut down in
reverse order: HTTP, gateway, storage. ``guildhall/cli.py`` holds the other commands.
"""

from __future__ import annotations

import sys

from core.clock import Clock
from core.config import Settings
from guildhall.bot import Guildhall
from guildhall.runtime import point_discord_at, serve, start_api, stop_signals
from storage import Repositories, Storage
from web.app import create_app


async def run(settings: Settings) -> None:
    clock = Clock()
    point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    storage = await Storage.open(settings.storage.path, synchronous=settings.storage.synchronous)
    try:
        repos = Repositories(storage)
        api_url = settings.api.public_url or f"http://{settings.api.host}:{settings.api.port}"
        async with Guildhall(settings=settings, repos=repos, clock=clock, api_url=api_url) as bot:
            app = create_app(settings=settings, repos=repos, clock=clock, bot=bot)
            api = await start_api(app, settings, host=settings.api.host, port=settings.api.port)
            async with stop_signals() as stop:
                await serve(bot, settings.discord.token, api, stop)
    finally:
        await storage.close()


if __name__ == "__main__":
    from guildhall.cli import main

    sys.exit(main(sys.argv[1:], run=run))
