"""The member record: one row per (guild, user), the voice profile and the economy profile at once.

Voicepoints move only through :mod:`storage.ledger`; every other counter is changed here, each
operation one unit of work. Tracking also adds to hourly activity buckets for period statistics.
"""

from __future__ import annotations

import itertools
import json
import operator
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson

from core.members import MAX_AMOUNT, vp_id
from storage.db import Storage, point_chunks
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


POINT_EDITS = 8  # edits per request that still commit on the loop thread (storage.db.write_point)


# The records built by the thousand (a bulk edit's items and answers) are named tuples: as
# immutable as a frozen dataclass and about eight times cheaper to build (a frozen dataclass sets
# each field through ``object.__setattr__``: 4 µs for ProfileEdit's 15 fields against 0.5 µs).
class Pray(NamedTuple):
    date: int
    streak: int
    total: int


class Member(NamedTuple):
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


class ProfileEdit(NamedTuple):
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
class CountedMessage:
    """One message that counts for text activity: its author, when, and the experience it may earn."""

    user_id: int
    at: int
    text_experience: int


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


def member_from_row(row: sqlite3.Row | Mapping[str, Any]) -> Member:
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


load_member = _load  # for other repositories' units of work that read a member on the way


def activity_totals(
    conn: sqlite3.Connection, guild_id: int, user_id: int, starts: Mapping[str, int]
) -> dict[str, ActivityTotals]:
    """Messages, voice seconds and voice experience from the hour holding each start on, in one statement."""
    names = list(starts)
    columns = ", ".join(
        f"COALESCE(SUM(CASE WHEN hour >= :h{i} THEN {column} END), 0)"
        for i in range(len(names))
        for column in ("messages", "voice_seconds", "experience")
    )
    where = "guild_id = :g AND user_id = :u AND hour >= :first"
    sql = f"SELECT {columns or '0'} FROM member_activity WHERE {where}"  # noqa: S608 - numbered placeholders only
    hours = {f"h{i}": starts[name] // 3600 for i, name in enumerate(names)}
    row = conn.execute(sql, {"g": guild_id, "u": user_id, "first": min(hours.values(), default=0)} | hours).fetchone()
    return {name: ActivityTotals(*row[3 * i : 3 * i + 3]) for i, name in enumerate(names)}


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


def _out_of_range(column: str, value: int) -> OutOfRange:
    name = column.replace("_", ".", 1) if column.startswith("pray") else column
    return OutOfRange(f"{name} would be {value}, outside {_COUNTERS[column]}..{MAX_AMOUNT}")


def _edited_values(edit: ProfileEdit, row: Mapping[str, Any], *, add: bool, now: int) -> dict[str, Any]:
    """The columns ``edit`` changes on ``row`` (no voicepoints), range-checked; empty when none."""
    values: dict[str, Any] = {}
    for column, minimum in _COUNTERS.items():
        given = getattr(edit, column)
        if given is None:
            continue
        if column == "pray_date" and not add:
            given = _seconds(given)
        value = row[column] + given if add else given
        if not minimum <= value <= MAX_AMOUNT:
            raise _out_of_range(column, value)
        values[column] = value
    if edit.text_null and not add:
        values.update(has_text=0, text_level=0, text_experience=0, message_count=0)
    elif edit.text_level is not None or edit.text_experience is not None or edit.message_count is not None:
        values["has_text"] = 1
    if edit.data_given:
        old = None if row["data"] is None else json.loads(row["data"])
        data = _merge(old, edit.data) if add and edit.data is not None else edit.data
        values["data"] = None if data is None else json.dumps(data, separators=(",", ":"))
    if values:
        values["updated_at"] = now
    return values


def _adjust_voicepoints(
    conn: sqlite3.Connection, edit: ProfileEdit, *, add: bool, issuer: Party, actor: str, now: int
) -> None:
    party = Party(edit.guild_id, edit.user_id)
    reason = "api add" if add else "api edit"
    if add:
        adjust(conn, party, issuer, delta=edit.voicepoints, reason=reason, actor=actor, now=now)
    else:
        adjust(conn, party, issuer, target_balance=edit.voicepoints, reason=reason, actor=actor, now=now)


def _apply_edit(
    conn: sqlite3.Connection, edit: ProfileEdit, *, add: bool, issuer: Party, actor: str, now: int
) -> Member:
    party = Party(edit.guild_id, edit.user_id)
    row = ensure_member(conn, party, now)
    values = _edited_values(edit, row, add=add, now=now)
    if values:
        assignments = ", ".join(f"{column} = ?" for column in values)
        conn.execute(
            f"UPDATE members SET {assignments} WHERE guild_id = ? AND user_id = ?",  # noqa: S608
            (*values.values(), party.guild_id, party.user_id),
        )
    if edit.voicepoints is None:  # nothing else wrote the row: it is what was read, edited
        return member_from_row({**dict(row), **values} if values else row)
    _adjust_voicepoints(conn, edit, add=add, issuer=issuer, actor=actor, now=now)
    member = _load(conn, party.guild_id, party.user_id)
    assert member is not None
    return member


_MEMBER_COLUMNS = (
    "guild_id", "user_id", "vp_id", "voicepoints", "level", "experience", "has_text", "text_level", "text_experience",
    "message_count", "voice_seconds", "pray_date", "pray_streak", "pray_total", "data", "is_bot", "created_at",
    "updated_at",
)  # fmt: skip
_SELECT_MANY = (
    f"SELECT {', '.join('m.' + c for c in _MEMBER_COLUMNS)} FROM json_each(?) AS k"  # noqa: S608 - fixed names
    " JOIN members AS m ON m.guild_id = k.value ->> 0 AND m.user_id = k.value ->> 1"
)


def _rows(conn: sqlite3.Connection, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], tuple[Any, ...]]:
    """The member rows of ``keys`` (those that exist; values in ``_MEMBER_COLUMNS`` order), in one statement."""
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.execute(_SELECT_MANY, (orjson.dumps(keys).decode(),))
    return {(row[0], row[1]): row for row in cursor}


