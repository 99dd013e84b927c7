"""Bodies read into typed structs (web.typedbody): taken only when plain, and then read exactly as
the general path (``read_json`` and the route's pydantic model) reads them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import ledger
from core.members import MAX_AMOUNT
from storage.ledger import Party
from tests.web.jsonbodies import ID_LIKE, each_once, pairs, render
from web import typedbody
from web.api import MAX_SNOWFLAKE, ApiError, _unique_keys, parse_model
from web.serverstats import MessageCheck, MessageCheckValues, message_check
from web.typedbody import Id, Plain
from web.voice import TransactionBody, Transfer, _fast_transfer, _side


class _Pair(Plain):
    a: int
    b: int | None = None
    c: str = ""


_PAIR = msgspec.json.Decoder(_Pair)


@pytest.mark.parametrize(
    ("raw", "taken"),
    [
        (b'{"a": 1, "b": 2, "c": "x:y"}', _Pair(1, 2, "x:y")),
        (b'{\n  "a" : 1\n}', _Pair(1)),
        (b'{"a": 1, "a": 2}', None),  # a repeated key: the general path refuses it
        (b'{"a": 1, "b": null}', None),  # an explicit null reads as absent: the general path decides
        (b'{"a": 1, "c": "\\u003a", "a": 2}', None),  # an escape could hide a colon: never taken
        (b'{"a": 1, "d": 4}', None),  # a key the struct does not know
        (b'{"a": true}', None),
        (b'{"a": 1.0}', None),
        (b'{"a": 1, "c": "caf\xe9"}', None),  # not UTF-8
        (b"[1]", None),
        (b"", None),
    ],
)
def test_a_body_is_taken_only_when_it_reads_back_as_it_came(raw: bytes, taken: _Pair | None):
    assert typedbody.decode(_PAIR, raw) == taken


@pytest.mark.parametrize(
    ("values", "numbers"),
    [
        (["1", 2, "0003"], [1, 2, 3]),
        ([str(MAX_SNOWFLAKE), MAX_SNOWFLAKE], [MAX_SNOWFLAKE, MAX_SNOWFLAKE]),
        ([str(MAX_SNOWFLAKE + 1)], None),
        (["1", "\u0661"], None),  # a digit of another script
        (["1", " 2"], None),
        ([], []),
    ],
)
def test_ids_are_ascii_digits_within_int64(values: list[str | int], numbers: list[int] | None):
    assert typedbody.snowflakes(values) == numbers
    one_by_one = [typedbody.snowflake(value) for value in values]
    assert one_by_one == numbers if numbers is not None else None in one_by_one


def _general(model: type[Any], raw: bytes) -> Any:
    """What the general path makes of ``raw``: the model, or None when it refuses the body."""
    try:
        data = json.loads(raw, object_pairs_hook=_unique_keys)
        return parse_model(model, data) if isinstance(data, dict) else None
    except (ValueError, ApiError):
        return None


def _assert_agrees(fast: Any, model: type[Any], raw: bytes, as_fast: Callable[[Any], Any]) -> None:
    """A body the fast path took (``fast`` is not None) is one ``model`` accepts, read the same."""
    if fast is not None:
        general = _general(model, raw)
        assert general is not None, raw
        assert fast == as_fast(general), raw


_TEXT = st.text(st.sampled_from('ab :"\\\u00e9\u2028\U0001f600'), max_size=8)
_SIDE = st.one_of(
    st.sampled_from(["self", "a" * 64, "A" * 64, ""]),
    _TEXT,
    pairs({"user_id": ID_LIKE, "guild_id": ID_LIKE, "x": st.just(1)}),
    st.tuples(st.tuples(st.just("user_id"), st.integers(0, 99)), st.tuples(st.just("guild_id"), st.just("7"))),
    st.sampled_from([None, 5, []]),
)
_PLAIN_SIDE = st.one_of(
    st.sampled_from(["self", "0123456789abcdef" * 4]),
    st.tuples(
        st.tuples(st.just("user_id"), st.integers(0, MAX_SNOWFLAKE)),
        st.tuples(st.just("guild_id"), st.integers(0, MAX_SNOWFLAKE).map(str)),
    ),
)
_PLAIN_REASON = st.text(st.sampled_from("ab :\u00e9\U0001f600"), max_size=ledger.MAX_REASON + 2)
_TRANSFER_KEYS = ("from", "to", "amount", "reason")
_AMOUNT = st.one_of(st.integers(-1, MAX_AMOUNT + 1), st.sampled_from([1, 20, True, 1.0, "1", None]))
_REASON = st.one_of(
    _TEXT, st.text(max_size=3), st.just("x" * ledger.MAX_REASON), st.just("y" * (ledger.MAX_REASON + 1))
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        pairs({"from": _SIDE, "to": _SIDE, "amount": _AMOUNT, "reason": _REASON, "other": st.just(0)}),
        each_once(_TRANSFER_KEYS, _SIDE, _SIDE, _AMOUNT, _REASON),
        each_once(_TRANSFER_KEYS, _PLAIN_SIDE, _PLAIN_SIDE, st.integers(1, MAX_AMOUNT), _PLAIN_REASON),
    ),
    st.sampled_from(["", " "]),
)
def test_a_transactions_fast_path_agrees_with_transaction_body(body: Any, space: str):
    raw = render(body, space).encode()
    _assert_agrees(
        _fast_transfer(raw), TransactionBody, raw, lambda m: Transfer(_side(m.from_), _side(m.to), m.amount, m.reason)
    )


def test_a_plain_transaction_takes_the_fast_path():
    raw = b'{"from": "self", "to": {"user_id": "3", "guild_id": 2}, "amount": 5, "reason": "bet: won"}'
    assert _fast_transfer(raw) == Transfer("self", Party(2, 3), 5, "bet: won")


_BOOL = st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None]))


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        pairs({"guild_id": ID_LIKE, "member_is_bot": _BOOL, "channel_id": ID_LIKE, "message_id": ID_LIKE}),
        each_once(
            ("guild_id", "member_is_bot", "channel_id", "message_id"),
            *(st.integers(0, MAX_SNOWFLAKE).map(str), st.booleans(), st.integers(0, 9), ID_LIKE),
        ),
    ),
    st.sampled_from(["", " "]),
)
def test_a_message_checks_fast_path_agrees_with_message_check(body: Any, space: str):
    raw = render(body, space).encode()
    _assert_agrees(message_check(raw), MessageCheck, raw, lambda m: MessageCheckValues(**m.model_dump()))


def test_a_plain_message_check_takes_the_fast_path():
    raw = b'{"guild_id": "12", "member_is_bot": false, "channel_id": 3, "message_id": "0044"}'
    assert message_check(raw) == (12, False, 3, 44)


def test_structs_take_ids_as_the_api_does():
    assert msgspec.json.decode(b'["1", 2]', type=list[Id]) == ["1", 2]
    for raw in (b"[true]", b"[-1]", b"[1.5]", b'[""]', b'["123456789012345678901"]', str([2**63]).encode()):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(raw, type=list[Id])
