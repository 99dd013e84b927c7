"""The /bot-api routes: the seed's answers, every validation rule and limit, per-bot rate limits."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.clock import ManualClock
from storage import Repositories

BOT = 125367104336691200
OTHER_BOT = 125367104336691201
USER = 437086154215391233


@pytest.fixture
async def client(client_for, repos: Repositories, clock: ManualClock):
    await repos.botlist.register(BOT, by="test", now=int(clock.time()))
    await repos.botlist.register(OTHER_BOT, by="test", now=int(clock.time()))
    return await client_for()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": key}


def anime(**changes: Any) -> dict[str, Any]:
    command = {
        "name": "anime",
        "description": "Shows your information about an anime from [AniList](https://anilist.co)",
        "args": [{"text": "name", "type": "required"}, "options"],
        "cooldown": 5,
        "cooldownUnit": "m",
        "aliases": ["ani"],
        "examples": ["!anime Toradora"],
        "permissions": ["Manage Channel"],
        "category": "Anime Commands",
        "prefix": "!",
    }
    command.update(changes)
    return command


# --- guild count ------------------------------------------------------------------------------


async def test_guild_count_is_stored_and_answered_204(client, api_key, repos: Repositories, clock):
    response = await client.post(f"/bot-api/bots/{BOT}/guilds", json={"guildCount": 54783}, headers=auth(api_key))
    assert response.status == 204
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "1"
    bot = await repos.botlist.get(BOT)
    assert bot.guild_count == 54783
    assert bot.guild_count_at == int(clock.time())


async def test_guild_count_of_an_unregistered_bot_is_404(client, api_key, repos: Repositories):
    response = await client.post("/bot-api/bots/999/guilds", json={"guildCount": 5}, headers=auth(api_key))
    assert response.status == 404
    assert "not registered" in (await response.json())["message"]
    assert "X-RateLimit-Limit" in response.headers
    assert await repos.botlist.get(999) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "guildCount is required"),
        ({"guildCount": None}, "guildCount is required"),
        ({"guildCount": "54"}, "guildCount must be an integer"),
        ({"guildCount": 5.5}, "guildCount must be an integer"),
        ({"guildCount": True}, "guildCount must be an integer"),
        ({"guildCount": -1}, "guildCount must not be negative"),
        ({"guildCount": 2**53}, "guildCount is too large"),
        ([54], "The request body must be a JSON object with guildCount"),
    ],
)
async def test_bad_guild_counts_are_400_naming_the_field(client, api_key, repos: Repositories, body, message):
    await client.post(f"/bot-api/bots/{BOT}/guilds", json={"guildCount": 7}, headers=auth(api_key))
    response = await client.post(f"/bot-api/bots/{OTHER_BOT}/guilds", json=body, headers=auth(api_key))
    assert response.status == 400
    assert await response.json() == {"message": message}
    assert (await repos.botlist.get(OTHER_BOT)).guild_count is None


async def test_malformed_json_is_400_in_the_envelope(client, api_key, repos: Repositories):
    response = await client.post(f"/bot-api/bots/{BOT}/guilds", data=b"{guildCount:", headers=auth(api_key))
    assert response.status == 400
    assert set(await response.json()) == {"message"}
    assert (await repos.botlist.get(BOT)).guild_count is None


async def test_without_a_key_401_and_read_only_key_403(client, repos: Repositories, clock):
    response = await client.post(f"/bot-api/bots/{BOT}/guilds", json={"guildCount": 5})
    assert response.status == 401
    assert set(await response.json()) == {"message"}
    _, read_only = await repos.api_keys.create("ro", now=int(clock.time()), read_only=True)
    response = await client.post(f"/bot-api/bots/{BOT}/guilds", json={"guildCount": 5}, headers=auth(read_only))
    assert response.status == 403
    assert (await repos.botlist.get(BOT)).guild_count is None


async def test_guild_count_limit_is_two_per_four_minutes_per_bot(client, api_key, repos: Repositories, clock):
    url = f"/bot-api/bots/{BOT}/guilds"
    for count in (1, 2):
        assert (await client.post(url, json={"guildCount": count}, headers=auth(api_key))).status == 204
    refused = await client.post(url, json={"guildCount": 3}, headers=auth(api_key))
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "240"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "message" in await refused.json()
    assert (await repos.botlist.get(BOT)).guild_count == 2
    # Another bot has its own budget, with the same key.
    other = await client.post(f"/bot-api/bots/{OTHER_BOT}/guilds", json={"guildCount": 9}, headers=auth(api_key))
    assert other.status == 204
    await clock.advance(240)
    assert (await client.post(url, json={"guildCount": 3}, headers=auth(api_key))).status == 204
    assert (await repos.botlist.get(BOT)).guild_count == 3


# --- review check -----------------------------------------------------------------------------


async def test_review_check_answers_exists(client, api_key, repos: Repositories, clock):
    url = f"/bot-api/bots/{BOT}/review"
    response = await client.get(url, params={"owner": str(USER)}, headers=auth(api_key))
    assert response.status == 200
    assert await response.json() == {"exists": False}
    await repos.botlist.put_review(BOT, guild_id=1, user_id=USER, rating=5, text="great", now=int(clock.time()))
    response = await client.get(url, params={"owner": str(USER)}, headers=auth(api_key))
    assert await response.json() == {"exists": True}
    assert response.headers["X-RateLimit-Limit"] == "20"
    other = await client.get(f"/bot-api/bots/{OTHER_BOT}/review", params={"owner": str(USER)}, headers=auth(api_key))
    assert await other.json() == {"exists": False}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "owner is required: the id of the user whose review to check"),
        ("?owner=", "owner is required: the id of the user whose review to check"),
        ("?owner=abc", "owner must be a snowflake id"),
        ("?owner=-5", "owner must be a snowflake id"),
        ("?owner=99999999999999999999", "owner is out of range for a snowflake id"),
    ],
)
async def test_review_check_needs_an_owner_id(client, api_key, query, message):
    response = await client.get(f"/bot-api/bots/{BOT}/review{query}", headers=auth(api_key))
    assert response.status == 400
    assert await response.json() == {"message": message}


async def test_review_check_of_unregistered_bot_is_404(client, api_key):
    response = await client.get("/bot-api/bots/5/review", params={"owner": str(USER)}, headers=auth(api_key))
    assert response.status == 404


async def test_review_limit_is_twenty_per_ten_seconds_per_bot(client, api_key, clock):
    url = f"/bot-api/bots/{BOT}/review?owner={USER}"
    for _ in range(20):
        assert (await client.get(url, headers=auth(api_key))).status == 200
    refused = await client.get(url, headers=auth(api_key))
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "10"
    other = await client.get(f"/bot-api/bots/{OTHER_BOT}/review?owner={USER}", headers=auth(api_key))
    assert other.status == 200
    await clock.advance(10)
    assert (await client.get(url, headers=auth(api_key))).status == 200


# --- commands ---------------------------------------------------------------------------------


async def test_the_seed_sample_is_stored(client, api_key, repos: Repositories, clock):
    body = {"sort": "default", "commands": [anime()]}
    response = await client.post(f"/bot-api/bots/{BOT}/commands", json=body, headers=auth(api_key))
    assert response.status == 204
    stored = await repos.botlist.commands(BOT)
    assert stored.sort == "default"
    assert stored.commands == [anime()]
    assert stored.updated_at == int(clock.time())
    assert response.headers["X-RateLimit-Limit"] == "10"


async def test_minimal_commands_get_null_fields_and_null_unsets(client, api_key, repos: Repositories):
    url = f"/bot-api/bots/{BOT}/commands"
    response = await client.post(url, json={"sort": None, "commands": [{"name": "ping"}]}, headers=auth(api_key))
    assert response.status == 204
    [command] = (await repos.botlist.commands(BOT)).commands
    assert command["name"] == "ping"
    assert command["args"] is None
    assert command["cooldownUnit"] is None
    response = await client.post(url, json={"commands": None}, headers=auth(api_key))
    assert response.status == 204
    assert await repos.botlist.commands(BOT) is None


async def test_limits_at_their_maximum_are_accepted(client, api_key, repos: Repositories):
    command = anime(
        description="d" * 1000,
        args=[f"a{i}" for i in range(20)],
        aliases=[f"x{i}" for i in range(10)],
        examples=["e" * 200] * 6,
        permissions=[f"p{i}" for i in range(10)],
    )
    body = {"sort": "none", "commands": [command] + [{"name": f"c{i}"} for i in range(199)]}
    response = await client.post(f"/bot-api/bots/{BOT}/commands", json=body, headers=auth(api_key))
    assert response.status == 204
    assert len((await repos.botlist.commands(BOT)).commands) == 200


BAD_COMMANDS = [
    ({"sort": "alphabetical", "commands": []}, 'sort must be "default", "none" or null'),
    ({"sort": 1, "commands": []}, 'sort must be "default", "none" or null'),
    ({"sort": "default"}, "commands is required: an array of commands, or null to unset them"),
    ({"commands": {"name": "x"}}, "commands must be an array of commands or null"),
    ({"commands": [{"name": f"c{i}"} for i in range(201)]}, "There is a limit of 200 commands"),
    ({"commands": ["anime"]}, "commands[0] must be an object"),
    ({"commands": [anime(name=None)]}, "commands[0].name must be a non-empty string"),
    ({"commands": [anime(name="")]}, "commands[0].name must be a non-empty string"),
    ({"commands": [anime(name=5)]}, "commands[0].name must be a non-empty string"),
    ({"commands": [anime(description=5)]}, "commands[0].description must be a string or null"),
    (
        {"commands": [anime(description="d" * 1001)]},
        "commands[0].description: descriptions are limited to 1,000 characters",
    ),
    ({"commands": [anime(args="name")]}, "commands[0].args must be an array or null"),
    (
        {"commands": [anime(args=[f"a{i}" for i in range(21)])]},
        "commands[0].args: There is a limit of 20 args per command",
    ),
    ({"commands": [anime(args=[5])]}, "commands[0].args[0] must be a string or an object with text and type"),
    ({"commands": [anime(args=[{"type": "required"}])]}, "commands[0].args[0].text must be a string"),
    (
        {"commands": [anime(args=[{"text": "name", "type": "maybe"}])]},
        'Command arg types must be a string with the value "required" or "optional"',
    ),
    (
        {"commands": [anime(args=[{"text": "name"}])]},
        'Command arg types must be a string with the value "required" or "optional"',
    ),
    ({"commands": [anime(cooldown="5")]}, "commands[0].cooldown must be a non-negative number or null"),
    ({"commands": [anime(cooldown=-1)]}, "commands[0].cooldown must be a non-negative number or null"),
    ({"commands": [anime(cooldown=True)]}, "commands[0].cooldown must be a non-negative number or null"),
    ({"commands": [anime(cooldownUnit="w")]}, 'commands[0].cooldownUnit must be "s", "m", "h", "d" or null'),
    ({"commands": [anime(cooldownUnit="")]}, 'commands[0].cooldownUnit must be "s", "m", "h", "d" or null'),
    ({"commands": [anime(aliases="ani")]}, "commands[0].aliases must be an array of strings or null"),
    ({"commands": [anime(aliases=[1])]}, "commands[0].aliases must be an array of strings or null"),
    (
        {"commands": [anime(aliases=[f"x{i}" for i in range(11)])]},
        "commands[0].aliases: There is a limit of 10 aliases per command",
    ),
    (
        {"commands": [anime(examples=["e"] * 7)]},
        "commands[0].examples: There is a limit of 6 examples per command",
    ),
    (
        {"commands": [anime(examples=["ok", "e" * 201])]},
        "commands[0].examples[1]: examples are limited to 200 characters",
    ),
    (
        {"commands": [anime(permissions=[f"p{i}" for i in range(11)])]},
        "commands[0].permissions: There is a limit of 10 permissions per command",
    ),
    ({"commands": [anime(permissions=[None])]}, "commands[0].permissions must be an array of strings or null"),
    ({"commands": [anime(category=["Anime"])]}, "commands[0].category must be a string or null"),
    ({"commands": [anime(prefix=1)]}, "commands[0].prefix must be a string or null"),
    (
        {"commands": [{"name": "ok"}, anime(cooldownUnit="y")]},
        'commands[1].cooldownUnit must be "s", "m", "h", "d" or null',
    ),
    ([], "The request body must be a JSON object with sort and commands"),
]


@pytest.mark.parametrize(("body", "message"), BAD_COMMANDS)
async def test_bad_command_data_is_400_and_changes_nothing(client, api_key, repos: Repositories, body, message):
    url = f"/bot-api/bots/{BOT}/commands"
    before = {"sort": "none", "commands": [{"name": "before"}]}
    assert (await client.post(url, json=before, headers=auth(api_key))).status == 204
    stored = await repos.botlist.commands(BOT)
    response = await client.post(url, json=copy.deepcopy(body), headers=auth(api_key))
    assert response.status == 400
    assert await response.json() == {"message": message}
    assert "X-RateLimit-Remaining" in response.headers
    assert await repos.botlist.commands(BOT) == stored


async def test_commands_limit_is_ten_per_hour_per_bot(client, api_key, repos: Repositories, clock):
    url = f"/bot-api/bots/{BOT}/commands"
    for number in range(10):
        body = {"commands": [{"name": f"c{number}"}]}
        assert (await client.post(url, json=body, headers=auth(api_key))).status == 204
    refused = await client.post(url, json={"commands": [{"name": "late"}]}, headers=auth(api_key))
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "3600"
    assert (await repos.botlist.commands(BOT)).commands[0]["name"] == "c9"
    other = await client.post(f"/bot-api/bots/{OTHER_BOT}/commands", json={"commands": []}, headers=auth(api_key))
    assert other.status == 204
    await clock.advance(3600)
    assert (await client.post(url, json={"commands": [{"name": "late"}]}, headers=auth(api_key))).status == 204


async def test_openapi_describes_the_three_routes(client):
    document = await (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert "requestBody" in paths["/bot-api/bots/{bot_id}/guilds"]["post"]
    assert "204" in paths["/bot-api/bots/{bot_id}/commands"]["post"]["responses"]
    assert paths["/bot-api/bots/{bot_id}/review"]["get"]["responses"]["200"]["content"]


async def test_unknown_bot_api_path_is_404_in_the_envelope(client, api_key):
    response = await client.get("/bot-api/bots/abc/guilds", headers=auth(api_key))
    assert response.status == 404
    assert set(await response.json()) == {"message"}
