"""The voice-profile family over the real app and a real SQLite file: responses and stored state."""

from __future__ import annotations

import asyncio

import pytest

from core.members import MAX_AMOUNT, vp_id
from storage import Repositories
from storage.ledger import Party

G = 131853185391
G2 = 999000
U = 1242154218
U2 = 1242154219
BOT = 4242


@pytest.fixture
async def key(repos: Repositories, clock) -> str:
    _, secret = await repos.api_keys.create("companion", now=int(clock.time()), bot_user_id=BOT)
    return secret


@pytest.fixture
async def client(client_for, key):
    c = await client_for()
    c.session.headers["Authorization"] = key
    return c


async def _seed(repos: Repositories, user: int, amount: int, guild: int = G) -> None:
    await repos.ledger.adjust(Party(guild, user), Party(guild, BOT), delta=amount, reason="seed", actor="t", now=1)


async def test_create_then_get_then_404_and_conflict(client, repos: Repositories):
    response = await client.post(f"/profile/{G}/{U}")
    assert response.status == 201
    body = await response.json()
    assert body == {
        "id": vp_id(G, U),
        "guild_id": str(G),
        "user_id": str(U),
        "experience": 0,
        "voicepoints": 0,
        "level": 1,
        "pray": {"date": 0, "streak": 0, "total": 0},
        "text": None,
        "timespent": {"global": 0},
        "data": None,
    }
    assert (await client.get(f"/profile/{G}/{U}")).status == 200
    missing = await client.get(f"/profile/{G}/{U2}")
    assert missing.status == 404
    assert "error" in await missing.json()
    again = await client.post(f"/profile/{G}/{U}", json={"level": 5})
    assert again.status == 409
    assert (await repos.members.get(G, U)).level == 1
    overwritten = await client.post(f"/profile/{G}/{U}?overwrite=true", json={"level": 5, "voicepoints": 7})
    assert overwritten.status == 200
    member = await repos.members.get(G, U)
    assert (member.level, member.voicepoints) == (5, 7)
    assert await repos.ledger.verify_balances() == []


async def test_edit_and_add_one_profile_and_voicepoints_become_ledger_rows(client, repos: Repositories):
    edited = await client.patch(
        f"/profile/{G}/{U}",
        json={
            "experience": 40,
            "voicepoints": 100,
            "text": {"level": 2},
            "data": {"a": 1},
            "pray": {"date": 1_764_000_000_000},
        },
    )
    assert edited.status == 200
    body = await edited.json()
    assert body["text"] == {"level": 2, "experience": 0, "message_count": 0}
    assert body["pray"]["date"] == 1_764_000_000  # milliseconds read as such
    added = await client.patch(
        f"/profile/{G}/{U}/add",
        json={"experience": 5, "voicepoints": -30, "timespent": {"global": 9}, "data": {"a": 2}},
    )
    body = await added.json()
    assert (body["experience"], body["voicepoints"], body["timespent"]["global"], body["data"]) == (45, 70, 9, {"a": 3})
    rows = await (await client.get("/transaction", params={"user_id": str(U)})).json()
    assert [(r["amount"], r["reason"], r["actor"]) for r in rows] == [
        (30, "api add", "companion"),
        (100, "api edit", "companion"),
    ]
    assert rows[0]["to"]["user_id"] == str(BOT)
    assert await repos.ledger.verify_balances() == []
    # Without voicepoints the answer is built from the row read before the update: it is what is stored.
    for path, body in (
        ("/add", {"experience": 2, "text": {"message_count": 3}, "data": {"b": [1]}}),
        ("", {"level": 7}),
    ):
        answer = await (await client.patch(f"/profile/{G}/{U}{path}", json=body)).json()
        assert answer == await (await client.get(f"/profile/{G}/{U}")).json()
    assert (answer["level"], answer["experience"], answer["text"]["message_count"]) == (7, 47, 3)
    assert answer["data"] == {"a": 3, "b": [1]}


