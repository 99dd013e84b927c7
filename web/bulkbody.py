"""The fast path of the voice family's bulk items (``PATCH /profile``, ``PATCH /profile/add``).

A bulk body may hold ten thousand profiles, and a pydantic model per item costs far more than
the database work. :func:`bulk_edit` handles the plain, valid item fast and answers ``None`` for
anything else; the caller then takes the general path (``web.voice.BulkItem`` validates the item
and ``web.voice._edit`` turns it into an edit), which accepts and refuses exactly as before and
words the errors. So the fast path only has to agree with the general one on what it accepts:
items whose fields are plain integers, objects and ids. The body itself is read and the answer
written by :mod:`web.fastjson`.
"""

from __future__ import annotations

from typing import Any

from core.members import MAX_AMOUNT
from storage.members import ProfileEdit
from web.api import MAX_SNOWFLAKE

_PRAY = ("date", "streak", "total")
_TEXT = ("level", "experience", "message_count")
_TIMESPENT = ("global",)
_EMPTY: dict[str, Any] = {}


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
