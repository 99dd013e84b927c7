"""The economy family (WetBot member API) and the public leaderboard page, over a real SQLite file."""

from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest
from aiohttp import web

from core import economy
from core.clock import ManualClock
from core.config import EconomySettings
from core.ports import NoBot
from storage import Repositories
from storage.ledger import LedgerFilter, Party
from storage.members import ProfileEdit
from tests.conftest import make_settings
from web import keys

GUILD = 1179000000000001000
USER = 1179000000000000201
OTHER = 1179000000000000202
BOT = 1179000000000000001
BASE = f"/api/guilds/{GUILD}/users/{USER}"


@pytest.fixture
async def key(repos: Repositories, clock: ManualClock) -> str:
    _, secret = await repos.api_keys.create("economy-test", now=int(clock.time()), bot_user_id=BOT)
    return secret


def headers(key: str) -> dict[str, str]:
    return {"Authorization": key, "Content-Type": "application/json"}


async def make_member(repos: Repositories, clock: ManualClock, user_id: int = USER, *, balance: int = 0) -> None:
    await repos.members.create(
        ProfileEdit(GUILD, user_id), overwrite=False, issuer=Party(GUILD, BOT), actor="test", now=int(clock.time())
    )
    if balance:
        await repos.ledger.adjust(
            Party(GUILD, user_id), Party(GUILD, BOT), delta=balance, reason="seed", actor="test", now=int(clock.time())
        )


async def add_items(repos: Repositories, clock: ManualClock, *item_ids: str) -> None:
    for item_id in item_ids:
        await repos.economy.create_item(GUILD, item_id, item_id.title(), "", now=int(clock.time()))


async def test_profile_has_every_seed_field_in_the_envelope(client_for, repos, clock, key):
    await make_member(repos, clock, balance=250)
    await add_items(repos, clock, "sword")
    await repos.economy.change_inventory(GUILD, USER, {"sword": 3}, now=int(clock.time()))
    client = await client_for()
    response = await client.get(BASE, headers=headers(key))
    assert response.status == 200
    body = await response.json()
    assert body["code"] == 200
    profile = body["response"]
    assert profile["userID"] == str(USER) and profile["guildID"] == str(GUILD)
    assert profile["currency"] == 250
    assert profile["level"] == 1 and profile["xp"] == 0 and profile["totalxp"] == 0
    assert profile["inventory"] == [{"itemID": "sword", "amount": 3, "fav": False}]
    assert profile["itemsReceived"] == 3
    assert profile["rank_card"]["xp_color"] == {"r": 88, "g": 101, "b": 242, "a": 255}
    assert set(profile["stats"]) == {"daily", "weekly", "monthly", "yearly"}
    assert profile["stats"]["daily"]["currency"] == 250
    for name in ("seasonTotalXp", "blockActivities", "cs2premiere", "inviterInfo", "works", "boosts", "links"):
        assert name in profile
    assert response.headers["X-RateLimit-Limit"] == "10"
    assert response.headers["X-RateLimit-Remaining"] == "9"


async def test_unknown_user_is_404_in_the_envelope(client_for, repos, clock, key):
    client = await client_for()
    response = await client.get(f"/api/guilds/{GUILD}/users/{OTHER}", headers=headers(key))
    assert response.status == 404
    assert await response.json() == {"code": 404, "message": f"user {OTHER} has no profile in guild {GUILD}"}
    await add_items(repos, clock, "apple")
    for method, path, body in (
        ("POST", "/inventory", {"items": [{"itemID": "apple", "amount": 1}]}),
        ("PATCH", "", {"rp": 1}),
    ):
        url = f"/api/guilds/{GUILD}/users/{OTHER}{path}"
        response = await client.request(method, url, headers=headers(key), json=body)
        assert response.status == 404
        assert (await response.json())["code"] == 404
    assert (await repos.economy.totals(GUILD, OTHER, {})).rp == 0
    assert await repos.economy.inventory(GUILD, OTHER) == []