async def test_bulk_edit_is_all_or_nothing_and_names_the_bad_item(client, repos: Repositories):
    good = {"user_id": str(U), "guild_id": str(G), "level": 3}
    bad = {"user_id": U2, "guild_id": G, "voicepoints": -5}
    response = await client.patch("/profile", json=[good, bad])
    assert response.status == 400
    assert "item 1" in (await response.json())["error"]
    assert await repos.members.get(G, U) is None
    response = await client.patch("/profile/", json=[good, {"user_id": "x", "guild_id": G}])
    assert response.status == 400
    assert (await response.json())["error"].startswith("item 1")
    response = await client.patch("/profile/add", json=[good, {**good, "level": 2}])
    assert response.status == 200
    assert (await repos.members.get(G, U)).level == 6  # 1 + 3 + 2


async def test_bad_bodies_are_rejected_and_change_nothing(client, repos: Repositories):
    cases = [
        ("PATCH", f"/profile/{G}/{U}", [{"level": 2}]),
        ("PATCH", f"/profile/{G}/{U}", {"experience": 1.5}),
        ("PATCH", f"/profile/{G}/{U}", {"experience": "12"}),
        ("PATCH", f"/profile/{G}/{U}", {"voicepoints": MAX_AMOUNT + 1}),
        ("PATCH", f"/profile/{G}/{U}", {"level": 0}),
        ("PATCH", "/profile", {"user_id": U}),
        ("PATCH", "/profile/add", [{"guild_id": G}]),
    ]
    for method, path, body in cases:
        response = await client.request(method, path, json=body)
        assert response.status == 400, (path, body)
        assert set(await response.json()) == {"error"}
    malformed = await client.patch(f"/profile/{G}/{U}", data=b"{nope", headers={"Content-Type": "application/json"})
    assert malformed.status == 400
    assert await repos.members.list() == []
    assert await repos.ledger.count() == 0


async def test_listing_paging_tree_and_guilds(client, repos: Repositories):
    for user in (1, 2, 3):
        assert (await client.post(f"/profile/{G}/{user}")).status == 201
    assert (await client.post(f"/profile/{G2}/1")).status == 201
    page = await (await client.get(f"/profile/{G}", params={"limit": "2", "page": "1"})).json()
    assert [p["user_id"] for p in page] == ["3"]
    assert await (await client.get(f"/profile/{G}", params={"limit": "2", "page": "9"})).json() == []
    everything = await (await client.get("/profile", params={"limit": "0"})).json()
    assert len(everything) == 4
    tree = await (await client.get("/profile", params={"view": "tree"})).json()
    assert set(tree) == {str(G), str(G2)} and set(tree[str(G)]) == {"1", "2", "3"}
    guild_tree = await (await client.get(f"/profile/{G}", params={"view": "tree"})).json()
    assert guild_tree["2"]["id"] == vp_id(G, 2)
    assert await (await client.get("/profile/guilds")).json() == [str(G2), str(G)]
    assert await (await client.get("/profile/guilds/1")).json() == [str(G2), str(G)]
    assert (await client.get("/profile", params={"view": "graph"})).status == 400
    assert (await client.get("/profile", params={"limit": "ten"})).status == 400


async def test_tops_sort_page_and_refuse_unknown_orders(client, repos: Repositories):
    for user, points in ((1, 5), (2, 50), (3, 20)):
        await _seed(repos, user, points)
    top = await (await client.get(f"/profile/{G}/top", params={"by": "points"})).json()
    assert [p["user_id"] for p in top] == ["2", "3", "1", str(BOT)]  # the bot's profile issued -75
    second = await (await client.get(f"/profile/{G}/top", params={"amount": "1", "offset": "1"})).json()
    assert [p["user_id"] for p in second] == ["3"]
    assert (await client.get(f"/profile/{G}/top", params={"by": "wealth"})).status == 400
    levels = await (await client.get("/profile/top", params={"by": "levels", "amount": "0"})).json()
    assert len(levels) == 4  # three members and the bot's own profile


