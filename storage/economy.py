"""The economy aggregate: item catalogs, inventories, reputation and like events, rank-card colours.

The member record itself (experience, level, messages, voice time) and the voicepoint ledger are
other aggregates; this one holds only what the economy view adds to them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from storage.db import Storage
from storage.ledger import MemberFlows, Party, member_flows
from storage.members import ActivityTotals, Member, activity_totals, load_member

EventKind = Literal["rep", "like"]
MAX_STOCK = 2**53 - 1
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Item:
    guild_id: int
    item_id: str
    name: str
    description: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Stack:
    item_id: str
    amount: int
    received: int


@dataclass(frozen=True, slots=True)
class Totals:
    """Reputation and likes received, in all and since each of the given moments."""

    rp: int
    likes: int
    last_like_given: int | None
    rp_since: dict[str, int]
    likes_since: dict[str, int]


@dataclass(frozen=True, slots=True)
class ProfileSnapshot:
    """Everything the economy view of one member reads, from one consistent read.

    ``activity`` and ``flows`` are empty for a member without a record (they have no rows)."""

    member: Member | None
    voice_settings: dict[str, Any]  # the guild's stored voice settings (the level curve is there)
    activity: dict[str, ActivityTotals]
    flows: MemberFlows | None
    totals: Totals
    inventory: list[Stack]
    colours: dict[str, Any] | None


class DuplicateItem(Exception):
    """The guild's catalog already has an item with this id."""


class UnknownItem(Exception):
    def __init__(self, item_id: str) -> None:
        super().__init__(f"item {item_id!r} is not in this server's catalog")
        self.item_id = item_id


class NotEnoughStock(Exception):
    def __init__(self, item_id: str, have: int, change: int) -> None:
        super().__init__(f"cannot remove {-change} of item {item_id!r}: only {have} in the inventory")
        self.item_id = item_id


class StockOverflow(Exception):
    def __init__(self, item_id: str) -> None:
        super().__init__(f"the amount of item {item_id!r} would exceed {MAX_STOCK}")
        self.item_id = item_id


class OnCooldown(Exception):
    def __init__(self, retry_at: int) -> None:
        super().__init__(f"on cooldown until {retry_at}")
        self.retry_at = retry_at


class BelowZero(Exception):
    """The change would leave a counter below zero."""


