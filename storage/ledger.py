"""The voicepoint ledger: every change of a balance is a row, and a balance is the sum of its rows.

``members.voicepoints`` is kept as a cached balance, changed only by :func:`post`, in the same unit
of work as the row it comes from; :meth:`LedgerRepository.verify_balances` proves the two agree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from core.members import MAX_AMOUNT, vp_id
from storage.db import Storage


class LedgerError(Exception):
    """A ledger change that is refused; the message says why, for the caller."""


class InsufficientFunds(LedgerError):
    pass


class SelfTransfer(LedgerError):
    pass


class OutOfRange(LedgerError):
    pass


class UnknownProfile(LedgerError):
    pass


class NotAllowed(LedgerError):
    """A transfer from another bot's profile: no impostors."""


class UnknownTransaction(LedgerError):
    pass


class AlreadyReversed(LedgerError):
    pass


@dataclass(frozen=True, slots=True)
class MemberFlows:
    """What left a profile in all, and its net change since each of some moments."""

    sent: int
    since: dict[str, int]


# Named tuples, like storage.members.Member: every transfer builds and compares these, and a
# frozen dataclass is several times slower to build (each field set through object.__setattr__)
# and to compare (a generated __eq__ instead of the tuple's own).
class Party(NamedTuple):
    """One side of a ledger row: a member profile, named by guild and user."""

    guild_id: int
    user_id: int

    @property
    def vp_id(self) -> str:
        return vp_id(self.guild_id, self.user_id)


PartyRef = Party | str  # a party, or a vp_id to resolve


class LedgerEntry(NamedTuple):
    id: int
    source: Party
    source_vp_id: str
    target: Party
    target_vp_id: str
    amount: int
    reason: str
    actor: str
    created_at: int


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    """The seed's transaction filters; each None is no filter."""

    user_id: int | None = None
    guild_id: int | None = None
    vp_id: str | None = None
    reason: str | None = None
    source: str | None = None  # user_id, guild_id or vp_id of the sending side
    target: str | None = None
    after: int | None = None
    before: int | None = None


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    party: Party
    balance: int
    ledger_sum: int


@dataclass(frozen=True, slots=True)
class GraphPoint:
    t: int
    delta: int
    balance: int


Interval = Literal["hour", "day", "week"]
INTERVAL_SECONDS = {"hour": 3600, "day": 86_400, "week": 604_800}
WEEK_OFFSET = 345_600  # the epoch began on a Thursday: weeks start on Mondays

_COLUMNS = "id, from_guild_id, from_user_id, to_guild_id, to_user_id, amount, reason, actor, created_at"


# --- unit-of-work helpers, shared with the member repository ---------------------------------


def ensure_member(
    conn: sqlite3.Connection, party: Party, now: int, *, is_bot: bool = False, columns: str = "*"
) -> sqlite3.Row:
    """The member row of ``party`` (``columns`` of it, which must name ``is_bot``), created with
    defaults when missing (an issuer is marked a bot)."""
    # Writes run one transaction at a time, so nothing can come between the read and the insert;
    # the usual case (the member exists) is one indexed read and no write.
    key = (party.guild_id, party.user_id)
    row = conn.execute(f"SELECT {columns} FROM members WHERE guild_id = ? AND user_id = ?", key).fetchone()  # noqa: S608
    if row is None:
        return conn.execute(
            "INSERT INTO members (guild_id, user_id, vp_id, is_bot, created_at, updated_at)"  # noqa: S608
            f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {columns}",
            (*key, party.vp_id, int(is_bot), now, now),
        ).fetchone()
    if is_bot and not row["is_bot"]:
        promote = f"UPDATE members SET is_bot = 1 WHERE guild_id = ? AND user_id = ? RETURNING {columns}"  # noqa: S608
        return conn.execute(promote, key).fetchone()
    return row


_BALANCE = "voicepoints, is_bot"  # what a transfer reads of each side: half the time of the whole row


def resolve(conn: sqlite3.Connection, ref: PartyRef) -> Party:
    if isinstance(ref, Party):
        return ref
    row = conn.execute("SELECT guild_id, user_id FROM members WHERE vp_id = ?", (ref,)).fetchone()
    if row is None or row["user_id"] == 0:
        raise UnknownProfile(f"no voice profile has the id {ref}")
    return Party(row["guild_id"], row["user_id"])


