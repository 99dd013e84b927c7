"""Counter channels: names from the guild's numbers, renamed within Discord's rename limit.

Each pass computes every counter's current value, so pending updates merge and the newest value
wins; a channel whose rename budget is spent simply waits for a later pass. Nothing here sleeps.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Protocol

from core import serverstats
from core.serverstats import GuildCounts
from storage import Repositories

log = logging.getLogger(__name__)


def shorten(value: int) -> str:
    """12345 -> '12.3K', 1500000 -> '1.5M'; below 1000 as is."""
    if value < 1000:
        return str(value)
    for divisor, suffix in ((1_000, "K"), (1_000_000, "M"), (1_000_000_000, "B")):
        scaled = round(value / divisor, 1)
        if scaled < 1000 or suffix == "B":
            break
    return f"{scaled:.1f}".removesuffix(".0") + suffix


def counter_name(label: str, value: int) -> str:
    return f"{label}: {shorten(value)}"[:100]


class CounterDiscord(Protocol):
    def channel_name(self, guild_id: int, channel_id: int) -> str | None:
        """The channel's current name, or None when it no longer exists."""

    async def counts(self, guild_id: int, role_ids: set[int]) -> GuildCounts | None: ...

    async def rename(self, channel_id: int, name: str) -> float | None:
        """Rename; None when done, else the seconds Discord asks to wait."""


@dataclass
class RenameBudget:
    """At most ``limit`` renames per channel per ``window`` seconds, and Discord's own retry-after."""

    limit: int = 2
    window: float = 600.0
    _done: defaultdict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _blocked_until: dict[int, float] = field(default_factory=dict)

    def allows(self, channel_id: int, now: float) -> bool:
        if self._blocked_until.get(channel_id, 0.0) > now:
            return False
        done = self._done[channel_id]
        while done and done[0] <= now - self.window:
            done.popleft()
        return len(done) < self.limit

    def spend(self, channel_id: int, now: float) -> None:
        self._done[channel_id].append(now)

    def block(self, channel_id: int, until: float) -> None:
        self._blocked_until[channel_id] = until


def value_of(kind: str, role_id: int | None, counts: GuildCounts) -> int:
    if kind == "members":
        return counts.members
    if kind == "online":
        return counts.online
    if kind == "boosts":
        return counts.boosts
    return counts.role_online.get(role_id or 0, 0)


async def update_guild(
    repos: Repositories, discord: CounterDiscord, budget: RenameBudget, guild_id: int, *, now: float
) -> int:
    """One pass over a guild's counters; the number of channels renamed."""
    counters = await repos.counters.for_guild(guild_id)
    if not counters:
        return 0
    counts = await discord.counts(guild_id, {c.role_id for c in counters if c.role_id is not None})
    if counts is None:
        return 0
    renamed = 0
    for counter in counters:
        current = discord.channel_name(guild_id, counter.channel_id)
        if current is None:
            await serverstats.channel_deleted(repos, guild_id, counter.channel_id, now=int(now))
            continue
        name = counter_name(counter.label, value_of(counter.kind, counter.role_id, counts))
        if current == name:
            if counter.shown != name:
                await repos.counters.mark_shown(counter.channel_id, name)
            continue
        if not budget.allows(counter.channel_id, now):
            continue
        retry_after = await discord.rename(counter.channel_id, name)
        if retry_after is not None:
            log.info("rename of counter channel %s deferred %.0fs by Discord", counter.channel_id, retry_after)
            budget.block(counter.channel_id, now + retry_after)
            continue
        budget.spend(counter.channel_id, now)
        await repos.counters.mark_shown(counter.channel_id, name)
        renamed += 1
    return renamed


async def update_all(repos: Repositories, discord: CounterDiscord, budget: RenameBudget, *, now: float) -> int:
    renamed = 0
    for state in await repos.serverstats.enabled_guilds():
        if state.settings.get("counter_panel_enabled"):
            renamed += await update_guild(repos, discord, budget, state.guild_id, now=now)
    return renamed