async def test_post_transaction_between_profiles_and_from_self(client, repos: Repositories):
    await _seed(repos, U, 500)
    response = await client.post(
        "/transaction",
        json={"from": vp_id(G, U), "to": {"user_id": str(U2), "guild_id": str(G)}, "amount": 300, "reason": "gift"},
    )
    assert response.status == 200
    row = await response.json()
    assert (row["from"]["id"], row["to"]["user_id"], row["amount"], row["actor"]) == (
        vp_id(G, U),
        str(U2),
        300,
        "companion",
    )
    reward = await client.post(
        "/transaction", json={"from": "self", "to": {"user_id": U2, "guild_id": G}, "amount": 10, "reason": "level up"}
    )
    assert reward.status == 200
    assert (await reward.json())["from"]["user_id"] == str(BOT)
    assert (await repos.members.get(G, U2)).voicepoints == 310
    assert (await repos.members.get(G, BOT)).voicepoints == -510
    penalty = await client.post(
        "/transaction", json={"from": vp_id(G, U2), "to": "self", "amount": 10, "reason": "penalty"}
    )
    assert penalty.status == 200
    assert await repos.ledger.verify_balances() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"from": "self", "to": "self", "amount": 1}, 400),
        ({"from": {"user_id": U, "guild_id": G}, "to": {"user_id": U, "guild_id": G}, "amount": 1}, 400),
        ({"from": {"user_id": U, "guild_id": G}, "to": {"user_id": U2, "guild_id": G}, "amount": 0}, 400),
        ({"from": {"user_id": U, "guild_id": G}, "to": {"user_id": U2, "guild_id": G}, "amount": 1.5}, 400),
        ({"from": {"user_id": U, "guild_id": G}, "to": {"user_id": U2, "guild_id": G}, "amount": 2**53}, 400),
        ({"from": {"user_id": U, "guild_id": G}, "to": {"user_id": U2, "guild_id": G}, "amount": 11}, 400),
        ({"from": "f" * 64, "to": {"user_id": U2, "guild_id": G}, "amount": 1}, 404),
        ({"from": "nothex", "to": {"user_id": U2, "guild_id": G}, "amount": 1}, 400),
        ({"from": {"user_id": "abc", "guild_id": G}, "to": {"user_id": U2, "guild_id": G}, "amount": 1}, 400),
        ({"from": {"user_id": 555, "guild_id": G}, "to": {"user_id": U2, "guild_id": G}, "amount": 1}, 403),
        ([1, 2], 400),
    ],
)
async def test_refused_transactions_write_nothing(client, repos: Repositories, body, status):
    await _seed(repos, U, 10)
    other_bot = Party(G, 555)
    await repos.ledger.transfer(other_bot, Party(G, 7), 1, reason="", actor="t", now=1, issuer=other_bot)
    before = await repos.ledger.count()
    response = await client.post("/transaction", json=body)
    assert response.status == status, await response.text()
    assert "error" in await response.json()
    assert await repos.ledger.count() == before
    assert (await repos.members.get(G, U)).voicepoints == 10
    assert await repos.members.get(G, U2) is None


async def test_concurrent_transactions_over_http_conserve_points(client, repos: Repositories):
    people = [Party(G, user) for user in (1, 2, 3)]
    for party in people:
        await _seed(repos, party.user_id, 50)

    async def send(i: int) -> int:
        source, target = people[i % 3], people[(i + 1) % 3]
        body = {"from": source.vp_id, "to": target.vp_id, "amount": 1 + i % 7, "reason": f"t{i}"}
        return (await client.post("/transaction", json=body)).status

    statuses = await asyncio.gather(*(send(i) for i in range(150)))
    assert set(statuses) <= {200, 400}
    assert await repos.ledger.verify_balances() == []
    assert sum([(await repos.members.get(G, p.user_id)).voicepoints for p in people]) == 150