def post(
    conn: sqlite3.Connection,
    source: Party,
    target: Party,
    amount: int,
    *,
    reason: str,
    actor: str,
    now: int,
    issuer: Party | None = None,
) -> LedgerEntry:
    """Write one row and move the cached balances; refuse what the ledger rules refuse.

    The rules: a bot's profile sends only as the issuer, which may go below zero; anyone else
    sends only what they hold; no balance leaves ±``MAX_AMOUNT``; the issuer's profile is marked
    a bot's and a missing profile is created. The usual transfer is two guarded updates that
    apply only where the rules allow (:data:`_DEBIT`, :data:`_CREDIT`); when one does not, the
    rows are read to say why (or to create the missing one).
    """
    if source == target:
        raise SelfTransfer("the sender and the receiver are the same profile")
    if not 1 <= amount <= MAX_AMOUNT:
        raise OutOfRange(f"the amount must be between 1 and {MAX_AMOUNT}")
    sending, receiving = int(source == issuer), int(target == issuer)
    if conn.execute(_DEBIT, (amount, now, sending, *source, amount, -MAX_AMOUNT, sending, amount)).rowcount:
        if not conn.execute(_CREDIT, (amount, now, receiving, *target, amount, MAX_AMOUNT)).rowcount:
            receiver = ensure_member(conn, target, now, is_bot=bool(receiving), columns=_BALANCE)
            if receiver["voicepoints"] + amount > MAX_AMOUNT:
                raise OutOfRange(f"the change would leave a balance outside ±{MAX_AMOUNT}")
            conn.execute(_CREDIT, (amount, now, receiving, *target, amount, MAX_AMOUNT))
    else:
        _checked_move(conn, source, target, amount, now=now, issuer=issuer)
    cursor = conn.execute(
        "INSERT INTO ledger (from_guild_id, from_user_id, to_guild_id, to_user_id, amount, reason, actor, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (source.guild_id, source.user_id, target.guild_id, target.user_id, amount, reason, actor, now),
    )
    return LedgerEntry(cursor.lastrowid or 0, source, source.vp_id, target, target.vp_id, amount, reason, actor, now)


# The rules of :func:`post` as conditions of its two updates (the issuer's mark set on the way).
_DEBIT = (
    "UPDATE members SET voicepoints = voicepoints - ?, updated_at = ?, is_bot = is_bot OR ?"
    " WHERE guild_id = ? AND user_id = ? AND voicepoints - ? >= ? AND (? OR (NOT is_bot AND voicepoints >= ?))"
)
_CREDIT = (
    "UPDATE members SET voicepoints = voicepoints + ?, updated_at = ?, is_bot = is_bot OR ?"
    " WHERE guild_id = ? AND user_id = ? AND voicepoints + ? <= ?"
)


def _checked_move(
    conn: sqlite3.Connection, source: Party, target: Party, amount: int, *, now: int, issuer: Party | None
) -> None:
    """Move ``amount`` after reading both sides: raises the rule that refuses it, or creates a missing side."""
    sender = ensure_member(conn, source, now, is_bot=source == issuer, columns=_BALANCE)
    receiver = ensure_member(conn, target, now, is_bot=target == issuer, columns=_BALANCE)
    if sender["is_bot"] and source != issuer:
        raise NotAllowed("points cannot be sent from another bot's profile")
    left = sender["voicepoints"] - amount
    if not sender["is_bot"] and left < 0:
        raise InsufficientFunds(f"the sender has {sender['voicepoints']} voicepoints, fewer than {amount}")
    if left < -MAX_AMOUNT or receiver["voicepoints"] + amount > MAX_AMOUNT:
        raise OutOfRange(f"the change would leave a balance outside ±{MAX_AMOUNT}")
    update = "UPDATE members SET voicepoints = voicepoints + ?, updated_at = ? WHERE guild_id = ? AND user_id = ?"
    conn.execute(update, (-amount, now, source.guild_id, source.user_id))
    conn.execute(update, (amount, now, target.guild_id, target.user_id))


# The GLOB term lets the partial index of reversal rows answer (migration 0009).
REVERSED_ALREADY = "SELECT 1 FROM ledger WHERE reason = ? AND reason GLOB 'reversal of #*' LIMIT 1"


