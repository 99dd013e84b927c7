"""Rules for a guild's link to a NamelessMC website."""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from core.roles import RoleChange

log = logging.getLogger(__name__)


class LinkError(ValueError):
    """The link cannot be stored as given."""


def normalise_website_url(url: str) -> str:
    """The website's API URL, checked (http or https, a host) and without a trailing slash."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LinkError(f"{url!r} is not an http(s) URL of the website's API")
    return url.rstrip("/")


# --- what a NamelessMC website sends to /applyRoleChanges, /roleChange and /sendDirectMessage ---

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_LONG = re.compile(r"[+-]?[0-9]+")
ACTIONS = ("add", "remove")


class BadLinkRequest(ValueError):
    """The request cannot be read; ``meta`` is the developer-facing reason (the original's where it had one)."""

    def __init__(self, meta: str) -> None:
        super().__init__(meta)
        self.meta = meta


def parse_long(value: Any) -> int:
    """An id as the original reads it (``Long.parseLong(elem.getAsString())``): a JSON integer or a
    decimal string, optionally signed, within int64. Raises ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not an id")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _LONG.fullmatch(value):
        number = int(value)
    else:
        raise ValueError("not an id")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError("out of range")
    return number


def key_text(value: Any) -> str | None:
    """``api_key`` as the original reads it (numbers become their text); None when absent or not a scalar."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def keys_match(presented: str, stored: str) -> bool:
    """Exact, case-sensitive, untrimmed, in constant time."""
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), stored.encode("utf-8", "surrogatepass"))


def decode_body(raw: bytes) -> Any:
    """The body as JSON, whatever its Content-Type; :class:`BadLinkRequest` with the original's metas."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadLinkRequest("JsonSyntaxException: the body is not UTF-8") from None
    if not text.strip():
        raise BadLinkRequest("ClassCastException: the body is empty")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise BadLinkRequest("JsonSyntaxException: nested too deeply") from None
    except ValueError:
        raise BadLinkRequest("JsonSyntaxException") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    guild_id: int
    api_key: str
    role_changes: list[Any]


def parse_apply_request(data: Any, *, max_items: int) -> ApplyRequest:
    """The top level of an /applyRoleChanges body, checked in the original's order."""
    if not isinstance(data, dict):
        raise BadLinkRequest("ClassCastException: the body is not a JSON object")
    if data.get("guild_id") is None:
        raise BadLinkRequest("missing guild_id")
    try:
        guild_id = parse_long(data["guild_id"])
    except ValueError:
        raise BadLinkRequest("NumberFormatException: guild_id is not an id") from None
    changes = data.get("role_changes")
    if changes is not None and not isinstance(changes, list):
        raise BadLinkRequest("ClassCastException: role_changes is not an array")
    api_key = key_text(data.get("api_key"))
    if api_key is None or changes is None:
        raise BadLinkRequest("null api key or null roles")
    if len(changes) > max_items:
        raise BadLinkRequest(f"too many role changes: {len(changes)} (at most {max_items} per request)")
    return ApplyRequest(guild_id, api_key, changes)


def parse_role_changes(items: list[Any]) -> list[RoleChange]:
    """Every item, checked before any is applied: a bad one fails the whole request and changes nothing."""
    changes = []
    for index, item in enumerate(items):
        where = f"role_changes[{index}]"
        if not isinstance(item, dict):
            raise BadLinkRequest(f"{where} is not an object")
        action = item.get("action")
        if action is None:
            raise BadLinkRequest(f"{where}.action is missing")
        if action not in ACTIONS:
            shown = action if isinstance(action, str) else json.dumps(action)
            raise BadLinkRequest(f"invalid role change action: {shown}")
        ids = []
        for name in ("user_id", "role_id"):
            if item.get(name) is None:
                raise BadLinkRequest(f"{where}.{name} is missing")
            try:
                ids.append(parse_long(item[name]))
            except ValueError:
                raise BadLinkRequest(f"NumberFormatException: {where}.{name} is not an id") from None
        changes.append(RoleChange(ids[0], ids[1], action))
    return changes


@dataclass(frozen=True, slots=True)
class LegacyRoleChange:
    """A /roleChange body: v1 (``add_role_id``/``remove_role_id``) or v2-v4 (``roles[]``)."""

    guild_id: int
    user_id: int
    api_key: str
    changes: list[RoleChange]
    version: Literal[1, 2]


def parse_legacy_role_change(data: Any) -> LegacyRoleChange:
    """Raises :class:`BadLinkRequest` for everything the original answers ``badparameter``."""
    if not isinstance(data, dict):
        raise BadLinkRequest("not an object")
    try:
        guild_id = parse_long(data.get("guild_id"))
        user_id = parse_long(data.get("user_id"))
    except ValueError:
        raise BadLinkRequest("guild_id and user_id must be ids") from None
    api_key = key_text(data.get("api_key"))
    if guild_id == 0 or api_key is None:
        raise BadLinkRequest("guild_id and api_key are required")
    if "roles" in data:
        roles = data["roles"]
        if not isinstance(roles, list):
            raise BadLinkRequest("roles is not an array")
        changes = []
        for entry in roles:
            if not isinstance(entry, dict):
                raise BadLinkRequest("a roles entry is not an object")
            try:
                role_id = parse_long(entry.get("id"))
            except ValueError:
                raise BadLinkRequest("a roles entry has no id") from None
            if role_id == 0:
                raise BadLinkRequest("a roles entry has id 0")
            action = entry.get("action")
            if action in ACTIONS:
                changes.append(RoleChange(user_id, role_id, action))
            else:
                log.info("roleChange: ignoring unknown action %r", action)
        return LegacyRoleChange(guild_id, user_id, api_key, changes, 2)
    changes = []
    for name, action in (("add_role_id", "add"), ("remove_role_id", "remove")):
        if data.get(name) is not None:
            try:
                changes.append(RoleChange(user_id, parse_long(data[name]), action))
            except ValueError:
                raise BadLinkRequest(f"{name} is not an id") from None
    if not changes:
        raise BadLinkRequest("no roles, add_role_id or remove_role_id")
    return LegacyRoleChange(guild_id, user_id, api_key, changes, 1)


def legacy_answer(statuses: list[str], version: int) -> str:
    """The bare word /roleChange answers once its changes were applied."""
    if "error" in statuses:
        return "error"
    if version == 1:
        if "invalid_role" in statuses:
            return "invrole"
        if "invalid_user" in statuses:
            return "invuser"
        return "hierarchy" if "no_permission" in statuses else "success"
    if "invalid_user" in statuses:
        return "invuser"
    return "partsuccess" if {"invalid_role", "no_permission"} & set(statuses) else "fullsuccess"


@dataclass(frozen=True, slots=True)
class DirectMessageRequest:
    guild_id: int
    user_id: int
    api_key: str
    message: str


def parse_direct_message(data: Any) -> DirectMessageRequest:
    if not isinstance(data, dict):
        raise BadLinkRequest("the body is not a JSON object")
    try:
        guild_id = parse_long(data.get("guild_id"))
        user_id = parse_long(data.get("user_id"))
    except ValueError:
        raise BadLinkRequest("guild_id and user_id must be ids") from None
    api_key = key_text(data.get("api_key"))
    if api_key is None:
        raise BadLinkRequest("api_key is missing")
    message = data.get("message")
    if not isinstance(message, str):
        raise BadLinkRequest("message must be a string")
    return DirectMessageRequest(guild_id, user_id, api_key, message)
