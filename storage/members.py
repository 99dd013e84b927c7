"""The member record: one row per (guild, user), the voice profile and the economy profile at once.

Voicepoints move only through :mod:`storage.ledger`; every other counter is changed here, each
operation one unit of work. Tracking also adds to hourly activity buckets for period statistics.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core.members import MAX_AMOUNT
from storage.db import Storage
from storage.ledger import LedgerEntry, LedgerError, OutOfRange, Party, adjust, ensure_member, post

TOMBSTONE_USER = 0  # the user id of a guild's tombstone profile (rows of deleted members)
MAX_LEVEL_STEPS = 1000  # level-ups one unit of work may apply; the rest waits for the next one
MILLISECONDS_ABOVE = 10**11  # a pray date above this is read as milliseconds

TopBy = Literal["points", "levels", "time", "text-level", "text-message", "pray-streak"]
TOP_ORDER: dict[str, str] = {
    "points": "voicepoints DESC, user_id",
    "levels": "level DESC, experience DESC, user_id",
    "time": "voice_seconds DESC, user_id",
    "text-level": "text_level DESC, text_experience DESC, user_id",
    "text-message": "message_count DESC, user_id",
    "pray-streak": "pray_streak DESC, user_id",
}
Curve = Callable[[int], int]


@dataclass(frozen=True, slots=True)
class Pray:
    date: int
    streak: int
    total: int


@dataclass(frozen=True, slots=True)
class Member:
    guild_id: int
    user_id: int
    vp_id: str
    voicepoints: int
    level: int
    experience: int
    has_text: bool
    text_level: int
    text_experience: int
    message_count: int
    voice_seconds: int
    pray: Pray
    data: Any
    is_bot: bool
    created_at: int
    updated_at: int

    @property
    def party(self) -> Party:
        return Party(self.guild_id, self.user_id)


@dataclass(frozen=True, slots=True)
class ProfileEdit:
    """Fields to set (or add); None leaves a field alone. ``text_null``/``data_given`` say what null means."""

    guild_id: int
    user_id: int
    experience: int | None = None
    voicepoints: int | None = None
    level: int | None = None
    pray_date: int | None = None
    pray_streak: int | None = None
    pray_total: int | None = None
    text_null: bool = False
    text_level: int | None = None
    text_experience: int | None = None
    message_count: int | None = None
    voice_seconds: int | None = None
    data_given: bool = False
    data: Any = None


@dataclass(frozen=True, slots=True)
class ActivityTotals:
    messages: int
    voice_seconds: int
    experience: int


@dataclass(frozen=True, slots=True)
class Progress:
    """What one tracking unit of work did to a member."""

    member: Member
    levels_gained: list[int] = field(default_factory=list)
    text_levels_gained: list[int] = field(default_factory=list)
    text_experience_granted: int = 0
    entries: list[LedgerEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PrayResult:
    member: Member
    streak: int
    amount: int
    entry: LedgerEntry | None


@dataclass(frozen=True, slots=True)
class ProfileStats:
    profiles: int
    guilds: int
    voicepoints: int
    voice_seconds: int
    messages: int
    transactions: int


class ProfileExists(Exception):
    """``create`` without overwrite found a profile."""


class EditRejected(Exception):
    """One item of an edit is invalid; nothing of the request was applied."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


class AlreadyPrayed(Exception):
    def __init__(self, next_at: int) -> None:
        super().__init__(f"already prayed today; next prayer at {next_at}")
        self.next_at = next_at


