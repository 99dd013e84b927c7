"""The voice-profile family (Voice Profile Server, seed 000): profiles, the ledger, tops and stats.

Paths are the original's, relative to ``/``. Bodies answer bare JSON; errors ``{"error": msg}``.
Every write of voicepoints is a ledger row naming the API key (``core.ledger``).
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple, get_args

import msgspec
from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, StrictInt, WithJsonSchema

from core import ledger
from core.members import MAX_AMOUNT, is_vp_id
from storage import ApiKey
from storage.ledger import INTERVAL_SECONDS, LedgerEntry, LedgerFilter, Party
from storage.members import TOP_ORDER, EditRejected, Member, ProfileEdit, ProfileExists, TopBy
from web import keys, profilebody, typedbody
from web.api import (
    MAX_SNOWFLAKE,
    PREFER_MINIMAL,
    SNOWFLAKE_SCHEMA,
    ApiError,
    Param,
    RenderedBodies,
    enum_param,
    id_param,
    int_param,
    json_body_response,
    json_response,
    parse_model,
    path_id,
    prefers_minimal,
    read_json,
)
from web.families import voice
from web.typedbody import Id, Plain

DEFAULT_LIMIT = 50
DEFAULT_TOP = 5
GUILD = r"{guild_id:\d+}"
USER = r"{user_id:\d+}"
LISTING_QUERY = (
    int_param("limit", "page size (default 50, <= 0 all)"),
    int_param("page", "page number from 0"),
    enum_param("view", ("list", "tree")),
)
TOP_QUERY = (
    enum_param("by", ("points", "levels", "time", "text-level", "text-message", "pray-streak")),
    int_param("amount", "how many (default 5, <= 0 all)"),
    int_param("offset"),
)
TX_QUERY = (
    int_param("limit"),
    int_param("page"),
    id_param("user_id"),
    id_param("guild_id"),
    Param("vp_id", {"type": "string"}),
    Param("reason", {"type": "string"}, description="substring of the reason"),
    Param("from", {"type": "string"}, description="a sender's user_id, guild_id or vp_id"),
    Param("to", {"type": "string"}, description="a receiver's user_id, guild_id or vp_id"),
    int_param("after", "epoch seconds"),
    int_param("before", "epoch seconds"),
)
GRAPH_QUERY = (
    id_param("guild_id"),
    id_param("user_id"),
    int_param("from", "epoch seconds"),
    int_param("to", "epoch seconds"),
    enum_param("interval", ("hour", "day", "week")),
)


def _snowflake(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a snowflake id")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
    else:
        raise ValueError("must be a snowflake id (a decimal string or an integer)")
    if not 0 <= number <= MAX_SNOWFLAKE:
        raise ValueError("is out of range for a snowflake id")
    return number


Snowflake = Annotated[int, BeforeValidator(_snowflake), WithJsonSchema(SNOWFLAKE_SCHEMA)]
Count = Annotated[StrictInt, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]


class Lenient(BaseModel):
    # Unknown fields are ignored, as the original does (callers echo whole profiles back).
    model_config = ConfigDict(extra="ignore")


class PrayBody(Lenient):
    date: Count | None = None
    streak: Count | None = None
    total: Count | None = None


class TextBody(Lenient):
    level: Count | None = None
    experience: Count | None = None
    message_count: Count | None = None


class TimespentBody(Lenient):
    global_: Count | None = Field(default=None, alias="global")


class ProfileBody(Lenient):
    """Every field optional; missing fields are left alone. ``text: null`` clears text stats."""

    experience: Count | None = None
    voicepoints: Count | None = None
    level: Count | None = None
    pray: PrayBody | None = None
    text: TextBody | None = None
    timespent: TimespentBody | None = None
    data: Any = None


class BulkItem(ProfileBody):
    user_id: Snowflake
    guild_id: Snowflake


class BulkBody(RootModel[list[BulkItem]]):
    pass


class PartyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Snowflake
    guild_id: Snowflake


class TransactionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    from_: Annotated[str | PartyBody, Field(alias="from", description='a vp_id, "self" or {user_id, guild_id}')]
    to: Annotated[str | PartyBody, Field(description='a vp_id, "self" or {user_id, guild_id}')]
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT)]
    reason: Annotated[str, Field(max_length=ledger.MAX_REASON)] = ""


_ID = {"type": "string"}
_INT = {"type": "integer"}
PROFILE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "vp_id: sha256 of '{guild_id}:{user_id}'"},
        "guild_id": _ID,
        "user_id": _ID,
        "experience": _INT,
        "voicepoints": _INT,
        "level": _INT,
        "pray": {
            "type": "object",
            "properties": {"date": _INT, "streak": _INT, "total": _INT},
            "required": ["date", "streak", "total"],
        },
        "text": {
            "type": ["object", "null"],
            "properties": {"level": _INT, "experience": _INT, "message_count": _INT},
            "required": ["level", "experience", "message_count"],
        },
        "timespent": {"type": "object", "properties": {"global": _INT}, "required": ["global"]},
        "data": {"description": "free JSON the caller stored (any JSON value)"},
    },
    "required": ["id", "guild_id", "user_id", "experience", "voicepoints", "level", "pray", "text", "timespent"],
}
PROFILES = {
    "oneOf": [
        {"type": "array", "items": PROFILE},
        {
            "type": "object",
            "description": "view=tree: {guild_id: {user_id: profile}}, or {user_id: profile} for one guild",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"anyOf": [PROFILE, {"type": "object", "additionalProperties": PROFILE}]},
            },
        },
    ]
}
PARTY = {
    "type": "object",
    "properties": {"id": _ID, "guild_id": _ID, "user_id": _ID},
    "required": ["id", "guild_id", "user_id"],
}
TRANSACTION = {
    "type": "object",
    "properties": {
        "id": _INT,
        "from": PARTY,
        "to": PARTY,
        "amount": _INT,
        "reason": _ID,
        "actor": _ID,
        "created_at": _INT,
    },
    "required": ["id", "from", "to", "amount", "reason", "actor", "created_at"],
}
GUILD_IDS = {"type": "array", "items": _ID}
STATS = {
    "type": "object",
    "properties": dict.fromkeys(("profiles", "guilds", "voicepoints", "timespent", "messages", "transactions"), _INT),
    "required": ["profiles", "guilds", "voicepoints", "timespent", "messages", "transactions"],
}
GRAPH = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"t": _INT, "delta": _INT, "balance": _INT},
        "required": ["t", "delta", "balance"],
    },
}


# --- shaping ----------------------------------------------------------------------------------


def profile_json(member: Member) -> dict[str, Any]:
    text = None
    if member.has_text:
        text = {"level": member.text_level, "experience": member.text_experience, "message_count": member.message_count}
    return {
        "id": member.vp_id,
        "guild_id": str(member.guild_id),
        "user_id": str(member.user_id),
        "experience": member.experience,
        "voicepoints": member.voicepoints,
        "level": member.level,
        "pray": {"date": member.pray.date, "streak": member.pray.streak, "total": member.pray.total},
        "text": text,
        "timespent": {"global": member.voice_seconds},
        "data": member.data,
    }


# The hottest read: a profile unchanged since it was last served is served from its bytes.
_PROFILE_BODIES: RenderedBodies[Member] = RenderedBodies(profile_json)


def _party_json(party: Party, vp: str) -> dict[str, str]:
    return {"id": vp, "guild_id": str(party.guild_id), "user_id": str(party.user_id)}


def transaction_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "from": _party_json(entry.source, entry.source_vp_id),
        "to": _party_json(entry.target, entry.target_vp_id),
        "amount": entry.amount,
        "reason": entry.reason,
        "actor": entry.actor,
        "created_at": entry.created_at,
    }


def _edit(guild_id: int, user_id: int, body: ProfileBody) -> ProfileEdit:
    given = body.model_fields_set
    pray = body.pray or PrayBody()
    text = body.text or TextBody()
    return ProfileEdit(
        guild_id=guild_id,
        user_id=user_id,
        experience=body.experience,
        voicepoints=body.voicepoints,
        level=body.level,
        pray_date=pray.date,
        pray_streak=pray.streak,
        pray_total=pray.total,
        text_null="text" in given and body.text is None,
        text_level=text.level,
        text_experience=text.experience,
        message_count=text.message_count,
        voice_seconds=body.timespent.global_ if body.timespent else None,
        data_given="data" in given,
        data=body.data,
    )


# --- request helpers ---------------------------------------------------------------------------


def _int_query(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if abs(value) > MAX_AMOUNT:
        raise ApiError(400, f"{name} is out of range")
    return value


def _snowflake_query(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return _snowflake(raw)
    except ValueError as error:
        raise ApiError(400, f"{name} {error}") from None


def _key(request: web.Request) -> ApiKey | None:
    return request.get(keys.API_KEY)


def _scope(request: web.Request) -> frozenset[int]:
    key = _key(request)
    return key.guild_ids if key is not None else frozenset()


def _check_guild(request: web.Request, guild_id: int, what: str = "that guild") -> None:
    key = _key(request)
    if key is not None and not key.allows_guild(guild_id):
        raise ApiError(403, f"this API key may not act in {what}")


def _bot_user_id(request: web.Request) -> int:
    key = _key(request)
    bot_user_id = key.bot_user_id if key is not None and key.bot_user_id else request.app[keys.BOT].bot_user_id
    if bot_user_id is None:
        raise ApiError(503, "the bot's own user id is not known yet (not connected to Discord); retry shortly")
    return bot_user_id


def _actor(request: web.Request) -> str:
    key = _key(request)
    return key.name if key is not None else "anonymous"


def _now(request: web.Request) -> int:
    return int(request.app[keys.CLOCK].time())


def _path_ids(request: web.Request) -> tuple[int, int]:
    return path_id(request, "guild_id"), path_id(request, "user_id")


def _path_guild(request: web.Request) -> int:
    return path_id(request, "guild_id")


def _ledger_error(error: ledger.LedgerError) -> ApiError:
    if isinstance(error, ledger.UnknownProfile | ledger.UnknownTransaction):
        return ApiError(404, str(error))
    if isinstance(error, ledger.NotAllowed):
        return ApiError(403, str(error))
    return ApiError(400, str(error))


# --- profiles ----------------------------------------------------------------------------------


async def _listing(request: web.Request, guild_id: int | None) -> web.Response:
    view = request.query.get("view", "list")
    if view not in ("list", "tree"):
        raise ApiError(400, "view must be list or tree")
    limit = _int_query(request, "limit", DEFAULT_LIMIT) or 0
    page = _int_query(request, "page", 0) or 0
    if page < 0:
        raise ApiError(400, "page must be 0 or more")
    members = request.app[keys.REPOS].members
    if view == "tree":
        everyone = await members.list(guild_id, guild_ids=_scope(request))
        if guild_id is not None:
            return json_response({str(m.user_id): profile_json(m) for m in everyone})
        tree: dict[str, dict[str, Any]] = {}
        for m in everyone:
            tree.setdefault(str(m.guild_id), {})[str(m.user_id)] = profile_json(m)
        return json_response(tree)
    found = await members.list(guild_id, limit=limit, offset=page * max(limit, 0), guild_ids=_scope(request))
    return json_response([profile_json(m) for m in found])


@voice.route(
    "GET",
    "/profile",
    summary="List every profile (limit, page, view=list|tree)",
    response=PROFILES,
    query=LISTING_QUERY,
)
async def list_profiles(request: web.Request) -> web.Response:
    return await _listing(request, None)


@voice.route(
    "GET",
    f"/profile/{GUILD}",
    summary="List a guild's profiles (limit, page, view)",
    response=PROFILES,
    query=LISTING_QUERY,
)
async def list_guild_profiles(request: web.Request) -> web.Response:
    return await _listing(request, _path_guild(request))


@voice.route("GET", "/profile/guilds", summary="Guild ids that have at least one profile", response=GUILD_IDS)
async def profile_guilds(request: web.Request) -> web.Response:
    ids = await request.app[keys.REPOS].members.guilds(guild_ids=_scope(request))
    return json_response([str(g) for g in ids])


@voice.route("GET", f"/profile/guilds/{USER}", summary="Guild ids where a user has a profile", response=GUILD_IDS)
async def user_guilds(request: web.Request) -> web.Response:
    try:
        user_id = _snowflake(request.match_info["user_id"])
    except ValueError as error:
        raise ApiError(400, f"user_id {error}") from None
    ids = await request.app[keys.REPOS].members.guilds(user_id, guild_ids=_scope(request))
    return json_response([str(g) for g in ids])


@voice.route(
    "GET", f"/profile/{GUILD}/{USER}", summary="One profile; 404 if missing", response=PROFILE, tried_first=True
)
async def get_profile(request: web.Request) -> web.Response:
    guild_id, user_id = _path_ids(request)
    member = await request.app[keys.REPOS].members.get(guild_id, user_id)
    if member is None:
        raise ApiError(404, f"no profile for user {user_id} in guild {guild_id}")
    return json_body_response(_PROFILE_BODIES.body((guild_id, user_id), member))


@voice.route(
    "POST",
    f"/profile/{GUILD}/{USER}",
    summary="Create a profile (defaults for missing fields); 409 if it exists unless ?overwrite=true",
    access="write",
    body=ProfileBody,
    response=PROFILE,
    status=201,
    query=(enum_param("overwrite", ("true", "false", "1", "0")),),
)
async def create_profile(request: web.Request) -> web.Response:
    guild_id, user_id = _path_ids(request)
    overwrite = request.query.get("overwrite", "false").lower()
    if overwrite not in ("true", "false", "1", "0"):
        raise ApiError(400, "overwrite must be true or false")
    raw = await request.read()
    body = parse_model(ProfileBody, await read_json(request) if raw.strip() else {})
    edit = _edit(guild_id, user_id, body)
    repos = request.app[keys.REPOS]
    try:
        member, existed = await repos.members.create(
            edit,
            overwrite=overwrite in ("true", "1"),
            issuer=Party(guild_id, _bot_user_id(request)),
            actor=_actor(request),
            now=_now(request),
        )
    except ProfileExists as error:
        raise ApiError(409, f"{error}; use ?overwrite=true to reset it") from None
    except ledger.LedgerError as error:
        raise _ledger_error(error) from None
    return json_response(profile_json(member), status=200 if existed else 201)


async def _edit_one(request: web.Request, *, add: bool) -> web.Response:
    guild_id, user_id = _path_ids(request)
    # A plain body takes a fast path that accepts just what the general one does (web.profilebody).
    edit = profilebody.profile_edit(await request.read(), guild_id, user_id)
    if edit is None:
        data = await read_json(request)
        if not isinstance(data, dict):
            raise ApiError(400, "the body must be a JSON object")
        edit = _edit(guild_id, user_id, parse_model(ProfileBody, data))
    members = await _apply(request, [edit], add=add)
    return json_response(profile_json(members[0]), free_json=(members[0].data,))


async def _edit_many(request: web.Request, *, add: bool) -> web.Response:
    # Plain bodies and items take fast paths that accept just what the general one does (web.profilebody).
    edits = profilebody.bulk_edits(await request.read())
    if edits is None:
        edits = await _read_edits(request)
    allowed: set[int] = set()  # guilds checked already: a bulk body names one or a few
    for index, edit in enumerate(edits):
        if edit.guild_id not in allowed:
            _check_guild(request, edit.guild_id, f"guild {edit.guild_id} (item {index})")
            allowed.add(edit.guild_id)
    if prefers_minimal(request):  # a client that batches ticks need not read 10,000 profiles back
        await _apply(request, edits, add=add, answer=False)
        return web.Response(status=204, headers={"Preference-Applied": "return=minimal"})
    members = await _apply(request, edits, add=add)
    return json_response([profile_json(m) for m in members], free_json=(m.data for m in members))


async def _read_edits(request: web.Request) -> list[ProfileEdit]:
    data = await read_json(request)
    if not isinstance(data, list):
        raise ApiError(400, "the body must be a JSON array of profiles, each with user_id and guild_id")
    edits = []
    for index, item in enumerate(data):
        edit = profilebody.bulk_edit(item)
        if edit is None:
            if not isinstance(item, dict):
                raise ApiError(400, f"item {index}: must be a JSON object")
            try:
                body = parse_model(BulkItem, item)
            except ApiError as error:
                raise ApiError(400, f"item {index}: {error.message}") from None
            edit = _edit(body.guild_id, body.user_id, body)
        edits.append(edit)
    return edits


async def _apply(request: web.Request, edits: list[ProfileEdit], *, add: bool, answer: bool = True) -> list[Member]:
    if not edits:
        return []
    bot_user_id = _bot_user_id(request)
    try:
        return await request.app[keys.REPOS].members.apply_edits(
            edits, add=add, bot_user_id=bot_user_id, actor=_actor(request), now=_now(request), answer=answer
        )
    except EditRejected as error:
        where = f"item {error.index}: " if len(edits) > 1 or request.match_info.get("user_id") is None else ""
        raise ApiError(400, f"{where}{error.message}; nothing was changed") from None


@voice.route(
    "PATCH",
    "/profile",
    summary="Bulk edit: an array of partial profiles with user_id and guild_id; all or nothing",
    access="write",
    body=BulkBody,
    response={"type": "array", "items": PROFILE},
    query=(PREFER_MINIMAL,),
)
async def bulk_edit(request: web.Request) -> web.Response:
    return await _edit_many(request, add=False)


@voice.route(
    "PATCH",
    "/profile/add",
    summary="Bulk add: like bulk edit, adding to the existing values; all or nothing",
    access="write",
    body=BulkBody,
    response={"type": "array", "items": PROFILE},
    query=(PREFER_MINIMAL,),
)
async def bulk_add(request: web.Request) -> web.Response:
    return await _edit_many(request, add=True)


@voice.route(
    "PATCH",
    f"/profile/{GUILD}/{USER}",
    summary="Edit one profile; missing fields are left alone",
    access="write",
    body=ProfileBody,
    response=PROFILE,
)
async def edit_profile(request: web.Request) -> web.Response:
    return await _edit_one(request, add=False)


@voice.route(
    "PATCH",
    f"/profile/{GUILD}/{USER}/add",
    summary="Add to one profile's values",
    access="write",
    body=ProfileBody,
    response=PROFILE,
)
async def add_profile(request: web.Request) -> web.Response:
    return await _edit_one(request, add=True)


# --- tops --------------------------------------------------------------------------------------

TOP_BY = get_args(TopBy)


async def _top(request: web.Request, guild_id: int | None) -> web.Response:
    by = request.query.get("by", "points")
    if by not in TOP_ORDER:
        raise ApiError(400, f"by must be one of {', '.join(TOP_BY)}")
    amount = _int_query(request, "amount", DEFAULT_TOP) or 0
    offset = _int_query(request, "offset", 0) or 0
    if offset < 0:
        raise ApiError(400, "offset must be 0 or more")
    found = await request.app[keys.REPOS].members.top(
        guild_id,
        by,  # type: ignore[arg-type]
        amount=amount,
        offset=offset,
        guild_ids=_scope(request),
    )
    return json_response([profile_json(m) for m in found])


@voice.route(
    "GET",
    "/profile/top",
    summary="Top profiles of every guild (by=points|levels|time|text-level|text-message|pray-streak, amount, offset)",
    response={"type": "array", "items": PROFILE},
    query=TOP_QUERY,
)
async def top_all(request: web.Request) -> web.Response:
    return await _top(request, None)


@voice.route(
    "GET",
    f"/profile/{GUILD}/top",
    summary="Top profiles of one guild (by, amount, offset)",
    response={"type": "array", "items": PROFILE},
    query=TOP_QUERY,
)
async def top_guild(request: web.Request) -> web.Response:
    return await _top(request, _path_guild(request))


# --- the ledger --------------------------------------------------------------------------------


@voice.route(
    "GET",
    "/transaction",
    summary="Transactions, newest first (limit, page, user_id, guild_id, vp_id, reason, from, to, after, before)",
    response={"type": "array", "items": TRANSACTION},
    query=TX_QUERY,
)
async def list_transactions(request: web.Request) -> web.Response:
    limit = _int_query(request, "limit", DEFAULT_LIMIT) or 0
    page = _int_query(request, "page", 0) or 0
    if page < 0:
        raise ApiError(400, "page must be 0 or more")
    guild_id = _snowflake_query(request, "guild_id")
    if guild_id is not None:
        _check_guild(request, guild_id)
    vp = request.query.get("vp_id") or None
    if vp is not None and not is_vp_id(vp):
        raise ApiError(400, "vp_id must be 64 lowercase hex digits")
    filters = LedgerFilter(
        user_id=_snowflake_query(request, "user_id"),
        guild_id=guild_id,
        vp_id=vp,
        reason=request.query.get("reason") or None,
        source=request.query.get("from") or None,
        target=request.query.get("to") or None,
        after=_int_query(request, "after", None),
        before=_int_query(request, "before", None),
    )
    entries = await request.app[keys.REPOS].ledger.search(
        filters, limit=limit, offset=page * max(limit, 0), guild_ids=_scope(request)
    )
    return json_response([transaction_json(e) for e in entries])


class Transfer(NamedTuple):
    """A transaction's body: each side a party, or a vp_id or ``"self"`` as given."""

    source: Party | str
    target: Party | str
    amount: int
    reason: str


