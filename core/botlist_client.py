"""The auto-poster: Guildhall as a client of bot lists (Bots on Discord, top.gg, discordbotlist.com).

What bot owners expect of one: post only once the bot is ready and never 0; merge the posts after a
burst of guild joins and leaves; never post more often than the list allows; honour a 429's
``Retry-After``; stop a list that refuses the key (401/403) and say so; retry 5xx and timeouts with
backoff; never crash anything. Every delay is a timer on the injected clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from core.botlist import BotListError, digest, validate_command_data
from core.clock import Clock, Timer
from core.config import BotListsSettings, BotListTarget

log = logging.getLogger(__name__)

MERGE_DELAY = 5.0  # joins and leaves within this many seconds become one post
COMMANDS_STATE = "botlist.commands.{name}"


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    per: float


@dataclass(frozen=True, slots=True)
class ListKind:
    """What one kind of list accepts, where, and how often."""

    base_url: str
    guilds: Window
    commands: Window
    reviews: Window | None  # None: the list cannot say whether a user reviewed (or voted for) the bot


KINDS = {
    "botsondiscord": ListKind("https://bots.ondiscord.xyz/bot-api", Window(2, 240), Window(10, 3600), Window(20, 10)),
    "topgg": ListKind("https://top.gg/api", Window(1, 900), Window(1, 900), Window(59, 60)),
    "discordbotlist": ListKind("https://discordbotlist.com/api/v1", Window(1, 900), Window(1, 900), None),
}


class StateStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True)
class CommandPayloads:
    """The bot's command list in both shapes lists take."""

    botsondiscord: list[dict[str, Any]]
    discord: list[dict[str, Any]]


class ReviewCheckError(Exception):
    """The review could not be checked; the message is for the member."""


@dataclass(frozen=True, slots=True)
class ReviewCheck:
    list_name: str
    exists: bool


@dataclass(slots=True)
class ListStatus:
    """What ``/botlist status`` shows about one list."""

    name: str
    kind: str
    state: str = "waiting for the bot to be ready"
    guilds: str = "not posted yet"
    commands: str = "not posted yet"
    posted_guild_count: int | None = None
    stopped: bool = False


@dataclass(slots=True)
class _Outcome:
    ok: bool
    status: int | None
    detail: str
    retry_after: float | None = None
    body: Any = None


@dataclass(slots=True)
class _Limiter:
    window: Window
    sent: deque[float] = field(default_factory=deque)

    def allowed_at(self, now: float) -> float:
        while self.sent and self.sent[0] + self.window.per <= now:
            self.sent.popleft()
        if len(self.sent) < self.window.limit:
            return now
        return self.sent[0] + self.window.per

    def record(self, now: float) -> None:
        self.sent.append(now)


