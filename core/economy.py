"""The economy rules both doors share: the catalog, inventories, reputation and likes, rank-card
colours, period statistics in the guild's time zone, and the WetBot profile view of a member.

The economy profile is the second view of the one member record: ``currency`` is the voicepoint
balance (changed only through the ledger), ``hours`` the counted voice time, ``messages`` the text
message count and ``xp``/``totalxp``/``level`` follow the guild's level curve.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import ledger, levels, voice
from core.config import EconomySettings, Settings
from core.rankcard import Colours, RankCard
from storage import Repositories
from storage.economy import (
    BelowZero,
    DuplicateItem,
    Item,
    NotEnoughStock,
    OnCooldown,
    ProfileSnapshot,
    Stack,
    StockOverflow,
    UnknownItem,
)
from storage.ledger import Party
from storage.members import TOMBSTONE_USER, Member, ProfileExists
from storage.members import ProfileEdit as MemberEdit

FEATURE = "economy"
PERIODS = ("daily", "weekly", "monthly", "yearly")
ITEM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ITEM_CHANGE = 1_000_000_000
MAX_CURRENCY_CHANGE = 1_000_000_000
MAX_XP_CHANGE = 100_000
MAX_RP_CHANGE = 100
MAX_NAME = 100
MAX_DESCRIPTION = 300
T = TypeVar("T")


class EconomyError(Exception):
    """A request the rules refuse; the message is for the person who made it."""

    status = 400


class NotFound(EconomyError):
    status = 404


class Conflict(EconomyError):
    status = 409


class Cooldown(EconomyError):
    status = 429

    def __init__(self, message: str, retry_at: int) -> None:
        super().__init__(message)
        self.retry_at = retry_at


# --- guild settings -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuildEconomy:
    timezone: str
    leaderboard_public: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


async def guild_economy(repos: Repositories, settings: EconomySettings, guild_id: int) -> GuildEconomy:
    """The guild's own choices over the configured defaults."""
    stored = await repos.guild_settings.get(guild_id, FEATURE) or {}
    return GuildEconomy(
        timezone=stored.get("timezone", settings.timezone),
        leaderboard_public=stored.get("leaderboard_public", settings.leaderboard_public),
    )


async def configure_guild(
    repos: Repositories,
    settings: EconomySettings,
    guild_id: int,
    *,
    now: int,
    timezone: str | None = None,
    leaderboard_public: bool | None = None,
) -> GuildEconomy:
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise EconomyError(f"{timezone!r} is not a time zone; use a name like Europe/Berlin") from None
    stored = await repos.guild_settings.get(guild_id, FEATURE) or {}
    if timezone is not None:
        stored["timezone"] = timezone
    if leaderboard_public is not None:
        stored["leaderboard_public"] = leaderboard_public
    await repos.guild_settings.put(guild_id, FEATURE, stored, now=now)
    return await guild_economy(repos, settings, guild_id)