class _PartyStruct(Plain):
    user_id: Id
    guild_id: Id


class _TransferStruct(Plain):
    from_: str | _PartyStruct = msgspec.field(name="from")
    to: str | _PartyStruct
    amount: Annotated[int, msgspec.Meta(ge=1, le=MAX_AMOUNT)]
    reason: Annotated[str, msgspec.Meta(max_length=ledger.MAX_REASON)] = ""


_TRANSFER = msgspec.json.Decoder(_TransferStruct)


async def _transfer(request: web.Request) -> Transfer:
    """The transaction's body: a plain one read into typed structs (web.typedbody), else through TransactionBody."""
    fast = _fast_transfer(await request.read())
    if fast is not None:
        return fast
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    body = parse_model(TransactionBody, data)
    return Transfer(_side(body.from_), _side(body.to), body.amount, body.reason)


def _fast_transfer(raw: bytes) -> Transfer | None:
    body = typedbody.decode(_TRANSFER, raw)
    if body is None:
        return None
    source, target = _fast_side(body.from_), _fast_side(body.to)
    return None if source is None or target is None else Transfer(source, target, body.amount, body.reason)


def _side(side: str | PartyBody) -> Party | str:
    return side if isinstance(side, str) else Party(side.guild_id, side.user_id)


def _fast_side(side: str | _PartyStruct) -> Party | str | None:
    if isinstance(side, str):
        return side
    guild_id, user_id = typedbody.snowflake(side.guild_id), typedbody.snowflake(side.user_id)
    return None if guild_id is None or user_id is None else Party(guild_id, user_id)