def _states(rows: Mapping[tuple[int, int], tuple[Any, ...]]) -> dict[tuple[int, int], dict[str, Any]]:
    return {key: dict(zip(_MEMBER_COLUMNS, row, strict=True)) for key, row in rows.items()}


def _write_states(
    conn: sqlite3.Connection,
    states: Mapping[tuple[int, int], Mapping[str, Any]],
    dirty: dict[tuple[int, int], set[str]],
) -> None:
    """One ``executemany`` per set of changed columns (the usual bulk changes the same few everywhere)."""
    shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for key, columns in dirty.items():
        shape = tuple(sorted(columns))
        state = states[key]
        shapes.setdefault(shape, []).append((*(state[c] for c in shape), *key))
    dirty.clear()
    for shape, rows in shapes.items():
        assignments = ", ".join(f"{column} = ?" for column in shape)
        conn.executemany(
            f"UPDATE members SET {assignments} WHERE guild_id = ? AND user_id = ?",  # noqa: S608 - fixed names
            rows,
        )


_TEXT_COUNTERS = ("text_level", "text_experience", "message_count")


def _member_from_values(row: Sequence[Any]) -> Member:
    return Member(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], row[9], row[10],
        Pray(row[11], row[12], row[13]), None if row[14] is None else json.loads(row[14]), bool(row[15]), row[16],
        row[17],
    )  # fmt: skip


def _counters_only(edits: Sequence[ProfileEdit]) -> bool:
    """Every edit sets or adds plain counters, and names a different profile."""
    for edit in edits:
        if edit.voicepoints is not None or edit.data_given or edit.text_null:
            return False
    return len({(edit.guild_id, edit.user_id) for edit in edits}) == len(edits)


