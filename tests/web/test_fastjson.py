"""web.fastjson: orjson where it reads and writes exactly what the standard json does, else None."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, NamedTuple

import pytest

from web import fastjson
from web.api import _reject_constant, _unique_keys, json_bytes


def reference_loads(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def reference_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"user_id": "1", "guild_id": "2", "data": {"a": {"b": [1, 2, {"c": null}]}}}]',
        b" [ ] ",
        b'{"a": 1}',
        b"[1, 2, 3]",
        b'["\\u00e9", "\xc3\xa9"]',
        b'{"from": "self", "to": {"user_id": "3", "guild_id": "1"}, "amount": 1, "reason": "gift"}',
        b'"text"',
        b"-9223372036854775808",
        b'["\\ud83d\\ude00", "x\x7fy", -0]',  # an escaped surrogate pair, DEL, minus zero
        b"\n[1]\n",
        b'{"a\\u003ab": "c\\u003a"}',  # escaped colons are not members and not counted
    ],
)
def test_plain_bodies_parse_as_the_general_parser_parses_them(raw: bytes):
    assert fastjson.loads(raw) == reference_loads(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"experience": 1, "experience": 2}]',  # a repeated key: the general path refuses it
        b'[{"data": {"a": 1, "a": 1}}]',
        b'{"a": 1, "\\u0061": 2}',  # the same key, once escaped
        b'[{"url": "https://x"}]',  # a colon inside a string: left to the general path
        b"[123456789012345678901234567890]",  # orjson would read a float
        b"[1.5]",
        b"[NaN]",
        b'["\\ud800"]',
        b"\xef\xbb\xbf[]",
        b"[" * 100 + b"]" * 100,
        b"",
        b"[1,]",
        b"\xff",
        b'{"a": "x\x01y"}',  # a raw control character in a string
        b"[1] x",
        b'{"a": 1}{}',
        b"[01]",
        b"[1e2]",
    ],
)
def test_other_bodies_are_left_to_the_general_parser(raw: bytes):
    assert fastjson.loads(raw) is None


@pytest.mark.parametrize(
    "data",
    [None, {"a": [1, "é", {"b": None}]}, 'x\n\u2028\x7f"\\\t\x01', [], 2**63 - 1, -(2**63), True, "🎉"],
)
def test_fast_answers_have_the_general_bytes(data: Any):
    value = [{"id": "ab", "n": 1, "data": data}, {"text": None, "list": [1, 2]}]
    assert fastjson.dumps(value) == reference_dumps(value)
    assert fastjson.dumps(value, [data]) == reference_dumps(value)  # only `data` may hold floats


class Pair(NamedTuple):
    a: int
    b: int


@dataclasses.dataclass
class Point:
    x: int


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize("data", [1e-7, {"a": [2.5]}, 2**64, "\ud800", float("nan"), {1: "a"}, Pair(1, 2), Point(1)])
def test_answers_orjson_would_write_differently_are_left_to_json(data: Any):
    assert fastjson.dumps([{"data": data}]) is None
    assert fastjson.dumps([{"data": data}], [data]) is None


@pytest.mark.parametrize("data", [{"a": 1e16, "b": [0.1, 5e-324]}, {1: 2, "x": (1, 2)}, Pair(3, 4), Colour.RED])
def test_every_answer_still_has_the_standard_bytes(data: Any):
    assert json_bytes(data) == reference_dumps(data)
