"""The machinery every API family shares: routes, keys, limits, bodies and error envelopes.

A family declares its routes with :meth:`Family.route`. Each route names who may call it
(``access``) and which rate-limit bucket it counts in; :func:`guard` applies both before the
handler runs and shapes every failure in the family's own envelope.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from aiohttp import hdrs, web
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import BaseModel, ValidationError

from core.config import ApiSettings, RateLimit
from storage import ApiKey, ApiKeyRepository
from web import fastjson, keys

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Envelope = Callable[[int, str, "int | None"], Any]
Access = Literal["public", "read", "write", "none"]
ModelT = TypeVar("ModelT", bound=BaseModel)
V = TypeVar("V")

MAX_SNOWFLAKE = 2**63 - 1


class ApiError(Exception):
    """A failure the caller should see, shaped by the family's envelope."""

    def __init__(self, status: int, message: str, *, code: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter (or, with ``location="header"``, a header) a route reads, as /openapi.json describes it."""

    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""
    location: str = "query"


def id_param(name: str, *, required: bool = False) -> Param:
    return Param(name, {"type": "string", "pattern": r"^\d+$"}, required, "a snowflake id")


def int_param(name: str, description: str = "") -> Param:
    return Param(name, {"type": "integer"}, False, description)


def enum_param(name: str, values: Iterable[str], description: str = "") -> Param:
    return Param(name, {"type": "string", "enum": list(values)}, False, description)


@dataclass(frozen=True, slots=True)
class Route:
    family: Family
    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    limit: str | None
    guild_param: str | None
    identity: Callable[[web.Request, ApiKey | None], str] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | dict[str, Any] | None
    status: int
    query: tuple[Param, ...] = ()
    content_type: str = "application/json"
    tried_first: bool = False  # see add_routes


@dataclass(slots=True)
class Family:
    """One API family: its base path, its error envelope and its routes."""

    name: str
    title: str
    base: str
    description: str
    envelope: Envelope
    error_schema: dict[str, Any]
    default_limits: dict[str | None, RateLimit] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)

    def error_response(
        self, status: int, message: str, code: int | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        body = self.envelope(status, message, code)
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=headers)
        return json_response(body, status=status, headers=headers)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        access: Access = "read",
        limit: str | None = None,
        guild_param: str | None = "guild_id",
        identity: Callable[[web.Request, ApiKey | None], str] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | dict[str, Any] | None = None,
        status: int = 200,
        query: Iterable[Param] = (),
        content_type: str = "application/json",
        tried_first: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    self,
                    method,
                    path,
                    handler,
                    summary,
                    access,
                    limit,
                    guild_param,
                    identity,
                    body,
                    response,
                    status,
                    tuple(query),
                    content_type,
                    tried_first,
                )
            )
            return handler

        return register

    def owns_path(self, path: str) -> bool:
        base = self.base.rstrip("/")
        return bool(base) and (path == base or path.startswith(base + "/"))


PREFER_MINIMAL = Param(
    "Prefer",
    {"type": "string", "enum": ["return=minimal", "return=representation"]},
    description="return=minimal: answer 204 with no body instead of every profile (RFC 7240)",
    location="header",
)


def prefers_minimal(request: web.Request) -> bool:
    """The request's ``Prefer`` header asks for ``return=minimal`` (RFC 7240; other preferences ignored)."""
    prefer = request.headers.get("Prefer")
    if prefer is None:
        return False
    for preference in prefer.split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return" and value.strip().strip('"').lower() == "minimal":
            return True
    return False


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None, free_json: Iterable[Any] | None = None
) -> web.Response:
    """``data`` as JSON. ``free_json``, when given, names the only parts of ``data`` that may hold
    floats (``()``: none does, it is built of ids, counts and text), which spares a walk through
    it (:func:`web.fastjson.dumps`)."""
    return json_body_response(json_bytes(data, free_json), status=status, headers=headers)


def json_bytes(data: Any, free_json: Iterable[Any] | None = None) -> bytes:
    fast = fastjson.dumps(data, free_json)
    return fast if fast is not None else json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