async def test_wrong_content_type_is_415_and_changes_nothing(client_for, repos, clock, key):
    await make_member(repos, clock, balance=10)
    client = await client_for()
    response = await client.get(BASE, headers={"Authorization": key})
    assert response.status == 415
    assert (await response.json())["code"] == 415
    response = await client.patch(
        BASE, headers={"Authorization": key, "Content-Type": "text/plain"}, data='{"currency": 5}'
    )
    assert response.status == 415
    assert (await repos.members.get(GUILD, USER)).voicepoints == 10


async def test_missing_key_is_401_in_the_envelope(client_for, repos, clock):
    await make_member(repos, clock)
    client = await client_for()
    response = await client.get(BASE, headers={"Content-Type": "application/json"})
    assert response.status == 401
    assert (await response.json())["code"] == 401


async def test_patch_adds_currency_xp_and_rp_as_deltas(client_for, repos, clock, key):
    await make_member(repos, clock, balance=100)
    client = await client_for()
    response = await client.patch(BASE, headers=headers(key), json={"currency": -40, "xp": 400, "rp": 3})
    assert response.status == 200
    profile = (await response.json())["response"]
    # MEE6 curve: level 1 needs 155, level 2 needs 220 -> 400 total is level 3 with 25.
    assert (profile["currency"], profile["totalxp"], profile["level"], profile["xp"], profile["rp"]) == (
        60,
        400,
        3,
        25,
        3,
    )
    assert profile["currencySpent"] == 40
    member = await repos.members.get(GUILD, USER)
    assert (member.voicepoints, member.level, member.experience) == (60, 3, 25)
    [row, *_] = await repos.ledger.search(LedgerFilter(guild_id=GUILD), limit=1, offset=0)
    assert (row.amount, row.source, row.actor) == (40, Party(GUILD, USER), "api:economy-test")
    assert (await repos.economy.totals(GUILD, USER, {})).rp == 3


@pytest.mark.parametrize(
    "body",
    [
        {"currency": 1_000_000_001},
        {"xp": 100_001},
        {"rp": -101},
        {"currency": 1.5},
        {"currency": "5"},
        {"currency": True},
        {"gold": 5},
        [1, 2],
        {"currency": 5, "rp": 1000},
    ],
)
async def test_bad_patch_is_400_and_changes_nothing(client_for, repos, clock, key, body):
    await make_member(repos, clock, balance=100)
    client = await client_for()
    response = await client.patch(BASE, headers=headers(key), json=body)
    assert response.status == 400
    assert (await response.json())["code"] == 400
    member = await repos.members.get(GUILD, USER)
    assert (member.voicepoints, member.level, member.experience) == (100, 1, 0)
    assert (await repos.economy.totals(GUILD, USER, {})).rp == 0


async def test_patch_refuses_a_negative_balance_or_rp_and_changes_nothing(client_for, repos, clock, key):
    await make_member(repos, clock, balance=30)
    client = await client_for()
    for body in ({"currency": -31, "rp": 2}, {"rp": -1, "currency": 5}, {"xp": -1}):
        response = await client.patch(BASE, headers=headers(key), json=body)
        assert response.status == 400, body
        assert "below zero" in (await response.json())["message"]
    member = await repos.members.get(GUILD, USER)
    assert (member.voicepoints, member.experience) == (30, 0)
    assert (await repos.economy.totals(GUILD, USER, {})).rp == 0


