"""The starboard rule: recount a message's stars and post, edit or remove its starboard post.

Star reactions and ``POST /modules/serverstats/starboard/add|remove`` both call :func:`check`,
which recounts from Discord, so the result never depends on which event arrived first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from core.serverstats import ChannelInfo, enabled_settings
from storage import Repositories


@dataclass(frozen=True, slots=True)
class StarredMessage:
    id: int
    guild_id: int
    channel_id: int
    author_id: int
    author_name: str
    author_avatar: str | None
    content: str
    image_url: str | None
    jump_url: str
    created_at: float
    nsfw: bool


@dataclass(frozen=True, slots=True)
class Starrer:
    user_id: int
    bot: bool


@dataclass(frozen=True, slots=True)
class StarCard:
    """What the starboard post shows."""

    content: str
    author_name: str
    author_avatar: str | None
    description: str
    image_url: str | None
    jump_url: str
    footer: str
    timestamp: dt.datetime


class StarboardDiscord(Protocol):
    def channel(self, guild_id: int, channel_id: int) -> ChannelInfo | None: ...

    async def fetch_message(self, channel_id: int, message_id: int) -> StarredMessage | None: ...

    async def star_users(self, channel_id: int, message_id: int, emoji: str) -> list[Starrer]: ...

    async def post(self, channel_id: int, card: StarCard) -> int: ...

    async def edit(self, channel_id: int, message_id: int, card: StarCard) -> bool:
        """False when the post no longer exists."""

    async def delete(self, channel_id: int, message_id: int) -> None: ...


# One lock per guild and per database (both doors share the Repositories object), so a reaction
# event and an API call for the same guild never recount at the same time.
_locks: weakref.WeakKeyDictionary[Repositories, defaultdict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(repos: Repositories, guild_id: int) -> asyncio.Lock:
    return _locks.setdefault(repos, defaultdict(asyncio.Lock))[guild_id]


def card_for(message: StarredMessage, count: int, emoji: str) -> StarCard:
    return StarCard(
        content=f"{emoji} **{count}** <#{message.channel_id}>",
        author_name=message.author_name,
        author_avatar=message.author_avatar,
        description=message.content[:4000],
        image_url=message.image_url,
        jump_url=message.jump_url,
        footer=f"Message ID: {message.id}",
        timestamp=dt.datetime.fromtimestamp(message.created_at, dt.UTC),
    )


async def check(
    repos: Repositories,
    discord: StarboardDiscord,
    guild_id: int,
    channel_id: int,
    message_id: int,
    *,
    now: int,
    emoji: str,
) -> str:
    """Bring the starboard in line with the message's stars; what happened, in one word.

    Raises :class:`core.serverstats.ModuleDisabled` when the module is off for the guild.
    """
    settings = await enabled_settings(repos, guild_id)
    board_id = settings.get("starboard_channel")
    threshold = settings.get("starboard_count")
    if not settings.get("starboard_enabled") or board_id is None or threshold is None:
        return "off"
    async with _lock(repos, guild_id):
        if channel_id == board_id:
            # Stars on the starboard post count for the original message.
            board_entry = await repos.starboard.entry_for_board_message(message_id)
            if board_entry is None:
                return "ignored"
            channel_id, message_id = board_entry.channel_id, board_entry.message_id
        entry = await repos.starboard.entry(message_id)
        message = await discord.fetch_message(channel_id, message_id)
        if message is None or message.guild_id != guild_id:
            if entry is not None and entry.board_message_id is not None and entry.board_channel_id is not None:
                await discord.delete(entry.board_channel_id, entry.board_message_id)
                await repos.starboard.forget_board_message(entry.board_message_id)
                return "removed"
            return "unknown message"
        users = await discord.star_users(channel_id, message_id, emoji)
        if entry is not None and entry.board_message_id is not None and entry.board_channel_id is not None:
            users += await discord.star_users(entry.board_channel_id, entry.board_message_id, emoji)
        starrers = {u.user_id for u in users if not u.bot and u.user_id != message.author_id}
        board = discord.channel(guild_id, board_id)
        allowed = board is not None and (board.nsfw or not message.nsfw)
        count = len(starrers)
        post_channel = entry.board_channel_id if entry and entry.board_message_id else None
        post_id = entry.board_message_id if entry else None
        outcome = "below threshold"
        if allowed and count >= threshold:
            card = card_for(message, count, emoji)
            if post_id is not None and post_channel is not None:
                if entry is not None and entry.stars == count:
                    outcome = "unchanged"
                elif await discord.edit(post_channel, post_id, card):
                    outcome = "updated"
                else:
                    post_id = None
            if post_id is None:
                post_channel = board_id
                post_id = await discord.post(board_id, card)
                outcome = "posted"
        elif post_id is not None and post_channel is not None:
            await discord.delete(post_channel, post_id)
            post_id = post_channel = None
            outcome = "removed"
        elif not allowed:
            outcome = "nsfw source" if board is not None else "no starboard channel"
        await repos.starboard.save(
            message_id=message.id,
            guild_id=guild_id,
            channel_id=message.channel_id,
            author_id=message.author_id,
            starrers=starrers,
            board_channel_id=post_channel,
            board_message_id=post_id,
            now=now,
        )
        return outcome


async def message_deleted(repos: Repositories, discord: StarboardDiscord, guild_id: int, message_id: int) -> str:
    """A deleted original takes its starboard post along; a deleted post is forgotten."""
    async with _lock(repos, guild_id):
        posted = await repos.starboard.entry_for_board_message(message_id)
        if posted is not None:
            await repos.starboard.forget_board_message(message_id)
            return "post forgotten"
        entry = await repos.starboard.entry(message_id)
        if entry is None:
            return "ignored"
        if entry.board_message_id is not None and entry.board_channel_id is not None:
            await discord.delete(entry.board_channel_id, entry.board_message_id)
        await repos.starboard.forget_message(message_id)
        return "removed"
