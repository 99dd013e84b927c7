"""The bot-list registry: registered bots, their guild counts and commands, reviews, review rewards."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from storage.db import Storage
from storage.ledger import LedgerEntry, Party, post


@dataclass(frozen=True, slots=True)
class ListedBot:
    bot_id: int
    registered_at: int
    registered_by: str
    guild_count: int | None
    guild_count_at: int | None


@dataclass(frozen=True, slots=True)
class CommandList:
    bot_id: int
    sort: str | None
    commands: list[dict[str, Any]]
    updated_at: int


@dataclass(frozen=True, slots=True)
class Review:
    bot_id: int
    user_id: int
    guild_id: int
    rating: int
    text: str
    created_at: int


class BotListRepository:
    """Bots registered in the local list, and what they and members post about them."""

    user_data_kind = "bot-list reviews and review rewards"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def register(self, bot_id: int, *, by: str, now: int) -> bool:
        """Register a bot; False when it was registered already."""

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT INTO botlist_bots (bot_id, registered_at, registered_by) VALUES (?, ?, ?)"
                " ON CONFLICT (bot_id) DO NOTHING",
                (bot_id, now, by),
            )
            return cursor.rowcount == 1

        return await self._storage.write(work)

    async def get(self, bot_id: int) -> ListedBot | None:
        return await self._storage.read(lambda conn: _load_bot(conn, bot_id))

    async def set_guild_count(self, bot_id: int, count: int, *, now: int) -> bool:
        """Store a registered bot's guild count; False when the bot is not registered."""

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE botlist_bots SET guild_count = ?, guild_count_at = ? WHERE bot_id = ?", (count, now, bot_id)
            )
            return cursor.rowcount == 1

        return await self._storage.write(work)

    async def set_commands(
        self, bot_id: int, sort: str | None, commands: list[dict[str, Any]] | None, *, now: int
    ) -> bool:
        """Replace a registered bot's command list (``None`` unsets it); False when not registered."""

        def work(conn: sqlite3.Connection) -> bool:
            if _load_bot(conn, bot_id) is None:
                return False
            if commands is None:
                conn.execute("DELETE FROM botlist_commands WHERE bot_id = ?", (bot_id,))
                return True
            conn.execute(
                "INSERT INTO botlist_commands (bot_id, sort, commands, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (bot_id) DO UPDATE SET sort = excluded.sort, commands = excluded.commands,"
                " updated_at = excluded.updated_at",
                (bot_id, sort, json.dumps(commands, separators=(",", ":")), now),
            )
            return True

        return await self._storage.write(work)

    async def commands(self, bot_id: int) -> CommandList | None:
        def work(conn: sqlite3.Connection) -> CommandList | None:
            row = conn.execute(
                "SELECT bot_id, sort, commands, updated_at FROM botlist_commands WHERE bot_id = ?", (bot_id,)
            ).fetchone()
            if row is None:
                return None
            return CommandList(row["bot_id"], row["sort"], json.loads(row["commands"]), row["updated_at"])

        return await self._storage.read(work)

    async def put_review(self, bot_id: int, *, guild_id: int, user_id: int, rating: int, text: str, now: int) -> bool:
        """Write (or rewrite) a member's review of a registered bot; False when the bot is not registered."""

        def work(conn: sqlite3.Connection) -> bool:
            if _load_bot(conn, bot_id) is None:
                return False
            conn.execute(
                "INSERT INTO botlist_reviews (bot_id, user_id, guild_id, rating, text, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bot_id, user_id) DO UPDATE SET"
                " guild_id = excluded.guild_id, rating = excluded.rating, text = excluded.text,"
                " created_at = excluded.created_at",
                (bot_id, user_id, guild_id, rating, text, now),
            )
            return True

        return await self._storage.write(work)

    async def review(self, bot_id: int, user_id: int) -> Review | None:
        def work(conn: sqlite3.Connection) -> Review | None:
            row = conn.execute(
                "SELECT bot_id, user_id, guild_id, rating, text, created_at FROM botlist_reviews"
                " WHERE bot_id = ? AND user_id = ?",
                (bot_id, user_id),
            ).fetchone()
            return None if row is None else Review(*row)

        return await self._storage.read(work)

    async def pay_review_reward(
        self, *, guild_id: int, user_id: int, bot_user_id: int, list_name: str, amount: int, actor: str, now: int
    ) -> LedgerEntry | None:
        """Claim the member's one review reward and pay it from the bot's profile in one unit of work,
        so a crash can neither record an unpaid claim nor pay twice; None when it was granted before."""
        issuer = Party(guild_id, bot_user_id)

        def work(conn: sqlite3.Connection) -> LedgerEntry | None:
            cursor = conn.execute(
                "INSERT INTO botlist_review_rewards (guild_id, user_id, list_name, amount, granted_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO NOTHING",
                (guild_id, user_id, list_name, amount, now),
            )
            if cursor.rowcount != 1:
                return None
            return post(
                conn, issuer, Party(guild_id, user_id), amount, reason=f"review on {list_name}", actor=actor, now=now,
                issuer=issuer,
            )  # fmt: skip

        return await self._storage.write(work)

    async def review_reward_granted(self, *, guild_id: int, user_id: int) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM botlist_review_rewards WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()
            return row is not None

        return await self._storage.read(work)

    # --- UserDataOwner ------------------------------------------------------------------------

    async def count_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            reviews = conn.execute(
                "SELECT COUNT(*) FROM botlist_reviews WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()[0]
            rewards = conn.execute(
                "SELECT COUNT(*) FROM botlist_review_rewards WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()[0]
            return reviews + rewards

        return await self._storage.read(work)

    async def delete_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            reviews = conn.execute(
                "DELETE FROM botlist_reviews WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).rowcount
            rewards = conn.execute(
                "DELETE FROM botlist_review_rewards WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).rowcount
            return reviews + rewards

        return await self._storage.write(work)


def _load_bot(conn: sqlite3.Connection, bot_id: int) -> ListedBot | None:
    row = conn.execute(
        "SELECT bot_id, registered_at, registered_by, guild_count, guild_count_at FROM botlist_bots WHERE bot_id = ?",
        (bot_id,),
    ).fetchone()
    return None if row is None else ListedBot(*row)