def member_from_row(row: sqlite3.Row) -> Member:
    return Member(
        guild_id=row["guild_id"],
        user_id=row["user_id"],
        vp_id=row["vp_id"],
        voicepoints=row["voicepoints"],
        level=row["level"],
        experience=row["experience"],
        has_text=bool(row["has_text"]),
        text_level=row["text_level"],
        text_experience=row["text_experience"],
        message_count=row["message_count"],
        voice_seconds=row["voice_seconds"],
        pray=Pray(row["pray_date"], row["pray_streak"], row["pray_total"]),
        data=None if row["data"] is None else json.loads(row["data"]),
        is_bot=bool(row["is_bot"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _load(conn: sqlite3.Connection, guild_id: int, user_id: int) -> Member | None:
    row = conn.execute("SELECT * FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)).fetchone()
    return None if row is None else member_from_row(row)


def _seconds(date: int) -> int:
    return date // 1000 if date > MILLISECONDS_ABOVE else date


def _merge(old: Any, new: Any) -> Any:
    """``add`` for free JSON: numbers add up, objects merge key by key, anything else replaces."""
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge(old.get(key), value) if key in old else value
        return merged
    if _is_number(old) and _is_number(new):
        return old + new
    return new


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Columns an edit may touch, with the smallest value each may hold.
_COUNTERS = {
    "experience": 0,
    "level": 1,
    "pray_streak": 0,
    "pray_total": 0,
    "text_level": 0,
    "text_experience": 0,
    "message_count": 0,
    "voice_seconds": 0,
    "pray_date": 0,
}


def _apply_edit(
    conn: sqlite3.Connection, edit: ProfileEdit, *, add: bool, issuer: Party, actor: str, now: int
) -> Member:
    party = Party(edit.guild_id, edit.user_id)
    row = ensure_member(conn, party, now)
    values: dict[str, Any] = {}
    for column, minimum in _COUNTERS.items():
        given = getattr(edit, column)
        if given is None:
            continue
        if column == "pray_date" and not add:
            given = _seconds(given)
        value = row[column] + given if add else given
        if not minimum <= value <= MAX_AMOUNT:
            raise OutOfRange(f"{column.replace('_', '.', 1) if column.startswith('pray') else column} "
                             f"would be {value}, outside {minimum}..{MAX_AMOUNT}")  # fmt: skip
        values[column] = value
    if edit.text_null and not add:
        values.update(has_text=0, text_level=0, text_experience=0, message_count=0)
    elif any(getattr(edit, name) is not None for name in ("text_level", "text_experience", "message_count")):
        values["has_text"] = 1
    if edit.data_given:
        old = None if row["data"] is None else json.loads(row["data"])
        data = _merge(old, edit.data) if add and edit.data is not None else edit.data
        values["data"] = None if data is None else json.dumps(data, separators=(",", ":"))
    if values:
        values["updated_at"] = now
        assignments = ", ".join(f"{column} = ?" for column in values)
        conn.execute(
            f"UPDATE members SET {assignments} WHERE guild_id = ? AND user_id = ?",  # noqa: S608
            (*values.values(), party.guild_id, party.user_id),
        )
    if edit.voicepoints is not None:
        reason = "api add" if add else "api edit"
        if add:
            adjust(conn, party, issuer, delta=edit.voicepoints, reason=reason, actor=actor, now=now)
        else:
            adjust(conn, party, issuer, target_balance=edit.voicepoints, reason=reason, actor=actor, now=now)
    member = _load(conn, party.guild_id, party.user_id)
    assert member is not None
    return member


def _level_up(level: int, experience: int, curve: Curve) -> tuple[int, int, list[int]]:
    gained: list[int] = []
    while len(gained) < MAX_LEVEL_STEPS:
        needed = max(1, curve(level))
        if experience < needed:
            break
        experience -= needed
        level += 1
        gained.append(level)
    return level, experience, gained


class MemberRepository:
    user_data_kind = "voice profile (levels, voicepoints, voice time, messages, prayers) and activity history"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    # --- reads ---------------------------------------------------------------------------

    async def get(self, guild_id: int, user_id: int) -> Member | None:
        # Cached until the next commit by anyone (storage.db): the hottest read of the API.
        key = ("member", guild_id, user_id)
        return await self._storage.read_cached(key, lambda conn: _load(conn, guild_id, user_id))

    async def get_by_vp_id(self, vp_id: str) -> Member | None:
        def work(conn: sqlite3.Connection) -> Member | None:
            row = conn.execute("SELECT * FROM members WHERE vp_id = ? AND user_id != 0", (vp_id,)).fetchone()
            return None if row is None else member_from_row(row)

        return await self._storage.read(work)

    async def list(
        self, guild_id: int | None = None, *, limit: int = 0, offset: int = 0, guild_ids: frozenset[int] = frozenset()
    ) -> list[Member]:
        """Profiles in (guild, user) order; ``limit <= 0`` is all; ``guild_ids`` scopes a key."""
        clauses, params = self._scope(guild_id, guild_ids)
        sql = f"SELECT * FROM members WHERE {clauses} ORDER BY guild_id, user_id"  # noqa: S608
        if limit > 0:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return await self._storage.read(lambda conn: [member_from_row(r) for r in conn.execute(sql, params)])

    async def top(
        self,
        guild_id: int | None,
        by: TopBy,
        *,
        amount: int,
        offset: int = 0,
        guild_ids: frozenset[int] = frozenset(),
        members_only: bool = False,
    ) -> list[Member]:
        """The best profiles by ``by``, walking the matching index; ``amount <= 0`` is all.

        ``members_only`` leaves out bot profiles, as a public leaderboard does."""
        clauses, params = self._scope(guild_id, guild_ids)
        if members_only:
            clauses += " AND is_bot = 0"
        order = TOP_ORDER[by]
        if guild_id is not None:
            order = f"guild_id, {order}"
        sql = f"SELECT * FROM members WHERE {clauses} ORDER BY {order}"  # noqa: S608
        if amount > 0:
            sql += " LIMIT ? OFFSET ?"
            params += [amount, max(0, offset)]
        elif offset > 0:
            sql += " LIMIT -1 OFFSET ?"
            params.append(offset)
        return await self._storage.read(lambda conn: [member_from_row(r) for r in conn.execute(sql, params)])

    async def rank(self, guild_id: int, user_id: int, by: TopBy = "points") -> int | None:
        """1-based position of a member in the guild's top (ties broken by user id)."""
        column = {"points": "voicepoints", "time": "voice_seconds", "text-message": "message_count"}.get(by)

        def work(conn: sqlite3.Connection) -> int | None:
            me = conn.execute(
                "SELECT * FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()
            if me is None:
                return None
            if column is None:  # levels
                return (
                    1
                    + conn.execute(
                        "SELECT COUNT(*) FROM members WHERE guild_id = ? AND user_id != 0 AND (level > ?"
                        " OR (level = ? AND experience > ?) OR (level = ? AND experience = ? AND user_id < ?))",
                        (guild_id, me["level"], me["level"], me["experience"], me["level"], me["experience"], user_id),
                    ).fetchone()[0]
                )
            return (
                1
                + conn.execute(
                    f"SELECT COUNT(*) FROM members WHERE guild_id = ? AND user_id != 0"  # noqa: S608
                    f" AND ({column} > ? OR ({column} = ? AND user_id < ?))",
                    (guild_id, me[column], me[column], user_id),
                ).fetchone()[0]
            )

        return await self._storage.read(work)

    async def guilds(self, user_id: int | None = None, *, guild_ids: frozenset[int] = frozenset()) -> list[int]:
        """Guild ids with at least one profile (of ``user_id`` when given)."""
        clauses, params = self._scope(None, guild_ids)
        if user_id is not None:
            clauses += " AND user_id = ?"
            params.append(user_id)
        sql = f"SELECT DISTINCT guild_id FROM members WHERE {clauses} ORDER BY guild_id"  # noqa: S608
        return await self._storage.read(lambda conn: [r[0] for r in conn.execute(sql, params)])

    async def activity_since(self, guild_id: int, user_id: int, since_epoch: int) -> ActivityTotals:
        """Messages, counted voice seconds and voice experience from the hour holding ``since_epoch`` on."""

        def work(conn: sqlite3.Connection) -> ActivityTotals:
            row = conn.execute(
                "SELECT COALESCE(SUM(messages), 0), COALESCE(SUM(voice_seconds), 0), COALESCE(SUM(experience), 0)"
                " FROM member_activity WHERE guild_id = ? AND user_id = ? AND hour >= ?",
                (guild_id, user_id, since_epoch // 3600),
            ).fetchone()
            return ActivityTotals(*row)

        return await self._storage.read_cached(("activity", guild_id, user_id, since_epoch // 3600), work)

    async def stats(self, guild_id: int | None = None) -> ProfileStats:
        def work(conn: sqlite3.Connection) -> ProfileStats:
            row = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT guild_id),"
                " COALESCE(SUM(CASE WHEN is_bot = 0 THEN voicepoints ELSE 0 END), 0),"
                " COALESCE(SUM(voice_seconds), 0), COALESCE(SUM(message_count), 0)"
                " FROM members WHERE (:g IS NULL OR guild_id = :g) AND user_id != 0",
                {"g": guild_id},
            ).fetchone()
            if guild_id is None:
                transactions = conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
            else:
                transactions = conn.execute(
                    "SELECT COUNT(*) FROM ledger WHERE from_guild_id = ? OR to_guild_id = ?", (guild_id, guild_id)
                ).fetchone()[0]
            return ProfileStats(*row, transactions)

        return await self._storage.read(work)

    @staticmethod
    def _scope(guild_id: int | None, guild_ids: frozenset[int]) -> tuple[str, list[Any]]:
        clauses, params = ["user_id != 0"], []
        if guild_id is not None:
            clauses.insert(0, "guild_id = ?")
            params.append(guild_id)
        if guild_ids:
            clauses.append(f"guild_id IN ({', '.join('?' * len(guild_ids))})")
            params += sorted(guild_ids)
        return " AND ".join(clauses), params

    # --- writes --------------------------------------------------------------------------

    async def create(
        self, edit: ProfileEdit, *, overwrite: bool, issuer: Party, actor: str, now: int
    ) -> tuple[Member, bool]:
        """Create a profile from defaults plus ``edit``; with ``overwrite`` an existing one is reset.

        Returns the profile and whether it existed. Resetting voicepoints writes a ledger row.
        """

        def work(conn: sqlite3.Connection) -> tuple[Member, bool]:
            existed = _load(conn, edit.guild_id, edit.user_id) is not None
            if existed and not overwrite:
                raise ProfileExists(f"a profile for user {edit.user_id} in guild {edit.guild_id} exists")
            if existed:
                conn.execute(
                    "UPDATE members SET level = 1, experience = 0, has_text = 0, text_level = 0,"
                    " text_experience = 0, message_count = 0, voice_seconds = 0, pray_date = 0, pray_streak = 0,"
                    " pray_total = 0, data = NULL, updated_at = ? WHERE guild_id = ? AND user_id = ?",
                    (now, edit.guild_id, edit.user_id),
                )
            balance = edit.voicepoints if edit.voicepoints is not None else 0
            member = _apply_edit(
                conn, replace(edit, voicepoints=balance), add=False, issuer=issuer, actor=actor, now=now
            )
            return member, existed

        return await self._storage.write(work)

    async def apply_edits(
        self, edits: Sequence[ProfileEdit], *, add: bool, bot_user_id: int, actor: str, now: int
    ) -> list[Member]:
        """Edit (or add to) every profile, all or nothing; a bad item raises :class:`EditRejected`."""

        def work(conn: sqlite3.Connection) -> list[Member]:
            members = []
            for index, edit in enumerate(edits):
                issuer = Party(edit.guild_id, bot_user_id)
                try:
                    members.append(_apply_edit(conn, edit, add=add, issuer=issuer, actor=actor, now=now))
                except LedgerError as error:
                    raise EditRejected(index, str(error)) from None
            return members

        return await self._storage.write(work)

    async def record_activity(
        self,
        guild_id: int,
        user_id: int,
        *,
        now: int,
        bot_user_id: int,
        voice_seconds: int = 0,
        experience: int = 0,
        voicepoints: int = 0,
        messages: int = 0,
        text_experience: int = 0,
        text_cooldown: int = 0,
        voice_curve: Curve,
        text_curve: Curve,
        reward: Callable[[int], int],
        actor: str,
    ) -> Progress:
        """What tracking earned: time, experience with level-ups, points and the level-up reward, from "self"."""
        party = Party(guild_id, user_id)
        issuer = Party(guild_id, bot_user_id)

        def work(conn: sqlite3.Connection) -> Progress:
            row = ensure_member(conn, party, now)
            level, xp, gained = _level_up(row["level"], min(MAX_AMOUNT, row["experience"] + experience), voice_curve)
            text_level, text_xp, text_gained = row["text_level"], row["text_experience"], []
            granted = 0
            last_text = row["last_text_xp_at"]
            if text_experience and now - last_text >= text_cooldown:
                granted = text_experience
                last_text = now
                text_level, text_xp, text_gained = _level_up(
                    text_level, min(MAX_AMOUNT, text_xp + text_experience), text_curve
                )
            conn.execute(
                "UPDATE members SET voice_seconds = MIN(?, voice_seconds + ?), level = ?, experience = ?,"
                " message_count = MIN(?, message_count + ?), text_level = ?, text_experience = ?,"
                " has_text = CASE WHEN ? > 0 OR ? > 0 THEN 1 ELSE has_text END, last_text_xp_at = ?, updated_at = ?"
                " WHERE guild_id = ? AND user_id = ?",
                (
                    *(MAX_AMOUNT, voice_seconds, level, xp, MAX_AMOUNT, messages, text_level, text_xp),
                    *(messages, granted, last_text, now, guild_id, user_id),
                ),
            )
            if voice_seconds or messages or experience:
                conn.execute(
                    "INSERT INTO member_activity (guild_id, user_id, hour, messages, voice_seconds, experience)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id, hour) DO UPDATE SET"
                    " messages = messages + excluded.messages, voice_seconds = voice_seconds + excluded.voice_seconds,"
                    " experience = experience + excluded.experience",
                    (guild_id, user_id, now // 3600, messages, voice_seconds, experience),
                )
            entries = []
            if voicepoints > 0:
                entries.append(post(conn, issuer, party, voicepoints, reason="voice time", actor=actor, now=now,
                                    issuer=issuer))  # fmt: skip
            bonus = sum(reward(new_level) for new_level in gained)
            if bonus > 0:
                entries.append(post(conn, issuer, party, bonus, reason="level up", actor=actor, now=now,
                                    issuer=issuer))  # fmt: skip
            member = _load(conn, guild_id, user_id)
            assert member is not None
            return Progress(member, gained, text_gained, granted, entries)

        return await self._storage.write(work)

    async def pray(
        self,
        guild_id: int,
        user_id: int,
        *,
        now: int,
        bot_user_id: int,
        reward: Callable[[int], int],
        actor: str,
        keep_streak_days: int = 2,
    ) -> PrayResult:
        """Once per UTC day: the streak grows if the last prayer was at most ``keep_streak_days`` ago."""
        party = Party(guild_id, user_id)
        issuer = Party(guild_id, bot_user_id)

        def work(conn: sqlite3.Connection) -> PrayResult:
            row = ensure_member(conn, party, now)
            last = _seconds(row["pray_date"])
            today = now // 86_400
            if last and last // 86_400 >= today:
                raise AlreadyPrayed((today + 1) * 86_400)
            streak = row["pray_streak"] + 1 if last and today - last // 86_400 <= keep_streak_days else 1
            amount = reward(streak)
            conn.execute(
                "UPDATE members SET pray_date = ?, pray_streak = ?, pray_total = pray_total + 1, updated_at = ?"
                " WHERE guild_id = ? AND user_id = ?",
                (now, streak, now, guild_id, user_id),
            )
            entry = None
            if amount > 0:
                entry = post(conn, issuer, party, amount, reason=f"pray | streak {streak}", actor=actor, now=now,
                             issuer=issuer)  # fmt: skip
            member = _load(conn, guild_id, user_id)
            assert member is not None
            return PrayResult(member, streak, amount, entry)

        return await self._storage.write(work)

    # --- privacy (UserDataOwner) -----------------------------------------------------------

    async def count_user_data(self, guild_id: int, user_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            profile = conn.execute(
                "SELECT COUNT(*) FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()[0]
            activity = conn.execute(
                "SELECT COUNT(*) FROM member_activity WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT COUNT(*) FROM ledger WHERE (from_guild_id = ? AND from_user_id = ?)"
                " OR (to_guild_id = ? AND to_user_id = ?)",
                (guild_id, user_id, guild_id, user_id),
            ).fetchone()[0]
            return profile + activity + rows

        return await self._storage.read(work)

    async def delete_user_data(self, guild_id: int, user_id: int) -> int:
        """Delete the profile and activity; the member's ledger rows move to the guild's tombstone profile."""
        if user_id == TOMBSTONE_USER:
            return 0

        def work(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT voicepoints FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            ).fetchone()
            tomb = Party(guild_id, TOMBSTONE_USER)
            ensure_member(conn, tomb, 0, is_bot=True)
            moved = 0
            for side in ("from", "to"):
                moved += conn.execute(
                    f"UPDATE ledger SET {side}_user_id = ?, {side}_vp_id = ?"  # noqa: S608
                    f" WHERE {side}_guild_id = ? AND {side}_user_id = ?",
                    (TOMBSTONE_USER, tomb.vp_id, guild_id, user_id),
                ).rowcount
            if row is not None:
                conn.execute(
                    "UPDATE members SET voicepoints = voicepoints + ? WHERE guild_id = ? AND user_id = ?",
                    (row["voicepoints"], guild_id, TOMBSTONE_USER),
                )
            deleted = conn.execute("DELETE FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
            activity = conn.execute(
                "DELETE FROM member_activity WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
            return deleted.rowcount + activity.rowcount + moved

        return await self._storage.write(work)