async def _resolve_side(request: web.Request, side: Party | str, other: Party | str, name: str) -> Party | str:
    """A party, or a vp_id for the ledger to resolve; ``"self"`` is the key's bot in the other side's guild."""
    if isinstance(side, Party):
        return side
    if side == "self":
        if isinstance(other, Party):
            guild_id = other.guild_id
        elif other != "self" and is_vp_id(other):
            member = await request.app[keys.REPOS].members.get_by_vp_id(other)
            if member is None:
                raise ApiError(404, f"no voice profile has the id {other}")
            guild_id = member.guild_id
        else:
            raise ApiError(400, "the sender and the receiver are the same profile")
        return Party(guild_id, _bot_user_id(request))
    if not is_vp_id(side):
        raise ApiError(400, f'{name} must be a vp_id (64 lowercase hex digits), "self" or {{user_id, guild_id}}')
    return side


@voice.route(
    "POST",
    "/transaction",
    summary='Send voicepoints: {from, to, amount >= 1, reason}; from/to a vp_id, "self" or {user_id, guild_id}',
    access="write",
    body=TransactionBody,
    response=TRANSACTION,
)
async def post_transaction(request: web.Request) -> web.Response:
    body = await _transfer(request)
    source = await _resolve_side(request, body.source, body.target, "from")
    target = await _resolve_side(request, body.target, body.source, "to")
    repos = request.app[keys.REPOS]
    parties: list[Party] = []
    for side in (source, target):
        if isinstance(side, str):
            member = await repos.members.get_by_vp_id(side)
            if member is None:
                raise ApiError(404, f"no voice profile has the id {side}")
            side = member.party
        _check_guild(request, side.guild_id)
        parties.append(side)
    source, target = parties
    bot_user_id = _bot_user_id(request)
    # The key's bot profile ("self") is the issuer: created on demand and allowed below zero.
    issuer = next((side for side in parties if side.user_id == bot_user_id), None)
    try:
        entry = await ledger.send(
            repos,
            source,
            target,
            amount=body.amount,
            reason=body.reason,
            actor=_actor(request),
            now=_now(request),
            issuer=issuer,
        )
    except ledger.LedgerError as error:
        raise _ledger_error(error) from None
    return json_response(transaction_json(entry), free_json=())


