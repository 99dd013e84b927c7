"""The access matrix over every mutating route, read from the app's own route table.

No key and a wrong key get 401, a read-only key 403, a key scoped to another guild 403, a key
acting as another bot's "self" 403; nothing changes, and no secret reaches a log or an answer.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest

from core.config import Settings
from web import keys
from web.api import Route

GUILD, OTHER_GUILD, MEMBER = 1, 77, 2
BOT_A, BOT_B = 999, 888
PATH_VALUES = {"guild_id": GUILD, "user_id": MEMBER, "bot_id": 555}
READS = ("GET", "HEAD")
# Bodies the generic filler cannot guess (unions, arrays); every other route gets one built from its model.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/profile"): [{"guild_id": str(GUILD), "user_id": str(MEMBER), "voicepoints": 5}],
    ("PATCH", "/profile/add"): [{"guild_id": str(GUILD), "user_id": str(MEMBER), "voicepoints": 5}],
    ("POST", "/transaction"): {"from": "self", "to": {"guild_id": str(GUILD), "user_id": str(MEMBER)}, "amount": 5},
    ("POST", "/api/guilds/{guild_id}/users/{user_id}/inventory"): {"items": [{"itemID": "apple", "amount": 1}]},
    ("POST", "/bot-api/bots/{bot_id}/commands"): {"commands": None},
}
# Routes that act on no guild: a guild scope does not apply to them.
UNSCOPED = {"/bot-api/bots/{bot_id}/guilds", "/bot-api/bots/{bot_id}/commands"}


def _filler(schema: dict[str, Any], name: str, defs: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _from_model(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    options = schema.get("anyOf", [])
    if any(option.get("type") == "null" for option in options):
        return None
    if options:
        return _filler(options[0], name, defs)
    kind = schema.get("type")
    if name == "guild_id":
        return str(GUILD)
    return {
        "boolean": False,
        "integer": max(1, schema.get("minimum", 1)),
        "number": 1,
        "array": [],
        "object": {},
    }.get(kind, "5" if schema.get("pattern") else "x")


def _from_model(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    return {
        name: _filler(sub, name, defs)
        for name, sub in schema.get("properties", {}).items()
        if name in schema.get("required", ())
    }


def _body(route: Route, path: str) -> Any:
    if (route.method, path) in BODIES:
        return BODIES[(route.method, path)]
    if route.body is None:
        return None
    schema = route.body.model_json_schema()
    return _from_model(schema, schema.get("$defs", {}))


def _mutating(app) -> list[tuple[Route, str]]:
    return sorted(
        (
            (route, resource_route.resource.canonical)
            for resource_route, route in app[keys.ROUTES].items()
            if route.method not in READS and route.family.name != "link"
        ),
        key=lambda pair: (pair[1], pair[0].method),
    )


def _dump(db_path) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return [line for line in conn.iterdump() if "api_key" not in line]


@pytest.fixture
async def matrix(client_for, repos, clock, db_path, settings: Settings):
    now = int(clock.time())
    _, full = await repos.api_keys.create("full", now=now, bot_user_id=BOT_A)
    _, read_only = await repos.api_keys.create("reader", now=now, read_only=True)
    _, scoped = await repos.api_keys.create("elsewhere", now=now, guild_ids=frozenset({OTHER_GUILD}), bot_user_id=BOT_A)
    _, bot_b = await repos.api_keys.create("bot-b", now=now, bot_user_id=BOT_B)
    await repos.botlist.register(555, by="test", now=now)
    client = await client_for()
    for guild in (GUILD, OTHER_GUILD):
        answer = await client.post(f"/profile/{guild}/{MEMBER}", json={}, headers={"Authorization": full})
        assert answer.status == 201
    paid = await client.post(
        "/transaction",
        json={"from": "self", "to": {"guild_id": str(GUILD), "user_id": str(MEMBER)}, "amount": 50},
        headers={"Authorization": full},
    )
    assert paid.status == 200  # bot A's "self" profile now exists in GUILD, marked a bot
    return client, {"full": full, "read_only": read_only, "scoped": scoped, "bot_b": bot_b}


async def test_every_mutating_route_refuses_callers_without_the_right_key(matrix, db_path, caplog):
    client, secrets = matrix
    routes = _mutating(client.app)
    assert len(routes) >= 30  # every family's writes are enumerated, not a hand-picked few
    before = _dump(db_path)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for route, path in routes:
        url = path.format(**PATH_VALUES)
        body = _body(route, path)
        cases = {"none": None, "wrong": "gh_wrong_key_000000", "read_only": secrets["read_only"]}
        expected = {"none": 401, "wrong": 401, "read_only": 403}
        if path not in UNSCOPED:
            cases["scoped"] = secrets["scoped"]
            expected["scoped"] = 403
        for case, secret in cases.items():
            headers = {"Authorization": secret} if secret else {}
            async with client.request(route.method, url, json=body, headers=headers) as answer:
                text = await answer.text()
                assert (route.method, path, case, answer.status) == (route.method, path, case, expected[case]), text
                assert answer.content_type == "application/json"
                seen.append(text)
                if secret:
                    assert secret not in text
    assert _dump(db_path) == before  # nothing any refused request could have changed
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets.values():
        assert secret not in logged
        assert all(secret not in text for text in seen)


async def test_a_key_cannot_spend_another_bots_self_profile(matrix, db_path):
    client, secrets = matrix
    before = _dump(db_path)
    answer = await client.post(
        "/transaction",
        json={"from": {"guild_id": str(GUILD), "user_id": str(BOT_A)}, "to": {"guild_id": str(GUILD), "user_id": "3"}},
        headers={"Authorization": secrets["bot_b"]},
    )
    assert answer.status == 400  # amount missing: validation first
    answer = await client.post(
        "/transaction",
        json={
            "from": {"guild_id": str(GUILD), "user_id": str(BOT_A)},
            "to": {"guild_id": str(GUILD), "user_id": "3"},
            "amount": 5,
        },
        headers={"Authorization": secrets["bot_b"]},
    )
    assert answer.status == 403, await answer.text()
    assert "error" in await answer.json()
    assert _dump(db_path) == before
    own = await client.post(
        "/transaction",
        json={"from": "self", "to": {"guild_id": str(GUILD), "user_id": "3"}, "amount": 5},
        headers={"Authorization": secrets["bot_b"]},
    )
    assert own.status == 200  # its own "self" it may spend
    assert (await own.json())["from"]["user_id"] == str(BOT_B)


LISTS = (
    "/profile",
    "/profile?view=tree",
    "/profile/guilds",
    f"/profile/guilds/{MEMBER}",
    "/profile/top?amount=0",
    "/transaction?limit=0",
)


@pytest.mark.parametrize("url", LISTS)
async def test_list_and_tree_routes_leave_other_guilds_out(matrix, repos, clock, url):
    client, secrets = matrix
    _, only_one = await repos.api_keys.create("one-guild", now=int(clock.time()), guild_ids=frozenset({GUILD}))
    everything = await (await client.get(url, headers={"Authorization": secrets["full"]})).text()
    assert str(OTHER_GUILD) in everything  # the other guild has data, so leaving it out means something
    answer = await client.get(url, headers={"Authorization": only_one})
    assert answer.status == 200
    text = await answer.text()
    assert f'"{OTHER_GUILD}"' not in text
    assert str(GUILD) in text


@pytest.mark.parametrize("url", ["/stats", "/transaction/graph"])
async def test_guild_wide_summaries_need_the_scoped_guild(matrix, repos, clock, url):
    client, _ = matrix
    _, only_one = await repos.api_keys.create("one-guild", now=int(clock.time()), guild_ids=frozenset({GUILD}))
    assert (await client.get(url, headers={"Authorization": only_one})).status == 403
    assert (await client.get(f"{url}?guild_id={OTHER_GUILD}", headers={"Authorization": only_one})).status == 403
    assert (await client.get(f"{url}?guild_id={GUILD}", headers={"Authorization": only_one})).status == 200


def test_the_api_binds_loopback_unless_configured(settings: Settings):
    assert settings.api.host == "127.0.0.1"
    assert Settings.model_validate({"api": {"host": "0.0.0.0"}}).api.host == "0.0.0.0"


async def test_no_cors_headers_by_default(matrix):
    client, secrets = matrix
    for method, url in (("GET", "/profile"), ("OPTIONS", "/profile"), ("GET", "/openapi.json")):
        headers = {"Origin": "https://evil.example", "Authorization": secrets["full"]}
        async with client.request(method, url, headers=headers) as answer:
            assert "Access-Control-Allow-Origin" not in answer.headers
            assert "Access-Control-Allow-Credentials" not in answer.headers


LINK_BODIES = {
    "/applyRoleChanges": {"guild_id": str(GUILD), "role_changes": [{"user_id": "2", "role_id": "3", "action": "add"}]},
    "/roleChange": {"guild_id": str(GUILD), "user_id": "2", "add_role_id": "3"},
    "/sendDirectMessage": {"guild_id": str(GUILD), "user_id": "2", "message": "hi"},
}
# (path, key missing) -> (status, start of the answer), as the original Nameless-Link answers
EXPECTED_LINK = {
    ("/applyRoleChanges", True): (400, '{"status":"bad_request","meta":"null api'),
    ("/applyRoleChanges", False): (401, '{"status":"unauthorized","meta":"Invalid'),
    ("/roleChange", True): (200, "badparameter"),
    ("/roleChange", False): (200, "unauthorized"),
    ("/sendDirectMessage", True): (400, "Bad request: api_key is missing"),
    ("/sendDirectMessage", False): (401, "Invalid API key"),
}


async def test_website_routes_refuse_a_missing_or_wrong_website_key(client_for, repos, clock, db_path, caplog):
    """The link family's key travels in the body and is the guild's website key, never an API key."""
    website_key = "website-key-0123456789abcdef"
    await repos.guild_links.put(GUILD, "https://site.example", website_key, now=int(clock.time()))
    _, api_secret = await repos.api_keys.create("api", now=int(clock.time()))
    client = await client_for()
    link_routes = {r.path for r in client.app[keys.ROUTES].values() if r.family.name == "link" and r.method == "POST"}
    assert link_routes == set(LINK_BODIES)
    before = _dump(db_path)
    caplog.set_level(logging.DEBUG)
    for path, body in LINK_BODIES.items():
        for presented in (None, "wrong", website_key.upper(), api_secret):
            payload = body if presented is None else {**body, "api_key": presented}
            async with client.post(path, json=payload, headers={"Authorization": website_key}) as answer:
                text = await answer.text()
                assert (answer.status, text[:40]) == EXPECTED_LINK[(path, presented is None)], (path, presented)
                assert website_key not in text
    assert _dump(db_path) == before
    assert website_key not in "\n".join(record.getMessage() for record in caplog.records)
