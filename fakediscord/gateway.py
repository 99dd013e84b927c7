"""The fake gateway: HELLO, heartbeats, IDENTIFY, READY, GUILD_CREATE, chunking, RESUME, outages.

One bot session at a time receives dispatches. A session's newest dispatches are buffered as the
text sent (at most ``BUFFER_LIMIT`` frames and ``BUFFER_CHARS`` characters), so a bot that
reconnects with RESUME gets what it missed (``s > seq``) and then RESUMED; one that missed more than
the buffer holds gets INVALID_SESSION, as from Discord. Frames are sent as
text, which discord.py parses without decompression whatever ``compress`` it asked for.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from .payloads import Json, Payloads
from .state import State

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41250
INLINE_MEMBER_LIMIT = 1000
CHUNK_SIZE = 1000
BUFFER_LIMIT = 20000
RECEIVED_LIMIT = 10_000
BUFFER_CHARS = 8 * 1024 * 1024  # ~8 MB of JSON: a 100,000-member guild's chunks do not all stay behind

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_VOICE_STATES = 1 << 7
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15

_GUILD_INTENT = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "VOICE_STATE_UPDATE": GUILD_VOICE_STATES,
    "PRESENCE_UPDATE": GUILD_PRESENCES,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE_ALL": GUILD_MESSAGE_REACTIONS,
}
_DM_INTENT = {
    "MESSAGE_CREATE": DIRECT_MESSAGES,
    "MESSAGE_UPDATE": DIRECT_MESSAGES,
    "MESSAGE_DELETE": DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": DIRECT_MESSAGE_REACTIONS,
}


@dataclass(frozen=True, slots=True)
class Buffered:
    """A dispatch as it was sent, kept for RESUME."""

    seq: int
    event: str
    text: str

    def frame(self) -> Json:
        return json.loads(self.text)


@dataclass
class Session:
    id: str
    intents: int
    shard: tuple[int, int]
    large_threshold: int
    seq: int = 0
    valid: bool = True
    ws: web.WebSocketResponse | None = None
    buffer: deque[Buffered] = field(default_factory=deque)
    buffered_chars: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def keep(self, sent: Buffered) -> None:
        """Buffer a dispatch for RESUME, forgetting the oldest beyond the buffer's bounds."""
        self.buffer.append(sent)
        self.buffered_chars += len(sent.text)
        while len(self.buffer) > BUFFER_LIMIT or (self.buffered_chars > BUFFER_CHARS and len(self.buffer) > 1):
            self.buffered_chars -= len(self.buffer.popleft().text)

    def wants(self, guild_id: int) -> bool:
        index, count = self.shard
        return (guild_id >> 22) % count == index