@voice.route(
    "GET",
    "/transaction/graph",
    summary="Balance changes over time (guild_id, user_id with guild_id, from, to, interval=hour|day|week)",
    response=GRAPH,
    query=GRAPH_QUERY,
)
async def transaction_graph(request: web.Request) -> web.Response:
    guild_id = _snowflake_query(request, "guild_id")
    user_id = _snowflake_query(request, "user_id")
    if user_id is not None and guild_id is None:
        raise ApiError(400, "user_id needs guild_id as well")
    if guild_id is not None:
        _check_guild(request, guild_id)
    elif _scope(request):
        raise ApiError(403, "this API key is limited to some guilds: give guild_id")
    interval = request.query.get("interval", "day")
    if interval not in INTERVAL_SECONDS:
        raise ApiError(400, "interval must be hour, day or week")
    points = await request.app[keys.REPOS].ledger.graph(
        guild_id=guild_id,
        user_id=user_id,
        since=_int_query(request, "from", None),
        until=_int_query(request, "to", None),
        interval=interval,  # type: ignore[arg-type]
    )
    return json_response([{"t": p.t, "delta": p.delta, "balance": p.balance} for p in points])


@voice.route(
    "GET",
    "/stats",
    summary="Profile-system statistics, overall or for guild_id",
    response=STATS,
    query=(id_param("guild_id"),),
)
async def stats(request: web.Request) -> web.Response:
    guild_id = _snowflake_query(request, "guild_id")
    if guild_id is not None:
        _check_guild(request, guild_id)
    elif _scope(request):
        raise ApiError(403, "this API key is limited to some guilds: give guild_id")
    found = await request.app[keys.REPOS].members.stats(guild_id)
    return json_response(
        {
            "profiles": found.profiles,
            "guilds": found.guilds,
            "voicepoints": found.voicepoints,
            "timespent": found.voice_seconds,
            "messages": found.messages,
            "transactions": found.transactions,
        }
    )