def _apply_counters(
    conn: sqlite3.Connection, edits: Sequence[ProfileEdit], *, add: bool, now: int, answer: bool = True
) -> list[Member]:
    """:func:`_edited_values` of edits that only touch counters, each of another profile, set-based.

    Each group of edits that touch the same columns is one ``UPDATE ... FROM json_each(...)``
    (the rows of missing profiles are created, then updated the same way), which returns the rows
    when the caller wants the profiles; with ``answer=False`` none is read back and the answer is
    []. A new value outside its range is written as NULL, which the columns refuse, so the
    statement fails and changes nothing (cheaper than returning a flag per row). Then the edits
    not yet applied are checked one by one in order, so that the first bad edit is named as
    editing one by one would name it (each group holds other profiles, and those applied were in
    range), and raising rolls the unit of work back.
    """
    shapes: dict[tuple[str, ...], list[ProfileEdit]] = {}
    for edit in edits:
        shapes.setdefault(_shape(edit), []).append(edit)
    groups = list(shapes.items())
    rows: dict[tuple[int, int], Sequence[Any]] = {}
    for position, (shape, group) in enumerate(groups):
        if not shape:
            _create(conn, [(edit.guild_id, edit.user_id) for edit in group], now=now)
            continue
        try:
            returned = _update_counters(conn, shape, group, add=add, now=now, returning=_RETURN_ROW if answer else "")
        except sqlite3.IntegrityError:
            _reject_first(conn, edits, [edit for _, later in groups[position:] for edit in later], add=add, now=now)
            raise  # no edit was out of range after all: a fault of this code, not of the request
        rows.update({(values[0], values[1]): values for values in returned})
    if not answer:
        return []
    keys = [(edit.guild_id, edit.user_id) for edit in edits]
    if len(rows) < len(keys):
        rows.update(_rows(conn, [key for key in keys if key not in rows]))
    return [_member_from_values(rows[key]) for key in keys]


def _reject_first(
    conn: sqlite3.Connection, edits: Sequence[ProfileEdit], pending: Sequence[ProfileEdit], *, add: bool, now: int
) -> None:
    """Raise :class:`EditRejected` for the first of ``edits`` among ``pending`` (not applied) that is out of range."""
    states = _states(_rows_ensured(conn, [(edit.guild_id, edit.user_id) for edit in pending], now=now))
    for index, edit in enumerate(edits):
        state = states.get((edit.guild_id, edit.user_id))
        if state is not None:
            try:
                _edited_values(edit, state, add=add, now=now)
            except LedgerError as error:
                raise EditRejected(index, str(error)) from None


_RETURN_ROW = ", ".join(f"members.{column}" for column in _MEMBER_COLUMNS)


# which counters an edit gives (in ``_COUNTERS`` order), by which of them are not None
_SHAPES = {
    given: tuple(column for column, present in zip(_COUNTERS, given, strict=True) if present)
    for given in itertools.product((False, True), repeat=len(_COUNTERS))
}


def _shape(edit: ProfileEdit) -> tuple[str, ...]:
    return _SHAPES[
        (
            edit.experience is not None,
            edit.level is not None,
            edit.pray_streak is not None,
            edit.pray_total is not None,
            edit.text_level is not None,
            edit.text_experience is not None,
            edit.message_count is not None,
            edit.voice_seconds is not None,
            edit.pray_date is not None,
        )
    ]