class Gateway:
    def __init__(self, state: State, payloads: Payloads, token: str, resume_url: Callable[[], str]) -> None:
        self.state = state
        self.payloads = payloads
        self.token = token
        self.resume_url = resume_url
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.received: deque[Json] = deque(maxlen=RECEIVED_LIMIT)  # the newest frames from the bot
        self.received_count = 0
        self.identify_count = 0
        self.resume_count = 0
        self.ready = asyncio.Event()
        self._up = asyncio.Event()
        self._up.set()
        self._live = asyncio.Event()
        self._generation = 0
        self._sockets: dict[web.WebSocketResponse, Session | None] = {}

    # -- status ---------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self.current.seq if self.current else 0

    @property
    def outage(self) -> bool:
        return not self._up.is_set()

    @property
    def generation(self) -> int:
        """Increases each time a session goes live (READY + GUILD_CREATEs sent, or RESUMED sent)."""
        return self._generation

    def connected(self) -> bool:
        session = self.current
        return session is not None and session.ws is not None and not session.ws.closed

    async def wait_live(self, after: int, timeout: float) -> bool:
        """Wait until a session goes live with a generation above ``after``; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._generation <= after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._live.clear()
            try:
                await asyncio.wait_for(self._live.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def _went_live(self) -> None:
        self._generation += 1
        self._live.set()

    # -- dispatch -------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: Json, *, guild_id: int | None = None) -> int | None:
        """Send a dispatch to the current session (buffered while it is disconnected).

        Returns its sequence number, or None when no session wants it (intents, shard, none yet).
        """
        session = self.current
        if session is None or not session.valid:
            return None
        if guild_id is not None and not session.wants(guild_id):
            return None
        intents = (_GUILD_INTENT if guild_id is not None else _DM_INTENT).get(event)
        if intents is not None and not session.intents & intents:
            return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and guild_id is not None:
            data = self._without_content(session, data)
        return await self._send(session, event, data)

    def _without_content(self, session: Session, data: Json) -> Json:
        if session.intents & MESSAGE_CONTENT:
            return data
        bot = str(self.state.bot_id)
        if data.get("author", {}).get("id") == bot or any(u.get("id") == bot for u in data.get("mentions", [])):
            return data
        return data | {"content": "", "embeds": [], "attachments": [], "components": []}

    async def _send(self, session: Session, event: str, data: Json) -> int:
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            sent = Buffered(session.seq, event, _encode(frame))
            session.keep(sent)
            await self._write_text(session.ws, sent.text)
            return session.seq

    async def _write(self, ws: web.WebSocketResponse | None, frame: Json) -> None:
        await self._write_text(ws, _encode(frame))

    async def _write_text(self, ws: web.WebSocketResponse | None, text: str) -> None:
        if ws is None or ws.closed:
            return
        try:
            await ws.send_str(text)
        except (ConnectionResetError, RuntimeError) as error:
            log.debug("gateway write failed: %s", error)

    # -- connection control ---------------------------------------------------------------------

    async def close_current(self, code: int, message: str = "") -> None:
        session = self.current
        if session is not None and session.ws is not None and not session.ws.closed:
            ws = session.ws
            session.ws = None
            await ws.close(code=code, message=message.encode())

    def invalidate_current(self) -> None:
        if self.current is not None:
            self.current.valid = False

    async def set_outage(self, down: bool) -> None:
        if down:
            self._up.clear()
            await self.close_current(4000, "outage")
        else:
            self._up.set()

    async def shutdown(self) -> None:
        self._up.set()
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"shutdown")

    # -- the websocket ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self._sockets[ws] = None
        try:
            # While Discord is "down" a new connection gets no HELLO: to the client it is unreachable.
            await self._up.wait()
            if ws.closed:
                return ws
            await self._write(ws, {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        frame = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    await self._on_frame(ws, frame)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            session = self._sockets.pop(ws, None)
            if session is not None and session.ws is ws:
                session.ws = None
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: Json) -> None:
        op = frame.get("op")
        data = frame.get("d")
        self.received.append({"op": op, "d": data})
        self.received_count += 1
        if op == 1:
            await self._write(ws, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(ws, data or {})
        elif op == 6:
            await self._resume(ws, data or {})
        elif op == 8:
            await self._request_members(ws, data or {})
        else:
            log.debug("gateway ignores op %s", op)

    async def _identify(self, ws: web.WebSocketResponse, data: Json) -> None:
        if data.get("token") != self.token:
            log.info("gateway IDENTIFY with a wrong token; closing with 4004")
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_count += 1
        shard = data.get("shard") or [0, 1]
        session = Session(
            id=self.state.session_id(),
            intents=int(data.get("intents", 0)),
            shard=(int(shard[0]), max(1, int(shard[1]))),
            large_threshold=int(data.get("large_threshold", 50)),
        )
        if self.current is not None:
            self.current.valid = False
        self.sessions[session.id] = session
        self.current = session
        self._sockets[ws] = session
        session.ws = ws
        guilds = [g for g in self.state.guilds.values() if session.wants(g.id)]
        bot = self.state.users[self.state.bot_id]
        ready = {
            "v": 10,
            "user": self.payloads.user_me(bot),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url(),
            "shard": list(session.shard),
            "application": {"id": str(self.state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "user_settings": {},
            "auth": {},
            "_trace": ["fakediscord"],
        }
        await self._send(session, "READY", ready)
        presences = bool(session.intents & GUILD_PRESENCES)
        for guild in guilds:
            payload = self.payloads.guild_create(
                guild, member_limit=INLINE_MEMBER_LIMIT, large_threshold=session.large_threshold, presences=presences
            )
            await self._send(session, "GUILD_CREATE", payload)
        log.info("gateway session %s identified (%d guilds)", session.id, len(guilds))
        self.ready.set()
        self._went_live()

    async def _resume(self, ws: web.WebSocketResponse, data: Json) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        oldest = session.buffer[0].seq if session and session.buffer else 1
        if data.get("token") != self.token or session is None or not session.valid or seq + 1 < oldest:
            log.info("gateway RESUME of an unknown session; sending INVALID_SESSION")
            await self._write(ws, {"op": 9, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        old = session.ws
        if old is not None and old is not ws and not old.closed:
            await old.close(code=4000, message=b"replaced")
        self._sockets[ws] = session
        async with session.lock:
            session.ws = ws
            missed = [sent for sent in session.buffer if sent.seq > seq]
            for sent in missed:
                await self._write_text(ws, sent.text)
        log.info("gateway session %s resumed, replayed %d dispatches", session.id, len(missed))
        await self._send(session, "RESUMED", {"_trace": ["fakediscord"]})
        self._went_live()

    async def _request_members(self, ws: web.WebSocketResponse, data: Json) -> None:
        session = self._sockets.get(ws)
        if session is None:
            return
        guild_ids = data.get("guild_id")
        if not isinstance(guild_ids, list):
            guild_ids = [guild_ids]
        for raw_id in guild_ids:
            guild = self.state.guilds.get(int(raw_id))
            if guild is None:
                continue
            members = list(guild.members.values())
            user_ids = data.get("user_ids")
            if user_ids is not None:
                wanted = {int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
                members = [m for m in members if m.user_id in wanted]
            query = (data.get("query") or "").lower()
            if query:
                members = [m for m in members if self.state.users[m.user_id].name.lower().startswith(query)]
            limit = int(data.get("limit") or 0)
            if limit > 0:
                members = members[:limit]
            chunks = [members[i : i + CHUNK_SIZE] for i in range(0, len(members), CHUNK_SIZE)] or [[]]
            for index, chunk in enumerate(chunks):
                payload: dict[str, Any] = {
                    "guild_id": str(guild.id),
                    "members": [self.payloads.member(guild, m) for m in chunk],
                    "chunk_index": index,
                    "chunk_count": len(chunks),
                }
                if data.get("nonce") is not None:
                    payload["nonce"] = data["nonce"]
                if data.get("presences"):
                    payload["presences"] = [self.payloads.presence(guild, m) for m in chunk if m.status != "offline"]
                await self._send(session, "GUILD_MEMBERS_CHUNK", payload)


def _encode(frame: Json) -> str:
    return orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS).decode()