# Given as a header rather than as ``content_type=``, which aiohttp builds anew for every answer;
# as a read-only multidict, which aiohttp copies into the response's own faster than a mapping.
JSON_HEADERS = CIMultiDictProxy(CIMultiDict({hdrs.CONTENT_TYPE: "application/json"}))


def json_body_response(body: bytes, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, headers={**JSON_HEADERS, **headers} if headers else JSON_HEADERS)


class RenderedBodies(Generic[V]):
    """JSON bodies of values read through ``Storage.read_cached``, remembered by the value's identity.

    The storage cache hands out the same immutable object until the database next changes, so
    the bytes rendered from that object are right for exactly as long as it is handed out; a new
    object (a write happened) renders anew. Entries hold their value, so an identity is never
    reused while remembered.
    """

    def __init__(self, render: Callable[[V], Any], max_entries: int = 10_000) -> None:
        self._render = render
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[V, bytes]] = {}

    def body(self, key: Hashable, value: V) -> bytes:
        entry = self._entries.get(key)
        if entry is not None and entry[0] is value:
            return entry[1]
        body = json_bytes(self._render(value))
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (value, body)
        return body


def add_routes(app: web.Application, families: Iterable[Family]) -> None:
    table = app[keys.ROUTES]
    api = app[keys.SETTINGS].api
    routes = [route for family in families for route in family.routes]
    # One resource per path, whatever its methods: aiohttp tries a request against each resource
    # under the path's static prefix (``/profile`` for ``/profile/{guild_id}/{user_id}``) in the
    # order they were added, so a path split over several would be matched several times. The
    # paths of routes marked ``tried_first`` (the busiest reads) are added first; the others'
    # patterns never match the same path (ids are digits), so the order changes only the time.
    resources: dict[str, web.Resource] = {}
    for route in sorted(routes, key=lambda route: not route.tried_first):
        if route.path not in resources:
            resources[route.path] = app.router.add_resource(route.path)
    for route in routes:
        family = route.family
        default = family.default_limits.get(route.limit, family.default_limits.get(None))
        rule = api.rate_limit(family.name, route.limit, default)
        table[resources[route.path].add_route(route.method, guard(route, rule, app))] = route


def guard(route: Route, rule: RateLimit | None, app: web.Application) -> Handler:
    """Wrap a handler with what every request to it passes through, in one coroutine frame.

    - A declared oversized body is refused before any of it is read; a body that trickles in gets
      408 (aiohttp has no body timeout of its own, so the body is read here, and kept by
      ``request.read()`` for the handler, within ``[api] body_timeout`` seconds).
    - The key check, the guild scope and the rate limit.
    - Every failure is answered in the family's own envelope, and the rate-limit headers go on
      every answer.

    This is the work of a middleware, done here: an application with any middleware costs every
    request two more coroutine frames (aiohttp adds a layer of its own): 3% of a cached read's
    throughput, measured. Requests no route takes are answered by :func:`web.edge.unmatched`.
    """
    bucket = f"{route.family.name}.{route.limit}" if route.limit else route.family.name
    family, handler, guild_param = route.family, route.handler, route.guild_param
    # What every request needs of the application, looked up once: the app is frozen once it serves.
    api, api_keys, limiter = app[keys.SETTINGS].api, app[keys.REPOS].api_keys, app[keys.LIMITER]
    identify = route.identity or _caller

    async def guarded(request: web.Request) -> web.StreamResponse:
        decision = None
        try:
            if request.body_exists:
                await _read_body(request, api)
            key = await _authenticate(request, route, api_keys, public_reads=api.public_reads)
            request[keys.API_KEY] = key
            if key is not None and key.guild_ids and guild_param is not None:  # unrestricted keys allow every guild
                _check_path_guild(request, key, guild_param)
            if rule is not None:
                decision = limiter.hit(bucket, identify(request, key), rule)
                if not decision.allowed:
                    raise ApiError(429, "rate limited: too many requests, retry later")
            response = await handler(request)
        except Exception as error:  # every failure gets the family's envelope
            response = failure_response(family, request, error)
        if decision is not None and not response.prepared:
            response.headers.update(decision.headers())
        return response

    guarded.__name__ = route.handler.__name__
    return guarded