def _update_counters(
    conn: sqlite3.Connection,
    shape: tuple[str, ...],
    group: Sequence[ProfileEdit],
    *,
    add: bool,
    now: int,
    returning: str,
) -> list[tuple[Any, ...]]:
    """Apply one group of edits, a value out of range written as NULL; what ``returning`` names
    for each row changed (nothing when it is empty)."""
    assignments = []
    for position, column in enumerate(shape, start=2):
        value = f"{column} + (d.value ->> {position})" if add else f"(d.value ->> {position})"
        minimum = _COUNTERS[column]
        assignments.append(f"{column} = CASE WHEN {value} BETWEEN {minimum} AND {MAX_AMOUNT} THEN {value} END")
    if any(column in _TEXT_COUNTERS for column in shape):
        assignments.append("has_text = 1")
    sql = (
        f"UPDATE members SET {', '.join(assignments)}, updated_at = ? FROM json_each(?) AS d"  # noqa: S608 - fixed names
        " WHERE members.guild_id = d.value ->> 0 AND members.user_id = d.value ->> 1"
        + (f" RETURNING {returning}" if returning else "")
    )
    convert = _seconds if "pray_date" in shape and not add else None
    pick = operator.itemgetter(*(ProfileEdit._fields.index(name) for name in ("guild_id", "user_id", *shape)))

    def update(edits: Sequence[ProfileEdit]) -> tuple[int, list[tuple[Any, ...]]]:
        values = [pick(edit) for edit in edits]
        if convert is not None:  # pray_date is the last counter
            values = [(*value[:-1], convert(value[-1])) for value in values]
        # text: SQLite's JSON functions refuse a blob
        cursor = conn.execute(sql, (now, orjson.dumps(values).decode()))
        returned = cursor.fetchall()
        return cursor.rowcount, returned

    changed, returned = update(group)
    if changed < len(group):  # missing profiles: created as ensure_member creates them, then updated
        missing = _missing(conn, [(edit.guild_id, edit.user_id) for edit in group])
        _create(conn, missing, now=now)
        wanted = set(missing)
        returned += update([e for e in group if (e.guild_id, e.user_id) in wanted])[1]
    return returned