async def test_inventory_changes_apply_and_answer_the_profile(client_for, repos, clock, key):
    await make_member(repos, clock)
    await add_items(repos, clock, "apple", "sword")
    client = await client_for()
    response = await client.post(
        BASE + "/inventory",
        headers=headers(key),
        json={"items": [{"itemID": "apple", "amount": 5}, {"itemID": "sword", "amount": 1}]},
    )
    assert response.status == 200
    profile = (await response.json())["response"]
    assert profile["inventory"] == [
        {"itemID": "apple", "amount": 5, "fav": False},
        {"itemID": "sword", "amount": 1, "fav": False},
    ]
    response = await client.post(
        BASE + "/inventory", headers=headers(key), json={"items": [{"itemID": "apple", "amount": -5}]}
    )
    profile = (await response.json())["response"]
    assert profile["inventory"] == [{"itemID": "sword", "amount": 1, "fav": False}]
    assert profile["itemsReceived"] == 6
    stacks = {s.item_id: s.amount for s in await repos.economy.inventory(GUILD, USER)}
    assert stacks == {"apple": 0, "sword": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"items": [{"itemID": "apple", "amount": 2}, {"itemID": "ghost", "amount": 1}]}, "'ghost' is not in"),
        ({"items": [{"itemID": "apple", "amount": 2}, {"itemID": "sword", "amount": -2}]}, "only 1"),
        ({"items": [{"itemID": "apple", "amount": 1_000_000_001}]}, "items.0.amount"),
        ({"items": [{"itemID": "apple", "amount": 0.5}]}, "items.0.amount"),
        ({"items": [{"itemID": 7, "amount": 1}]}, "items.0.itemID"),
        ({"items": []}, "items"),
        ({}, "items"),
        ({"items": [{"itemID": "apple"}]}, "amount"),
    ],
)
async def test_bad_inventory_change_is_400_and_changes_nothing(client_for, repos, clock, key, body, message):
    await make_member(repos, clock)
    await add_items(repos, clock, "apple", "sword")
    await repos.economy.change_inventory(GUILD, USER, {"sword": 1}, now=int(clock.time()))
    client = await client_for()
    response = await client.post(BASE + "/inventory", headers=headers(key), json=body)
    assert response.status == 400
    answer = await response.json()
    assert answer["code"] == 400
    assert message in answer["message"]
    stacks = {s.item_id: (s.amount, s.received) for s in await repos.economy.inventory(GUILD, USER)}
    assert stacks == {"sword": (1, 1)}


async def test_malformed_json_is_400(client_for, repos, clock, key):
    await make_member(repos, clock)
    client = await client_for()
    response = await client.post(BASE + "/inventory", headers=headers(key), data="{not json")
    assert response.status == 400
    assert (await response.json())["code"] == 400


async def test_the_eleventh_request_in_a_minute_is_429(client_for, repos, clock, key):
    await make_member(repos, clock)
    client = await client_for()
    for _ in range(10):
        assert (await client.get(BASE, headers=headers(key))).status == 200
    response = await client.get(BASE, headers=headers(key))
    assert response.status == 429
    assert (await response.json())["code"] == 429
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["Retry-After"]) == 60
    await clock.advance(60)
    assert (await client.get(BASE, headers=headers(key))).status == 200


async def test_concurrent_changes_leave_what_was_acknowledged(client_for, repos, clock, key, db_path):
    settings = make_settings(db_path, api={"rate_limits": {"economy": "off"}})
    await make_member(repos, clock, balance=1000)
    await add_items(repos, clock, "coin")
    await repos.economy.change_inventory(GUILD, USER, {"coin": 50}, now=int(clock.time()))
    client = await client_for(app_settings=settings)

    async def items(amount: int) -> tuple[int, int]:
        response = await client.post(
            BASE + "/inventory", headers=headers(key), json={"items": [{"itemID": "coin", "amount": amount}]}
        )
        return response.status, amount

    async def currency(amount: int) -> tuple[int, int]:
        response = await client.patch(BASE, headers=headers(key), json={"currency": amount})
        return response.status, amount

    item_changes = [-7, 3, -11, 5] * 15
    currency_changes = [-90, 40, -130, 25] * 15
    results = await asyncio.gather(*(items(a) for a in item_changes), *(currency(a) for a in currency_changes))
    item_results, currency_results = results[: len(item_changes)], results[len(item_changes) :]
    assert {status for status, _ in results} <= {200, 400}
    assert any(status == 400 for status, _ in item_results)  # some removals found too little stock
    stock = 50 + sum(amount for status, amount in item_results if status == 200)
    balance = 1000 + sum(amount for status, amount in currency_results if status == 200)
    [stack] = await repos.economy.inventory(GUILD, USER)
    assert stack.amount == stock >= 0
    member = await repos.members.get(GUILD, USER)
    assert member.voicepoints == balance >= 0
    assert await repos.ledger.verify_balances() == []


