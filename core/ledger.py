"""The ledger rules both doors call: ``/give`` and ``POST /transaction``, rewards, API edits.

Each function is one storage unit of work, so concurrent calls can neither lose nor create
points. Refusals are :class:`LedgerError` subclasses whose message is fit for the caller.
"""

from __future__ import annotations

from storage import Repositories
from storage.ledger import (
    AlreadyReversed,
    InsufficientFunds,
    LedgerEntry,
    LedgerError,
    NotAllowed,
    OutOfRange,
    Party,
    PartyRef,
    SelfTransfer,
    UnknownProfile,
    UnknownTransaction,
)

__all__ = [
    "AlreadyReversed",
    "InsufficientFunds",
    "LedgerEntry",
    "LedgerError",
    "NotAllowed",
    "OutOfRange",
    "Party",
    "PartyRef",
    "SelfTransfer",
    "UnknownProfile",
    "UnknownTransaction",
    "adjust_balance",
    "cog_actor",
    "pay_from_self",
    "reverse",
    "send",
    "transfer",
]

MAX_REASON = 500


def cog_actor(name: str) -> str:
    """How a ledger row names a cog as its actor."""
    return f"cog:{name}"


def _reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise OutOfRange(f"the reason is longer than {MAX_REASON} characters")
    return reason


async def send(
    repos: Repositories,
    source: PartyRef,
    target: PartyRef,
    *,
    amount: int,
    reason: str,
    actor: str,
    now: int,
    issuer: Party | None = None,
) -> LedgerEntry:
    """Move ``amount`` points: never to oneself, never below 0 for a member, never from another bot.

    ``issuer`` is the caller's own bot profile (``"self"``): it is created on demand, marked a bot,
    and may go negative.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise OutOfRange("the amount must be a whole number of at least 1")
    return await repos.ledger.transfer(
        source, target, amount, reason=_reason(reason), actor=actor, now=now, issuer=issuer
    )


async def transfer(
    repos: Repositories,
    *,
    guild_id_from: int,
    user_id_from: int,
    guild_id_to: int,
    user_id_to: int,
    amount: int,
    reason: str,
    actor: str,
    now: int,
) -> LedgerEntry:
    """A member-to-member transfer (``/give``): the sender's balance never goes below 0."""
    return await send(
        repos,
        Party(guild_id_from, user_id_from),
        Party(guild_id_to, user_id_to),
        amount=amount,
        reason=reason,
        actor=actor,
        now=now,
    )


async def pay_from_self(
    repos: Repositories,
    *,
    guild_id: int,
    bot_user_id: int,
    user_id: int,
    amount: int,
    reason: str,
    actor: str,
    now: int,
) -> LedgerEntry:
    """A reward from the bot's own profile in the guild (level-ups, /pray, other features' rewards)."""
    issuer = Party(guild_id, bot_user_id)
    return await send(
        repos, issuer, Party(guild_id, user_id), amount=amount, reason=reason, actor=actor, now=now, issuer=issuer
    )


async def adjust_balance(
    repos: Repositories,
    *,
    guild_id: int,
    user_id: int,
    delta: int,
    reason: str,
    actor: str,
    now: int,
    bot_user_id: int,
) -> LedgerEntry | None:
    """An edit by ``delta`` (admin /points, API adds): one row from or to the issuer's profile."""
    party, issuer = Party(guild_id, user_id), Party(guild_id, bot_user_id)
    return await repos.ledger.adjust(party, issuer, delta=delta, reason=_reason(reason), actor=actor, now=now)


async def reverse(
    repos: Repositories, entry_id: int, *, actor: str, now: int, guild_id: int | None = None
) -> LedgerEntry:
    """Undo a row with a new one the other way (``reversal of #id``); refused if the payer can't pay."""
    return await repos.ledger.reverse(entry_id, actor=actor, now=now, guild_id=guild_id)