class ListPoster:
    """One configured list: its timers, limits and last results."""

    def __init__(self, target: BotListTarget, settings: BotListsSettings, owner: BotListPoster) -> None:
        self.target = target
        self.kind = KINDS[target.kind]
        self.base_url = (target.base_url or self.kind.base_url).rstrip("/")
        self.status = ListStatus(name=target.label, kind=target.kind)
        self._settings = settings
        self._owner = owner
        self._limits = {
            "guilds": _Limiter(self.kind.guilds),
            "commands": _Limiter(self.kind.commands),
            "reviews": _Limiter(self.kind.reviews or Window(1, 1)),
        }
        self._blocked_until = 0.0
        self._timers: dict[str, Timer] = {}
        self._failures = {"guilds": 0, "commands": 0}
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.target.label

    @property
    def can_check_reviews(self) -> bool:
        return self.kind.reviews is not None

    def posts(self, what: str) -> bool:
        return what in self.target.post

    # --- scheduling -----------------------------------------------------------------------------

    def schedule(self, what: str, delay: float) -> None:
        """Post ``what`` after ``delay`` seconds; a post already pending absorbs this one."""
        if self.status.stopped or not self.posts(what):
            return
        pending = self._timers.get(what)
        if pending is not None and not pending.cancelled:
            return

        async def fire() -> None:
            self._timers.pop(what, None)
            await self.run(what)

        self._timers[what] = self._owner.clock.call_later(max(0.0, delay), fire, name=f"botlist:{self.name}:{what}")

    def cancel(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def run(self, what: str) -> None:
        """Post ``what`` now if it changed and the list allows; never raises."""
        try:
            async with self._lock:
                if what == "guilds":
                    await self._post_guilds()
                else:
                    await self._post_commands()
        except Exception as error:  # a poster must never take the bot down
            log.exception("bot list %s: posting %s failed", self.name, what)
            self._note(what, f"failed: {type(error).__name__}")

    # --- guild count ----------------------------------------------------------------------------

    async def _post_guilds(self) -> None:
        if self.status.stopped:
            return
        count = self._owner.guild_count()
        if count <= 0:
            self._note("guilds", "not posted: the bot is in no guilds (lists reject 0)")
            return
        if count == self.status.posted_guild_count:
            return
        if not self._may_send("guilds"):
            return
        if self.target.kind == "botsondiscord":
            path, body = f"/bots/{self._owner.bot_id(self.target)}/guilds", {"guildCount": count}
        elif self.target.kind == "topgg":
            path, body = f"/bots/{self._owner.bot_id(self.target)}/stats", {"server_count": count}
        else:
            path, body = f"/bots/{self._owner.bot_id(self.target)}/stats", {"guilds": count}
        outcome = await self._send("guilds", "POST", path, body)
        if outcome.ok:
            self.status.posted_guild_count = count
            self._note("guilds", f"posted {count} guilds at {self._owner.timestamp()}")
            if self._owner.guild_count() != count:  # it changed while we were posting
                self.schedule("guilds", self._delay("guilds"))

    # --- commands -------------------------------------------------------------------------------

    async def _post_commands(self) -> None:
        if self.status.stopped:
            return
        payloads = self._owner.command_payloads()
        bot_id = self._owner.bot_id(self.target)
        if self.target.kind == "botsondiscord":
            body: Any = {"sort": "default", "commands": payloads.botsondiscord}
            try:
                validate_command_data(body)
            except BotListError as error:
                self._note("commands", f"not posted: the command list breaks the list's rules: {error}")
                return
            path, auth = f"/bots/{bot_id}/commands", None
        elif self.target.kind == "topgg":
            body, path, auth = payloads.discord, "/v1/projects/@me/commands", f"Bearer {self.target.key}"
        else:
            body, path, auth = payloads.discord, f"/bots/{bot_id}/commands", None
        fingerprint = digest({"url": self.base_url + path, "body": body})
        state_key = COMMANDS_STATE.format(name=self.name)
        if await self._owner.state.get(state_key) == fingerprint:
            if self.status.commands == "not posted yet":
                self.status.commands = "unchanged since the last post"
            return
        if not self._may_send("commands"):
            return
        outcome = await self._send("commands", "POST", path, body, authorization=auth)
        if outcome.ok:
            await self._owner.state.put(state_key, fingerprint)
            count = len(body["commands"] if isinstance(body, dict) else body)
            self._note("commands", f"posted {count} commands at {self._owner.timestamp()}")

    # --- reviews --------------------------------------------------------------------------------

    async def check_review(self, user_id: int) -> bool:
        if self.status.stopped:
            raise ReviewCheckError(f"{self.name} is stopped: {self.status.state}")
        now = self._owner.clock.time()
        limiter = self._limits["reviews"]
        if max(limiter.allowed_at(now), self._blocked_until) > now:
            raise ReviewCheckError(f"{self.name} is busy; try again in a minute")
        bot_id = self._owner.bot_id(self.target)
        if self.target.kind == "botsondiscord":
            path, field_name = f"/bots/{bot_id}/review?owner={user_id}", "exists"
        else:
            path, field_name = f"/bots/{bot_id}/check?userId={user_id}", "voted"
        outcome = await self._send("reviews", "GET", path, None)
        if not outcome.ok or not isinstance(outcome.body, dict) or field_name not in outcome.body:
            raise ReviewCheckError(f"{self.name} could not be asked right now ({outcome.detail}); try again later")
        return bool(outcome.body[field_name])

    # --- the one way out ------------------------------------------------------------------------

    def _delay(self, what: str) -> float:
        now = self._owner.clock.time()
        return max(self._limits[what].allowed_at(now), self._blocked_until) - now

    def _may_send(self, what: str) -> bool:
        """True when the list's limits allow a request now; otherwise the post waits for them."""
        delay = self._delay(what)
        if delay > 0:
            self.schedule(what, delay)
            return False
        return True

    async def _send(
        self, what: str, method: str, path: str, body: Any, *, authorization: str | None = None
    ) -> _Outcome:
        clock = self._owner.clock
        self._limits[what].record(clock.time())
        outcome = await self._owner.request(method, self.base_url + path, body, authorization or self.target.key)
        now = clock.time()
        if outcome.ok:
            if what in self._failures:
                self._failures[what] = 0
            self.status.state = "ok"
            return outcome
        status = outcome.status
        if status in (401, 403, 404):
            reason = {401: "refused the key", 403: "refused the key", 404: "does not know this bot"}[status]
            self.status.stopped = True
            self.status.state = f"stopped: the list {reason} ({outcome.detail}); fix the config and restart"
            self.cancel()
            log.warning("bot list %s stopped: it %s (%s)", self.name, reason, outcome.detail)
        elif status == 429:
            wait = outcome.retry_after if outcome.retry_after is not None else self._limits[what].window.per
            self._blocked_until = max(self._blocked_until, now + wait)
            self.status.state = f"rate limited for {wait:.0f} s"
            log.warning("bot list %s rate limited us: waiting %.0f s", self.name, wait)
            if what != "reviews":
                self.schedule(what, wait)
        elif what != "reviews" and (status is None or status >= 500):
            self._failures[what] += 1
            wait = min(self._settings.retry_max, self._settings.retry_base * 2 ** (self._failures[what] - 1))
            self.status.state = f"retrying {what} in {wait:.0f} s after {outcome.detail}"
            log.warning("bot list %s: %s failed (%s); retrying in %.0f s", self.name, what, outcome.detail, wait)
            self.schedule(what, wait)
        elif what != "reviews":
            self.status.state = f"{what} refused: {outcome.detail}"
            log.warning("bot list %s refused %s: %s", self.name, what, outcome.detail)
        if what != "reviews":
            self._note(what, f"failed at {self._owner.timestamp()}: {outcome.detail}")
        return outcome

    def _note(self, what: str, text: str) -> None:
        if what == "guilds":
            self.status.guilds = text
        elif what == "commands":
            self.status.commands = text


class BotListPoster:
    """Every configured list, fed by the bot: ``start`` once ready, ``guilds_changed`` on joins and leaves."""

    def __init__(
        self,
        settings: BotListsSettings,
        *,
        clock: Clock,
        state: StateStore,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.clock = clock
        self.state = state
        self._settings = settings
        self._session = session
        self._own_session = session is None
        self.lists = [ListPoster(target, settings, self) for target in settings.lists if target.key.strip()]
        self._guild_count: Callable[[], int] = lambda: 0
        self._commands: Callable[[], CommandPayloads] = lambda: CommandPayloads([], [])
        self._own_id: int | None = None
        self._periodic: Timer | None = None
        self.started = False
        for target in settings.lists:
            if not target.key.strip():
                log.warning("bot list %s has no key; it is skipped", target.label)

    # --- what the bot tells us ------------------------------------------------------------------

    def start(self, *, bot_id: int, guild_count: Callable[[], int], commands: Callable[[], CommandPayloads]) -> None:
        """The bot is ready: post what changed now, then keep it current."""
        self._own_id = bot_id
        self._guild_count = guild_count
        self._commands = commands
        if self.started:
            self.guilds_changed()
            return
        self.started = True
        for poster in self.lists:
            if not poster.status.stopped:
                poster.status.state = "ok"
            poster.schedule("guilds", 0)
            poster.schedule("commands", 0)
        if self.lists:
            self._periodic = self.clock.every(self._settings.interval, self._refresh, name="botlist:refresh")

    def guilds_changed(self) -> None:
        """A guild join or leave: one post a little later carries this and every change after it."""
        if not self.started:
            return
        for poster in self.lists:
            poster.schedule("guilds", MERGE_DELAY)

    async def post_now(self) -> list[ListStatus]:
        """Post whatever changed to every list at once (within the lists' limits)."""
        if self.started:
            for poster in self.lists:
                await poster.run("guilds")
                await poster.run("commands")
        return self.statuses()

    def statuses(self) -> list[ListStatus]:
        return [poster.status for poster in self.lists]

    async def check_review(self, user_id: int, list_name: str = "") -> ReviewCheck:
        """Whether ``user_id`` reviewed the bot on ``list_name`` (empty: the first list that can say)."""
        if not self.started:
            raise ReviewCheckError("the bot is still starting; try again in a moment")
        candidates = [p for p in self.lists if p.can_check_reviews and (not list_name or p.name == list_name)]
        if not candidates:
            raise ReviewCheckError("no bot list that can check reviews is configured")
        poster = candidates[0]
        return ReviewCheck(poster.name, await poster.check_review(user_id))

    async def close(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
        for poster in self.lists:
            poster.cancel()
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    # --- for the list posters -------------------------------------------------------------------

    def guild_count(self) -> int:
        return self._guild_count()

    def command_payloads(self) -> CommandPayloads:
        return self._commands()

    def bot_id(self, target: BotListTarget) -> int:
        bot_id = target.bot_id or self._own_id
        if bot_id is None:
            raise RuntimeError("the bot's id is not known before it is ready")
        return bot_id

    def timestamp(self) -> str:
        return f"<t:{int(self.clock.time())}:T>"

    async def _refresh(self) -> None:
        for poster in self.lists:
            poster.schedule("guilds", 0)
            poster.schedule("commands", 0)

    async def request(self, method: str, url: str, body: Any, authorization: str) -> _Outcome:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout)
        headers = {"Authorization": authorization, "User-Agent": "Guildhall bot-list poster"}
        try:
            async with self._session.request(method, url, json=body, headers=headers, timeout=timeout) as response:
                text = await response.text()
                data = _json_or_none(text)
                if 200 <= response.status < 300:
                    return _Outcome(True, response.status, f"{response.status}", body=data)
                return _Outcome(
                    False,
                    response.status,
                    f"{response.status} {_message(data, text)}".strip(),
                    retry_after=_retry_after(response.headers, data),
                    body=data,
                )
        except TimeoutError:
            return _Outcome(False, None, "timed out")
        except aiohttp.ClientError as error:
            return _Outcome(False, None, f"unreachable ({type(error).__name__})")


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _message(data: Any, text: str) -> str:
    if isinstance(data, dict):
        for key in ("message", "detail", "error", "title"):
            if isinstance(data.get(key), str):
                return data[key][:200]
    return text[:200]


def _retry_after(headers: Any, data: Any) -> float | None:
    """Seconds to wait after a 429: the header, else top.gg's ``{"retry-after": s}`` body."""
    candidates = [headers.get("Retry-After")]
    if isinstance(data, dict):
        candidates += [data.get("retry-after"), data.get("retry_after")]
    for value in candidates:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return max(1.0, seconds)
    return None