async def test_stats_follow_the_guilds_calendar(client_for, repos, clock, key):
    await make_member(repos, clock)
    await economy.configure_guild(repos, EconomySettings(), GUILD, now=int(clock.time()), timezone="Asia/Tokyo")
    client = await client_for()
    now = int(clock.time())
    await repos.economy.give("rep", GUILD, USER, giver_id=OTHER, now=now, cooldown=1, per_receiver=False)
    starts = economy.period_starts(now, economy.ZoneInfo("Asia/Tokyo"))
    # Move to the next Tokyo midnight: the day rolls over, the month and year (usually) keep counting.
    await clock.advance(starts["daily"] + 86_400 - now)
    profile = (await (await client.get(BASE, headers=headers(key))).json())["response"]
    assert profile["rp"] == 1
    assert profile["stats"]["daily"]["rp"] == 0
    assert profile["stats"]["yearly"]["rp"] == (1 if starts["yearly"] <= now else 0)


async def test_openapi_describes_the_economy_routes(client_for):
    client = await client_for()
    spec = await (await client.get("/openapi.json")).json()
    paths = {path for path in spec["paths"] if path.startswith("/api/guilds")}
    assert paths == {"/api/guilds/{guild_id}/users/{user_id}", "/api/guilds/{guild_id}/users/{user_id}/inventory"}
    assert "leaderboard" in " ".join(spec["paths"])


# --- the leaderboard page -----------------------------------------------------------------


async def test_leaderboard_is_off_until_the_guild_enables_it(client_for, repos, clock):
    await make_member(repos, clock)
    client = await client_for()
    response = await client.get(f"/leaderboard/{GUILD}")
    assert response.status == 404
    await economy.configure_guild(repos, EconomySettings(), GUILD, now=int(clock.time()), leaderboard_public=True)
    response = await client.get(f"/leaderboard/{GUILD}")
    assert response.status == 200
    assert response.content_type == "text/html"


async def test_leaderboard_rows_sort_and_page(client_for, repos, clock, db_path):
    settings = make_settings(db_path, economy={"leaderboard_public": True, "leaderboard_page_size": 2})
    for index, balance in enumerate((30, 10, 50)):
        await make_member(repos, clock, USER + index, balance=balance)
    await repos.members.apply_edits(
        [ProfileEdit(GUILD, USER + 1, message_count=99)], add=True, bot_user_id=BOT, actor="t", now=0
    )
    client = await client_for(app_settings=settings)

    async def rows(query: str) -> list[tuple[str, str]]:
        text = await (await client.get(f"/leaderboard/{GUILD}{query}")).text()
        return re.findall(r'data-user-id="(\d+)"><td class=rank>(\d+)<', text)

    assert await rows("") == [(str(USER + 2), "1"), (str(USER), "2")]
    assert await rows("?page=1") == [(str(USER + 1), "3")]
    assert (await rows("?by=messages"))[0] == (str(USER + 1), "1")
    page = await (await client.get(f"/leaderboard/{GUILD}")).text()
    assert 'rel=next href="?by=points&amp;page=1"' in page or 'rel=next href="?by=points&page=1"' in page
    bad = await client.get(f"/leaderboard/{GUILD}?by=wealth")
    assert bad.status == 400
    # The bot's own profile (the issuer of every balance here) never takes a member's place.
    assert (await repos.members.get(GUILD, BOT)).is_bot
    await repos.members.apply_edits(
        [ProfileEdit(GUILD, BOT, message_count=1000)], add=True, bot_user_id=BOT, actor="t", now=0
    )
    assert await rows("?by=messages") == [(str(USER + 1), "1"), (str(USER), "2")]
    assert "rel=next" in await (await client.get(f"/leaderboard/{GUILD}?by=messages")).text()
    assert await rows("?by=messages&page=1") == [(str(USER + 2), "3")]