def adjust(
    conn: sqlite3.Connection,
    party: Party,
    issuer: Party,
    *,
    delta: int | None = None,
    target_balance: int | None = None,
    reason: str,
    actor: str,
    now: int,
) -> LedgerEntry | None:
    """Move a balance by ``delta`` (or to ``target_balance``) with one row from or to the issuer."""
    row = ensure_member(conn, party, now)
    if target_balance is not None:
        if not -MAX_AMOUNT <= target_balance <= MAX_AMOUNT:
            raise OutOfRange(f"voicepoints must stay within ±{MAX_AMOUNT}")
        delta = target_balance - row["voicepoints"]
    if not delta:
        return None
    if abs(delta) > MAX_AMOUNT:
        raise OutOfRange(f"the change would leave a balance outside ±{MAX_AMOUNT}")
    if party == issuer:
        raise SelfTransfer("the issuer's own balance cannot be edited against itself")
    if delta > 0:
        return post(conn, issuer, party, delta, reason=reason, actor=actor, now=now, issuer=issuer)
    return post(conn, party, issuer, -delta, reason=reason, actor=actor, now=now, issuer=issuer)


def member_flows(conn: sqlite3.Connection, party: Party, starts: Mapping[str, int]) -> MemberFlows:
    """The party's outgoing total and its net change since each of ``starts`` (one statement)."""
    names = list(starts)
    net = (
        "(CASE WHEN to_guild_id = :g AND to_user_id = :u THEN amount ELSE 0 END)"
        " - (CASE WHEN from_guild_id = :g AND from_user_id = :u THEN amount ELSE 0 END)"
    )
    columns = ", ".join(
        [
            "COALESCE(SUM(CASE WHEN from_guild_id = :g AND from_user_id = :u THEN amount END), 0)",
            *(f"COALESCE(SUM(CASE WHEN created_at >= :s{i} THEN {net} END), 0)" for i in range(len(names))),
        ]
    )
    member_rows = "(to_guild_id = :g AND to_user_id = :u) OR (from_guild_id = :g AND from_user_id = :u)"
    sql = f"SELECT {columns} FROM ledger WHERE {member_rows}"  # noqa: S608 - only numbered placeholders
    params = {"g": party.guild_id, "u": party.user_id} | {f"s{i}": starts[name] for i, name in enumerate(names)}
    sent, *changes = conn.execute(sql, params).fetchone()
    return MemberFlows(sent=sent, since=dict(zip(names, changes, strict=True)))


def _entry(row: sqlite3.Row) -> LedgerEntry:
    source = Party(row["from_guild_id"], row["from_user_id"])
    target = Party(row["to_guild_id"], row["to_user_id"])
    return LedgerEntry(
        id=row["id"],
        source=source,
        source_vp_id=source.vp_id,
        target=target,
        target_vp_id=target.vp_id,
        amount=row["amount"],
        reason=row["reason"],
        actor=row["actor"],
        created_at=row["created_at"],
    )


def _side(prefix: str, value: str) -> tuple[str, list[object]]:
    """Match one side by user id, guild id or vp_id, as the seed's ``from=``/``to=`` filters do."""
    if value.isdigit() and len(value) <= 20:  # an id (a vp_id has 64 characters)
        number = int(value)
        return f"({prefix}_user_id = ? OR {prefix}_guild_id = ?)", [number, number]
    return _by_vp_id(prefix, value)


def _by_vp_id(prefix: str, value: str) -> tuple[str, list[object]]:
    """One side by vp_id, through the member row it names (migrations 0009, 0010) and that side's index."""
    owner = "(SELECT guild_id, user_id FROM members WHERE vp_id = ?)"
    return f"(({prefix}_guild_id, {prefix}_user_id) = {owner})", [value]


class LedgerRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def transfer(
        self,
        source: PartyRef,
        target: PartyRef,
        amount: int,
        *,
        reason: str,
        actor: str,
        now: int,
        issuer: Party | None = None,
    ) -> LedgerEntry:
        """One row from ``source`` to ``target`` (vp_ids resolved in the same unit of work)."""

        def work(conn: sqlite3.Connection) -> LedgerEntry:
            return post(
                conn, resolve(conn, source), resolve(conn, target), amount, reason=reason, actor=actor, now=now,
                issuer=issuer,
            )  # fmt: skip

        return await self._storage.write_point(work)

    async def adjust(
        self,
        party: Party,
        issuer: Party,
        *,
        delta: int | None = None,
        target_balance: int | None = None,
        reason: str,
        actor: str,
        now: int,
    ) -> LedgerEntry | None:
        return await self._storage.write_point(
            lambda conn: adjust(
                conn, party, issuer, delta=delta, target_balance=target_balance, reason=reason, actor=actor, now=now
            )
        )

    async def reverse(self, entry_id: int, *, actor: str, now: int, guild_id: int | None = None) -> LedgerEntry:
        """Undo a row with a new one the other way (``reversal of #id``); history is never deleted."""
        reason = f"reversal of #{entry_id}"

        def work(conn: sqlite3.Connection) -> LedgerEntry:
            row = conn.execute(f"SELECT {_COLUMNS} FROM ledger WHERE id = ?", (entry_id,)).fetchone()  # noqa: S608
            if row is None or (guild_id is not None and guild_id not in (row["from_guild_id"], row["to_guild_id"])):
                raise UnknownTransaction(f"there is no transaction #{entry_id}")
            if row["reason"].startswith("reversal of #"):
                raise AlreadyReversed(f"transaction #{entry_id} is itself a reversal")
            if conn.execute(REVERSED_ALREADY, (reason,)).fetchone():
                raise AlreadyReversed(f"transaction #{entry_id} was already reversed")
            original = _entry(row)
            payer = ensure_member(conn, original.target, now)
            issuer = original.target if payer["is_bot"] else None  # a reward taken back from the bot's profile
            return post(
                conn, original.target, original.source, original.amount, reason=reason, actor=actor, now=now,
                issuer=issuer,
            )  # fmt: skip

        return await self._storage.write_point(work)

    async def get(self, entry_id: int) -> LedgerEntry | None:
        def work(conn: sqlite3.Connection) -> LedgerEntry | None:
            row = conn.execute(f"SELECT {_COLUMNS} FROM ledger WHERE id = ?", (entry_id,)).fetchone()  # noqa: S608
            return None if row is None else _entry(row)

        return await self._storage.read(work)

    async def search(
        self, filters: LedgerFilter, *, limit: int, offset: int, guild_ids: frozenset[int] = frozenset()
    ) -> list[LedgerEntry]:
        """Rows matching every filter, newest first; ``limit <= 0`` is all. ``guild_ids`` scopes a key."""
        clauses: list[str] = []
        params: list[object] = []
        if filters.user_id is not None:
            clauses.append("(from_user_id = ? OR to_user_id = ?)")
            params += [filters.user_id, filters.user_id]
        if filters.guild_id is not None:
            # With a user id the user-side indexes are the narrow ones; ``+`` keeps the planner off
            # the guild-wide ranges, which hold every row of a large guild.
            plus = "+" if filters.user_id is not None else ""
            clauses.append(f"({plus}from_guild_id = ? OR {plus}to_guild_id = ?)")
            params += [filters.guild_id, filters.guild_id]
        if filters.vp_id is not None:
            (sent, sent_params), (received, received_params) = (_by_vp_id(p, filters.vp_id) for p in ("from", "to"))
            clauses.append(f"({sent} OR {received})")
            params += sent_params + received_params
        if filters.reason:
            clauses.append("instr(lower(reason), lower(?)) > 0")
            params.append(filters.reason)
        for prefix, value in (("from", filters.source), ("to", filters.target)):
            if value is not None:
                clause, values = _side(prefix, value)
                clauses.append(clause)
                params += values
        if filters.after is not None:
            clauses.append("created_at > ?")
            params.append(filters.after)
        if filters.before is not None:
            clauses.append("created_at < ?")
            params.append(filters.before)
        if guild_ids:
            marks = ", ".join("?" * len(guild_ids))
            clauses.append(f"(from_guild_id IN ({marks}) OR to_guild_id IN ({marks}))")
            params += sorted(guild_ids) * 2
        where = " AND ".join(clauses) or "1"
        sql = f"SELECT {_COLUMNS} FROM ledger WHERE {where} ORDER BY id DESC"  # noqa: S608
        if limit > 0:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return await self._storage.read(lambda conn: [_entry(row) for row in conn.execute(sql, params)])

    async def balance(self, party: Party) -> int:
        """The sum of the party's rows (what the cached balance must equal)."""

        def work(conn: sqlite3.Connection) -> int:
            received = conn.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE to_guild_id = ? AND to_user_id = ?",
                (party.guild_id, party.user_id),
            ).fetchone()[0]
            sent = conn.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE from_guild_id = ? AND from_user_id = ?",
                (party.guild_id, party.user_id),
            ).fetchone()[0]
            return received - sent

        return await self._storage.read(work)

    async def flows(self, party: Party, starts: Mapping[str, int]) -> MemberFlows:
        """The party's outgoing total and its net change since each of ``starts``, in one read."""
        return await self._storage.read(lambda conn: member_flows(conn, party, starts))

    async def verify_balances(self) -> list[BalanceMismatch]:
        """Every profile whose balance differs from the sum of its ledger rows (empty when sound)."""

        def work(conn: sqlite3.Connection) -> list[BalanceMismatch]:
            rows = conn.execute(
                "WITH flows (guild_id, user_id, amount) AS ("
                "  SELECT to_guild_id, to_user_id, amount FROM ledger"
                "  UNION ALL SELECT from_guild_id, from_user_id, -amount FROM ledger),"
                " sums AS (SELECT guild_id, user_id, SUM(amount) AS total FROM flows GROUP BY guild_id, user_id)"
                " SELECT m.guild_id, m.user_id, m.voicepoints, COALESCE(s.total, 0) AS total"
                " FROM members m LEFT JOIN sums s USING (guild_id, user_id)"
                " WHERE m.voicepoints != COALESCE(s.total, 0)"
                " UNION ALL SELECT s.guild_id, s.user_id, 0, s.total FROM sums s"
                " WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.guild_id = s.guild_id AND m.user_id = s.user_id)"
            ).fetchall()
            return [BalanceMismatch(Party(r[0], r[1]), r[2], r[3]) for r in rows]

        return await self._storage.read(work)

    async def count(self, guild_id: int | None = None) -> int:
        def work(conn: sqlite3.Connection) -> int:
            if guild_id is None:
                return conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
            return conn.execute(
                "SELECT COUNT(*) FROM ledger WHERE from_guild_id = ? OR to_guild_id = ?", (guild_id, guild_id)
            ).fetchone()[0]

        return await self._storage.read(work)

    async def graph(
        self,
        *,
        guild_id: int | None,
        user_id: int | None,
        since: int | None,
        until: int | None,
        interval: Interval = "day",
    ) -> list[GraphPoint]:
        """Net balance changes per bucket, with the running balance after each.

        For one member: their rows. For a guild (or everything): the balances of its members,
        leaving bot profiles out, so the curve is the voicepoints in circulation.
        """
        size = INTERVAL_SECONDS[interval]
        offset = WEEK_OFFSET if interval == "week" else 0
        if user_id is not None and guild_id is not None:
            inflow = "CASE WHEN to_guild_id = :g AND to_user_id = :u THEN amount ELSE 0 END"
            outflow = "CASE WHEN from_guild_id = :g AND from_user_id = :u THEN amount ELSE 0 END"
            where = "((to_guild_id = :g AND to_user_id = :u) OR (from_guild_id = :g AND from_user_id = :u))"
        else:
            scope_to = "to_guild_id = :g AND " if guild_id is not None else ""
            scope_from = "from_guild_id = :g AND " if guild_id is not None else ""
            counted = "NOT EXISTS (SELECT 1 FROM members m WHERE m.guild_id = {p}_guild_id AND m.user_id = {p}_user_id AND m.is_bot = 1)"  # noqa: E501
            inflow = f"CASE WHEN {scope_to}{counted.format(p='to')} THEN amount ELSE 0 END"
            outflow = f"CASE WHEN {scope_from}{counted.format(p='from')} THEN amount ELSE 0 END"
            where = "(to_guild_id = :g OR from_guild_id = :g)" if guild_id is not None else "1"
        params = {"g": guild_id, "u": user_id, "size": size, "off": offset, "since": since, "until": until}
        sql = f"SELECT created_at, ({inflow}) - ({outflow}) AS delta FROM ledger WHERE {where}"  # noqa: S608

        def work(conn: sqlite3.Connection) -> list[GraphPoint]:
            before = 0
            if since is not None:
                before = conn.execute(
                    f"SELECT COALESCE(SUM(delta), 0) FROM ({sql}) WHERE created_at < :since",  # noqa: S608
                    params,
                ).fetchone()[0]
            rows = conn.execute(
                f"SELECT created_at - ((created_at - :off) % :size) AS t, SUM(delta) FROM ({sql})"  # noqa: S608
                " WHERE (:since IS NULL OR created_at >= :since) AND (:until IS NULL OR created_at < :until)"
                " GROUP BY t HAVING SUM(delta) != 0 ORDER BY t",
                params,
            ).fetchall()
            points, balance = [], before
            for t, delta in rows:
                balance += delta
                points.append(GraphPoint(t, delta, balance))
            return points

        return await self._storage.read(work)
