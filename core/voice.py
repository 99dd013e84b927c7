"""Voice and text earning rules: per-guild settings, who counts, session accounting, payments.

Nothing here knows discord.py: the cog turns voice states into :class:`VoiceSnapshot` and calls
:meth:`VoiceSessions.sync` whenever a guild's voice states change; a timer drains the counted
seconds and :func:`credit_voice` pays them (time, experience with level-ups, voicepoints).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from core import levels
from core.config import Settings
from core.ledger import cog_actor
from storage import Repositories
from storage.members import CountedMessage, Earned, EarningTerms, PrayResult, Progress

FEATURE = "voice"
ACTOR = cog_actor("voice")
Announce = Literal["off", "channel", "dm"]


@dataclass(frozen=True, slots=True)
class GuildVoiceSettings:
    """One guild's earning settings: the ``[voice]``/``[levels]`` defaults with its overrides."""

    xp_per_minute: int
    points_per_minute: int
    join_grace: float
    ignore_muted: bool
    ignore_deafened: bool
    ignore_suppressed: bool
    ignore_afk: bool
    ignore_alone: bool
    text_xp_min: int
    text_xp_max: int
    text_cooldown: int
    pray_base: int
    pray_random: int
    pray_streak_bonus: int
    curve: levels.CurveName
    text_curve: levels.CurveName
    level_factor: int
    reward_per_level: int
    announce: Announce
    keep_level_roles: bool
    announce_channel_id: int | None = None
    no_xp_channels: frozenset[int] = frozenset()
    no_xp_roles: frozenset[int] = frozenset()
    level_roles: tuple[tuple[int, int], ...] = ()  # (level, role id), sorted by level

    @classmethod
    def defaults(cls, settings: Settings) -> GuildVoiceSettings:
        voice, lv = settings.voice, settings.levels
        return cls(
            **{name: getattr(voice, name) for name in type(voice).model_fields if name != "flush_interval"},
            **dict(lv),
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> GuildVoiceSettings:
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in SETTING_NAMES:
                continue  # a setting removed since it was stored
            if name in ("no_xp_channels", "no_xp_roles"):
                value = frozenset(int(v) for v in value)
            elif name == "level_roles":
                value = tuple(sorted((int(level), int(role)) for level, role in value))
            changes[name] = value
        return replace(self, **changes)

    def stored(self, defaults: GuildVoiceSettings) -> dict[str, Any]:
        """What differs from the defaults, as JSON for the guild settings store."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if value == getattr(defaults, name):
                continue
            if isinstance(value, frozenset):
                value = sorted(value)
            elif name == "level_roles":
                value = [list(pair) for pair in value]
            out[name] = value
        return out

    def curve_fn(self) -> levels.Curve:
        return levels.curve(self.curve, factor=self.level_factor)

    def text_curve_fn(self) -> levels.Curve:
        return levels.curve(self.text_curve, factor=self.level_factor)

    def level_reward(self, new_level: int) -> int:
        return self.reward_per_level * new_level

    def role_changes(self, level: int) -> tuple[set[int], set[int]]:
        """(roles to hold, level roles to remove) for a member at ``level``."""
        earned = [(lv, role) for lv, role in self.level_roles if lv <= level]
        others = {role for lv, role in self.level_roles if lv > level}
        if not earned:
            return set(), others
        if self.keep_level_roles:
            return {role for _, role in earned}, others
        top = earned[-1][1]
        return {top}, others | {role for _, role in earned if role != top}


SETTING_NAMES = frozenset(f.name for f in fields(GuildVoiceSettings))


async def guild_settings(repos: Repositories, settings: Settings, guild_id: int) -> GuildVoiceSettings:
    stored = await repos.guild_settings.get(guild_id, FEATURE) or {}
    return GuildVoiceSettings.defaults(settings).with_overrides(stored)


async def save_guild_settings(
    repos: Repositories, settings: Settings, guild_id: int, updated: GuildVoiceSettings, *, now: int
) -> None:
    await repos.guild_settings.put(guild_id, FEATURE, updated.stored(GuildVoiceSettings.defaults(settings)), now=now)


# --- who counts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoiceSnapshot:
    """A member's voice state, as the gateway last told it."""

    user_id: int
    channel_id: int
    bot: bool = False
    self_mute: bool = False
    self_deaf: bool = False
    mute: bool = False
    deaf: bool = False
    suppress: bool = False
    role_ids: frozenset[int] = frozenset()


def may_earn(state: VoiceSnapshot, rules: GuildVoiceSettings, afk_channel_id: int | None) -> bool:
    """The member's own state allows counting (the alone rule looks at the others)."""
    if state.bot or state.channel_id in rules.no_xp_channels or state.role_ids & rules.no_xp_roles:
        return False
    if rules.ignore_muted and (state.self_mute or state.mute):
        return False
    if rules.ignore_deafened and (state.self_deaf or state.deaf):
        return False
    if rules.ignore_suppressed and state.suppress:
        return False
    return not (rules.ignore_afk and afk_channel_id is not None and state.channel_id == afk_channel_id)


def counting(states: Iterable[VoiceSnapshot], rules: GuildVoiceSettings, afk_channel_id: int | None) -> set[int]:
    """The user ids whose time counts now: each may earn and, unless allowed, is not alone."""
    eligible: dict[int, list[int]] = {}
    for state in states:
        if may_earn(state, rules, afk_channel_id):
            eligible.setdefault(state.channel_id, []).append(state.user_id)
    return {user for users in eligible.values() if len(users) >= 2 or not rules.ignore_alone for user in users}


@dataclass(slots=True)
class _Session:
    channel_id: int
    joined_at: float
    grace: float
    counting_since: float | None = None


@dataclass
class VoiceSessions:
    """Open voice sessions per guild; counted seconds build up until :meth:`drain` takes them.

    :meth:`sync` brings a whole guild in line (start-up, resume, new rules); :meth:`update` applies
    one member's change in constant time, from the states and the per-channel set of members who
    may earn that the last sync left behind.
    """

    _sessions: dict[int, dict[int, _Session]] = field(default_factory=dict)
    _accrued: dict[tuple[int, int], float] = field(default_factory=dict)
    _states: dict[int, dict[int, VoiceSnapshot]] = field(default_factory=dict)
    _eligible: dict[int, dict[int, set[int]]] = field(default_factory=dict)
    _basis: dict[int, tuple[GuildVoiceSettings, int | None]] = field(default_factory=dict)

    def sync(
        self,
        guild_id: int,
        states: Iterable[VoiceSnapshot],
        *,
        now: float,
        rules: GuildVoiceSettings,
        afk_channel_id: int | None,
    ) -> None:
        """Bring the guild's sessions in line with its current voice states."""
        states = list(states)
        earning = counting(states, rules, afk_channel_id)
        sessions = self._sessions.setdefault(guild_id, {})
        present = set()
        for state in states:
            present.add(state.user_id)
            session = sessions.get(state.user_id)
            if session is not None and session.channel_id != state.channel_id:
                self._stop(guild_id, state.user_id, session, now)
                session = None
            if session is None:
                session = sessions[state.user_id] = _Session(state.channel_id, now, rules.join_grace)
            if state.user_id in earning and session.counting_since is None:
                session.counting_since = now
            elif state.user_id not in earning and session.counting_since is not None:
                self._stop(guild_id, state.user_id, session, now)
        for user_id in set(sessions) - present:
            self._stop(guild_id, user_id, sessions.pop(user_id), now)
        eligible: dict[int, set[int]] = {}
        for state in states:
            if may_earn(state, rules, afk_channel_id):
                eligible.setdefault(state.channel_id, set()).add(state.user_id)
        self._states[guild_id] = {state.user_id: state for state in states}
        self._eligible[guild_id] = eligible
        self._basis[guild_id] = (rules, afk_channel_id)

    def update(
        self,
        guild_id: int,
        user_id: int,
        state: VoiceSnapshot | None,
        *,
        now: float,
        rules: GuildVoiceSettings,
        afk_channel_id: int | None,
    ) -> bool:
        """One member's voice state changed (``None``: left voice); the same outcome as a :meth:`sync`.

        False (nothing changed) when the guild was not synced under these rules: sync it instead."""
        if self._basis.get(guild_id) != (rules, afk_channel_id):
            return False
        states, eligible = self._states[guild_id], self._eligible[guild_id]
        sessions = self._sessions.setdefault(guild_id, {})
        touched = set()
        old = states.pop(user_id, None)
        if old is not None:
            eligible.get(old.channel_id, set()).discard(user_id)
            touched.add(old.channel_id)
        if state is not None:
            states[user_id] = state
            if may_earn(state, rules, afk_channel_id):
                eligible.setdefault(state.channel_id, set()).add(user_id)
            touched.add(state.channel_id)
        session = sessions.get(user_id)
        if session is not None and (state is None or session.channel_id != state.channel_id):
            self._stop(guild_id, user_id, sessions.pop(user_id), now)
            session = None
        if state is not None and session is None:
            sessions[user_id] = _Session(state.channel_id, now, rules.join_grace)
        for channel_id in touched:
            members = eligible.get(channel_id, set())
            earning = len(members) >= 2 or not rules.ignore_alone
            # One member more or less changes the others only across the alone threshold (1 <-> 2).
            for member_id in members if len(members) <= 2 else members & {user_id}:
                self._count(guild_id, member_id, sessions[member_id], earning, now)
            if state is not None and state.channel_id == channel_id and user_id not in members:
                self._count(guild_id, user_id, sessions[user_id], False, now)
        return True

    def _count(self, guild_id: int, user_id: int, session: _Session, earning: bool, now: float) -> None:
        if earning and session.counting_since is None:
            session.counting_since = now
        elif not earning and session.counting_since is not None:
            self._stop(guild_id, user_id, session, now)

    def _stop(self, guild_id: int, user_id: int, session: _Session, now: float) -> None:
        if session.counting_since is None:
            return
        start = max(session.counting_since, session.joined_at + session.grace)
        if now > start:
            key = (guild_id, user_id)
            self._accrued[key] = self._accrued.get(key, 0.0) + (now - start)
        session.counting_since = None

    def drain(self, now: float) -> dict[tuple[int, int], int]:
        """Whole counted seconds per (guild, user) up to ``now``; fractions wait for the next drain."""
        for guild_id, sessions in self._sessions.items():
            for user_id, session in sessions.items():
                if session.counting_since is not None:
                    self._stop(guild_id, user_id, session, now)
                    session.counting_since = now
        out: dict[tuple[int, int], int] = {}
        for key, seconds in list(self._accrued.items()):
            whole = int(seconds)
            if whole > 0:
                out[key] = whole
            if seconds - whole > 0:
                self._accrued[key] = seconds - whole
            else:
                del self._accrued[key]
        return out

    def pause(self, now: float) -> None:
        """Close every session (the gateway is down): counted time so far is kept for the next drain."""
        for guild_id, sessions in self._sessions.items():
            for user_id, session in sessions.items():
                self._stop(guild_id, user_id, session, now)
        self._sessions.clear()
        self._states.clear()
        self._eligible.clear()
        self._basis.clear()

    def counting_now(self, guild_id: int) -> set[int]:
        return {u for u, s in self._sessions.get(guild_id, {}).items() if s.counting_since is not None}

    def session_start(self, guild_id: int, user_id: int) -> float | None:
        session = self._sessions.get(guild_id, {}).get(user_id)
        return None if session is None else session.joined_at


@dataclass
class Carry:
    """Per-minute rates paid on whole seconds: the fraction of a unit carries to the next payment."""

    _left: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def pay(self, key: tuple[Any, ...], seconds: int, per_minute: int) -> int:
        units = self._left.get(key, 0) + seconds * per_minute
        self._left[key] = units % 60
        return units // 60


# --- payments --------------------------------------------------------------------------------


async def credit_voice(
    repos: Repositories,
    rules: GuildVoiceSettings,
    carry: Carry,
    *,
    guild_id: int,
    seconds: Mapping[int, int],
    bot_user_id: int,
    now: int,
) -> list[Progress | Exception]:
    """Store counted voice seconds per member of one guild with their experience (levelling up,
    rewards from "self") and points, paid at the guild's per-minute rates (fractions carry over), in
    units of work of many members each; a member whose credit fails is answered as its error, the
    others are stored."""
    credits = [
        (
            user_id,
            Earned(
                voice_seconds=counted,
                experience=carry.pay(("xp", guild_id, user_id), counted, rules.xp_per_minute),
                voicepoints=carry.pay(("vp", guild_id, user_id), counted, rules.points_per_minute),
            ),
        )
        for user_id, counted in seconds.items()
    ]
    terms = EarningTerms(
        bot_user_id, rules.text_cooldown, rules.curve_fn(), rules.text_curve_fn(), rules.level_reward, ACTOR
    )
    return await repos.members.record_voice(guild_id, credits, terms, now=now)


def counted_message(
    rules: GuildVoiceSettings, guild_id: int, user_id: int, now: float, rng: random.Random
) -> tuple[int, CountedMessage]:
    """A message to count (with :func:`credit_messages`): its experience is rolled as it arrives."""
    low, high = sorted((rules.text_xp_min, rules.text_xp_max))
    return guild_id, CountedMessage(user_id, int(now), rng.randint(low, high))


async def credit_messages(
    repos: Repositories,
    rules: GuildVoiceSettings,
    *,
    guild_id: int,
    messages: list[CountedMessage],
    bot_user_id: int,
) -> list[Progress]:
    """Counted messages of one guild at once: the count always, text experience at most once per
    cooldown, in order; answers the members who gained a voice level (and were paid for it)."""
    return await repos.members.record_messages(
        guild_id,
        messages,
        bot_user_id=bot_user_id,
        text_cooldown=rules.text_cooldown,
        voice_curve=rules.curve_fn(),
        text_curve=rules.text_curve_fn(),
        reward=rules.level_reward,
        actor=ACTOR,
    )


async def pray(
    repos: Repositories,
    rules: GuildVoiceSettings,
    *,
    guild_id: int,
    user_id: int,
    bot_user_id: int,
    now: int,
    rng: random.Random | None = None,
) -> PrayResult:
    """Once per UTC day; pays base + random + streak bonus × streak from "self" (``pray | streak N``)."""
    roll = (rng or random.Random()).randint(0, rules.pray_random)

    def reward(streak: int) -> int:
        return rules.pray_base + roll + rules.pray_streak_bonus * streak

    return await repos.members.pray(
        guild_id, user_id, now=now, bot_user_id=bot_user_id, reward=reward, actor=cog_actor("pray")
    )