# --- the remembered answer: never older than the database, the calendar or the voice session ---


async def get_profile(client, key: str) -> dict:
    response = await client.get(BASE, headers=headers(key))
    assert response.status == 200
    return (await response.json())["response"]


async def test_a_write_through_any_path_is_seen_by_the_next_read(client_for, repos, clock, key, db_path):
    await make_member(repos, clock, balance=100)
    await add_items(repos, clock, "gem")
    client = await client_for()
    first = await get_profile(client, key)
    assert first["currency"] == 100 and first["inventory"] == [] and first["rp"] == 0
    assert await get_profile(client, key) == first  # remembered: the same answer
    # a repository write (the Discord side's path)
    await repos.economy.change_inventory(GUILD, USER, {"gem": 2}, now=int(clock.time()))
    assert (await get_profile(client, key))["inventory"] == [{"itemID": "gem", "amount": 2, "fav": False}]
    # the API's own write
    response = await client.patch(BASE, headers=headers(key), json={"rp": 3})
    assert response.status == 200
    assert (await get_profile(client, key))["rp"] == 3
    # another process's connection
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("UPDATE members SET message_count = 41 WHERE guild_id = ? AND user_id = ?", (GUILD, USER))
    finally:
        other.close()
    profile = await get_profile(client, key)
    assert profile["messages"] == 41 and profile["currency"] == 100


async def test_crossing_midnight_in_the_guilds_zone_resets_the_day_without_a_write(client_for, repos, clock, key):
    await make_member(repos, clock)
    await economy.configure_guild(repos, EconomySettings(), GUILD, now=int(clock.time()), timezone="America/New_York")
    now = int(clock.time())
    await repos.economy.give("rep", GUILD, USER, giver_id=OTHER, now=now, cooldown=1, per_receiver=False)
    client = await client_for()
    assert (await get_profile(client, key))["stats"]["daily"]["rp"] == 1
    starts = economy.period_starts(now, economy.ZoneInfo("America/New_York"))
    await clock.advance(starts["daily"] + 86_400 - now - 1)  # the last second of the day: still counted
    assert (await get_profile(client, key))["stats"]["daily"]["rp"] == 1
    await clock.advance(1)  # midnight in New York (not in UTC): nothing was written in between
    profile = await get_profile(client, key)
    assert profile["stats"]["daily"]["rp"] == 0
    assert profile["rp"] == 1


class VoiceBot(NoBot):
    def __init__(self) -> None:
        self.sessions: dict[tuple[int, int], float] = {}

    def voice_session_start(self, guild_id: int, user_id: int) -> float | None:
        return self.sessions.get((guild_id, user_id))


async def test_joining_voice_changes_start_time(client_for, repos, clock, key):
    await make_member(repos, clock)
    bot = VoiceBot()

    def prepare(app: web.Application) -> None:
        app[keys.BOT] = bot

    client = await client_for(prepare=prepare)
    assert (await get_profile(client, key))["startTime"] is None
    bot.sessions[(GUILD, USER)] = 1_764_150_000.5  # the member joins a voice channel
    assert (await get_profile(client, key))["startTime"] == "2025-11-26T09:40:00Z"
    del bot.sessions[(GUILD, USER)]  # and leaves
    assert (await get_profile(client, key))["startTime"] is None


def test_current_periods_agree_with_period_starts_across_days_and_zones():
    for zone in ("UTC", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kathmandu"):
        info = economy.ZoneInfo(zone)
        # every 20 minutes through 2026's spring and autumn clock changes, and the turn of the year
        for base in (1_772_323_200, 1_792_800_000, 1_798_675_200):
            for step in range(0, 3 * 86_400, 1_200):
                now = base + step
                starts, until = economy.current_periods(now, zone)
                assert starts == economy.period_starts(now, info), (zone, now)
                assert until > now
                assert economy.period_starts(until, info)["daily"] == until
