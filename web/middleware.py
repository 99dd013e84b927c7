"""Middlewares: path normalisation, error envelopes and rate-limit headers, body size."""

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
async def normalise_path(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve ``//a//b/`` as ``/a/b`` in place: callers POST and do not follow redirects."""
    path = request.rel_url.raw_path
    if isinstance(request.match_info.route, SystemRoute) and path != "/":
        clean = _SLASHES.sub("/", path).rstrip("/") or "/"
        if clean != path:
            url = URL.build(path=clean, query_string=request.rel_url.raw_query_string, encoded=True)
            cloned = request.clone(rel_url=url)
            return await request.app._handle(cloned)  # resolve again, through every middleware
    return await handler(request)


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared oversized body before reading any of it; a body that trickles in gets 408.

    aiohttp has no timeout of its own for a body, so the body is read (and kept: ``request.read()``
    caches it for the handler) within ``[api] body_timeout`` seconds.
    """
    api = request.app[keys.SETTINGS].api
    if request.content_length is not None and request.content_length > api.max_body_bytes:
        raise ApiError(413, f"the request body is larger than {api.max_body_bytes} bytes")
    if request.body_exists:
        try:
            async with asyncio.timeout(api.body_timeout):
                await request.read()
        except TimeoutError:
            raise ApiError(408, f"the request body did not arrive within {api.body_timeout:g} seconds") from None
    return await handler(request)


@web.middleware
async def envelopes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure, in the envelope of the family the path belongs to; limit headers on all."""
    try:
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
