"""The website-link family through the real app, with a recorded stand-in for the Discord side."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from core.ports import DiscordFailure, RoleFacts
from storage import Repositories
from tests.conftest import make_settings
from web import keys

G, K = 123456789012345678, "AbC-key_123"
U, U2, GONE = 234567890123456789, 234567890123456790, 999
R1, R2, RH, MANAGED, EVERYONE = 345678901234567890, 456789012345678901, 567890123456789012, 11, G
BOT_TOP = 5


@dataclass
class StubDiscord:
    """A guild G: member U holds R1; R2 sits below the bot, RH above it; a managed role and @everyone."""

    available: bool = True
    guilds: set[int] = field(default_factory=lambda: {G})
    members: dict[int, set[int]] = field(default_factory=lambda: {U: {R1}, U2: set()})
    roles: dict[int, RoleFacts] = field(
        default_factory=lambda: {
            R1: RoleFacts(R1, 2, False, False),
            R2: RoleFacts(R2, 1, False, False),
            RH: RoleFacts(RH, 9, False, False),
            MANAGED: RoleFacts(MANAGED, 3, True, False),
            EVERYONE: RoleFacts(EVERYONE, 0, False, True),
        }
    )
    manage_roles: bool = True
    calls: list[tuple[str, int, int]] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    failures: dict[tuple[int, int], DiscordFailure] = field(default_factory=dict)
    delay: float = 0.0
    active: int = 0
    most_at_once: int = 0
    users: set[int] = field(default_factory=lambda: {U, U2, 77})
    dms: list[tuple[int, str]] = field(default_factory=list)
    dm_failure: DiscordFailure | None = None

    def in_guild(self, guild_id: int) -> bool:
        return guild_id in self.guilds

    def member_roles(self, guild_id: int, user_id: int) -> frozenset[int] | None:
        roles = self.members.get(user_id)
        return frozenset(roles) if roles is not None else None

    def role(self, guild_id: int, role_id: int) -> RoleFacts | None:
        return self.roles.get(role_id)

    def can_manage_roles(self, guild_id: int) -> bool:
        return self.manage_roles

    def top_role_position(self, guild_id: int) -> int:
        return BOT_TOP

    async def edit_member_roles(
        self,
        guild_id: int,
        user_id: int,
        *,
        add: frozenset[int],
        remove: frozenset[int],
        reason: str,
        timeout: float,
    ) -> None:
        """One request for the member (all or nothing, as Discord does); ``calls`` lists each role it changed."""
        self.active += 1
        self.most_at_once = max(self.most_at_once, self.active)
        try:
            async with asyncio.timeout(timeout):
                if self.delay:
                    await asyncio.sleep(self.delay)
            for role_id in [*sorted(add), *sorted(remove)]:
                failure = self.failures.get((user_id, role_id))
                if failure is not None:
                    raise failure
            self.requests.append(user_id)
            self.calls += [("add", user_id, r) for r in sorted(add)] + [("remove", user_id, r) for r in sorted(remove)]
            held = self.members[user_id]
            held |= add
            held -= remove
        finally:
            self.active -= 1

    async def user_exists(self, user_id: int) -> bool:
        return user_id in self.users

    async def send_direct_message(self, user_id: int, content: str) -> None:
        if self.dm_failure is not None:
            raise self.dm_failure
        self.dms.append((user_id, content))


@dataclass
class StubBot:
    discord_actions: StubDiscord | None
    gateway_connected: bool = True
    ready: bool = True
    guild_count: int = 1
    bot_user_id: int | None = 1
    started_at: float = 0.0


@pytest.fixture
def discord() -> StubDiscord:
    return StubDiscord()


@pytest.fixture
async def linked(repos: Repositories, clock) -> None:
    await repos.guild_links.put(G, "https://site.example/index.php?route=/api/v2", K, now=int(clock.time()))


@pytest.fixture
async def client(client_for, discord: StubDiscord, linked):
    def prepare(app: web.Application) -> None:
        app[keys.BOT] = StubBot(discord)

    return await client_for(prepare=prepare)


def body(*changes: tuple[Any, Any, Any], guild: Any = str(G), key: Any = K) -> dict[str, Any]:
    return {
        "guild_id": guild,
        "api_key": key,
        "role_changes": [{"user_id": u, "role_id": r, "action": a} for u, r, a in changes],
    }


async def post_raw(client, path: str, data: Any) -> tuple[int, str, str | None]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    url = URL(f"http://127.0.0.1:{client.port}{path}", encoded=True)
    response = await client.session.post(url, data=raw, skip_auto_headers=["Content-Type"])
    return response.status, await response.text(), response.headers.get("Content-Type")


# --- /status ---------------------------------------------------------------------------------


async def test_status_is_plain_success_without_newline(client):
    response = await client.get("/status")
    assert response.status == 200
    assert await response.read() == b"success"
    assert response.headers["Content-Type"] == "text/plain"
    head = await client.head("/status")
    assert head.status == 200
    assert head.headers["Content-Type"] == "text/plain"


# --- /applyRoleChanges: the documented vectors (reference §2.5) ------------------------------


async def test_add_below_the_bot_is_added_and_applied(client, discord):
    status, text, content_type = await post_raw(client, "/applyRoleChanges", body((str(U), str(R2), "add")))
    assert status == 200
    assert content_type == "application/json"
    assert text == (f'{{"status":"success","role_changes":[{{"status":"added","user_id":"{U}","role_id":"{R2}"}}]}}')
    assert discord.calls == [("add", U, R2)]
    assert R2 in discord.members[U]


async def test_numeric_ids_are_echoed_as_strings(client, discord):
    status, text, _ = await post_raw(client, "/applyRoleChanges", body((str(U), R2, "add"), guild=G))
    assert status == 200
    assert json.loads(text)["role_changes"] == [{"status": "added", "user_id": str(U), "role_id": str(R2)}]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ((U, R1, "add"), "none"),
        ((U, R2, "remove"), "none"),
        ((U, RH, "add"), "no_permission"),
        ((U, MANAGED, "add"), "no_permission"),
        ((U, EVERYONE, "add"), "no_permission"),
        ((GONE, R2, "add"), "invalid_user"),
        ((U, 424242, "add"), "invalid_role"),
        ((U, R1, "remove"), "removed"),
    ],
)
async def test_item_statuses(client, discord, change, expected):
    status, text, _ = await post_raw(client, "/applyRoleChanges", body(change))
    assert status == 200
    [item] = json.loads(text)["role_changes"]
    assert item["status"] == expected
    called = [(change[2], change[0], change[1])] if expected in ("added", "removed") else []
    assert discord.calls == called


async def test_none_is_decided_before_permissions(client, discord):
    discord.manage_roles = False
    discord.members[U].add(RH)
    _, text, _ = await post_raw(client, "/applyRoleChanges", body((U, RH, "add"), (U, R2, "remove"), (U, R2, "add")))
    assert [item["status"] for item in json.loads(text)["role_changes"]] == ["none", "none", "no_permission"]
    assert discord.calls == []


async def test_empty_list_is_success(client):
    status, text, _ = await post_raw(client, "/applyRoleChanges", body())
    assert (status, text) == (200, '{"status":"success","role_changes":[]}')


async def test_wrong_or_differently_cased_key_is_unauthorized(client, discord):
    for key in (K.lower(), K + " ", "nope", 123):
        status, text, _ = await post_raw(client, "/applyRoleChanges", body((U, R2, "add"), key=key))
        assert (status, text) == (401, '{"status":"unauthorized","meta":"Invalid API key"}')
    assert discord.calls == []


async def test_unlinked_guild_and_a_guild_the_bot_left(client, discord, repos):
    status, text, _ = await post_raw(client, "/applyRoleChanges", body((U, R2, "add"), guild="42"))
    assert (status, text) == (400, '{"status":"not_linked"}')
    discord.guilds.clear()
    status, text, _ = await post_raw(client, "/applyRoleChanges", body((U, R2, "add")))
    assert (status, text) == (400, '{"status":"invalid_guild"}')
    assert discord.calls == []
    assert (await repos.guild_links.get(G)).api_key == K


@pytest.mark.parametrize(
    ("raw", "meta"),
    [
        (b"not json", "JsonSyntaxException"),
        (b"", "ClassCastException: the body is empty"),
        (b"[1, 2]", "ClassCastException: the body is not a JSON object"),
        (b'"text"', "ClassCastException: the body is not a JSON object"),
        (b'{"guild_id":"abc","api_key":"k","role_changes":[]}', "NumberFormatException: guild_id is not an id"),
        (b'{"guild_id":"99999999999999999999","api_key":"k","role_changes":[]}', None),
        (b'{"guild_id":1.5,"api_key":"k","role_changes":[]}', None),
        (b'{"api_key":"k","role_changes":[]}', "missing guild_id"),
        (b'{"guild_id":null,"api_key":"k","role_changes":[]}', "missing guild_id"),
        (b'{"guild_id":"1","api_key":"k"}', "null api key or null roles"),
        (b'{"guild_id":"1","role_changes":[]}', "null api key or null roles"),
        (b'{"guild_id":"1","api_key":null,"role_changes":[]}', "null api key or null roles"),
        (b'{"guild_id":"1","api_key":"k","role_changes":{}}', "ClassCastException: role_changes is not an array"),
        (b"\xff\xfe", None),
    ],
)
async def test_malformed_bodies_are_bad_request(client, discord, raw, meta):
    status, text, _ = await post_raw(client, "/applyRoleChanges", raw)
    answer = json.loads(text)
    assert status == 400
    assert answer["status"] == "bad_request"
    assert isinstance(answer["meta"], str)
    if meta is not None:
        assert answer["meta"] == meta
    assert discord.calls == []


async def test_missing_role_changes_has_the_original_meta(client):
    status, text, _ = await post_raw(client, "/applyRoleChanges", {"guild_id": str(G), "api_key": K})
    assert (status, text) == (400, '{"status":"bad_request","meta":"null api key or null roles"}')


async def test_an_invalid_action_fails_before_anything_is_applied(client, discord):
    status, text, _ = await post_raw(
        client, "/applyRoleChanges", body((U, R2, "add"), (U2, R2, "add"), (U, R1, "toggle"))
    )
    assert (status, text) == (400, '{"status":"bad_request","meta":"invalid role change action: toggle"}')
    assert discord.calls == []
    assert discord.members[U] == {R1}


@pytest.mark.parametrize(
    "item",
    [
        "not an object",
        None,
        {"user_id": U, "role_id": R2},
        {"user_id": U, "role_id": R2, "action": "Add"},
        {"user_id": None, "role_id": R2, "action": "add"},
        {"user_id": "abc", "role_id": R2, "action": "add"},
        {"user_id": U, "role_id": "9223372036854775808", "action": "add"},
        {"user_id": U, "role_id": 1e3, "action": "add"},
    ],
)
async def test_a_malformed_item_fails_the_request_and_changes_nothing(client, discord, item):
    data = body((U2, R2, "add"))
    data["role_changes"].append(item)
    status, text, _ = await post_raw(client, "/applyRoleChanges", data)
    assert status == 400
    assert json.loads(text)["status"] == "bad_request"
    assert discord.calls == []


async def test_more_items_than_the_cap_is_bad_request(client_for, discord, linked, db_path):
    def prepare(app: web.Application) -> None:
        app[keys.BOT] = StubBot(discord)

    client = await client_for(app_settings=make_settings(db_path, link={"max_role_changes": 3}), prepare=prepare)
    status, text, _ = await post_raw(client, "/applyRoleChanges", body(*[(U2, R2, "add")] * 4))
    assert status == 400
    assert json.loads(text) == {"status": "bad_request", "meta": "too many role changes: 4 (at most 3 per request)"}
    status, _, _ = await post_raw(client, "/applyRoleChanges", body(*[(U2, R2, "add")] * 3))
    assert status == 200
    assert discord.calls == [("add", U2, R2)]  # the same change listed again is `none` once applied


async def test_lenient_paths_and_no_content_type(client, discord):
    for path in ("//applyRoleChanges", "/applyRoleChanges/", "/applyRoleChanges?x=1"):
        discord.members[U2].discard(R2)
        status, text, _ = await post_raw(client, path, body((U2, R2, "add")))
        assert status == 200, path
        assert json.loads(text)["role_changes"][0]["status"] == "added"


async def test_wrong_method_is_405_with_an_empty_body(client):
    for path in ("/applyRoleChanges", "/sendDirectMessage"):
        response = await client.get(path)
        assert response.status == 405
        assert await response.read() == b""


async def test_discord_failures_become_item_statuses(client, discord):
    discord.members[U2] = {R1}
    discord.failures = {
        (U, R2): DiscordFailure("down", "503"),
        (U2, R2): DiscordFailure("unknown_member"),
        (U2, R1): DiscordFailure("forbidden"),
    }
    _, text, _ = await post_raw(client, "/applyRoleChanges", body((U, R2, "add"), (U2, R2, "add"), (U2, R1, "remove")))
    assert [item["status"] for item in json.loads(text)["role_changes"]] == ["error", "invalid_user", "invalid_user"]
    assert discord.calls == []


async def test_a_hanging_call_is_bounded(client_for, discord, linked, db_path):
    def prepare(app: web.Application) -> None:
        app[keys.BOT] = StubBot(discord)

    settings = make_settings(db_path, link={"discord_call_timeout": 0.05})
    client = await client_for(app_settings=settings, prepare=prepare)
    discord.delay = 30
    status, text, _ = await post_raw(client, "/applyRoleChanges", body((U, R2, "add"), (U, R1, "add")))
    assert status == 200
    assert [item["status"] for item in json.loads(text)["role_changes"]] == ["error", "none"]


async def test_members_run_concurrently_and_each_member_in_order(client, discord):
    discord.delay = 0.01
    for n in range(10):
        discord.members[1000 + n] = set()
    changes = [(1000 + n, r, a) for n in range(10) for r, a in ((R2, "add"), (R2, "remove"), (R2, "add"))]
    status, text, _ = await post_raw(client, "/applyRoleChanges", body(*changes))
    assert status == 200
    assert [item["status"] for item in json.loads(text)["role_changes"]] == ["added", "removed", "added"] * 10
    assert discord.most_at_once > 1
    for n in range(10):
        # One request per member carries the net of its changes, applied in order.
        assert [c[0] for c in discord.calls if c[1] == 1000 + n] == ["add"]
        assert discord.requests.count(1000 + n) == 1
        assert discord.members[1000 + n] == {R2}


async def test_discord_down_is_503_error_and_nothing_applied(client, discord):
    discord.available = False
    status, text, _ = await post_raw(client, "/applyRoleChanges", body((U, R2, "add")))
    assert status == 503
    assert json.loads(text)["status"] == "error"
    assert discord.calls == []


async def test_an_unknown_root_path_is_404(client):
    response = await client.post("/nope", data=b"{}")
    assert response.status == 404


# --- /roleChange -----------------------------------------------------------------------------


def legacy(**fields: Any) -> dict[str, Any]:
    return {"guild_id": G, "user_id": str(U), "api_key": K, **fields}


@pytest.mark.parametrize(
    ("data", "word", "calls"),
    [
        (legacy(roles=[{"id": R2, "action": "add"}, {"id": str(R1), "action": "remove"}]), "fullsuccess", 2),
        (legacy(roles=[{"id": R2, "action": "add"}, {"id": RH, "action": "add"}]), "partsuccess", 1),
        (legacy(roles=[{"id": 424242, "action": "add"}]), "partsuccess", 0),
        (legacy(roles=[{"id": R2, "action": "toggle"}]), "fullsuccess", 0),
        (legacy(add_role_id=str(R2), remove_role_id=R1), "success", 2),
        (legacy(add_role_id=RH), "hierarchy", 0),
        (legacy(add_role_id=424242), "invrole", 0),
        (legacy(roles={"id": R2}), "badparameter", 0),
        (legacy(roles=[{"id": 0, "action": "add"}]), "badparameter", 0),
        (legacy(guild_id=0, roles=[]), "badparameter", 0),
        (legacy(), "badparameter", 0),
        (legacy(guild_id=42, roles=[]), "notlinked", 0),
        (legacy(api_key="wrong", roles=[{"id": R2, "action": "add"}]), "unauthorized", 0),
        (legacy(user_id=GONE, roles=[{"id": R2, "action": "add"}]), "invuser", 0),
    ],
)
async def test_role_change_answers_bare_words_and_applies(client, discord, data, word, calls):
    status, text, content_type = await post_raw(client, "/roleChange", data)
    assert (status, text, content_type) == (200, word, "text/plain")
    assert len(discord.calls) == calls


async def test_role_change_malformed_json_and_foreign_guild(client, discord):
    assert (await post_raw(client, "/roleChange", b"{oops"))[:2] == (200, "badparameter")
    discord.guilds.clear()
    assert (await post_raw(client, "/roleChange", legacy(roles=[])))[:2] == (200, "invguild")
    discord.guilds.add(G)
    discord.available = False
    assert (await post_raw(client, "/roleChange", legacy(roles=[])))[:2] == (200, "error")


async def test_role_change_can_answer_fullsuccess_without_doing_anything(client_for, discord, linked, db_path):
    def prepare(app: web.Application) -> None:
        app[keys.BOT] = StubBot(discord)

    settings = make_settings(db_path, link={"role_change_always_fullsuccess": True})
    client = await client_for(app_settings=settings, prepare=prepare)
    status, text, _ = await post_raw(
        client, "/roleChange", legacy(api_key="wrong", roles=[{"id": R2, "action": "add"}])
    )
    assert (status, text) == (200, "fullsuccess")
    assert discord.calls == []


# --- /sendDirectMessage ----------------------------------------------------------------------


def dm(**fields: Any) -> dict[str, Any]:
    return {"guild_id": G, "user_id": U, "api_key": K, "message": "Héllo ✨ from the website", **fields}


async def test_direct_message_is_sent_then_answered(client, discord):
    status, text, content_type = await post_raw(client, "/sendDirectMessage", dm())
    assert (status, text, content_type) == (200, "Message sent", "text/plain")
    assert discord.dms == [(U, "Héllo ✨ from the website")]


@pytest.mark.parametrize(
    ("data", "status", "text"),
    [
        (dm(guild_id=42), 401, "Bot is not linked"),
        (dm(api_key="wrong"), 401, "Invalid API key"),
        (dm(user_id=55), 400, "User does not exist"),
        (dm(user_id=77), 400, "User is not a member of the guild"),
        (dm(message=""), 400, "Message is empty"),
        (dm(message="x" * 2001), 400, "Message is longer than 2000 characters"),
        (dm(message=None), 400, "Bad request: message must be a string"),
        (dm(user_id="abc"), 400, "Bad request: guild_id and user_id must be ids"),
    ],
)
async def test_direct_message_refusals(client, discord, data, status, text):
    assert (await post_raw(client, "/sendDirectMessage", data))[:2] == (status, text)
    assert discord.dms == []


async def test_direct_message_failures_say_the_truth(client, discord):
    discord.dm_failure = DiscordFailure("dms_closed")
    assert (await post_raw(client, "/sendDirectMessage", dm()))[:2] == (403, "Cannot send messages to this user")
    discord.dm_failure = DiscordFailure("down")
    assert (await post_raw(client, "/sendDirectMessage", dm()))[:2] == (
        503,
        "Discord is unreachable; the message was not sent",
    )
    discord.dm_failure = DiscordFailure("limited")
    limited = (503, "Discord is rate limiting the bot; the message was not sent")
    assert (await post_raw(client, "/sendDirectMessage", dm()))[:2] == limited
    discord.dm_failure = None
    discord.guilds.clear()
    assert (await post_raw(client, "/sendDirectMessage", dm()))[:2] == (400, "Bot is not in the guild")
    assert (await post_raw(client, "/sendDirectMessage", b"nope"))[0] == 400
    assert discord.dms == []


async def test_the_routes_are_in_the_openapi_description(client):
    document = await (await client.get("/openapi.json")).json()
    for path in ("/status", "/applyRoleChanges", "/roleChange", "/sendDirectMessage"):
        assert path in document["paths"]
    schema = document["paths"]["/applyRoleChanges"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "role_changes" in schema["properties"]


async def test_thousands_of_items_beyond_the_default_cap_are_refused(client, discord):
    status, text, _ = await post_raw(client, "/applyRoleChanges", body(*[(U2, R2, "add")] * 1001))
    assert status == 400
    assert json.loads(text)["meta"] == "too many role changes: 1001 (at most 1000 per request)"
    assert discord.calls == []
