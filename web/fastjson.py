"""JSON in and out through ``orjson`` when it gives exactly what the standard ``json`` gives.

The API reads bodies with ``json.loads`` (strict: no repeated keys, no ``NaN``) and writes answers
with ``json.dumps(separators=(",", ":"), ensure_ascii=False)``. ``orjson`` does both several times
faster (13 µs → 4 µs to read a transfer's body, 14 µs → under 1 µs to write its answer, and
milliseconds on a 10,000-item bulk body), but not always alike. Each function here takes the
plain case and answers ``None`` for anything else; the caller then uses ``json``, which accepts,
refuses and words errors exactly as before:

- :func:`loads`: ``orjson`` is strict JSON like ``json.loads`` here, but it keeps the last of
  repeated keys, which the API refuses, and reads an integer beyond 64 bits as a float. A body is
  taken only when its colons are exactly its object members (no repeated key collapsed, no colon
  inside a string), it holds no float, and it is shallow.
- :func:`dumps`: ``orjson`` writes the same bytes except for floats (exponent forms and ``NaN``
  differ), and it refuses what ``json`` writes differently or not at all (integers beyond 64
  bits, non-string keys, named tuples, lone surrogates); dataclasses and subclasses are passed
  to ``json`` too, as it would refuse or write them its own way. (Enums are the exception:
  ``orjson`` writes their values, as ``json`` does for an ``IntEnum`` and refuses for others.
  No answer holds one.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

MAX_DEPTH = 64  # deeper values take the general path (it says when one is too deep)
_DUMP_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


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


def dumps(value: Any, free_json: Iterable[Any] | None = None) -> bytes | None:
    """``value`` as compact UTF-8 JSON when orjson writes it as ``json.dumps`` would, else None.

    ``free_json``, when given, names the only parts of ``value`` that may hold floats (a bulk
    answer's profiles' ``data``), so that a large answer is not walked twice."""
    parts = (value,) if free_json is None else free_json
    if any(part is not None and _plain_members(part, 0) is None for part in parts):
        return None
    try:
        return orjson.dumps(value, option=_DUMP_OPTIONS)
    except orjson.JSONEncodeError:
        return None


def _plain_members(value: Any, depth: int) -> int | None:
    """How many object members ``value`` holds at any depth; None when it holds a float or is
    deeper than MAX_DEPTH."""
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
