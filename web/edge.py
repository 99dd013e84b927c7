"""The route for requests no other route takes, and the access log.

What a middleware would do for every request (body size and time, error envelopes, rate-limit
headers) is done by each route's own wrapper, :func:`web.api.guard`.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from yarl import URL

from web import keys
from web.families import family_for_path

log = logging.getLogger(__name__)

_SLASHES = re.compile(r"/{2,}")


async def unmatched(request: web.Request) -> web.StreamResponse:
    """The last route, for requests no other route takes, in the envelope of the family the path
    belongs to: 404, or 405 (with ``Allow``) when a route takes the path with another method.

    ``//a//b/`` is served as ``/a/b`` in place: callers POST and do not follow redirects.
    """
    path = request.rel_url.raw_path
    clean = _SLASHES.sub("/", path).rstrip("/") or "/"
    if clean != path:
        url = URL.build(path=clean, query_string=request.rel_url.raw_query_string, encoded=True)
        return await request.app._handle(request.clone(rel_url=url))  # resolve again
    this = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not this:
            allowed |= (await resource.resolve(request))[1]
    family = family_for_path(request.rel_url.path)
    if allowed:
        return family.error_response(405, "method not allowed", headers={"Allow": ",".join(sorted(allowed))})
    return family.error_response(404, "not found")


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path without query, status, time and the key's name, never a secret."""

    @property
    def enabled(self) -> bool:
        """Whether a line would be written: when not (``[logging] level`` above INFO), aiohttp skips
        the call and its arguments for every request of the connection."""
        return self.logger.isEnabledFor(logging.INFO)

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
