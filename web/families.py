"""The five API families Guildhall serves, each with its original's error envelope and limits.

Feature modules add routes to these objects; everything else about a family lives here once.
"""

from __future__ import annotations

from typing import Any

from core.config import RateLimit
from web.api import Family

LINK_STATUS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 429: "rate_limited"}


LINK_PATHS = ("/status", "/applyRoleChanges", "/roleChange", "/sendDirectMessage")


def _link_envelope(status: int, message: str, code: int | None) -> dict[str, Any] | str:
    if status == 405:
        return ""  # the original answers a wrong method with an empty body
    return {"status": LINK_STATUS.get(status, "error"), "meta": message}


def _bare_envelope(status: int, message: str, code: int | None) -> dict[str, Any]:
    return {"error": message}


def _economy_envelope(status: int, message: str, code: int | None) -> dict[str, Any]:
    return {"code": status, "message": message}


def _serverstats_envelope(status: int, message: str, code: int | None) -> dict[str, Any]:
    return {"success": False, "data": {}, "error": {"code": code if code is not None else status, "message": message}}


def _botlist_envelope(status: int, message: str, code: int | None) -> dict[str, Any]:
    return {"message": message}


def _object(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}

link = Family(
    name="link",
    title="Website link (Nameless-Link)",
    base="/",
    description="What a NamelessMC website calls: /status, /applyRoleChanges, /sendDirectMessage, /roleChange.",
    envelope=_link_envelope,
    error_schema={"type": "object", "properties": {"status": STRING, "meta": STRING}, "required": ["status"]},
)

voice = Family(
    name="voice",
    title="Voice profiles (Voice Profile Server)",
    base="/",
    description="Member profiles, the voicepoint ledger, tops and statistics.",
    envelope=_bare_envelope,
    error_schema=_object(error=STRING),
)

economy = Family(
    name="economy",
    title="Economy (WetBot member API)",
    base="/api",
    description="A member's economy profile and item inventory.",
    envelope=_economy_envelope,
    error_schema=_object(code=INTEGER, message=STRING),
    default_limits={None: RateLimit(limit=10, per=60)},
)

serverstats = Family(
    name="serverstats",
    title="Server stats (Husqy serverstats module)",
    base="/modules/serverstats",
    description="Settings, counter channels, the starboard, statistics and privacy.",
    envelope=_serverstats_envelope,
    error_schema=_object(
        success={"const": False},
        data={"type": "object", "additionalProperties": False},
        error=_object(code=INTEGER, message=STRING),
    ),
)

botlist = Family(
    name="botlist",
    title="Bot list (Bots on Discord bot API)",
    base="/bot-api",
    description="Guild counts, review checks and command lists of registered bots.",
    envelope=_botlist_envelope,
    error_schema=_object(message=STRING),
    default_limits={
        "guilds": RateLimit(limit=2, per=240),
        "review": RateLimit(limit=20, per=10),
        "commands": RateLimit(limit=10, per=3600),
    },
)

ops = Family(
    name="ops",
    title="Operations",
    base="/",
    description="The index page, the OpenAPI description and health checks.",
    envelope=_bare_envelope,
    error_schema=_object(error=STRING),
)

ALL = (link, voice, economy, serverstats, botlist, ops)
API_FAMILIES = (link, voice, economy, serverstats, botlist)


def family_for_path(path: str) -> Family:
    """The family whose base holds ``path``; root paths answer in the voice family's plain envelope."""
    if path in LINK_PATHS:
        return link
    for family in (economy, serverstats, botlist):
        if family.owns_path(path):
            return family
    return voice
