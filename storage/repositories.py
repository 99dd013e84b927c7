"""Repositories: domain operations over the database, returning frozen dataclasses.

Each method is one unit of work (one hop to the database thread); SQL stays in this package.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from storage.botlist import BotListRepository
from storage.db import Storage
from storage.economy import EconomyRepository
from storage.ledger import LedgerRepository
from storage.link import WebsiteContactRepository
from storage.members import MemberRepository
from storage.serverstats import CounterRepository, PrivacyRepository, ServerstatsRepository, StarboardRepository

KEY_PREFIX = "gh_"


@functools.lru_cache(maxsize=1024)  # every request hashes its key: the few keys in use are hashed once
def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    guild_ids: frozenset[int]
    bot_user_id: int | None
    read_only: bool
    created_at: int
    revoked_at: int | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows_guild(self, guild_id: int) -> bool:
        return not self.guild_ids or guild_id in self.guild_ids


class DuplicateName(Exception):
    """A row with this name already exists."""


class ApiKeyRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def create(
        self,
        name: str,
        *,
        now: int,
        guild_ids: frozenset[int] = frozenset(),
        bot_user_id: int | None = None,
        read_only: bool = False,
    ) -> tuple[ApiKey, str]:
        """Store a new key and return it with its secret, which is never stored."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)

        def work(conn: sqlite3.Connection) -> ApiKey:
            try:
                cursor = conn.execute(
                    "INSERT INTO api_keys (name, key_hash, prefix, bot_user_id, read_only, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (name, hash_key(secret), secret[:8], bot_user_id, int(read_only), now),
                )
            except sqlite3.IntegrityError as error:
                raise DuplicateName(f"an API key named {name!r} already exists") from error
            conn.executemany(
                "INSERT INTO api_key_guilds (key_id, guild_id) VALUES (?, ?)",
                [(cursor.lastrowid, guild_id) for guild_id in sorted(guild_ids)],
            )
            return _load_key(conn, cursor.lastrowid)

        return await self._storage.write(work), secret

    async def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None."""
        presented = hash_key(secret)

        def work(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute(
                "SELECT k.id, k.name, k.prefix, k.bot_user_id, k.read_only, k.created_at, k.revoked_at, k.key_hash,"
                " group_concat(g.guild_id) AS guilds"
                " FROM api_keys AS k LEFT JOIN api_key_guilds AS g ON g.key_id = k.id"
                " WHERE k.key_hash = ? AND k.revoked_at IS NULL GROUP BY k.id",
                (presented,),
            ).fetchone()
            if row is None or not hmac.compare_digest(row["key_hash"], presented):
                return None
            return _key_from_row(row, frozenset(int(g) for g in (row["guilds"] or "").split(",") if g))

        # Every API request checks a key: one indexed read on the loop thread, no hop, remembered
        # until the next commit. A key revoked by another process is seen at once (data_version).
        return await self._storage.read_cached(("api_key", presented), work)

    async def list(self) -> list[ApiKey]:
        def work(conn: sqlite3.Connection) -> list[ApiKey]:
            ids = [row[0] for row in conn.execute("SELECT id FROM api_keys ORDER BY name")]
            return [key for key_id in ids if (key := _load_key(conn, key_id)) is not None]

        return await self._storage.read(work)

    async def revoke(self, name: str, *, now: int) -> bool:
        """Revoke the active key with this name; False when there is none."""

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
            )
            return cursor.rowcount == 1

        return await self._storage.write(work)


def _load_key(conn: sqlite3.Connection, key_id: int) -> ApiKey | None:
    row = conn.execute(
        "SELECT id, name, prefix, bot_user_id, read_only, created_at, revoked_at FROM api_keys WHERE id = ?",
        (key_id,),
    ).fetchone()
    if row is None:
        return None
    guild_ids = frozenset(
        r[0] for r in conn.execute("SELECT guild_id FROM api_key_guilds WHERE key_id = ?", (row["id"],))
    )
    return _key_from_row(row, guild_ids)


def _key_from_row(row: sqlite3.Row, guild_ids: frozenset[int]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        guild_ids=guild_ids,
        bot_user_id=row["bot_user_id"],
        read_only=bool(row["read_only"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


class GuildSettingsRepository:
    """Per-guild settings of one feature, stored as JSON over the feature's declared defaults."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def get(self, guild_id: int, feature: str) -> dict[str, Any] | None:
        def work(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT settings FROM guild_settings WHERE guild_id = ? AND feature = ?", (guild_id, feature)
            ).fetchone()
            return None if row is None else json.loads(row[0])

        return await self._storage.read_point(work)

    async def put(self, guild_id: int, feature: str, settings: dict[str, Any], *, now: int) -> None:
        payload = json.dumps(settings, sort_keys=True)
        await self._storage.write(
            lambda conn: conn.execute(
                "INSERT INTO guild_settings (guild_id, feature, settings, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (guild_id, feature) DO UPDATE SET settings = excluded.settings,"
                " updated_at = excluded.updated_at",
                (guild_id, feature, payload, now),
            )
        )

    async def delete(self, guild_id: int, feature: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM guild_settings WHERE guild_id = ? AND feature = ?", (guild_id, feature))
            return cursor.rowcount > 0

        return await self._storage.write(work)


class BotStateRepository:
    """Facts the bot keeps about itself between runs."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def get(self, key: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT value FROM bot_state WHERE key = ?", (key,)).fetchone()
            return None if row is None else row[0]

        return await self._storage.read(work)

    async def put(self, key: str, value: str) -> None:
        await self._storage.write(
            lambda conn: conn.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )


@dataclass(frozen=True, slots=True)
class GuildLink:
    guild_id: int
    api_url: str
    api_key: str
    linked_at: int


class GuildLinkRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def get(self, guild_id: int) -> GuildLink | None:
        def work(conn: sqlite3.Connection) -> GuildLink | None:
            row = conn.execute(
                "SELECT guild_id, api_url, api_key, linked_at FROM guild_links WHERE guild_id = ?", (guild_id,)
            ).fetchone()
            return None if row is None else GuildLink(*row)

        return await self._storage.read(work)

    async def put(self, guild_id: int, api_url: str, api_key: str, *, now: int) -> None:
        await self._storage.write(
            lambda conn: conn.execute(
                "INSERT INTO guild_links (guild_id, api_url, api_key, linked_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET api_url = excluded.api_url, api_key = excluded.api_key,"
                " linked_at = excluded.linked_at",
                (guild_id, api_url, api_key, now),
            )
        )

    async def delete(self, guild_id: int) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM guild_links WHERE guild_id = ?", (guild_id,)).rowcount > 0

        return await self._storage.write(work)


@runtime_checkable
class UserDataOwner(Protocol):
    """A repository that stores data about members: privacy commands reach every one of these."""

    user_data_kind: str  # what the data is, in the words /privacy data shows

    async def count_user_data(self, guild_id: int, user_id: int) -> int: ...

    async def delete_user_data(self, guild_id: int, user_id: int) -> int: ...


class Repositories:
    """Every repository over one storage; features add theirs here."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.api_keys = ApiKeyRepository(storage)
        self.guild_settings = GuildSettingsRepository(storage)
        self.bot_state = BotStateRepository(storage)
        self.guild_links = GuildLinkRepository(storage)
        self.website_contacts = WebsiteContactRepository(storage)
        self.members = MemberRepository(storage)
        self.ledger = LedgerRepository(storage)
        self.botlist = BotListRepository(storage)
        self.economy = EconomyRepository(storage)
        self.serverstats = ServerstatsRepository(storage)
        self.starboard = StarboardRepository(storage)
        self.counters = CounterRepository(storage)
        self.privacy = PrivacyRepository(storage)

    def user_data_owners(self) -> list[UserDataOwner]:
        """Every repository holding data about members."""
        return [repo for repo in vars(self).values() if isinstance(repo, UserDataOwner)]
