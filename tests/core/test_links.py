"""The website link's parsing rules: ids as the original reads them, keys, and legacy answers."""

from __future__ import annotations

import pytest

from core.links import (
    BadLinkRequest,
    keys_match,
    legacy_answer,
    parse_apply_request,
    parse_legacy_role_change,
    parse_long,
    parse_role_changes,
)
from core.roles import RoleChange


@pytest.mark.parametrize(
    ("value", "expected"),
    [("123", 123), (123, 123), ("+7", 7), ("007", 7), ("-5", -5), ("9223372036854775807", 2**63 - 1)],
)
def test_ids_are_read_like_java_parse_long(value, expected):
    assert parse_long(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "1.0", "1e3", 1.0, True, None, [], {}, "9223372036854775808", 2**63])
def test_what_is_not_an_id(value):
    with pytest.raises(ValueError, match=r"not an id|out of range"):
        parse_long(value)


def test_keys_match_exactly():
    assert keys_match("Key", "Key")
    assert not keys_match("key", "Key")
    assert not keys_match("Key ", "Key")
    assert keys_match("ключ✨", "ключ✨")


def test_apply_request_check_order():
    with pytest.raises(BadLinkRequest) as error:
        parse_apply_request({"guild_id": "x", "role_changes": None}, max_items=5)
    assert error.value.meta.startswith("NumberFormatException")
    request = parse_apply_request({"guild_id": 5, "api_key": 12, "role_changes": []}, max_items=5)
    assert (request.guild_id, request.api_key, request.role_changes) == (5, "12", [])
    with pytest.raises(BadLinkRequest, match="too many"):
        parse_apply_request({"guild_id": 5, "api_key": "k", "role_changes": [{}] * 6}, max_items=5)


def test_role_changes_parse_every_item_first():
    items = [{"user_id": "1", "role_id": 2, "action": "add"}, {"user_id": 1, "role_id": "3", "action": "remove"}]
    assert parse_role_changes(items) == [RoleChange(1, 2, "add"), RoleChange(1, 3, "remove")]
    with pytest.raises(BadLinkRequest, match="invalid role change action: 1"):
        parse_role_changes([*items, {"user_id": 1, "role_id": 2, "action": 1}])


def test_legacy_bodies_both_shapes():
    v1 = parse_legacy_role_change({"guild_id": 1, "user_id": 2, "api_key": "k", "add_role_id": 3, "remove_role_id": 4})
    assert (v1.version, v1.changes) == (1, [RoleChange(2, 3, "add"), RoleChange(2, 4, "remove")])
    v2 = parse_legacy_role_change(
        {"guild_id": "1", "user_id": "2", "api_key": "k", "roles": [{"id": "3", "action": "add"}]}
    )
    assert (v2.version, v2.changes) == (2, [RoleChange(2, 3, "add")])
    with pytest.raises(BadLinkRequest):
        parse_legacy_role_change({"guild_id": 1, "user_id": 2, "api_key": "k"})


@pytest.mark.parametrize(
    ("statuses", "version", "word"),
    [
        (["added", "none"], 2, "fullsuccess"),
        (["added", "no_permission"], 2, "partsuccess"),
        (["invalid_role"], 2, "partsuccess"),
        (["added", "error"], 2, "error"),
        (["added", "removed"], 1, "success"),
        (["added", "no_permission"], 1, "hierarchy"),
        (["invalid_role", "no_permission"], 1, "invrole"),
        ([], 2, "fullsuccess"),
    ],
)
def test_legacy_answers(statuses, version, word):
    assert legacy_answer(statuses, version) == word
