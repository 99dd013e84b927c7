"""Request bodies read by ``msgspec`` straight into typed structs: the fast path of hot routes.

Reading a body with ``orjson`` and checking it with the route's pydantic model costs 6-10 µs, a
tenth of a busy write's whole time; ``msgspec`` parses and checks types and ranges in C as it
reads (~1-1.5 µs a body, and a 10,000-item bulk body in ~5 ms). A route's fast path takes only the
plain, valid body and answers ``None`` for anything else; the route then reads the body as before
(:func:`web.api.read_json` and its pydantic model), which accepts and refuses exactly as it did
and words the errors. So a fast path only has to agree with the general one on what it accepts,
and each has a test that draws bodies of every kind and compares the two.

:func:`decode` gives that guarantee for the JSON itself. ``msgspec`` keeps the last of repeated
keys, which the API refuses, and a field whose default is null reads an explicit null as absent.
So the struct is written back, defaults left out, and the body is taken only when that holds as
many object members (colons) as the body did: a repeated key, or a field given as null, comes
back one short. A body with a backslash (an escape, which could hide a colon or spell a key
another way) is left to the general path, so strings read back byte for byte and their colons
count alike. Structs forbid unknown fields, so a body with a key the route ignores takes the
general path too.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec

from web.api import MAX_SNOWFLAKE

T = TypeVar("T")

# A string id is checked for ASCII digits after parsing (:func:`snowflake`, :func:`snowflakes`).
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=20)] | Annotated[int, msgspec.Meta(ge=0, le=MAX_SNOWFLAKE)]

_ENCODER = msgspec.json.Encoder()


class Plain(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """The base of every struct :func:`decode` reads."""


def decode(decoder: msgspec.json.Decoder[T], raw: bytes) -> T | None:
    """``raw`` as ``decoder``'s type (built of :class:`Plain` structs) when it is plain, else None."""
    if b"\\" in raw:
        return None
    try:
        value = decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # ValidationError included
        return None  # the general path words the error
    if _ENCODER.encode(value).count(b":") != raw.count(b":"):
        return None
    return value


def snowflake(value: Any) -> int | None:
    """An id as :func:`web.api.snowflake` takes it (a decimal string or an integer), else None."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
    elif type(value) is int:
        number = value
    else:
        return None
    return number if 0 <= number <= MAX_SNOWFLAKE else None


def snowflakes(values: list[str | int]) -> list[int] | None:
    """The :data:`Id` values of a body as numbers, every string checked in one call; None when
    one is not an id."""
    strings = [value for value in values if type(value) is str]
    if strings:
        joined = "".join(strings)
        if not (joined.isascii() and joined.isdigit()):
            return None
    numbers = list(map(int, values))
    return numbers if not numbers or max(numbers) <= MAX_SNOWFLAKE else None