def _missing(conn: sqlite3.Connection, keys: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ``keys`` that have no profile."""
    return [
        (guild_id, user_id)
        for guild_id, user_id in conn.execute(
            "SELECT k.value ->> 0, k.value ->> 1 FROM json_each(?) AS k WHERE NOT EXISTS"
            " (SELECT 1 FROM members AS m WHERE m.guild_id = k.value ->> 0 AND m.user_id = k.value ->> 1)",
            (orjson.dumps(keys).decode(),),
        )
    ]


def _create(conn: sqlite3.Connection, keys: Sequence[tuple[int, int]], *, now: int) -> None:
    """Profiles with the defaults for ``keys`` that have none (``ensure_member``, set-based)."""
    conn.executemany(
        "INSERT INTO members (guild_id, user_id, vp_id, is_bot, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO NOTHING",
        [(guild_id, user_id, vp_id(guild_id, user_id), now, now) for guild_id, user_id in keys],
    )


def _rows_ensured(
    conn: sqlite3.Connection, keys: Sequence[tuple[int, int]], *, now: int
) -> dict[tuple[int, int], tuple[Any, ...]]:
    rows = _rows(conn, keys)
    missing = [key for key in keys if key not in rows]
    if missing:
        _create(conn, missing, now=now)
        rows.update(_rows(conn, missing))
    return rows


def _apply_edits(
    conn: sqlite3.Connection,
    edits: Sequence[ProfileEdit],
    *,
    add: bool,
    issuer_of: Callable[[int], Party],
    actor: str,
    now: int,
    answer: bool = True,
) -> list[Member]:
    """:func:`_apply_edit` of every edit in turn, set-based.

    Edits of counters only, each of another profile, are :func:`_apply_counters`. Others: one read
    of every row, the changes kept in memory and written with one ``executemany`` per set of changed
    columns; a voicepoints change goes through the ledger's own rules (:func:`storage.ledger.adjust`)
    on the rows written so far. A single edit takes the plain path (fewer statements to prepare).
    """
    if len(edits) == 1:
        try:
            return [_apply_edit(conn, edits[0], add=add, issuer=issuer_of(edits[0].guild_id), actor=actor, now=now)]
        except LedgerError as error:
            raise EditRejected(0, str(error)) from None
    if _counters_only(edits):
        return _apply_counters(conn, edits, add=add, now=now, answer=answer)
    states = _states(_rows_ensured(conn, list(dict.fromkeys((edit.guild_id, edit.user_id) for edit in edits)), now=now))
    dirty: dict[tuple[int, int], set[str]] = {}
    members = []
    for index, edit in enumerate(edits):
        key = (edit.guild_id, edit.user_id)
        state = states[key]
        try:
            values = _edited_values(edit, state, add=add, now=now)
            if values:
                state.update(values)
                dirty.setdefault(key, set()).update(values)
            if edit.voicepoints is not None:
                _write_states(conn, states, dirty)
                issuer = issuer_of(edit.guild_id)
                _adjust_voicepoints(conn, edit, add=add, issuer=issuer, actor=actor, now=now)
                states.update(_states(_rows(conn, list({key, (issuer.guild_id, issuer.user_id)}))))
                state = states[key]
        except LedgerError as error:
            raise EditRejected(index, str(error)) from None
        members.append(_member_from_values(tuple(state.values())))  # the columns' order, kept by update
    _write_states(conn, states, dirty)
    return members


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


@dataclass(frozen=True, slots=True)
class Earned:
    """What tracking credits one member in one go."""

    voice_seconds: int = 0
    experience: int = 0
    voicepoints: int = 0
    messages: int = 0
    text_experience: int = 0


@dataclass(frozen=True, slots=True)
class EarningTerms:
    """A guild's terms for what tracking earns: the issuer, the text cooldown, the curves and rewards."""

    bot_user_id: int
    text_cooldown: int
    voice_curve: Curve
    text_curve: Curve
    reward: Callable[[int], int]
    actor: str


def _record_activity(conn: sqlite3.Connection, party: Party, earned: Earned, terms: EarningTerms, now: int) -> Progress:
    guild_id, user_id = party.guild_id, party.user_id
    issuer = Party(guild_id, terms.bot_user_id)
    voice_seconds, experience, voicepoints = earned.voice_seconds, earned.experience, earned.voicepoints
    messages, text_experience, text_cooldown = earned.messages, earned.text_experience, terms.text_cooldown
    voice_curve, text_curve, reward, actor = terms.voice_curve, terms.text_curve, terms.reward, terms.actor
    row = ensure_member(conn, party, now)
    level, xp, gained = _level_up(row["level"], min(MAX_AMOUNT, row["experience"] + experience), voice_curve)
    text_level, text_xp, text_gained = row["text_level"], row["text_experience"], []
    granted = 0
    last_text = row["last_text_xp_at"]
    if text_experience and now - last_text >= text_cooldown:
        granted = text_experience
        last_text = now
        text_level, text_xp, text_gained = _level_up(text_level, min(MAX_AMOUNT, text_xp + text_experience), text_curve)
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
    entries += _level_up_reward(conn, issuer, party, gained, reward, actor, now)
    member = _load(conn, guild_id, user_id)
    assert member is not None
    return Progress(member, gained, text_gained, granted, entries)


def _level_up_reward(
    conn: sqlite3.Connection,
    issuer: Party,
    party: Party,
    gained: Sequence[int],
    reward: Callable[[int], int],
    actor: str,
    now: int,
) -> list[LedgerEntry]:
    """The reward for the levels ``gained``, paid from the issuer (the bot's profile): none when it is 0."""
    bonus = sum(reward(new_level) for new_level in gained)
    if bonus <= 0:
        return []
    return [post(conn, issuer, party, bonus, reason="level up", actor=actor, now=now, issuer=issuer)]


def _progress_rows(
    conn: sqlite3.Connection, guild_id: int, user_ids: list[int]
) -> dict[int, tuple[int, int, int, int, int]]:
    """(level, experience, text_level, text_experience, last_text_xp_at) of the members that exist."""
    found: dict[int, tuple[int, int, int, int, int]] = {}
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        columns = "user_id, level, experience, text_level, text_experience, last_text_xp_at"
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT {columns} FROM members WHERE guild_id = ? AND user_id IN ({marks})"  # noqa: S608 - placeholders
        for row in conn.execute(sql, (guild_id, *chunk)):
            found[row[0]] = (row[1], row[2], row[3], row[4], row[5])
    return found


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

        return await self._storage.read_point(work)

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
                conn, edit._replace(voicepoints=balance), add=False, issuer=issuer, actor=actor, now=now
            )
            return member, existed

        return await self._storage.write(work)

    async def apply_edits(
        self, edits: Sequence[ProfileEdit], *, add: bool, bot_user_id: int, actor: str, now: int, answer: bool = True
    ) -> list[Member]:
        """Edit (or add to) every profile, all or nothing; a bad item raises :class:`EditRejected`.
        The profiles as edited, in the edits' order; with ``answer=False`` maybe none (not read back)."""

        def issuer_of(guild_id: int) -> Party:
            return Party(guild_id, bot_user_id)

        def work(conn: sqlite3.Connection) -> list[Member]:
            return _apply_edits(conn, edits, add=add, issuer_of=issuer_of, actor=actor, now=now, answer=answer)

        # A few profiles are a short indexed unit of work, committed on the loop thread.
        write = self._storage.write_point if len(edits) <= POINT_EDITS else self._storage.write
        return await write(work)

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
        earned = Earned(voice_seconds, experience, voicepoints, messages, text_experience)
        terms = EarningTerms(bot_user_id, text_cooldown, voice_curve, text_curve, reward, actor)

        def work(conn: sqlite3.Connection) -> Progress:
            return _record_activity(conn, Party(guild_id, user_id), earned, terms, now)

        return await self._storage.write(work)

    async def record_voice(
        self, guild_id: int, credits: Sequence[tuple[int, Earned]], terms: EarningTerms, *, now: int
    ) -> list[Progress | Exception]:
        """Many members' voice credits, each as :meth:`record_activity` stores it and each in its own
        savepoint: a credit that fails is rolled back alone and answered as its error. In units of
        work short enough for the loop thread (:func:`storage.db.point_chunks`; a credit updates its
        member and its hour of activity and posts its points), each committed before the next."""

        def unit(chunk: Sequence[tuple[int, Earned]]) -> Callable[[sqlite3.Connection], list[Progress | Exception]]:
            def work(conn: sqlite3.Connection) -> list[Progress | Exception]:
                results: list[Progress | Exception] = []
                for user_id, earned in chunk:
                    conn.execute("SAVEPOINT voice_credit")
                    try:
                        results.append(_record_activity(conn, Party(guild_id, user_id), earned, terms, now))
                    except Exception as error:  # answered to the caller, which reports it
                        conn.execute("ROLLBACK TO voice_credit")
                        results.append(error)
                    conn.execute("RELEASE voice_credit")
                return results

            return work

        results: list[Progress | Exception] = []
        for chunk in point_chunks(credits, rows_per_item=3):
            results += await self._storage.write_point(unit(chunk))
        return results

    async def record_messages(
        self,
        guild_id: int,
        messages: Sequence[CountedMessage],
        *,
        bot_user_id: int,
        text_cooldown: int,
        voice_curve: Curve,
        text_curve: Curve,
        reward: Callable[[int], int],
        actor: str,
    ) -> list[Progress]:
        """Many counted messages of one guild, each exactly as :meth:`record_activity` would count it
        alone (``messages=1``), in order, in units of work short enough for the loop thread
        (:func:`storage.db.point_chunks`), each committed before the next. Answers the members who
        gained a voice level."""
        issuer = Party(guild_id, bot_user_id)

        def unit(chunk: Sequence[CountedMessage]) -> Callable[[sqlite3.Connection], list[Progress]]:
            by_user: dict[int, list[CountedMessage]] = {}
            for message in chunk:
                by_user.setdefault(message.user_id, []).append(message)

            def work(conn: sqlite3.Connection) -> list[Progress]:
                rows = _progress_rows(conn, guild_id, list(by_user))
                missing = [user_id for user_id in by_user if user_id not in rows]
                if missing:  # new profiles, created as ensure_member creates them, at their first message
                    conn.executemany(
                        "INSERT INTO members (guild_id, user_id, vp_id, is_bot, created_at, updated_at)"
                        " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (guild_id, user_id) DO NOTHING",
                        [(guild_id, u, Party(guild_id, u).vp_id, by_user[u][0].at, by_user[u][0].at) for u in missing],
                    )
                    rows |= _progress_rows(conn, guild_id, missing)
                # Each column set is an index entry rewritten (the tops index levels, text levels and
                # counts), so only what changed is set: text experience comes once per cooldown.
                counted, texts, levels, hours, levelled = [], [], [], [], []
                for user_id, items in by_user.items():
                    stored = rows[user_id]
                    level, experience, text_level, text_xp, last_text = stored
                    first, last = items[0].at, items[-1].at
                    level, xp, gained = _level_up(level, min(MAX_AMOUNT, experience), voice_curve)
                    counts: dict[int, int] = {}
                    for item in items:
                        counts[item.at // 3600] = counts.get(item.at // 3600, 0) + 1
                        if item.text_experience and item.at - last_text >= text_cooldown:
                            last_text = item.at
                            text_level, text_xp, _ = _level_up(
                                text_level, min(MAX_AMOUNT, text_xp + item.text_experience), text_curve
                            )
                    counted.append((MAX_AMOUNT, len(items), last, guild_id, user_id))
                    if (text_level, text_xp, last_text) != stored[2:]:
                        texts.append((text_level, text_xp, last_text, guild_id, user_id))
                    if (level, xp) != stored[:2]:
                        levels.append((level, xp, guild_id, user_id))
                    hours += [(guild_id, user_id, hour, count) for hour, count in counts.items()]
                    if gained:
                        levelled.append((user_id, first, gained))
                conn.executemany(
                    "UPDATE members SET message_count = MIN(?, message_count + ?), has_text = 1, updated_at = ?"
                    " WHERE guild_id = ? AND user_id = ?",
                    counted,
                )
                if texts:
                    conn.executemany(
                        "UPDATE members SET text_level = ?, text_experience = ?, last_text_xp_at = ?"
                        " WHERE guild_id = ? AND user_id = ?",
                        texts,
                    )
                if levels:
                    conn.executemany(
                        "UPDATE members SET level = ?, experience = ? WHERE guild_id = ? AND user_id = ?", levels
                    )
                conn.executemany(
                    "INSERT INTO member_activity (guild_id, user_id, hour, messages, voice_seconds, experience)"
                    " VALUES (?, ?, ?, ?, 0, 0) ON CONFLICT (guild_id, user_id, hour) DO UPDATE SET"
                    " messages = messages + excluded.messages",
                    hours,
                )
                progress = []
                for user_id, first, gained in levelled:  # rare: an edit left experience past a level
                    party = Party(guild_id, user_id)
                    entries = _level_up_reward(conn, issuer, party, gained, reward, actor, first)
                    member = _load(conn, guild_id, user_id)
                    assert member is not None
                    progress.append(Progress(member, gained, [], 0, entries))
                return progress

            return work

        progress: list[Progress] = []
        for chunk in point_chunks(messages):
            progress += await self._storage.write_point(unit(chunk))
        return progress

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
                    f"UPDATE ledger SET {side}_user_id = ? WHERE {side}_guild_id = ? AND {side}_user_id = ?",  # noqa: S608
                    (TOMBSTONE_USER, guild_id, user_id),
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
