"""A paced stream of people talking and moving through voice, for load tests (``POST /_control/load``).

The fake itself generates the events, by the loop's real time, so a load process needs one call
instead of thousands of round trips. Events are sent without waiting for the bot to handle each
one; the gateway's websocket applies back-pressure, so the rates reported are what was delivered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .commands import ActionError
from .state import VOICE_TYPES
from .world import CHANNEL_TYPES

if TYPE_CHECKING:
    from .server import FakeDiscord

TICK = 0.005  # seconds between pacing rounds
MAX_SECONDS = 3600.0
MAX_RATE = 100_000.0


@dataclass(frozen=True)
class LoadPlan:
    guild_id: int
    channel_id: int | None
    voice_channel_ids: tuple[int, ...]
    user_ids: tuple[int, ...]
    messages_per_s: float
    voice_per_s: float
    seconds: float


def plan(fake: FakeDiscord, body: dict[str, Any]) -> LoadPlan:
    """Validate a load request against the world: the guild's humans, text and voice channels."""
    from .actions import as_id

    guild = fake.store.guilds.get(as_id(body.get("guild_id"), "guild_id"))
    if guild is None:
        raise ActionError(f"unknown guild {body.get('guild_id')}")
    rates = {}
    for name in ("messages_per_s", "voice_per_s", "seconds"):
        value = body.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ActionError(f"{name} must be a number >= 0")
        rates[name] = float(value)
    if not 0 < rates["seconds"] <= MAX_SECONDS:
        raise ActionError(f"seconds must be above 0 and at most {MAX_SECONDS:g}")
    if max(rates["messages_per_s"], rates["voice_per_s"]) > MAX_RATE:
        raise ActionError(f"rates are at most {MAX_RATE:g} per second")
    channels = [fake.store.channels[c] for c in guild.channel_ids if c in fake.store.channels]
    text = [c.id for c in channels if c.type == CHANNEL_TYPES["text"] and not c.nsfw]
    voice = [c.id for c in channels if c.type in VOICE_TYPES and c.id != guild.afk_channel_id]
    channel_id = as_id(body["channel_id"], "channel_id") if body.get("channel_id") is not None else None
    if channel_id is not None and channel_id not in text:
        raise ActionError(f"channel {channel_id} is not a text channel of guild {guild.id}")
    if rates["messages_per_s"] and channel_id is None:
        if not text:
            raise ActionError(f"guild {guild.id} has no text channel")
        channel_id = text[0]
    if rates["voice_per_s"] and not voice:
        raise ActionError(f"guild {guild.id} has no voice channel")
    humans = [user_id for user_id in guild.members if not fake.store.users[user_id].bot]
    members = body.get("members", len(humans))
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise ActionError("members must be a whole number >= 1")
    if not humans:
        raise ActionError(f"guild {guild.id} has no human members")
    return LoadPlan(
        guild.id,
        channel_id,
        tuple(voice[:2]),
        tuple(humans[:members]),
        rates["messages_per_s"],
        rates["voice_per_s"],
        rates["seconds"],
    )


async def run(fake: FakeDiscord, load: LoadPlan) -> dict[str, Any]:
    """Send ``load``'s events at its rates for its seconds; returns what was delivered."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + load.seconds
    sent = {"messages": 0, "voice": 0}
    users = load.user_ids
    # Each member cycles through: out of voice -> first channel -> second channel -> out.
    places: tuple[int | None, ...] = (None, *load.voice_channel_ids)
    while True:
        now = min(loop.time(), end)
        elapsed = now - start
        due_messages = int(elapsed * load.messages_per_s) - sent["messages"]
        due_voice = int(elapsed * load.voice_per_s) - sent["voice"]
        for _ in range(due_messages):
            n = sent["messages"]
            await fake.message(load.guild_id, load.channel_id, users[n % len(users)], f"load {n}", settle=False)
            sent["messages"] = n + 1
        for _ in range(due_voice):
            n = sent["voice"]
            place = places[(n // len(users) + 1) % len(places)]
            await fake.voice(load.guild_id, users[n % len(users)], place, settle=False)
            sent["voice"] = n + 1
        if now >= end:
            break
        await asyncio.sleep(TICK)
    elapsed = loop.time() - start
    await fake.settled()
    return {
        "messages": sent["messages"],
        "voice": sent["voice"],
        "seconds": round(elapsed, 3),
        "messages_per_s": round(sent["messages"] / elapsed, 1),
        "voice_per_s": round(sent["voice"] / elapsed, 1),
    }
