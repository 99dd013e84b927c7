"""Server stats storage: module settings, starboard entries, counter channels, statistics, privacy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from storage.db import Storage, point_chunks

DAY = 86_400

# Tables whose guild_id column is configuration of the API rather than data about a guild.
NOT_GUILD_DATA = frozenset({"api_key_guilds", "guild_departures"})


@dataclass(frozen=True, slots=True)
class ModuleState:
    guild_id: int
    enabled: bool
    settings: Mapping[str, Any]  # read-only: states are cached and shared (Storage.read_cached)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A statistics event gathered by the bot: who, where, which message, when."""

    user_id: int | None
    channel_id: int | None
    ref_id: int | None
    at: int


@dataclass(frozen=True, slots=True)
class StarEntry:
    message_id: int
    guild_id: int
    channel_id: int
    author_id: int
    board_channel_id: int | None
    board_message_id: int | None
    stars: int


@dataclass(frozen=True, slots=True)
class CounterChannel:
    channel_id: int
    guild_id: int
    kind: str
    label: str
    role_id: int | None
    shown: str | None


@dataclass(frozen=True, slots=True)
class DayCount:
    day: int  # epoch seconds of the day's start (UTC)
    count: int
    avg: float | None
    max: int | None


class ServerstatsRepository:
    """The module's settings and enabled flag per guild; disabling purges the module's data."""

    user_data_kind = "server statistics events"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def get(self, guild_id: int) -> ModuleState | None:
        def work(conn: sqlite3.Connection) -> ModuleState | None:
            row = conn.execute(
                "SELECT guild_id, enabled, settings FROM serverstats_settings WHERE guild_id = ?", (guild_id,)
            ).fetchone()
            return None if row is None else ModuleState(row[0], bool(row[1]), MappingProxyType(json.loads(row[2])))

        # Every recorded event reads its guild's settings: remembered until the next commit.
        return await self._storage.read_cached(("serverstats-state", guild_id), work)

    async def enable(self, guild_id: int, defaults: dict[str, Any], *, now: int) -> bool:
        """Turn the module on (with ``defaults`` when the guild has no settings); False if it was on."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT enabled FROM serverstats_settings WHERE guild_id = ?", (guild_id,)).fetchone()
            if row is not None and row[0]:
                return False
            conn.execute(
                "INSERT INTO serverstats_settings (guild_id, enabled, settings, updated_at) VALUES (?, 1, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET enabled = 1, updated_at = excluded.updated_at",
                (guild_id, json.dumps(defaults, sort_keys=True), now),
            )
            return True

        return await self._storage.write(work)

    async def disable(self, guild_id: int, *, now: int) -> bool:
        """Turn the module off and delete everything it collected; False if it was not on."""

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE serverstats_settings SET enabled = 0, updated_at = ? WHERE guild_id = ? AND enabled = 1",
                (now, guild_id),
            )
            if cursor.rowcount == 0:
                return False
            _purge_module_data(conn, guild_id)
            return True

        return await self._storage.write(work)

    async def put_settings(self, guild_id: int, settings: dict[str, Any], *, now: int) -> None:
        payload = json.dumps(settings, sort_keys=True)
        await self._storage.write(
            lambda conn: conn.execute(
                "UPDATE serverstats_settings SET settings = ?, updated_at = ? WHERE guild_id = ?",
                (payload, now, guild_id),
            )
        )

    async def delete_settings(self, guild_id: int) -> bool:
        """Forget the guild's settings and everything the module collected there."""

        def work(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute("DELETE FROM serverstats_settings WHERE guild_id = ?", (guild_id,)).rowcount > 0
            _purge_module_data(conn, guild_id)
            return deleted

        return await self._storage.write(work)

    async def enabled_guilds(self) -> list[ModuleState]:
        def work(conn: sqlite3.Connection) -> list[ModuleState]:
            rows = conn.execute("SELECT guild_id, enabled, settings FROM serverstats_settings WHERE enabled = 1")
            return [ModuleState(r[0], True, MappingProxyType(json.loads(r[2]))) for r in rows]

        return await self._storage.read(work)

    # --- statistics events ---------------------------------------------------------------------

    async def record(
        self,
        guild_id: int,
        kind: str,
        *,
        now: int,
        user_id: int | None = None,
        channel_id: int | None = None,
        ref_id: int | None = None,
        label: str | None = None,
        delay: int | None = None,
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO serverstats_events (guild_id, kind, user_id, channel_id, ref_id, label, delay, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, kind, user_id, channel_id, ref_id, label, delay, now),
            )
            conn.execute(
                "INSERT INTO serverstats_daily (guild_id, kind, day, count, delay_sum, delay_count, delay_max)"
                " VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT (guild_id, kind, day) DO UPDATE SET"
                " count = count + 1, delay_sum = delay_sum + excluded.delay_sum,"
                " delay_count = delay_count + excluded.delay_count,"
                " delay_max = CASE WHEN excluded.delay_max IS NULL THEN delay_max"
                " WHEN delay_max IS NULL OR excluded.delay_max > delay_max THEN excluded.delay_max"
                " ELSE delay_max END",
                (guild_id, kind, now // DAY * DAY, delay or 0, int(delay is not None), delay),
            )

        await self._storage.write_point(work)

    async def record_many(self, guild_id: int, kind: str, events: Sequence[RecordedEvent]) -> None:
        """Many events of one kind (no delays), as :meth:`record` stores each: in units of work short
        enough for the loop thread (:func:`storage.db.point_chunks`), each committed before the next."""
        for chunk in point_chunks(events):
            await self._record_many_unit(guild_id, kind, chunk)

    async def _record_many_unit(self, guild_id: int, kind: str, events: Sequence[RecordedEvent]) -> None:
        days: dict[int, int] = {}
        for event in events:
            days[event.at // DAY * DAY] = days.get(event.at // DAY * DAY, 0) + 1

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO serverstats_events (guild_id, kind, user_id, channel_id, ref_id, label, delay, created_at)"
                " VALUES (?, ?, ?, ?, ?, NULL, NULL, ?)",
                [(guild_id, kind, e.user_id, e.channel_id, e.ref_id, e.at) for e in events],
            )
            conn.executemany(
                "INSERT INTO serverstats_daily (guild_id, kind, day, count, delay_sum, delay_count, delay_max)"
                " VALUES (?, ?, ?, ?, 0, 0, NULL) ON CONFLICT (guild_id, kind, day) DO UPDATE SET"
                " count = count + excluded.count",
                [(guild_id, kind, day, count) for day, count in days.items()],
            )

        await self._storage.write_point(work)

    async def daily(
        self,
        guild_id: int,
        kind: str,
        *,
        since: int,
        user_id: int | None = None,
        channel_id: int | None = None,
        timing: bool = False,
    ) -> list[DayCount]:
        """Per-day counts (with ``timing``, the delays' average and maximum) of ``kind`` events from ``since`` on."""
        if user_id is None and channel_id is None:
            return await self._storage.read(
                lambda conn: [
                    DayCount(r[0], r[1], r[2], r[3])
                    for r in conn.execute(
                        "SELECT day, count, CASE WHEN delay_count > 0 THEN delay_sum * 1.0 / delay_count END,"
                        " delay_max FROM serverstats_daily WHERE guild_id = ? AND kind = ? AND day >= ? ORDER BY day",
                        (guild_id, kind, since // DAY * DAY),
                    )
                ]
            )
        where = ["guild_id = ?", "kind = ?", "created_at >= ?"]
        params: list[Any] = [guild_id, kind, since]
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if channel_id is not None:
            where.append("channel_id = ?")
            params.append(channel_id)
        delays = "AVG(delay), MAX(delay)" if timing else "NULL, NULL"
        sql = (
            f"SELECT (created_at / 86400) * 86400 AS day, COUNT(*), {delays} FROM serverstats_events"  # noqa: S608
            f" WHERE {' AND '.join(where)} GROUP BY day ORDER BY day"
        )

        def work(conn: sqlite3.Connection) -> list[DayCount]:
            return [DayCount(r[0], r[1], r[2], r[3]) for r in conn.execute(sql, params)]

        return await self._storage.read(work)

    async def delete_older_than(self, cutoff: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            deleted = conn.execute("DELETE FROM serverstats_events WHERE created_at < ?", (cutoff,)).rowcount
            first_day = cutoff // DAY * DAY
            conn.execute("DELETE FROM serverstats_daily WHERE day <= ?", (first_day,))
            _recount(conn, "created_at >= ? AND created_at < ?", (first_day, first_day + DAY))
            return deleted

        return await self._storage.write(work)

    async def count_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "SELECT COUNT(*) FROM serverstats_events WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()[0]

        return await self._storage.read(work)

    async def delete_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            days = conn.execute(
                "SELECT DISTINCT kind, created_at / 86400 * 86400 FROM serverstats_events"
                " WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            ).fetchall()
            deleted = conn.execute(
                "DELETE FROM serverstats_events WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).rowcount
            for kind, day in days:
                conn.execute(
                    "DELETE FROM serverstats_daily WHERE guild_id = ? AND kind = ? AND day = ?", (guild_id, kind, day)
                )
                _recount(
                    conn,
                    "guild_id = ? AND kind = ? AND created_at >= ? AND created_at < ?",
                    (guild_id, kind, day, day + DAY),
                )
            return deleted

        return await self._storage.write(work)


def _recount(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> None:
    """Rebuild the per-day totals of the events matching ``where`` (a fixed condition, within one day)."""
    totals = "guild_id, kind, created_at / 86400 * 86400, COUNT(*), COALESCE(SUM(delay), 0), COUNT(delay), MAX(delay)"
    sql = f"SELECT {totals} FROM serverstats_events WHERE {where} GROUP BY guild_id, kind, created_at / 86400"  # noqa: S608
    columns = "guild_id, kind, day, count, delay_sum, delay_count, delay_max"
    sql = f"INSERT OR REPLACE INTO serverstats_daily ({columns}) {sql}"
    conn.execute(sql, params)


def _purge_module_data(conn: sqlite3.Connection, guild_id: int) -> None:
    for table in (
        "serverstats_events",
        "serverstats_daily",
        "starboard_stars",
        "starboard_entries",
        "counter_channels",
    ):
        conn.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))  # noqa: S608 (fixed names)


class StarboardRepository:
    """Starboard entries and their starrers."""

    user_data_kind = "starboard entries and stars"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def entry(self, message_id: int) -> StarEntry | None:
        return await self._storage.read(lambda conn: _entry(conn, message_id))

    async def entry_for_board_message(self, board_message_id: int) -> StarEntry | None:
        def work(conn: sqlite3.Connection) -> StarEntry | None:
            row = conn.execute(
                "SELECT message_id FROM starboard_entries WHERE board_message_id = ?", (board_message_id,)
            ).fetchone()
            return None if row is None else _entry(conn, row[0])

        return await self._storage.read(work)

    async def save(
        self,
        *,
        message_id: int,
        guild_id: int,
        channel_id: int,
        author_id: int,
        starrers: set[int],
        board_channel_id: int | None,
        board_message_id: int | None,
        now: int,
    ) -> StarEntry | None:
        """Store an entry with exactly these starrers; with no starrers and no post, forget it."""

        def work(conn: sqlite3.Connection) -> StarEntry | None:
            if not starrers and board_message_id is None:
                conn.execute("DELETE FROM starboard_entries WHERE message_id = ?", (message_id,))
                return None
            conn.execute(
                "INSERT INTO starboard_entries (message_id, guild_id, channel_id, author_id, board_channel_id,"
                " board_message_id, stars, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (message_id) DO UPDATE SET board_channel_id = excluded.board_channel_id,"
                " board_message_id = excluded.board_message_id, stars = excluded.stars",
                (message_id, guild_id, channel_id, author_id, board_channel_id, board_message_id, len(starrers), now),
            )
            conn.execute("DELETE FROM starboard_stars WHERE message_id = ?", (message_id,))
            conn.executemany(
                "INSERT INTO starboard_stars (message_id, user_id, guild_id) VALUES (?, ?, ?)",
                [(message_id, user_id, guild_id) for user_id in sorted(starrers)],
            )
            return _entry(conn, message_id)

        return await self._storage.write(work)

    async def forget_board_message(self, board_message_id: int) -> None:
        await self._storage.write(
            lambda conn: conn.execute("DELETE FROM starboard_entries WHERE board_message_id = ?", (board_message_id,))
        )

    async def forget_message(self, message_id: int) -> None:
        await self._storage.write(
            lambda conn: conn.execute("DELETE FROM starboard_entries WHERE message_id = ?", (message_id,))
        )

    async def count_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            entries = conn.execute(
                "SELECT COUNT(*) FROM starboard_entries WHERE guild_id = ? AND author_id = ?", (guild_id, user_id)
            ).fetchone()[0]
            stars = conn.execute(
                "SELECT COUNT(*) FROM starboard_stars WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()[0]
            return entries + stars

        return await self._storage.read(work)

    async def delete_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            stars = conn.execute(
                "DELETE FROM starboard_stars WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).rowcount
            conn.execute(
                "UPDATE starboard_entries SET stars = (SELECT COUNT(*) FROM starboard_stars s"
                " WHERE s.message_id = starboard_entries.message_id) WHERE guild_id = ?",
                (guild_id,),
            )
            entries = conn.execute(
                "DELETE FROM starboard_entries WHERE guild_id = ? AND author_id = ?", (guild_id, user_id)
            ).rowcount
            return stars + entries

        return await self._storage.write(work)


def _entry(conn: sqlite3.Connection, message_id: int) -> StarEntry | None:
    row = conn.execute(
        "SELECT message_id, guild_id, channel_id, author_id, board_channel_id, board_message_id, stars"
        " FROM starboard_entries WHERE message_id = ?",
        (message_id,),
    ).fetchone()
    return None if row is None else StarEntry(*row)


class CounterRepository:
    """Counter channels and the name each one shows."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def for_guild(self, guild_id: int) -> list[CounterChannel]:
        def work(conn: sqlite3.Connection) -> list[CounterChannel]:
            rows = conn.execute(
                "SELECT channel_id, guild_id, kind, label, role_id, shown FROM counter_channels"
                " WHERE guild_id = ? ORDER BY channel_id",
                (guild_id,),
            )
            return [CounterChannel(*row) for row in rows]

        return await self._storage.read(work)

    async def replace(self, guild_id: int, channels: list[CounterChannel]) -> None:
        """Make the guild's counters exactly ``channels`` (keeping what each one already shows)."""

        def work(conn: sqlite3.Connection) -> None:
            shown = dict(
                conn.execute(
                    "SELECT channel_id, shown FROM counter_channels WHERE guild_id = ?", (guild_id,)
                ).fetchall()
            )
            conn.execute("DELETE FROM counter_channels WHERE guild_id = ?", (guild_id,))
            conn.executemany(
                "INSERT INTO counter_channels (channel_id, guild_id, kind, label, role_id, shown)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (c.channel_id, guild_id, c.kind, c.label, c.role_id, shown.get(c.channel_id, c.shown))
                    for c in channels
                ],
            )

        await self._storage.write(work)

    async def mark_shown(self, channel_id: int, name: str) -> None:
        await self._storage.write(
            lambda conn: conn.execute("UPDATE counter_channels SET shown = ? WHERE channel_id = ?", (name, channel_id))
        )


class PrivacyRepository:
    """Opt-outs from data collection, and purging the data of guilds the bot has left."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def is_opted_out(self, guild_id: int, user_id: int) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM privacy_optouts WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()
            return row is not None

        return await self._storage.read_cached(("opted-out", guild_id, user_id), work)

    async def opted_out_among(self, guild_id: int, user_ids: Collection[int]) -> set[int]:
        """Which of ``user_ids`` opted out in the guild (one read for many)."""
        wanted = sorted(set(user_ids))

        def work(conn: sqlite3.Connection) -> set[int]:
            found: set[int] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in conn.execute(
                        f"SELECT user_id FROM privacy_optouts WHERE guild_id = ? AND user_id IN ({marks})",  # noqa: S608
                        (guild_id, *chunk),
                    )
                )
            return found

        return await self._storage.read(work) if wanted else set()

    async def set_opted_out(self, guild_id: int, user_id: int, opted_out: bool, *, now: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if opted_out:
                conn.execute(
                    "INSERT OR IGNORE INTO privacy_optouts (guild_id, user_id, created_at) VALUES (?, ?, ?)",
                    (guild_id, user_id, now),
                )
            else:
                conn.execute("DELETE FROM privacy_optouts WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))

        await self._storage.write(work)

    async def guild_left(self, guild_id: int, *, now: int) -> None:
        await self._storage.write(
            lambda conn: conn.execute(
                "INSERT INTO guild_departures (guild_id, left_at) VALUES (?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET left_at = excluded.left_at",
                (guild_id, now),
            )
        )

    async def guild_joined(self, guild_id: int) -> bool:
        """The bot is (back) in the guild: cancel a pending purge. True if one was pending."""

        def work(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM guild_departures WHERE guild_id = ?", (guild_id,)).rowcount > 0

        return await self._storage.write(work)

    async def pending_departures(self) -> dict[int, int]:
        def work(conn: sqlite3.Connection) -> dict[int, int]:
            return dict(conn.execute("SELECT guild_id, left_at FROM guild_departures").fetchall())

        return await self._storage.read(work)

    async def purge_departed(self, *, left_before: int) -> list[int]:
        """Delete every row of every guild the bot left before ``left_before``; the purged guild ids."""

        def work(conn: sqlite3.Connection) -> list[int]:
            guilds = [
                r[0] for r in conn.execute("SELECT guild_id FROM guild_departures WHERE left_at < ?", (left_before,))
            ]
            if not guilds:
                return []
            tables = guild_tables(conn)
            for guild_id in guilds:
                for table in tables:
                    conn.execute(f'DELETE FROM "{table}" WHERE guild_id = ?', (guild_id,))  # noqa: S608
                conn.execute("DELETE FROM guild_departures WHERE guild_id = ?", (guild_id,))
            return guilds

        return await self._storage.write(work)


def guild_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table with a guild_id column holding a guild's data, children (foreign keys) first."""
    names = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if r[0] not in NOT_GUILD_DATA
    ]
    with_guild = [n for n in names if any(c[1] == "guild_id" for c in conn.execute(f'PRAGMA table_info("{n}")'))]
    parents = {n: {fk[2] for fk in conn.execute(f'PRAGMA foreign_key_list("{n}")')} for n in with_guild}
    ordered: list[str] = []
    pending = list(with_guild)
    while pending:
        # A table goes once no remaining table refers to it.
        ready = [n for n in pending if not any(n in parents[o] for o in pending if o != n)] or pending[:1]
        for name in ready:
            ordered.append(name)
            pending.remove(name)
    return ordered
