"""Discord-shaped HTTP answers: JSON with the exact Content-Type, and error bodies with rate-limit headers."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from core.clock import Clock

ERROR_MESSAGES = {
    0: "General error",
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10011: "Unknown Role",
    10013: "Unknown User",
    10062: "Unknown interaction",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50007: "Cannot send messages to this user",
    50013: "Missing Permissions",
    50035: "Invalid Form Body",
}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Content-Type exactly ``application/json`` (discord.py compares it with ``==``)."""
    all_headers = {"Content-Type": "application/json"} | (headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def error_response(
    clock: Clock,
    status: int,
    code: int,
    message: str | None = None,
    *,
    errors: dict[str, Any] | None = None,
    retry_after: float | None = None,
    global_: bool = False,
    bucket: str = "fakediscord",
    limit: int = 1,
) -> web.Response:
    body: dict[str, Any] = {"message": message or ERROR_MESSAGES.get(code, "Error"), "code": code}
    if errors:
        body["errors"] = errors
    headers: dict[str, str] = {}
    if status == 429:
        retry = float(retry_after if retry_after is not None else 1.0)
        body |= {"message": message or "You are being rate limited.", "retry_after": retry, "global": global_}
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry)),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{clock.time() + retry:.3f}",
            "X-RateLimit-Reset-After": f"{retry:.3f}",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Scope": "global" if global_ else "shared",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
    return json_response(body, status, headers)
