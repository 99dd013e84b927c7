"""What the web door may ask of the Discord door, as a protocol (no discord.py types cross it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


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

    def member_name(self, guild_id: int, user_id: int) -> str | None:
        """The member's display name when the Discord side knows them."""
        ...

    def voice_session_start(self, guild_id: int, user_id: int) -> float | None:
        """When the member's open voice session began (epoch seconds), or None."""
        ...

    @property
    def discord_actions(self) -> DiscordActions | None: ...


class NoBot:
    """The web app without a Discord side (CLI tools, some tests)."""

    gateway_connected = False
    ready = False
    guild_count = 0
    bot_user_id = None
    started_at = 0.0

    discord_actions = None

    def member_name(self, guild_id: int, user_id: int) -> str | None:
        return None

    def voice_session_start(self, guild_id: int, user_id: int) -> float | None:
        return None


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """What the rules need to know about a guild role."""

    id: int
    position: int
    managed: bool
    default: bool  # @everyone


FailureKind = Literal[
    "forbidden", "unknown_member", "unknown_role", "unknown_user", "dms_closed", "rejected", "limited", "down"
]


class DiscordFailure(Exception):
    """A Discord call that did not go through; ``kind`` says why in the rules' terms."""

    def __init__(self, kind: FailureKind, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class DiscordActions(Protocol):
    """The role and DM work the website link needs from Discord, over the bot's cache and REST."""

    @property
    def available(self) -> bool: ...

    def in_guild(self, guild_id: int) -> bool: ...

    def member_roles(self, guild_id: int, user_id: int) -> frozenset[int] | None: ...

    def role(self, guild_id: int, role_id: int) -> RoleFacts | None: ...

    def can_manage_roles(self, guild_id: int) -> bool: ...

    def top_role_position(self, guild_id: int) -> int: ...

    async def edit_member_roles(
        self,
        guild_id: int,
        user_id: int,
        *,
        add: frozenset[int],
        remove: frozenset[int],
        reason: str,
        timeout: float,
    ) -> None:
        """Add and remove roles in one call once Discord's rate limits allow it; ``timeout`` bounds
        the call once sent (the wait for the limits is not bounded here)."""
        ...

    async def user_exists(self, user_id: int) -> bool: ...

    async def send_direct_message(self, user_id: int, content: str) -> None: ...
