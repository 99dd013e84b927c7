"""The fast path of the voice family's bulk bodies (``PATCH /profile``, ``PATCH /profile/add``).

A bulk body may hold ten thousand profiles, and parsing it with ``json`` and a pydantic model per
item costs far more than the database work. Each function here handles the plain, valid case fast
and answers ``None`` for anything else; the caller then takes the general path, which accepts and
refuses exactly as before and words the errors. So the fast path only has to agree with the
general one on what it accepts:

- :func:`loads`: ``orjson`` is strict JSON like ``json.loads`` here, but it keeps the last of
  repeated keys, which the API refuses. A body is taken only when its colons are exactly its
  object members (no repeated key collapsed, no colon inside a string) and it is shallow.
- :func:`bulk_edit`: one item as ``web.voice.BulkItem`` validates it and ``web.voice._edit`` turns
  it into an edit, for items whose fields are plain integers, objects and ids.
- :func:`dumps`: ``orjson`` writes the same bytes as ``json.dumps(separators=(",", ":"),
  ensure_ascii=False)`` except for floats (exponent forms differ) and what it cannot write at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from core.members import MAX_AMOUNT
from storage.members import ProfileEdit
from web.api import MAX_SNOWFLAKE

MAX_DEPTH = 64  # deeper bodies take the general path (it says when one is too deep)
_PRAY = ("date", "streak", "total")
_TEXT = ("level", "experience", "message_count")
_TIMESPENT = ("global",)
_EMPTY: dict[str, Any] = {}


def loads(raw: bytes) -> Any | None:
    """The body as JSON when it is plain (see above), else None."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    members = _plain_members(data, 0)
    if members is None or members != raw.count(b":"):
        return None
    return data


def _plain_members(value: Any, depth: int) -> int | None:
    """How many object members ``value`` holds at any depth; None when it holds a float (orjson
    reads an integer beyond 64 bits as one) or is deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        return None
    if type(value) is dict:
        count = len(value)
        inner_values: Any = value.values()
    elif type(value) is list:
        count = 0
        inner_values = value
    else:
        return None if type(value) is float else 0
    for inner in inner_values:
        kind = type(inner)
        if kind is dict or kind is list:
            more = _plain_members(inner, depth + 1)
            if more is None:
                return None
            count += more
        elif kind is float:
            return None
    return count


def _snowflake(value: Any) -> int | None:
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
    elif type(value) is int:
        number = value
    else:
        return None
    return number if 0 <= number <= MAX_SNOWFLAKE else None


def _section(value: Any, names: tuple[str, ...]) -> bool:
    """A value an optional nested model of ``Count | None`` fields takes as it is (other keys ignored)."""
    if value is None:
        return True
    if type(value) is not dict:
        return False
    for name in names:
        inner = value.get(name)
        if inner is not None and (type(inner) is not int or not -MAX_AMOUNT <= inner <= MAX_AMOUNT):
            return False
    return True


def bulk_edit(item: Any) -> ProfileEdit | None:
    """The edit of one plain, valid bulk item, else None."""
    if type(item) is not dict:
        return None
    get = item.get
    guild_id = _snowflake(get("guild_id"))
    user_id = _snowflake(get("user_id"))
    if guild_id is None or user_id is None:
        return None
    experience, voicepoints, level = get("experience"), get("voicepoints"), get("level")
    for count in (experience, voicepoints, level):
        if count is not None and (type(count) is not int or not -MAX_AMOUNT <= count <= MAX_AMOUNT):
            return None
    pray, text, timespent = get("pray"), get("text"), get("timespent")
    if not (_section(pray, _PRAY) and _section(text, _TEXT) and _section(timespent, _TIMESPENT)):
        return None
    pray = pray or _EMPTY
    text_given = text or _EMPTY
    return ProfileEdit(
        guild_id,
        user_id,
        experience,
        voicepoints,
        level,
        pray.get("date"),
        pray.get("streak"),
        pray.get("total"),
        "text" in item and text is None,
        text_given.get("level"),
        text_given.get("experience"),
        text_given.get("message_count"),
        timespent.get("global") if timespent else None,
        "data" in item,
        get("data"),
    )


def dumps(value: Any, free_json: Iterable[Any]) -> bytes | None:
    """``value`` as compact UTF-8 JSON when orjson writes it as ``json.dumps`` would, else None.

    ``free_json`` are the parts of ``value`` that may hold floats (the profiles' ``data``)."""
    if any(part is not None and _plain_members(part, 0) is None for part in free_json):
        return None
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return None
