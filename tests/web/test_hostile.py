"""Hand-written hostile input on every family: each gets a clear 4xx in its envelope and changes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from guildhall.runtime import start_api
from tests.conftest import make_settings
from web.app import create_app
from web.families import botlist, economy, link, serverstats, voice

GUILD, MEMBER, BOT = 1, 2, 555
# One JSON-reading write route per family: (family, method, url)
TARGETS = [
    pytest.param(voice, "PATCH", f"/profile/{GUILD}/{MEMBER}", id="voice"),
    pytest.param(voice, "POST", "/transaction", id="voice-transaction"),
    pytest.param(economy, "PATCH", f"/api/guilds/{GUILD}/users/{MEMBER}", id="economy"),
    pytest.param(serverstats, "POST", "/modules/serverstats/stats/command/check", id="serverstats"),
    pytest.param(botlist, "POST", f"/bot-api/bots/{BOT}/guilds", id="botlist"),
    pytest.param(link, "POST", "/applyRoleChanges", id="link"),
]
HOSTILE_BODIES = {
    "not-utf8": b'{"voicepoints": "\xff\xfe"}',
    "latin1": '{"reason": "caf\u00e9"}'.encode("latin-1"),
    "deeply-nested-array": b"[" * 200_000 + b"]" * 200_000,
    "deeply-nested-object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "nan": b'{"voicepoints": NaN, "guildCount": NaN, "guild_id": NaN, "currency": NaN}',
    "infinity": b'{"voicepoints": Infinity, "guildCount": -Infinity, "currency": Infinity}',
    "huge-integer": b'{"voicepoints": 1' + b"0" * 5000 + b', "guildCount": 1' + b"0" * 5000 + b"}",
    "truncated": b'{"voicepoints": ',
    "empty": b"",
    "null-bytes": b'{"voicepoints"\x00: 1}',
}


def _dump(db_path) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return list(conn.iterdump())


@pytest.fixture
async def hostile(client_for, repos, clock):
    now = int(clock.time())
    _, secret = await repos.api_keys.create("hostile", now=now, bot_user_id=999)
    await repos.botlist.register(BOT, by="test", now=now)
    client = await client_for()
    created = await client.post(f"/profile/{GUILD}/{MEMBER}", json={}, headers={"Authorization": secret})
    assert created.status == 201
    return client, secret


def _assert_envelope(family, status: int, body: Any) -> None:
    assert 400 <= status < 500
    errors = list(Draft202012Validator(family.error_schema).iter_errors(body))
    assert not errors, (body, errors[0].message)


@pytest.mark.parametrize(("family", "method", "url"), TARGETS)
@pytest.mark.parametrize("kind", list(HOSTILE_BODIES))
async def test_hostile_bodies_get_a_clear_4xx_and_change_nothing(hostile, db_path, family, method, url, kind):
    client, secret = hostile
    before = _dump(db_path)
    headers = {"Authorization": secret, "Content-Type": "application/json"}
    async with client.request(method, url, data=HOSTILE_BODIES[kind], headers=headers) as answer:
        assert answer.status == 400, await answer.text()
        _assert_envelope(family, answer.status, await answer.json())
        assert "Traceback" not in await answer.text()
    assert _dump(db_path) == before


@pytest.mark.parametrize(("family", "method", "url"), TARGETS)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_ten_megabyte_bodies_get_413(hostile, db_path, family, method, url, declared):
    client, secret = hostile
    before = _dump(db_path)
    payload = b'{"pad": "' + b"x" * 10_000_000 + b'"}'

    async def chunks():
        for start in range(0, len(payload), 1 << 20):
            yield payload[start : start + (1 << 20)]

    headers = {"Authorization": secret, "Content-Type": "application/json"}
    async with client.request(method, url, data=payload if declared else chunks(), headers=headers) as answer:
        assert answer.status == 413
        _assert_envelope(family, answer.status, await answer.json())
    assert _dump(db_path) == before


@pytest.mark.parametrize(
    ("family", "method", "url", "body"),
    [
        pytest.param(
            voice, "PATCH", f"/profile/{GUILD}/{MEMBER}", b'{"voicepoints": 1, "voicepoints": 900}', id="voice"
        ),
        pytest.param(
            economy, "PATCH", f"/api/guilds/{GUILD}/users/{MEMBER}", b'{"currency": 1, "currency": 900}', id="economy"
        ),
        pytest.param(
            serverstats,
            "POST",
            "/modules/serverstats/stats/command/check",
            f'{{"guild_id": "5", "guild_id": "{GUILD}", "command": "x"}}'.encode(),
            id="serverstats",
        ),
        pytest.param(
            botlist, "POST", f"/bot-api/bots/{BOT}/guilds", b'{"guildCount": 1, "guildCount": 2}', id="botlist"
        ),
    ],
)
async def test_duplicate_keys_are_refused(hostile, db_path, family, method, url, body):
    client, secret = hostile
    before = _dump(db_path)
    headers = {"Authorization": secret, "Content-Type": "application/json"}
    async with client.request(method, url, data=body, headers=headers) as answer:
        assert answer.status == 400
        payload = await answer.json()
        _assert_envelope(family, answer.status, payload)
        assert "more than once" in str(payload)
    assert _dump(db_path) == before


@pytest.mark.parametrize(
    ("family", "method", "url", "body"),
    [
        pytest.param(voice, "PATCH", f"/profile/{GUILD}/{MEMBER}/add", {"voicepoints": 2**53}, id="voice-add"),
        pytest.param(voice, "PATCH", f"/profile/{GUILD}/{MEMBER}", {"voicepoints": -(2**63)}, id="voice-edit"),
        pytest.param(voice, "POST", "/transaction", {"from": "self", "to": "self", "amount": 2**64}, id="transaction"),
        pytest.param(economy, "PATCH", f"/api/guilds/{GUILD}/users/{MEMBER}", {"currency": 10**9 + 1}, id="economy"),
        pytest.param(botlist, "POST", f"/bot-api/bots/{BOT}/guilds", {"guildCount": 2**70}, id="botlist"),
        pytest.param(
            serverstats,
            "POST",
            "/modules/serverstats/stats/command/check",
            {"guild_id": str(2**64), "command": "x"},
            id="serverstats",
        ),
    ],
)
async def test_huge_numbers_are_refused(hostile, db_path, family, method, url, body):
    client, secret = hostile
    before = _dump(db_path)
    async with client.request(method, url, json=body, headers={"Authorization": secret}) as answer:
        assert answer.status == 400, await answer.text()
        _assert_envelope(family, answer.status, await answer.json())
    assert _dump(db_path) == before


REASONS = ["100% sure", "a_b", "it's mine", "back\\slash", "plain gift", "100 percent"]


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("%", {"100% sure"}),
        ("_", {"a_b"}),
        ("'", {"it's mine"}),
        ("\\", {"back\\slash"}),
        ("100%", {"100% sure"}),
        ("' OR '1'='1", set()),
        ('"; DROP TABLE ledger; --', set()),
        ("%%", set()),
    ],
)
async def test_reason_filter_matches_metacharacters_literally(hostile, db_path, needle, expected):
    client, secret = hostile
    for reason in REASONS:
        sent = await client.post(
            "/transaction",
            json={
                "from": "self",
                "to": {"guild_id": str(GUILD), "user_id": str(MEMBER)},
                "amount": 1,
                "reason": reason,
            },
            headers={"Authorization": secret},
        )
        assert sent.status == 200
    answer = await client.get(
        "/transaction", params={"reason": needle, "limit": "0"}, headers={"Authorization": secret}
    )
    assert answer.status == 200
    assert {row["reason"] for row in await answer.json()} == expected
    everything = await client.get("/transaction", params={"limit": "0"}, headers={"Authorization": secret})
    assert {row["reason"] for row in await everything.json()} >= set(REASONS)  # the table is still there


@pytest.mark.parametrize(
    ("url", "statuses"),
    [
        ("/profile/../api", {404}),
        ("/profile/%2e%2e/api", {404}),
        (f"/profile/{GUILD}%2F{MEMBER}", {404}),
        (f"/profile/{GUILD}/{MEMBER}%00", {404}),
        (f"/profile/{2**64}/{MEMBER}", {400, 404}),
        (f"/profile/{GUILD}/{'9' * 40}", {400, 404}),
        (f"/api/guilds/{2**63}/users/{MEMBER}", {400, 404}),
        (f"/bot-api/bots/{'1' * 30}/review?owner=1", {400, 404}),
        (f"/leaderboard/{'7' * 25}", {400, 404}),
        ("/modules/serverstats/status?guild_id=1%27%20OR%201=1", {400}),
    ],
)
async def test_path_tricks_are_plain_4xx(hostile, url, statuses):
    client, secret = hostile
    async with client.get(url, headers={"Authorization": secret, "Content-Type": "application/json"}) as answer:
        text = await answer.text()
        assert answer.status in statuses, text
        assert "Traceback" not in text
        assert "voicepoints" not in text  # never served another route's data


@pytest.mark.parametrize(
    "raw_path",
    [
        "/modules/serverstats/../../profile",
        "/api/../profile",
        "/profile/1/../../transaction",
        "//profile//%2e%2e//",
        "/profile/%2F%2F",
        "/profile\\..\\transaction",
    ],
)
async def test_raw_dot_segments_never_reach_another_route(hostile, raw_path):
    """Sent byte for byte (a client library would resolve the dots itself)."""
    client, secret = hostile
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    request = f"GET {raw_path} HTTP/1.1\r\nHost: x\r\nAuthorization: {secret}\r\nConnection: close\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    async with asyncio.timeout(5):
        answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert status in (400, 404), answer[:300]
    assert b"Traceback" not in body
    assert b"voicepoints" not in body
    assert b'"amount"' not in body


async def test_a_body_that_trickles_in_gets_408_and_the_server_goes_on(db_path, repos, clock):
    settings = make_settings(db_path, api={"body_timeout": 0.3})
    _, secret = await repos.api_keys.create("slow", now=int(clock.time()))
    api = await start_api(create_app(settings=settings, repos=repos, clock=clock), settings, host="127.0.0.1", port=0)
    try:
        host, port = api.url.removeprefix("http://").split(":")
        auth = {"Authorization": secret}
        before = _dump(db_path)
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            f"PATCH /profile/{GUILD}/{MEMBER}/add HTTP/1.1\r\nHost: x\r\nAuthorization: {secret}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        writer.write(head.encode() + b'{"voicepoints": ')  # and then nothing more
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
        assert status_line.startswith(b"HTTP/1.1 408"), status_line
        writer.close()
        assert _dump(db_path) == before  # nothing was written

        async with aiohttp.ClientSession(api.url) as session, session.get("/profile/guilds", headers=auth) as answer:
            assert answer.status == 200
    finally:
        await api.runner.cleanup()
