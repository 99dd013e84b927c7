"""The starboard against fakediscord: stars from members, the API routes, NSFW and self-stars."""

from __future__ import annotations

import aiohttp

from guildhall.sandbox import Sandbox
from tests.e2e.conftest import Ids, assert_healthy

STAR = "\N{WHITE MEDIUM STAR}"
BOARD = 1179000000000003002
NSFW = 1179000000000003003
HUMANS = [1179000000000000101, 1179000000000000102, 1179000000000000103, 1179000000000000104, 1179000000000000105]
HELPER_BOT = 1179000000000000201


async def api(sandbox: Sandbox, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    key = await sandbox.repos.api_keys.create(f"k{len(await sandbox.repos.api_keys.list())}", now=0)
    async with aiohttp.ClientSession() as session:
        response = await session.request(
            method, f"{sandbox.api.url}/modules/serverstats{path}", json=body, headers={"Authorization": key[1]}
        )
        return response.status, await response.json()


async def set_up_board(sandbox: Sandbox, ids: Ids, count: int = 3) -> None:
    enable = await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats enable", {})
    assert enable["responses"][-1]["content"] == "Server stats are on."
    answer = await sandbox.fake.command(
        ids.guild, ids.general, ids.owner, "starboard setup", {"channel": str(BOARD), "count": count}
    )
    assert "go to" in answer["responses"][-1]["content"]


def board_posts(sandbox: Sandbox, ids: Ids) -> list[dict]:
    [guild] = [g for g in sandbox.fake.state()["guilds"] if g["id"] == str(ids.guild)]
    return [m for m in guild["messages"].get(str(BOARD), []) if m["author_id"] == str(sandbox.bot.user.id)]


async def test_three_stars_post_the_message_and_unstarring_removes_it(sandbox: Sandbox, ids: Ids):
    await set_up_board(sandbox, ids)
    author = HUMANS[1]
    message_id = await sandbox.fake.message(ids.guild, ids.general, author, "a very good idea")
    # The author's own star and a bot's star do not count.
    for user in (author, HELPER_BOT, HUMANS[0], HUMANS[2]):
        await sandbox.fake.reaction(ids.guild, ids.general, message_id, user, STAR)
    assert board_posts(sandbox, ids) == []

    await sandbox.fake.reaction(ids.guild, ids.general, message_id, HUMANS[3], STAR)
    [post] = board_posts(sandbox, ids)
    assert post["content"].startswith(f"{STAR} **3**")
    [embed] = post["embeds"]
    assert embed["description"] == "a very good idea"
    assert embed["author"]["name"] == "bram"
    jump = f"https://discord.com/channels/{ids.guild}/{ids.general}/{message_id}"
    assert jump in embed["fields"][0]["value"]

    # A fourth star, given on the starboard post itself, counts for the original: the count is edited.
    await sandbox.fake.reaction(ids.guild, str(BOARD), post["id"], HUMANS[4], STAR)
    [post] = board_posts(sandbox, ids)
    assert post["content"].startswith(f"{STAR} **4**")
    assert len(sandbox.fake.find_requests("POST", rf"/channels/{BOARD}/messages$")) == 1

    # Unstarring below the threshold removes the post.
    await sandbox.fake.reaction(ids.guild, str(BOARD), post["id"], HUMANS[4], STAR, add=False)
    await sandbox.fake.reaction(ids.guild, ids.general, message_id, HUMANS[0], STAR, add=False)
    assert board_posts(sandbox, ids) == []
    entry = await sandbox.repos.starboard.entry(message_id)
    assert entry is not None and entry.stars == 2 and entry.board_message_id is None
    assert_healthy(sandbox)


async def test_nsfw_messages_never_reach_an_sfw_board(sandbox: Sandbox, ids: Ids):
    await set_up_board(sandbox, ids, count=1)
    message_id = await sandbox.fake.message(ids.guild, NSFW, HUMANS[1], "spicy")
    await sandbox.fake.reaction(ids.guild, NSFW, message_id, HUMANS[0], STAR)
    assert board_posts(sandbox, ids) == []
    status, body = await api(
        sandbox,
        "POST",
        "/starboard/add",
        {"guild_id": str(ids.guild), "channel_id": str(NSFW), "message_id": str(message_id)},
    )
    assert status == 200
    assert body["data"]["result"] == "nsfw source"
    assert board_posts(sandbox, ids) == []
    assert_healthy(sandbox)


async def test_the_api_routes_run_the_same_check_as_reactions(sandbox: Sandbox, ids: Ids):
    await set_up_board(sandbox, ids, count=2)
    message_id = await sandbox.fake.message(ids.guild, ids.general, HUMANS[1], "look")
    ref = {"guild_id": str(ids.guild), "channel_id": str(ids.general), "message_id": str(message_id)}
    # Stars that arrived while the bot was not looking: the add route recounts from Discord.
    sandbox.fake.store.messages[message_id].reactions[STAR] = [HUMANS[0], HUMANS[2]]
    status, body = await api(sandbox, "POST", "/starboard/add", ref)
    assert status == 200, body
    assert body == {
        "success": True,
        "data": {"result": "posted", "stars": 2, "starboard_message_id": body["data"]["starboard_message_id"]},
        "error": None,
    }
    [post] = board_posts(sandbox, ids)
    assert post["id"] == body["data"]["starboard_message_id"]
    sandbox.fake.store.messages[message_id].reactions[STAR] = [HUMANS[0]]
    status, body = await api(sandbox, "POST", "/starboard/remove", ref)
    assert (status, body["data"]["result"]) == (200, "removed")
    assert board_posts(sandbox, ids) == []

    # With the module off, the route answers ModuleDisabled and nothing is posted.
    await sandbox.fake.command(ids.guild, ids.general, ids.owner, "serverstats disable", {})
    sandbox.fake.store.messages[message_id].reactions[STAR] = [HUMANS[0], HUMANS[2]]
    status, body = await api(sandbox, "POST", "/starboard/add", ref)
    assert status == 409
    assert body["error"]["code"] == 800
    assert board_posts(sandbox, ids) == []
    assert await sandbox.repos.starboard.entry(message_id) is None
    assert_healthy(sandbox)


async def test_deleting_the_original_removes_its_starboard_post(sandbox: Sandbox, ids: Ids):
    await set_up_board(sandbox, ids, count=1)
    message_id = await sandbox.fake.message(ids.guild, ids.general, HUMANS[1], "fleeting")
    await sandbox.fake.reaction(ids.guild, ids.general, message_id, HUMANS[0], STAR)
    [post] = board_posts(sandbox, ids)
    # A moderator deletes the original (through REST, as Discord's client would): the post goes too.
    await sandbox.bot.get_channel(ids.general).get_partial_message(message_id).delete()
    await sandbox.fake.settled()
    assert board_posts(sandbox, ids) == []
    assert await sandbox.repos.starboard.entry(message_id) is None
    assert await sandbox.repos.starboard.entry_for_board_message(int(post["id"])) is None
    assert_healthy(sandbox)
