"""The economy end to end: /item, /inventory, /rep, /like, rank cards, /balance and the leaderboard page."""

from __future__ import annotations

import io
import itertools
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
from PIL import Image

from core.rankcard import BAR, SIZE, filled_width
from guildhall.sandbox import Sandbox
from tests.e2e.conftest import Ids, assert_healthy

BRAM = 1179000000000000102
CLEO = 1179000000000000103
DAY = 86_400
KEY_NAMES = itertools.count()


async def run(sandbox: Sandbox, ids: Ids, user: int, name: str, options: dict[str, Any] | None = None) -> dict:
    answer = await sandbox.fake.command(ids.guild, ids.general, user, name, options or {})
    return answer["responses"][-1]


async def api(sandbox: Sandbox, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    _, key = await sandbox.repos.api_keys.create(f"e2e-{next(KEY_NAMES)}", now=int(sandbox.clock.time()))
    headers = {"Authorization": key, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{sandbox.api.url}{path}", json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def attachment(sandbox: Sandbox, reply: dict) -> bytes:
    [file] = reply["attachments"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.fake.url}/_control/attachments/{file['id']}") as response,
    ):
        assert response.status == 200
        return await response.read()


async def test_item_catalog_and_inventory(sandbox: Sandbox, ids: Ids):
    reply = await run(sandbox, ids, ids.owner, "item create", {"item_id": "gem", "name": "Gem", "description": "Shiny"})
    assert reply["content"] == "Created item `gem`: Gem."
    refused = await run(sandbox, ids, BRAM, "item create", {"item_id": "rock", "name": "Rock"})
    assert refused["ephemeral"] is True and "Manage Server" in refused["content"]
    duplicate = await run(sandbox, ids, ids.owner, "item create", {"item_id": "gem", "name": "Again"})
    assert "already exists" in duplicate["content"]
    assert [item.item_id for item in await sandbox.repos.economy.items(ids.guild)] == ["gem"]

    status, body = await api(
        sandbox, "POST", f"/api/guilds/{ids.guild}/users/{BRAM}/inventory", {"items": [{"itemID": "gem", "amount": 3}]}
    )
    assert status == 200
    assert body["response"]["inventory"] == [{"itemID": "gem", "amount": 3, "fav": False}]
    shown = await run(sandbox, ids, ids.owner, "inventory", {"member": str(BRAM)})
    assert shown["embeds"][0]["description"] == "Gem × 3"

    await run(sandbox, ids, ids.owner, "item edit", {"item_id": "gem", "name": "Ruby"})
    assert (await run(sandbox, ids, BRAM, "inventory"))["embeds"][0]["description"] == "Ruby × 3"
    await run(sandbox, ids, ids.owner, "item delete", {"item_id": "gem"})
    assert "holds no items" in (await run(sandbox, ids, BRAM, "inventory"))["content"]
    assert_healthy(sandbox)


async def test_rep_and_like_rules(sandbox: Sandbox, ids: Ids):
    given = await run(sandbox, ids, BRAM, "rep", {"member": str(ids.owner)})
    assert given["ephemeral"] is False
    assert given["content"] == f"+1 reputation for <@{ids.owner}> (now 1)."
    again = await run(sandbox, ids, BRAM, "rep", {"member": str(CLEO)})
    assert again["ephemeral"] is True and "recently" in again["content"]
    assert "yourself" in (await run(sandbox, ids, CLEO, "rep", {"member": str(CLEO)}))["content"]
    assert "bots" in (await run(sandbox, ids, CLEO, "rep", {"member": str(sandbox.bot.user.id)}))["content"]
    await sandbox.fake.advance_clock(DAY)
    assert "(now 1)" in (await run(sandbox, ids, BRAM, "rep", {"member": str(CLEO)}))["content"]

    assert "(1 likes)" in (await run(sandbox, ids, BRAM, "like", {"member": str(CLEO)}))["content"]
    assert "(2 likes)" in (await run(sandbox, ids, ids.owner, "like", {"member": str(CLEO)}))["content"]
    assert "recently" in (await run(sandbox, ids, BRAM, "like", {"member": str(CLEO)}))["content"]

    status, body = await api(sandbox, "GET", f"/api/guilds/{ids.guild}/users/{CLEO}")
    assert status == 200
    profile = body["response"]
    assert (profile["rp"], profile["likes"], profile["stats"]["daily"]["likes"]) == (1, 2, 2)
    assert_healthy(sandbox)


async def test_rank_card_shows_the_members_progress_in_their_colours(sandbox: Sandbox, ids: Ids):
    status, body = await api(sandbox, "PATCH", f"/api/guilds/{ids.guild}/users/{BRAM}", {"xp": 100, "rp": 2})
    assert status == 200
    assert (body["response"]["level"], body["response"]["xp"]) == (1, 100)
    saved = await run(sandbox, ids, BRAM, "rankcard colours", {"bar": "#ff0000", "bar_background": "#00ff00"})
    assert saved["ephemeral"] is True
    bad = await run(sandbox, ids, BRAM, "rankcard colours", {"text": "pink"})
    assert "not a colour" in bad["content"]

    reply = await run(sandbox, ids, ids.owner, "rankcard show", {"member": str(BRAM)})
    assert sandbox.fake.find_requests("POST", r"/interactions/\d+/[^/]+/callback")[-1].body["type"] == 5  # deferred
    png = await attachment(sandbox, reply)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == SIZE
    middle = (BAR[1] + BAR[3]) // 2
    row = [image.getpixel((x, middle)) for x in range(BAR[0], BAR[2])]
    red = sum(1 for pixel in row if pixel == (255, 0, 0))
    green = sum(1 for pixel in row if pixel == (0, 255, 0))
    # MEE6 curve: level 1 needs 155 experience; 100 of it is done.
    assert red == filled_width(100 / 155) == round((BAR[2] - BAR[0]) * 100 / 155)
    assert red + green == BAR[2] - BAR[0]

    # /profile shows the same card as its image.
    profile = await run(sandbox, ids, BRAM, "profile")
    assert profile["embeds"][0]["image"]["url"].endswith("rank.png")
    assert await attachment(sandbox, profile) == png
    assert_healthy(sandbox)


async def test_balance_chart_and_public_leaderboard(sandbox: Sandbox, ids: Ids):
    for user, amount in ((BRAM, 700), (CLEO, 300), (ids.owner, 50)):
        status, _ = await api(sandbox, "PATCH", f"/api/guilds/{ids.guild}/users/{user}", {"currency": amount})
        assert status == 200
    await sandbox.fake.advance_clock(3 * 3600)
    await api(sandbox, "PATCH", f"/api/guilds/{ids.guild}/users/{BRAM}", {"currency": -200})

    reply = await run(sandbox, ids, BRAM, "balance")
    assert reply["content"] == "bram has **500** points."
    chart = Image.open(io.BytesIO(await attachment(sandbox, reply)))
    assert chart.format == "PNG" and chart.size == (800, 360)

    async with aiohttp.ClientSession() as session:
        page_url = f"{sandbox.api.url}/leaderboard/{ids.guild}"
        async with session.get(page_url) as response:
            assert response.status == 404
        switched = await run(sandbox, ids, ids.owner, "economy-settings", {"public_leaderboard": True})
        assert "public at" in switched["content"]
        async with session.get(page_url) as response:
            assert response.status == 200
            page = await response.text()
        async with session.get(page_url + "?by=messages&page=5") as response:
            empty = await response.text()
    rows = re.findall(r"<td class=rank>(\d+)</td><td class=name>([^<]+)</td><td class=points>(-?\d+)<", page)
    assert rows[:3] == [("1", "bram", "500"), ("2", "cleo", "300"), ("3", "ada", "50")]
    assert "<tbody></tbody>" in empty
    assert_healthy(sandbox)


async def test_start_time_is_live_while_the_member_is_in_voice(sandbox: Sandbox, ids: Ids, world):
    lounge = next(channel.id for channel in world.guilds[0].channels if channel.name == "Lounge")
    path = f"/api/guilds/{ids.guild}/users/{ids.member}"
    status, body = await api(sandbox, "GET", path)
    assert status == 200
    assert body["response"]["startTime"] is None
    joined = int(sandbox.clock.time())
    await sandbox.fake.voice(ids.guild, ids.member, lounge)
    await sandbox.fake.advance_clock(90)
    _, body = await api(sandbox, "GET", path)
    expected = datetime.fromtimestamp(joined, UTC).isoformat().replace("+00:00", "Z")
    assert body["response"]["startTime"] == expected
    await sandbox.fake.voice(ids.guild, ids.member, None)
    _, body = await api(sandbox, "GET", path)
    assert body["response"]["startTime"] is None
    assert_healthy(sandbox)