async def test_transaction_filters_graph_and_stats(client, repos: Repositories, clock):
    await _seed(repos, U, 100)
    await client.post(
        "/transaction",
        json={"from": vp_id(G, U), "to": {"user_id": U2, "guild_id": G}, "amount": 30, "reason": "Very generous gift"},
    )
    found = await (await client.get("/transaction", params={"reason": "generous", "from": str(U)})).json()
    assert [r["amount"] for r in found] == [30]
    assert await (await client.get("/transaction", params={"to": str(U), "reason": "generous"})).json() == []
    assert (await client.get("/transaction", params={"vp_id": "xyz"})).status == 400
    graph = await (await client.get("/transaction/graph", params={"guild_id": str(G), "user_id": str(U)})).json()
    assert [p["balance"] for p in graph][-1] == 70
    assert (await client.get("/transaction/graph", params={"user_id": str(U)})).status == 400
    circulation = await (await client.get("/transaction/graph", params={"guild_id": str(G)})).json()
    assert circulation[-1]["balance"] == 100  # gifts between members don't change the circulation
    stats = await (await client.get("/stats", params={"guild_id": str(G)})).json()
    assert stats == {"profiles": 3, "guilds": 1, "voicepoints": 100, "timespent": 0, "messages": 0, "transactions": 2}


async def test_keys_scopes_read_only_and_public_reads(client_for, repos: Repositories, clock, settings):
    _, scoped = await repos.api_keys.create("scoped", now=1, guild_ids=frozenset({G2}), bot_user_id=BOT)
    _, reader = await repos.api_keys.create("reader", now=1, read_only=True, bot_user_id=BOT)
    client = await client_for()
    assert (await client.get(f"/profile/{G}/{U}")).status == 401
    assert (await client.post(f"/profile/{G}/{U}", headers={"Authorization": reader})).status == 403
    assert (await client.post(f"/profile/{G}/{U}", headers={"Authorization": f"Bearer {scoped}"})).status == 403
    bulk = await client.patch("/profile", json=[{"user_id": U, "guild_id": G}], headers={"Authorization": scoped})
    assert bulk.status == 403
    assert await repos.members.list() == []
    public = settings.model_copy(update={"api": settings.api.model_copy(update={"public_reads": True})})
    open_client = await client_for(app_settings=public)
    assert (await open_client.get("/profile")).status == 200
    assert (await open_client.post(f"/profile/{G}/{U}")).status == 401


async def test_openapi_describes_the_voice_routes(client):
    document = await (await client.get("/openapi.json")).json()
    assert "post" in document["paths"]["/transaction"]
    assert "requestBody" in document["paths"]["/profile/{guild_id}/{user_id}"]["patch"]
    assert "/profile/{guild_id}/top" in document["paths"]


async def test_out_of_range_and_non_numeric_ids(client, repos: Repositories):
    too_big = "9" * 20
    response = await client.get(f"/profile/{too_big}/{U}")
    assert response.status == 400
    assert "out of range" in (await response.json())["error"]
    # 19 digits, one past int64; and digits of another script, which the path pattern (\d+) lets in.
    for guild_id, error in ((str(2**63), "guild_id is out of range"), ("\u0661\u0662", "guild_id must be")):
        response = await client.get(f"/profile/{guild_id}/{U}")
        assert response.status == 400
        assert error in (await response.json())["error"]
    assert (await client.get(f"/profile/{G}/{2**63 - 1}")).status == 404  # the largest id is an id
    assert (await client.post(f"/profile/{G}/{too_big}")).status == 400
    unknown = await client.get(f"/profile/{G}/abc")
    assert unknown.status == 404
    assert set(await unknown.json()) == {"error"}
    assert (await client.get("/transaction", params={"guild_id": "-1"})).status == 400
    assert (await client.get("/stats", params={"guild_id": too_big})).status == 400
    assert await repos.members.list() == []