def period_starts(now: float, zone: ZoneInfo) -> dict[str, int]:
    """When the current day, week (from Monday), month and year began on the guild's calendar."""
    local = datetime.fromtimestamp(now, zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = datetime.combine((day - timedelta(days=day.weekday())).date(), day.time(), zone)
    month = day.replace(day=1)
    year = month.replace(month=1)
    return {name: int(start.timestamp()) for name, start in zip(PERIODS, (day, week, month, year), strict=True)}


# zone name -> (start of its current day, start of the next, that day's period starts). A pure
# function's memo: every start is the same from a day's first second to its last.
_CURRENT_DAYS: dict[str, tuple[int, int, dict[str, int]]] = {}
LONGEST_DAY = 26 * 3600  # a local day lasts 23 to 25 hours: this far past its start is the next day


def current_periods(now: float, zone_name: str) -> tuple[dict[str, int], int]:
    """:func:`period_starts` in ``zone_name`` and the moment they next change (the next local midnight)."""
    known = _CURRENT_DAYS.get(zone_name)
    if known is not None and known[0] <= now < known[1]:
        return known[2], known[1]
    zone = ZoneInfo(zone_name)
    starts = period_starts(now, zone)
    until = period_starts(starts["daily"] + LONGEST_DAY, zone)["daily"]
    if starts["daily"] <= now < until:
        _CURRENT_DAYS[zone_name] = (starts["daily"], until, starts)
    return starts, until


# --- the catalog --------------------------------------------------------------------------


def check_item_id(item_id: str) -> str:
    if not ITEM_ID.match(item_id):
        raise EconomyError("an item id is 1 to 64 letters, digits, '-' or '_'")
    return item_id


def _check_text(name: str, description: str) -> None:
    if not name.strip() or len(name) > MAX_NAME:
        raise EconomyError(f"an item name is 1 to {MAX_NAME} characters")
    if len(description) > MAX_DESCRIPTION:
        raise EconomyError(f"an item description is at most {MAX_DESCRIPTION} characters")


async def create_item(
    repos: Repositories, guild_id: int, item_id: str, name: str, description: str, *, now: int
) -> Item:
    check_item_id(item_id)
    _check_text(name, description)
    try:
        return await repos.economy.create_item(guild_id, item_id, name.strip(), description.strip(), now=now)
    except DuplicateItem:
        raise Conflict(f"an item with id {item_id!r} already exists") from None


async def edit_item(
    repos: Repositories, guild_id: int, item_id: str, *, name: str | None, description: str | None
) -> Item:
    _check_text(name if name is not None else "x", description or "")
    item = await repos.economy.edit_item(
        guild_id,
        item_id,
        name=name.strip() if name is not None else None,
        description=description.strip() if description is not None else None,
    )
    if item is None:
        raise NotFound(f"there is no item {item_id!r}")
    return item


async def delete_item(repos: Repositories, guild_id: int, item_id: str) -> None:
    if not await repos.economy.delete_item(guild_id, item_id):
        raise NotFound(f"there is no item {item_id!r}")


# --- inventories ----------------------------------------------------------------------------


async def change_inventory(
    repos: Repositories, guild_id: int, user_id: int, changes: Sequence[tuple[str, int]], *, now: int
) -> list[Stack]:
    """Add or remove items, all or nothing; several changes of one item add up."""
    if not changes:
        raise EconomyError("items must name at least one item")
    merged: dict[str, int] = {}
    for item_id, amount in changes:
        if isinstance(amount, bool) or not isinstance(amount, int) or abs(amount) > MAX_ITEM_CHANGE:
            raise EconomyError(f"the amount of {item_id!r} must be a whole number within ±{MAX_ITEM_CHANGE}")
        merged[item_id] = merged.get(item_id, 0) + amount
    try:
        return await repos.economy.change_inventory(guild_id, user_id, merged, now=now)
    except UnknownItem as error:
        raise EconomyError(str(error)) from None
    except (NotEnoughStock, StockOverflow) as error:
        raise EconomyError(str(error)) from None


# --- reputation and likes -------------------------------------------------------------------


def _check_receiver(giver_id: int, receiver_id: int, receiver_is_bot: bool, what: str) -> None:
    if giver_id == receiver_id:
        raise EconomyError(f"you can't give {what} to yourself")
    if receiver_is_bot:
        raise EconomyError(f"bots don't take {what}")


@dataclass(frozen=True, slots=True)
class Appreciation:
    """Something a member gives another once per cooldown: reputation or a like."""

    kind: str
    noun: str
    cooldown_setting: str
    per_receiver: bool  # the cooldown counts per receiver (likes) or for any receiver (reputation)
    too_soon: str


REP = Appreciation("rep", "reputation", "rep_cooldown_hours", False, "you have given reputation recently")
LIKE = Appreciation("like", "likes", "like_cooldown_hours", True, "you have liked this member recently")


async def give(
    repos: Repositories,
    settings: EconomySettings,
    guild_id: int,
    what: Appreciation,
    *,
    giver_id: int,
    receiver_id: int,
    receiver_is_bot: bool,
    now: int,
) -> int:
    """+1 of ``what``, once per cooldown; returns the receiver's new total."""
    _check_receiver(giver_id, receiver_id, receiver_is_bot, what.noun)
    try:
        return await repos.economy.give(
            what.kind,
            guild_id,
            receiver_id,
            giver_id=giver_id,
            now=now,
            cooldown=int(getattr(settings, what.cooldown_setting) * 3600),
            per_receiver=what.per_receiver,
        )
    except OnCooldown as error:
        raise Cooldown(what.too_soon, error.retry_at) from None


give_rep = functools.partial(give, what=REP)
give_like = functools.partial(give, what=LIKE)


async def adjust_rp(repos: Repositories, guild_id: int, user_id: int, delta: int, *, now: int) -> int:
    try:
        return await repos.economy.adjust("rep", guild_id, user_id, delta, now=now)
    except BelowZero:
        raise EconomyError("rp would fall below zero") from None


# --- rank-card colours ----------------------------------------------------------------------


async def colours(repos: Repositories, guild_id: int, user_id: int) -> Colours:
    return Colours.from_json(await repos.economy.colours(guild_id, user_id))


async def set_colours(
    repos: Repositories,
    guild_id: int,
    user_id: int,
    *,
    now: int,
    font: tuple[int, int, int, int] | None = None,
    xp: tuple[int, int, int, int] | None = None,
    xp_background: tuple[int, int, int, int] | None = None,
    reset: bool = False,
) -> Colours:
    current = Colours() if reset else await colours(repos, guild_id, user_id)
    updated = Colours(font or current.font, xp or current.xp, xp_background or current.xp_background)
    await repos.economy.set_colours(guild_id, user_id, updated.to_json(), now=now)
    return updated


# --- the profile view -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodFacts:
    totalxp: int = 0
    messages: int = 0
    voice_seconds: int = 0
    currency: int = 0


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What the economy view reads from the shared member record and the ledger."""

    level: int = 1
    experience: int = 0
    totalxp: int = 0
    messages: int = 0
    voice_seconds: int = 0
    balance: int = 0
    spent: int = 0
    voice_since: int | None = None
    periods: Mapping[str, PeriodFacts] = field(default_factory=dict)


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _hours(seconds: int) -> float:
    return round(seconds / 3600, 2)


def _stats(periods: Mapping[str, PeriodFacts], rp: Mapping[str, int], likes: Mapping[str, int]) -> dict[str, Any]:
    stats = {}
    for name in PERIODS:
        facts = periods.get(name, PeriodFacts())
        stats[name] = {
            "totalxp": facts.totalxp,
            "messages": facts.messages,
            "hours": _hours(facts.voice_seconds),
            "rp": rp.get(name, 0),
            "likes": likes.get(name, 0),
            "currency": facts.currency,
            "invites": 0,
            "bumps": 0,
            "giveawaysCreated": 0,
            "wormholeTouched": 0,
            "doneQuests": 0,
            "itemsSoldOnMarketPlace": 0,
        }
    return stats


NO_BLOCKS = {"XP": False, "CUR": False, "RP": False, "items": False}


def profile_json(
    guild_id: int,
    user_id: int,
    facts: MemberFacts,
    *,
    rp: int,
    likes: int,
    rp_since: Mapping[str, int],
    likes_since: Mapping[str, int],
    last_like: int | None,
    inventory: Sequence[Stack],
    card: Colours,
) -> dict[str, Any]:
    """The WetBot profile object: live fields from the bot's state, the rest at their defaults."""
    return {
        "userID": str(user_id),
        "guildID": str(guild_id),
        "totalxp": facts.totalxp,
        "seasonTotalXp": 0,
        "xp": facts.experience,
        "seasonXp": 0,
        "xpSession": 0,
        "rpSession": 0,
        "level": facts.level,
        "seasonLevel": 1,
        "messages": facts.messages,
        "hours": _hours(facts.voice_seconds),
        "rp": rp,
        "hoursSession": 0,
        "likes": likes,
        "currency": facts.balance,
        "currencySession": 0,
        "currencySpent": facts.spent,
        "stats": _stats(facts.periods, rp_since, likes_since),
        "itemsSession": [],
        "invites": 0,
        "startTime": _iso(facts.voice_since),
        "inviterInfo": {"userID": None, "items": []},
        "bio": "",
        "birthday_day": None,
        "birthday_month": None,
        "birthday_year": None,
        "image": None,
        "bumps": 0,
        "giveawaysCreated": 0,
        "multiplyXP": 1,
        "multiplyXPTime": None,
        "multiplyCUR": 1,
        "multiplyCURTime": None,
        "multiplyLuck": 1,
        "multiplyLuckTime": None,
        "multiplyRP": 1,
        "multiplyRPTime": None,
        "daysStreak": 0,
        "lastDaily": None,
        "lastLike": _iso(last_like),
        "fishing": 0,
        "mining": 0,
        "maxDaily": 0,
        "wormholeTouched": 0,
        "doneQuests": 0,
        "itemsSoldOnMarketPlace": 0,
        "inventory": [{"itemID": s.item_id, "amount": s.amount, "fav": False} for s in inventory if s.amount > 0],
        "achievments": [],
        "roles": [],
        "quests": [],
        "blockActivities": {
            **{kind: dict(NO_BLOCKS) for kind in ("message", "voice", "invite", "bump", "like")},
            "item": {"XP": False, "CUR": False},
        },
        "links": {"VK": None, "TikTok": None, "Instagram": None, "Steam": None},
        "isHiden": False,
        "joinDateIsHiden": False,
        "achievmentsHiden": False,
        "sex": None,
        "hideSex": False,
        "marry": None,
        "marryDate": None,
        "trophies": [],
        "trophyHide": False,
        "cs2premiere": {"rank": 0, "timeReset": None},
        "rank_card": card.to_json(),
        "itemsOpened": 0,
        "wormholesSpawned": 0,
        "itemsReceived": sum(s.received for s in inventory),
        "itemsCrafted": 0,
        "itemsUsed": 0,
        "itemsBoughtInShop": 0,
        "itemsBoughtOnMarket": 0,
        "itemsSold": 0,
        "roleIncomeCooldowns": {},
        "dailyLimits": {},
        "weeklyLimits": {},
        "monthlyLimits": {},
        "dropdownCooldowns": {},
        "levelMention": True,
        "achievementMention": True,
        "itemMention": True,
        "roleincomention": True,
        "inviteJoinMention": True,
        "inviteleavement": True,
        "jobsCooldowns": {},
        "allJobsCooldown": None,
        "boosts": 0,
        "works": 0,
    }


async def require_known(
    repos: Repositories, guild_id: int, user_id: int, *, in_guild: bool, actor: str, now: int
) -> Member:
    """The member's record; made on demand for a member the Discord side sees in the guild."""
    member = await repos.members.get(guild_id, user_id)
    if member is not None and member.user_id != TOMBSTONE_USER:
        return member
    if not in_guild or user_id == TOMBSTONE_USER:
        raise NotFound(f"user {user_id} has no profile in guild {guild_id}")
    try:
        member, _ = await repos.members.create(
            MemberEdit(guild_id, user_id), overwrite=False, issuer=Party(guild_id, 0), actor=actor, now=now
        )
    except ProfileExists:
        member = await repos.members.get(guild_id, user_id)
        assert member is not None
    return member


async def level_curve(repos: Repositories, settings: Settings, guild_id: int) -> tuple[levels.CurveName, int]:
    """The level curve the guild's member records follow, and its factor."""
    rules = await voice.guild_settings(repos, settings, guild_id)
    return rules.curve, rules.level_factor


def from_totalxp(name: levels.CurveName, total: int, *, factor: int) -> tuple[int, int]:
    """(level, experience within it) holding ``total`` experience on the curve."""
    low, high = 1, 2
    while levels.experience_to_reach(name, high, factor=factor) <= total:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if levels.experience_to_reach(name, middle, factor=factor) <= total:
            low = middle
        else:
            high = middle
    return low, total - levels.experience_to_reach(name, low, factor=factor)


def _facts(snapshot: ProfileSnapshot, settings: Settings, voice_since: int | None) -> MemberFacts:
    member, flows = snapshot.member, snapshot.flows
    if member is None or flows is None:
        return MemberFacts(voice_since=voice_since)
    rules = voice.GuildVoiceSettings.defaults(settings).with_overrides(snapshot.voice_settings)
    periods = {
        name: PeriodFacts(
            totalxp=activity.experience,
            messages=activity.messages,
            voice_seconds=activity.voice_seconds,
            currency=flows.since[name],
        )
        for name, activity in snapshot.activity.items()
    }
    return MemberFacts(
        level=member.level,
        experience=member.experience,
        totalxp=levels.totalxp(rules.curve, member.level, member.experience, factor=rules.level_factor),
        messages=member.message_count,
        voice_seconds=member.voice_seconds,
        balance=member.voicepoints,
        spent=flows.sent,
        voice_since=voice_since,
        periods=periods,
    )


async def load_profile(
    repos: Repositories,
    settings: Settings,
    guild_id: int,
    user_id: int,
    *,
    in_guild: bool,
    now: int,
    voice_since: float | None = None,
    shape: Callable[[dict[str, Any]], T],
) -> T | None:
    """``shape`` of the WetBot profile of a member the bot has a record of or sees in the guild, else None.

    One read gathers everything, and the shaped answer (the web door's serialised body) is
    remembered until the next commit by anyone; what the database does not hold is in the key:
    the current day in the guild's time zone, the open voice session, whether Discord shows the
    member, the settings and ``shape``.
    """
    if user_id == TOMBSTONE_USER:
        return None
    zone = await repos.economy.timezone(guild_id) or settings.economy.timezone
    starts, _ = current_periods(now, zone)
    since = None if voice_since is None else int(voice_since)

    def render(snapshot: ProfileSnapshot) -> T | None:
        if snapshot.member is None and not in_guild:
            return None
        totals = snapshot.totals
        return shape(
            profile_json(
                guild_id,
                user_id,
                _facts(snapshot, settings, since),
                rp=totals.rp,
                likes=totals.likes,
                rp_since=totals.rp_since,
                likes_since=totals.likes_since,
                last_like=totals.last_like_given,
                inventory=snapshot.inventory,
                card=Colours.from_json(snapshot.colours),
            )
        )

    key = (starts["daily"], zone, in_guild, since, id(settings), shape)
    return await repos.economy.profile_view(guild_id, user_id, starts, render=render, cache_key=key)


async def edit_profile(
    repos: Repositories,
    settings: Settings,
    guild_id: int,
    user_id: int,
    *,
    currency: int | None,
    xp: int | None,
    rp: int | None,
    actor: str,
    bot_user_id: int | None,
    in_guild: bool,
    now: int,
) -> None:
    """Add the deltas. Each is checked before any is applied, so a refused one changes nothing."""
    member = await require_known(repos, guild_id, user_id, in_guild=in_guild, actor=actor, now=now)
    if rp:
        totals = await repos.economy.totals(guild_id, user_id, {})
        if totals.rp + rp < 0:
            raise EconomyError(f"rp would fall below zero (it is {totals.rp})")
    if currency and member.voicepoints + currency < 0:
        raise EconomyError(f"currency would fall below zero (it is {member.voicepoints})")
    if currency and bot_user_id is None:
        raise EconomyError("currency comes from the bot's own profile, unknown until the bot has connected")
    curve, factor = await level_curve(repos, settings, guild_id)
    new_total = None
    if xp:
        new_total = levels.totalxp(curve, member.level, member.experience, factor=factor) + xp
        if new_total < 0:
            raise EconomyError("xp would fall below zero")
    if currency:
        assert bot_user_id is not None
        try:
            await ledger.adjust_balance(
                repos,
                guild_id=guild_id,
                user_id=user_id,
                delta=currency,
                reason="api currency",
                actor=actor,
                now=now,
                bot_user_id=bot_user_id,
            )
        except ledger.LedgerError as error:
            raise EconomyError(str(error)) from None
    if new_total is not None:
        level, experience = from_totalxp(curve, new_total, factor=factor)
        await repos.members.apply_edits(
            [MemberEdit(guild_id, user_id, level=level, experience=experience)],
            add=False,
            bot_user_id=bot_user_id or 0,
            actor=actor,
            now=now,
        )
    if rp:
        await adjust_rp(repos, guild_id, user_id, rp, now=now)


# --- images ---------------------------------------------------------------------------------


async def rank_card(
    repos: Repositories, settings: Settings, guild_id: int, user_id: int, *, name: str, avatar: bytes | None
) -> RankCard:
    """The member's rank card facts (a member without a record yet is shown at level 1)."""
    member = await repos.members.get(guild_id, user_id)
    curve, factor = await level_curve(repos, settings, guild_id)
    level = member.level if member else 1
    experience = member.experience if member else 0
    _, needed = levels.progress(curve, level, experience, factor=factor)
    return RankCard(
        name=name,
        level=level,
        experience=experience,
        needed=needed,
        rank=await repos.members.rank(guild_id, user_id, "levels") if member else None,
        voice_hours=(member.voice_seconds if member else 0) / 3600,
        balance=member.voicepoints if member else 0,
        colours=await colours(repos, guild_id, user_id),
        avatar=avatar,
    )


async def balance_history(repos: Repositories, guild_id: int, user_id: int) -> list[tuple[int, int]]:
    """(hour, balance after it) for every hour the member's balance changed, from the ledger."""
    points = await repos.ledger.graph(guild_id=guild_id, user_id=user_id, since=None, until=None, interval="hour")
    return [(point.t, point.balance) for point in points]
