"""The website link's own state beside ``guild_links``: the last contact with each linked website."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage.db import Storage


@dataclass(frozen=True, slots=True)
class WebsiteContact:
    guild_id: int
    ok: bool
    detail: str
    checked_at: int


class WebsiteContactRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def record(self, guild_id: int, *, ok: bool, detail: str, now: int) -> bool:
        """Remember the outcome of a call to the guild's website; False when the guild is not linked."""

        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute("SELECT 1 FROM guild_links WHERE guild_id = ?", (guild_id,)).fetchone() is None:
                return False
            conn.execute(
                "INSERT INTO link_website_contacts (guild_id, ok, detail, checked_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET ok = excluded.ok, detail = excluded.detail,"
                " checked_at = excluded.checked_at",
                (guild_id, int(ok), detail[:500], now),
            )
            return True

        return await self._storage.write(work)

    async def last(self, guild_id: int) -> WebsiteContact | None:
        def work(conn: sqlite3.Connection) -> WebsiteContact | None:
            row = conn.execute(
                "SELECT guild_id, ok, detail, checked_at FROM link_website_contacts WHERE guild_id = ?", (guild_id,)
            ).fetchone()
            return None if row is None else WebsiteContact(row[0], bool(row[1]), row[2], row[3])

        return await self._storage.read(work)
