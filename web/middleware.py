"""The one middleware (paths, body size and time, error envelopes, rate-limit headers) and the access log."""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_urldispatcher import SystemRoute
from yarl import URL

from web import keys
from web.api import ApiError, Family, Handler
from web.families import family_for_path

log = logging.getLogger(__name__)

_SLASHES = re.compile(r"/{2,}")


@web.middleware
async def edges(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What every request passes through, as one layer (each layer costs every request a frame).

    - ``//a//b/`` is served as ``/a/b`` in place: callers POST and do not follow redirects.
    - A declared oversized body is refused before any of it is read; a body that trickles in gets
      408 (aiohttp has no body timeout of its own, so the body is read here, and kept by
      ``request.read()`` for the handler, within ``[api] body_timeout`` seconds).
    - Every failure is answered in the envelope of the family the path belongs to, and the
      rate-limit headers go on every answer.
    """
    if isinstance(request.match_info.route, SystemRoute):
        path = request.rel_url.raw_path
        clean = _SLASHES.sub("/", path).rstrip("/") or "/"
        if clean != path:
            url = URL.build(path=clean, query_string=request.rel_url.raw_query_string, encoded=True)
            return await request.app._handle(request.clone(rel_url=url))  # resolve again, through this layer
    try:
        if request.body_exists:
            await _read_body(request)
        response = await handler(request)
    except ApiError as error:
        response = _family(request).error_response(error.status, error.message, error.code, error.headers)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[keys.SETTINGS].api.max_body_bytes
        response = _family(request).error_response(413, f"the request body is larger than {limit} bytes")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = _family(request).error_response(error.status, _reason(error), headers=headers)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.rel_url.path)
        response = _family(request).error_response(500, "internal server error")
    decision = request.get(keys.RATE_DECISION)
    if decision is not None and not response.prepared:
        response.headers.update(decision.headers(request.app[keys.CLOCK].time()))
    return response


async def _read_body(request: web.Request) -> None:
    api = request.app[keys.SETTINGS].api
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


def _family(request: web.Request) -> Family:
    route = request.app[keys.ROUTES].get(request.match_info.route)
    return route.family if route is not None else family_for_path(request.rel_url.path)


def _reason(error: web.HTTPException) -> str:
    if error.status == 404:
        return "not found"
    if error.status == 405:
        return "method not allowed"
    return (error.text or error.reason or "error").strip()


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path without query, status, time and the key's name, never a secret."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time_taken: float) -> None:
        key = request.get(keys.API_KEY)
        self.logger.info(
            '%s "%s %s" %s %.1fms key=%s',
            request.remote,
            request.method,
            request.rel_url.path,
            response.status,
            time_taken * 1000,
            key.name if key is not None else "-",
        )