class EconomyRepository:
    user_data_kind = "economy: inventory, reputation, likes and rank-card colours"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    # --- the catalog -----------------------------------------------------------------------

    async def create_item(self, guild_id: int, item_id: str, name: str, description: str, *, now: int) -> Item:
        def work(conn: sqlite3.Connection) -> Item:
            try:
                conn.execute(
                    "INSERT INTO economy_items (guild_id, item_id, name, description, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (guild_id, item_id, name, description, now),
                )
            except sqlite3.IntegrityError as error:
                raise DuplicateItem(f"item {item_id!r} already exists") from error
            return Item(guild_id, item_id, name, description, now)

        return await self._storage.write(work)

    async def edit_item(
        self, guild_id: int, item_id: str, *, name: str | None = None, description: str | None = None
    ) -> Item | None:
        def work(conn: sqlite3.Connection) -> Item | None:
            conn.execute(
                "UPDATE economy_items SET name = COALESCE(?, name), description = COALESCE(?, description)"
                " WHERE guild_id = ? AND item_id = ?",
                (name, description, guild_id, item_id),
            )
            return _item(conn, guild_id, item_id)

        return await self._storage.write(work)

    async def delete_item(self, guild_id: int, item_id: str) -> bool:
        """Remove the item from the catalog and from every inventory."""

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM economy_items WHERE guild_id = ? AND item_id = ?", (guild_id, item_id))
            return cursor.rowcount > 0

        return await self._storage.write(work)

    async def items(self, guild_id: int) -> list[Item]:
        def work(conn: sqlite3.Connection) -> list[Item]:
            rows = conn.execute(
                "SELECT guild_id, item_id, name, description, created_at FROM economy_items"
                " WHERE guild_id = ? ORDER BY item_id",
                (guild_id,),
            )
            return [Item(*row) for row in rows]

        return await self._storage.read(work)

    # --- inventories -----------------------------------------------------------------------

    async def change_inventory(
        self, guild_id: int, user_id: int, changes: Mapping[str, int], *, now: int
    ) -> list[Stack]:
        """Apply every change or none: an unknown item or a removal below zero refuses them all."""

        def work(conn: sqlite3.Connection) -> list[Stack]:
            for item_id, change in changes.items():
                if _item(conn, guild_id, item_id) is None:
                    raise UnknownItem(item_id)
                row = conn.execute(
                    "SELECT amount FROM economy_inventory WHERE guild_id = ? AND user_id = ? AND item_id = ?",
                    (guild_id, user_id, item_id),
                ).fetchone()
                have = row[0] if row else 0
                if have + change < 0:
                    raise NotEnoughStock(item_id, have, change)
                if have + change > MAX_STOCK:
                    raise StockOverflow(item_id)
                if row is None:
                    conn.execute(
                        "INSERT INTO economy_inventory (guild_id, user_id, item_id, amount, received, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (guild_id, user_id, item_id, change, change, now),
                    )
                else:
                    conn.execute(
                        "UPDATE economy_inventory SET amount = amount + ?, received = received + ?, updated_at = ?"
                        " WHERE guild_id = ? AND user_id = ? AND item_id = ?",
                        (change, max(change, 0), now, guild_id, user_id, item_id),
                    )
            return _inventory(conn, guild_id, user_id)

        return await self._storage.write(work)

    async def inventory(self, guild_id: int, user_id: int) -> list[Stack]:
        """Every item the member holds or has held, including those at zero."""
        return await self._storage.read_point(lambda conn: _inventory(conn, guild_id, user_id))

    # --- reputation and likes --------------------------------------------------------------

    async def give(
        self,
        kind: EventKind,
        guild_id: int,
        user_id: int,
        *,
        giver_id: int,
        now: int,
        cooldown: int,
        per_receiver: bool,
    ) -> int:
        """Record +1 from ``giver_id`` unless their last one (to anyone, or to this member) is too recent.

        Returns the member's new total of ``kind``.
        """

        def work(conn: sqlite3.Connection) -> int:
            query = "SELECT MAX(created_at) FROM economy_events WHERE guild_id = ? AND giver_id = ? AND kind = ?"
            args: tuple[Any, ...] = (guild_id, giver_id, kind)
            if per_receiver:
                query += " AND user_id = ?"
                args += (user_id,)
            last = conn.execute(query, args).fetchone()[0]
            if last is not None and last + cooldown > now:
                raise OnCooldown(last + cooldown)
            _insert_event(conn, kind, guild_id, user_id, giver_id, 1, now)
            return _total(conn, kind, guild_id, user_id)

        return await self._storage.write(work)

    async def adjust(self, kind: EventKind, guild_id: int, user_id: int, delta: int, *, now: int) -> int:
        """Add ``delta`` (an API edit, no giver); refused when the total would fall below zero."""

        def work(conn: sqlite3.Connection) -> int:
            if _total(conn, kind, guild_id, user_id) + delta < 0:
                raise BelowZero(f"{kind} would fall below zero")
            if delta:
                _insert_event(conn, kind, guild_id, user_id, None, delta, now)
            return _total(conn, kind, guild_id, user_id)

        return await self._storage.write(work)

    async def totals(self, guild_id: int, user_id: int, since: Mapping[str, int]) -> Totals:
        return await self._storage.read_point(lambda conn: _totals(conn, guild_id, user_id, since))

    # --- the profile view ------------------------------------------------------------------

    async def timezone(self, guild_id: int) -> str | None:
        """The guild's own economy time zone, if it chose one (remembered until the next commit)."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT settings FROM guild_settings WHERE guild_id = ? AND feature = 'economy'", (guild_id,)
            ).fetchone()
            return None if row is None else json.loads(row[0]).get("timezone")

        return await self._storage.read_cached(("economy-timezone", guild_id), work)

    async def profile_view(
        self,
        guild_id: int,
        user_id: int,
        starts: Mapping[str, int],
        *,
        render: Callable[[ProfileSnapshot], T],
        cache_key: Hashable,
    ) -> T:
        """``render`` of the member's :class:`ProfileSnapshot`, in one read on the loop thread.

        The rendered value is remembered under ``cache_key`` until the next commit by anyone, so
        the key must hold everything else ``render`` depends on (``starts``, anything from now);
        only immutable values (bytes, frozen dataclasses) may be rendered.
        """

        def work(conn: sqlite3.Connection) -> T:
            since = dict(starts)
            member = load_member(conn, guild_id, user_id)
            row = conn.execute(
                "SELECT settings FROM guild_settings WHERE guild_id = ? AND feature = 'voice'", (guild_id,)
            ).fetchone()
            return render(
                ProfileSnapshot(
                    member=member,
                    voice_settings={} if row is None else json.loads(row[0]),
                    activity=activity_totals(conn, guild_id, user_id, since) if member else {},
                    flows=member_flows(conn, Party(guild_id, user_id), since) if member else None,
                    totals=_totals(conn, guild_id, user_id, since),
                    inventory=_inventory(conn, guild_id, user_id),
                    colours=_colours(conn, guild_id, user_id),
                )
            )

        return await self._storage.read_cached(("economy-profile", guild_id, user_id, cache_key), work)

    # --- rank-card colours -----------------------------------------------------------------

    async def colours(self, guild_id: int, user_id: int) -> dict[str, Any] | None:
        return await self._storage.read_point(lambda conn: _colours(conn, guild_id, user_id))

    async def set_colours(self, guild_id: int, user_id: int, colours: Mapping[str, Any], *, now: int) -> None:
        payload = json.dumps(dict(colours), sort_keys=True)
        await self._storage.write(
            lambda conn: conn.execute(
                "INSERT INTO economy_rank_cards (guild_id, user_id, colours, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (guild_id, user_id) DO UPDATE SET colours = excluded.colours,"
                " updated_at = excluded.updated_at",
                (guild_id, user_id, payload, now),
            )
        )

    # --- privacy ---------------------------------------------------------------------------

    async def count_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return sum(
                conn.execute(query, (guild_id, user_id)).fetchone()[0]
                for query in (
                    "SELECT COUNT(*) FROM economy_inventory WHERE guild_id = ? AND user_id = ?",
                    "SELECT COUNT(*) FROM economy_events WHERE guild_id = ? AND user_id = ?",
                    "SELECT COUNT(*) FROM economy_events WHERE guild_id = ? AND giver_id = ?",
                    "SELECT COUNT(*) FROM economy_rank_cards WHERE guild_id = ? AND user_id = ?",
                )
            )

        return await self._storage.read(work)

    async def delete_user_data(self, guild_id: int, user_id: int) -> int:
        """Delete the member's inventory, colours and received events; events they gave lose their name."""

        def work(conn: sqlite3.Connection) -> int:
            deleted = 0
            for table in ("economy_inventory", "economy_rank_cards", "economy_events"):
                deleted += conn.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND user_id = ?",  # noqa: S608 - fixed names
                    (guild_id, user_id),
                ).rowcount
            deleted += conn.execute(
                "UPDATE economy_events SET giver_id = NULL WHERE guild_id = ? AND giver_id = ?", (guild_id, user_id)
            ).rowcount
            return deleted

        return await self._storage.write(work)