def _check_path_guild(request: web.Request, key: ApiKey, param: str) -> None:
    guild_id = request.match_info.get(param)
    if guild_id is not None and not key.allows_guild(int(guild_id)):
        raise ApiError(403, "this API key may not act in that guild")


async def _read_body(request: web.Request, api: ApiSettings) -> None:
    if request.content_length is not None and request.content_length > api.max_body_bytes:
        raise ApiError(413, f"the request body is larger than {api.max_body_bytes} bytes")
    if request.content.is_eof():  # all of it came with the headers: nothing to wait for
        await request.read()
        return
    try:
        async with asyncio.timeout(api.body_timeout):
            await request.read()
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {api.body_timeout:g} seconds") from None


def failure_response(family: Family, request: web.Request, error: Exception) -> web.Response:
    """``error`` answered in ``family``'s envelope (called while handling it); an HTTP exception
    below 400, such as a redirect, is raised again."""
    if isinstance(error, ApiError):
        return family.error_response(error.status, error.message, error.code, error.headers)
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        limit = request.app[keys.SETTINGS].api.max_body_bytes
        return family.error_response(413, f"the request body is larger than {limit} bytes")
    if isinstance(error, web.HTTPException):
        if error.status < 400:
            raise error
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return family.error_response(error.status, _reason(error), headers=headers)
    log.exception("unhandled error in %s %s", request.method, request.rel_url.path)
    return family.error_response(500, "internal server error")


def _reason(error: web.HTTPException) -> str:
    if error.status == 404:
        return "not found"
    if error.status == 405:
        return "method not allowed"
    return (error.text or error.reason or "error").strip()


def _caller(request: web.Request, key: ApiKey | None) -> str:
    return f"key:{key.id}" if key is not None else f"ip:{request.remote}"


def presented_key(request: web.Request) -> str | None:
    """The key in ``Authorization: <key>`` or ``Authorization: Bearer <key>``."""
    header = request.headers.get(hdrs.AUTHORIZATION, "").strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip()
    return header


async def _authenticate(
    request: web.Request, route: Route, api_keys: ApiKeyRepository, *, public_reads: bool
) -> ApiKey | None:
    if route.access in ("none", "public"):
        return None
    secret = presented_key(request)
    key = await api_keys.authenticate(secret) if secret else None
    if key is None:
        if route.access == "read" and public_reads and secret is None:
            return None
        raise ApiError(401, "missing or invalid API key" if secret else "an API key is required")
    if route.access == "write" and key.read_only:
        raise ApiError(403, "this API key is read-only")
    return key


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 that says why not."""
    raw = await request.read()
    if not raw:
        raise ApiError(400, "the request body is empty; JSON was expected")
    fast = fastjson.loads(raw)
    if fast is not None:
        return fast
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    except ValueError as error:
        raise ApiError(400, f"the request body is not valid JSON: {error}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different: a repeated key would mean one thing here and another elsewhere."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {repeated!r} appears more than once")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def read_model(request: web.Request, model: type[ModelT]) -> ModelT:
    return parse_model(model, await read_json(request))


def parse_model(model: type[ModelT], data: Any) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(400, describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


# How a body declares an id in OpenAPI: what :func:`snowflake` takes.
SNOWFLAKE_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "pattern": r"^\d+$"}, {"type": "integer", "minimum": 0, "maximum": MAX_SNOWFLAKE}]
}


def path_id(request: web.Request, name: str, label: str | None = None) -> int:
    """The id in the path segment ``name``, which the route's pattern took as digits (``\\d+``,
    which matches other scripts' digits too); ``label`` names it in an error."""
    text = request.match_info[name]
    if len(text) <= 19 and text.isascii():  # the usual id: read at once
        number = int(text)
        if number <= MAX_SNOWFLAKE:
            return number
    return snowflake(text, label or name)


def snowflake(value: Any, name: str) -> int:
    """An id given as a decimal string or a JSON integer within int64."""
    if isinstance(value, bool):
        raise ApiError(400, f"{name} must be a snowflake id")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
    else:
        raise ApiError(400, f"{name} must be a snowflake id")
    if not 0 <= number <= MAX_SNOWFLAKE:
        raise ApiError(400, f"{name} is out of range for a snowflake id")
    return number
