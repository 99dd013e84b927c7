"""What the web door may ask of the Discord door, as a protocol (no discord.py types cross it)."""

from __future__ import annotations

from typing import Protocol


class BotStatus(Protocol):
    @property
    def gateway_connected(self) -> bool: ...

    @property
    def ready(self) -> bool: ...

    @property
    def guild_count(self) -> int: ...

    @property
    def bot_user_id(self) -> int | None: ...

    @property
    def started_at(self) -> float: ...


class NoBot:
    """The web app without a Discord side (CLI tools, some tests)."""

    gateway_connected = False
    ready = False
    guild_count = 0
    bot_user_id = None
    started_at = 0.0