def _item(conn: sqlite3.Connection, guild_id: int, item_id: str) -> Item | None:
    row = conn.execute(
        "SELECT guild_id, item_id, name, description, created_at FROM economy_items WHERE guild_id = ? AND item_id = ?",
        (guild_id, item_id),
    ).fetchone()
    return None if row is None else Item(*row)


def _inventory(conn: sqlite3.Connection, guild_id: int, user_id: int) -> list[Stack]:
    rows = conn.execute(
        "SELECT item_id, amount, received FROM economy_inventory WHERE guild_id = ? AND user_id = ? ORDER BY item_id",
        (guild_id, user_id),
    )
    return [Stack(*row) for row in rows]


def _insert_event(
    conn: sqlite3.Connection, kind: str, guild_id: int, user_id: int, giver_id: int | None, amount: int, now: int
) -> None:
    conn.execute(
        "INSERT INTO economy_events (guild_id, user_id, giver_id, kind, amount, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (guild_id, user_id, giver_id, kind, amount, now),
    )


def _total(conn: sqlite3.Connection, kind: str, guild_id: int, user_id: int) -> int:
    return conn.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM economy_events WHERE guild_id = ? AND user_id = ? AND kind = ?",
        (guild_id, user_id, kind),
    ).fetchone()[0]


def _colours(conn: sqlite3.Connection, guild_id: int, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT colours FROM economy_rank_cards WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
    ).fetchone()
    return None if row is None else json.loads(row[0])


def _totals(conn: sqlite3.Connection, guild_id: int, user_id: int, since: Mapping[str, int]) -> Totals:
    """Reputation and likes received, in all and since each moment, and the last like given: two statements."""
    names = list(since)
    columns = ", ".join(
        [
            "COALESCE(SUM(CASE WHEN kind = 'rep' THEN amount END), 0)",
            "COALESCE(SUM(CASE WHEN kind = 'like' THEN amount END), 0)",
            *(
                f"COALESCE(SUM(CASE WHEN kind = '{kind}' AND created_at >= :s{i} THEN amount END), 0)"
                for kind in ("rep", "like")
                for i in range(len(names))
            ),
        ]
    )
    sql = f"SELECT {columns} FROM economy_events WHERE guild_id = :g AND user_id = :u"  # noqa: S608 - fixed parts only
    params = {"g": guild_id, "u": user_id} | {f"s{i}": since[name] for i, name in enumerate(names)}
    rep, likes, *periods = conn.execute(sql, params).fetchone()
    last_like = conn.execute(
        "SELECT MAX(created_at) FROM economy_events WHERE guild_id = ? AND giver_id = ? AND kind = 'like'",
        (guild_id, user_id),
    ).fetchone()[0]
    count = len(names)
    return Totals(
        rep,
        likes,
        last_like,
        dict(zip(names, periods[:count], strict=True)),
        dict(zip(names, periods[count:], strict=True)),
    )
