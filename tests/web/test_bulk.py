"""Profile bodies of the voice family: the fast paths agree with the general one, and 10,000 items land."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.members import MAX_AMOUNT
from storage import Repositories
from storage.ledger import Party
from tests.conftest import make_settings
from tests.web.jsonbodies import ID_LIKE, pairs, render
from web import profilebody
from web.api import ApiError, _unique_keys, parse_model
from web.voice import BulkItem, ProfileBody, _edit, profile_json

G = 131853185391
BOT = 4242
USERS = [1242154218000 + n for n in range(10_000)]

ITEMS: list[Any] = [
    {"user_id": "1", "guild_id": "2"},
    {"user_id": 1, "guild_id": 2, "experience": 5, "timespent": {"global": 60}},
    {"user_id": "1", "guild_id": "2", "experience": None, "voicepoints": -3, "level": 2},
    {"user_id": "1", "guild_id": "2", "pray": {"date": 1764150000000, "streak": 2, "total": 9, "other": "x"}},
    {"user_id": "1", "guild_id": "2", "text": None},
    {"user_id": "1", "guild_id": "2", "text": {}},
    {"user_id": "1", "guild_id": "2", "text": {"level": 1, "message_count": 4}, "data": None},
    {"user_id": "1", "guild_id": "2", "data": {"a": [1, {"b": "c"}]}, "unknown": [1]},
    {"user_id": "1", "guild_id": "2", "timespent": {"global_": 5}},
    {"user_id": "1", "guild_id": "2", "timespent": None, "pray": None},
    {"user_id": str(2**63 - 1), "guild_id": "0", "experience": MAX_AMOUNT, "level": -MAX_AMOUNT},
    # the general path decides these (valid or not)
    {"user_id": str(2**63), "guild_id": "2"},
    {"user_id": "1", "guild_id": "2", "experience": MAX_AMOUNT + 1},
    {"user_id": "1", "guild_id": "2", "experience": True},
    {"user_id": "1", "guild_id": "2", "experience": 1.0},
    {"user_id": "1", "guild_id": "2", "experience": "1"},
    {"user_id": "1", "guild_id": "2", "pray": []},
    {"user_id": "1", "guild_id": "2", "pray": {"date": "5"}},
    {"user_id": "1", "guild_id": "2", "timespent": {"global": False}},
    {"user_id": " 1", "guild_id": "2"},
    {"user_id": "١", "guild_id": "2"},
    {"user_id": -1, "guild_id": "2"},
    {"user_id": "1"},
    [],
    "x",
]


def general(item: Any) -> Any:
    if not isinstance(item, dict):
        return "not an object"
    try:
        body = parse_model(BulkItem, item)
    except ApiError as error:
        return error.message
    return _edit(body.guild_id, body.user_id, body)


@pytest.mark.parametrize("item", ITEMS)
def test_the_fast_item_path_takes_only_what_the_general_path_takes_and_agrees(item: Any):
    fast = profilebody.bulk_edit(item)
    expected = general(item)
    if fast is not None:
        assert fast == expected
    else:
        assert isinstance(expected, str) or any(
            isinstance(v, bool | float | str) or (isinstance(v, int) and abs(v) > MAX_AMOUNT) or v == []
            for v in item.values()
        )


def test_the_plain_items_above_take_the_fast_path():
    assert sum(profilebody.bulk_edit(item) is not None for item in ITEMS) == 11


@pytest.mark.parametrize("item", ITEMS)
def test_the_fast_body_path_takes_only_what_the_general_path_takes_and_agrees(item: Any):
    fast = profilebody.bulk_edits(json.dumps([item]).encode())
    if fast is not None:
        assert fast == [general(item)]


def test_bodies_of_counters_and_ids_take_the_fast_body_path():
    taken = [index for index, item in enumerate(ITEMS) if profilebody.bulk_edits(json.dumps([item]).encode())]
    assert taken == [0, 1, 4, 5, 10]  # the others hold a null, data or keys the fast path does not know
    assert profilebody.bulk_edits(json.dumps([ITEMS[n] for n in taken], indent=2).encode()) == [
        general(ITEMS[n]) for n in taken
    ]
    assert profilebody.bulk_edits(b"[]") == []


def _item(ids: st.SearchStrategy[Any], count: st.SearchStrategy[Any], *, plain: bool) -> st.SearchStrategy[Any]:
    """A bulk item as clients may write it; ``plain`` ones hold each known key once, the others
    keys repeated or unknown and sections of any kind."""

    def section(*names: str) -> st.SearchStrategy[Any]:
        if plain:
            each_once = st.lists(st.tuples(st.sampled_from(names), count), max_size=2, unique_by=lambda pair: pair[0])
            return each_once.map(tuple)
        return st.one_of(st.none(), st.just([]), pairs(dict.fromkeys((*names, "x"), count)))

    fields = {
        "experience": count,
        "voicepoints": count,
        "level": count,
        "pray": section("date", "streak", "total"),
        "text": st.one_of(st.none(), section("level", "experience", "message_count")),  # null clears text stats
        "timespent": section("global"),
    }
    if plain:  # each key once
        members = st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True).flatmap(
            lambda names: st.tuples(*(st.tuples(st.just(name), fields[name]) for name in names))
        )
    else:
        members = pairs({**fields, "data": st.sampled_from([None, {"a": 1}]), "other": st.just(1)})
    return st.tuples(ids, ids, members).map(lambda drawn: (("guild_id", drawn[0]), ("user_id", drawn[1]), *drawn[2]))


_PLAIN = _item(
    st.one_of(
        st.integers(0, 2**63 - 1),
        st.integers(0, 2**63 - 1).map(str),
        st.sampled_from([str(2**63 - 1), str(2**63), "9" * 20, "0" * 20]),
    ),
    st.one_of(st.integers(-MAX_AMOUNT, MAX_AMOUNT), st.sampled_from([0, 1, 60])),
    plain=True,
)
_ANY = _item(
    ID_LIKE,
    st.one_of(st.integers(-MAX_AMOUNT - 2, MAX_AMOUNT + 2), st.sampled_from([True, None, 1.0, "1", 2**64])),
    plain=False,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_PLAIN, _PLAIN, _ANY), max_size=4), st.sampled_from(["", " ", "\n "]))
def test_the_fast_body_path_agrees_with_reading_and_checking_each_item(body: list[Any], space: str):
    raw = render(body, space).encode()
    try:
        data = json.loads(raw, object_pairs_hook=_unique_keys)
    except ValueError:  # repeated keys: the API refuses the body
        expected = None
    else:
        expected = [general(item) for item in data]
        if any(isinstance(edit, str) for edit in expected):
            expected = None
    fast = profilebody.bulk_edits(raw)
    assert fast is None or fast == expected, raw


def general_one(data: Any) -> Any:
    if not isinstance(data, dict):
        return "not an object"
    try:
        return _edit(5, 6, parse_model(ProfileBody, data))
    except ApiError as error:
        return error.message


@pytest.mark.parametrize("item", ITEMS)
def test_the_fast_path_of_one_profile_takes_only_what_the_general_path_takes_and_agrees(item: Any):
    profile = {k: v for k, v in item.items() if k not in ("guild_id", "user_id")} if isinstance(item, dict) else item
    fast = profilebody.profile_edit(json.dumps(profile).encode(), 5, 6)
    if fast is not None:
        assert fast == general_one(profile)
    assert profilebody.profile_edit(json.dumps(item).encode(), 5, 6) is None  # ids are not profile fields


@settings(max_examples=400, deadline=None)
@given(st.one_of(_PLAIN, _PLAIN, _ANY).map(lambda item: item[2:]), st.sampled_from(["", " ", "\n "]))  # no ids
def test_the_fast_path_of_one_profile_agrees_with_reading_and_checking_it(profile: Any, space: str):
    raw = render(profile, space).encode()
    try:
        expected = general_one(json.loads(raw, object_pairs_hook=_unique_keys))
    except ValueError:  # repeated keys: the API refuses the body
        expected = None
    fast = profilebody.profile_edit(raw, 5, 6)
    assert fast is None or fast == expected, raw


# --- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
async def key(repos: Repositories, clock) -> str:
    _, secret = await repos.api_keys.create("companion", now=int(clock.time()), bot_user_id=BOT)
    return secret


@pytest.fixture
async def client(client_for, key, db_path: Path):
    c = await client_for(app_settings=make_settings(db_path, api={"max_body_bytes": 8_000_000}))
    c.session.headers["Authorization"] = key
    return c


def table(db_path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db_path)
    try:
        return (
            conn.execute("SELECT * FROM members ORDER BY guild_id, user_id").fetchall(),
            conn.execute("SELECT * FROM ledger ORDER BY id").fetchall(),
        )
    finally:
        conn.close()


def items(count: int, *, points: bool) -> list[dict[str, Any]]:
    return [
        {
            "user_id": str(user),
            "guild_id": str(G),
            "experience": n % 5,
            "timespent": {"global": 60},
            **({"voicepoints": n % 3} if points else {}),
        }
        for n, user in enumerate(USERS[:count])
    ]


@pytest.mark.parametrize("points", [False, True])
async def test_ten_thousand_adds_land_exactly(client, repos: Repositories, db_path: Path, points: bool):
    await repos.ledger.adjust(Party(G, USERS[0]), Party(G, BOT), delta=50, reason="seed", actor="t", now=1)
    response = await client.patch("/profile/add", json=items(10_000, points=points))
    assert response.status == 200
    body = await response.json()
    assert len(body) == 10_000
    members = {m.user_id: m for m in await repos.members.list(G)}
    assert body == [profile_json(members[user]) for user in USERS]
    for n, user in enumerate(USERS):
        member = members[user]
        assert (member.experience, member.voice_seconds) == (n % 5, 60)
        assert member.voicepoints == (n % 3 if points else 0) + (50 if n == 0 else 0)
    points_given = sum(n % 3 for n in range(10_000)) if points else 0
    assert members[BOT].voicepoints == -50 - points_given
    assert await repos.ledger.count() == 1 + (sum(1 for n in range(10_000) if n % 3) if points else 0)
    assert await repos.ledger.verify_balances() == []


@pytest.mark.parametrize("points", [False, True])
async def test_prefer_minimal_applies_the_same_and_answers_no_body(
    client, repos: Repositories, db_path: Path, points: bool
):
    body = items(10_000, points=points)
    await client.patch("/profile/add", json=body[::7])  # some of them exist already, the rest are created
    response = await client.patch("/profile/add", json=body, headers={"Prefer": "respond-async, return=minimal"})
    assert response.status == 204
    assert response.headers["Preference-Applied"] == "return=minimal"
    assert await response.read() == b""
    members = {m.user_id: m for m in await repos.members.list(G)}
    assert len(members) == 10_000 + points  # and the bot's profile, which pays the points
    for n, user in enumerate(USERS):
        times = 2 if n % 7 == 0 else 1
        member = members[user]
        assert (member.experience, member.voice_seconds) == (n % 5 * times, 60 * times)
        assert member.voicepoints == (n % 3 * times if points else 0)
    assert await repos.ledger.verify_balances() == []


@pytest.mark.parametrize("prefer", [None, "return=minimal"])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"experience": -1}, "item 9999: experience would be -1, outside 0..9007199254740991; nothing was changed"),
        ({"voicepoints": -1}, "item 9999: the sender has 0 voicepoints, fewer than 1; nothing was changed"),
        ({"experience": "1"}, "item 9999: experience: Input should be a valid integer"),
    ],
)
async def test_one_bad_item_of_ten_thousand_changes_nothing(
    client, repos: Repositories, db_path: Path, bad: dict[str, Any], message: str, prefer: str | None
):
    await client.patch("/profile/add", json=items(5_000, points=True)[::10])  # some of them exist already
    before = table(db_path)
    body = [*items(9_999, points=False), {"user_id": str(USERS[-1]), "guild_id": str(G), **bad}]
    response = await client.patch("/profile/add", json=body, headers={"Prefer": prefer} if prefer else {})
    assert response.status == 400
    assert (await response.json())["error"] == message
    assert table(db_path) == before


async def test_a_repeated_key_is_still_refused(client, repos: Repositories, db_path: Path):
    before = table(db_path)
    raw = b'[{"user_id": "1", "guild_id": "2", "experience": 1, "experience": 2}]'
    response = await client.patch("/profile/add", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "appears more than once" in (await response.json())["error"]
    assert table(db_path) == before


@pytest.mark.parametrize(
    ("header", "minimal"),
    [
        ("return=minimal", True),
        ("Return = Minimal", True),
        ('respond-async, wait=5, return="minimal"', True),
        ("return=minimal; foo=bar", True),
        ("return=representation", False),
        ("handling=strict", False),
        ("", False),
    ],
)
def test_the_prefer_header_is_read_as_rfc_7240_writes_it(header: str, minimal: bool):
    from aiohttp.test_utils import make_mocked_request

    from web.api import prefers_minimal

    assert prefers_minimal(make_mocked_request("PATCH", "/profile/add", headers={"Prefer": header})) is minimal


async def test_an_item_in_a_guild_the_key_may_not_touch_is_named(client_for, repos: Repositories, db_path: Path, clock):
    _, scoped = await repos.api_keys.create(
        "one-guild", now=int(clock.time()), guild_ids=frozenset({G}), bot_user_id=BOT
    )
    client = await client_for(app_settings=make_settings(db_path, api={"max_body_bytes": 8_000_000}))
    before = table(db_path)
    body = [*items(3, points=False), {"user_id": "5", "guild_id": "77", "experience": 1}, *items(3, points=False)]
    response = await client.patch("/profile/add", json=body, headers={"Authorization": scoped})
    assert response.status == 403
    assert (await response.json())["error"] == "this API key may not act in guild 77 (item 3)"
    assert table(db_path) == before
