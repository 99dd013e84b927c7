"""The server-stats family through the real app over a real SQLite file, with a stub Discord side."""

from __future__ import annotations

from typing import Any

import pytest

from core import serverstats
from core.clock import ManualClock
from core.counters import RenameBudget
from core.serverstats import ChannelInfo
from storage import Repositories
from web import keys

GUILD = 1000
OTHER_GUILD = 2000
TEXT, VOICE, CATEGORY, NSFW_TEXT, OTHER_TEXT = 11, 12, 13, 14, 21
ROLE = 31
USER, OTHER_USER = 501, 502
BASE = "/modules/serverstats"


class StubDiscord:
    """The guild as the serverstats cog would describe it."""

    def __init__(self) -> None:
        self.channels = {
            GUILD: {
                TEXT: ChannelInfo(TEXT, "text"),
                VOICE: ChannelInfo(VOICE, "voice", parent_id=CATEGORY),
                CATEGORY: ChannelInfo(CATEGORY, "category"),
                NSFW_TEXT: ChannelInfo(NSFW_TEXT, "text", nsfw=True),
            },
            OTHER_GUILD: {OTHER_TEXT: ChannelInfo(OTHER_TEXT, "text")},
        }
        self.created: list[str] = []
        self.deleted: list[int] = []

    def guild_channels(self, guild_id: int) -> dict[int, ChannelInfo] | None:
        return dict(self.channels[guild_id]) if guild_id in self.channels else None

    def guild_roles(self, guild_id: int) -> set[int]:
        return {ROLE} if guild_id == GUILD else set()

    async def create_voice_channel(self, guild_id: int, category_id: int, name: str) -> int:
        channel_id = 100 + len(self.created)
        self.channels[guild_id][channel_id] = ChannelInfo(channel_id, "voice", parent_id=category_id)
        self.created.append(name)
        return channel_id

    async def delete_channel(self, guild_id: int, channel_id: int) -> None:
        self.channels[guild_id].pop(channel_id, None)
        self.deleted.append(channel_id)


class StubCog:
    def __init__(self) -> None:
        self.discord = StubDiscord()
        self.budget = RenameBudget()


class StubBot:
    gateway_connected = True
    ready = True
    guild_count = 2
    bot_user_id = 1
    started_at = 0.0

    def __init__(self) -> None:
        self.cog = StubCog()

    def get_cog(self, name: str) -> Any:
        return self.cog if name == "ServerStats" else None


@pytest.fixture
def bot() -> StubBot:
    return StubBot()


@pytest.fixture
async def client(client_for, bot: StubBot, api_key: str):
    client = await client_for(prepare=lambda app: app.__setitem__(keys.BOT, bot))
    client.session.headers["Authorization"] = api_key
    return client


def full_settings(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "guild_id": str(GUILD),
        "counter_panel_enabled": True,
        "counter_panel_category_channel": str(CATEGORY),
        "counter_panel_member_count_channel": str(VOICE),
        "counter_panel_online_member_count_channel": None,
        "counter_panel_custom_panels_create": [],
        "counter_panel_custom_panels_delete": [],
        "counter_panel_server_boost_number_channel": None,
        "starboard_enabled": True,
        "starboard_channel": str(TEXT),
        "starboard_count": 3,
        "stats_command_usage": True,
        "stats_message_statistics": True,
        "stats_track_bot_messages": False,
        "stats_functions_reminders_statistics_enabled": True,
        "stats_functions_giveaways_statistics_enabled": True,
        "stats_modules_tempchannels_statistics_enabled": True,
        "stats_modules_autoresponder_statistics_enabled": True,
        "stats_modules_reactionroles_statistics_enabled": True,
        "stats_modules_tags_statistics_enabled": True,
    }
    body.update(changes)
    return body


async def enable(client, guild_id: int = GUILD) -> None:
    response = await client.post(f"{BASE}/enable", json={"guild_id": str(guild_id)})
    assert response.status == 200, await response.text()


async def test_home_and_missing_key(client, client_for):
    response = await client.get(BASE)
    assert response.status == 200
    body = await response.json()
    assert body["success"] is True and body["error"] is None
    bare = await client_for()
    response = await bare.get(f"{BASE}/status", params={"guild_id": GUILD})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == 401


async def test_module_is_off_until_enabled_and_enable_twice_is_801(client, repos: Repositories):
    response = await client.get(f"{BASE}/settings", params={"guild_id": GUILD})
    assert response.status == 404
    assert await response.json() == {
        "success": False,
        "data": {},
        "error": {"code": 802, "message": "Unable to fetch the settings of the guild!"},
    }
    await enable(client)
    response = await client.post(f"{BASE}/enable", json={"guild_id": GUILD})
    assert response.status == 409
    assert (await response.json())["error"] == {"code": 801, "message": "This module is enabled for this guild!"}
    status = await (await client.get(f"{BASE}/status", params={"guild_id": str(GUILD)})).json()
    assert status == {"success": True, "data": {"guild_id": str(GUILD), "enabled": True}, "error": None}
    settings = (await (await client.get(f"{BASE}/settings", params={"guild_id": GUILD})).json())["data"]
    assert settings["starboard_enabled"] is False and settings["stats_command_usage"] is True
    state = await repos.serverstats.get(GUILD)
    assert state is not None and state.enabled


async def test_enable_for_a_guild_the_bot_is_not_in_is_802_and_stores_nothing(client, repos: Repositories):
    response = await client.post(f"{BASE}/enable", json={"guild_id": "3000"})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == 802
    assert await repos.serverstats.get(3000) is None


async def test_without_discord_enable_is_804(client_for, api_key, repos: Repositories):
    client = await client_for()
    response = await client.post(f"{BASE}/enable", json={"guild_id": GUILD}, headers={"Authorization": api_key})
    assert response.status == 503
    assert (await response.json())["error"]["code"] == 804
    assert await repos.serverstats.get(GUILD) is None


async def test_put_settings_stores_them_and_creates_custom_panels(client, repos: Repositories, bot: StubBot):
    await enable(client)
    body = full_settings(counter_panel_custom_panels_create=[{"channel_name": "Mods online", "role_id": str(ROLE)}])
    response = await client.put(f"{BASE}/settings", json=body)
    assert response.status == 200, await response.text()
    data = (await response.json())["data"]
    assert data["starboard_channel"] == str(TEXT) and data["starboard_count"] == 3
    [panel] = data["counter_panel_custom_panels"]
    assert panel["channel_name"] == "Mods online" and panel["role_id"] == str(ROLE)
    assert bot.cog.discord.created == ["Mods online: 0"]
    counters = await repos.counters.for_guild(GUILD)
    assert {(c.channel_id, c.kind) for c in counters} == {(VOICE, "members"), (int(panel["channel_id"]), "role")}
    # Removing the custom panel deletes its channel.
    body = full_settings(counter_panel_custom_panels_delete=[panel["channel_id"]])
    response = await client.put(f"{BASE}/settings", json=body)
    assert response.status == 200
    assert bot.cog.discord.deleted == [int(panel["channel_id"])]
    assert [c.kind for c in await repos.counters.for_guild(GUILD)] == ["members"]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"starboard_channel": str(VOICE)}, "starboard_channel"),
        ({"starboard_channel": str(OTHER_TEXT)}, "not a channel of this guild"),
        ({"counter_panel_category_channel": str(TEXT)}, "counter_panel_category_channel"),
        ({"counter_panel_member_count_channel": "999"}, "counter_panel_member_count_channel"),
        ({"starboard_count": None}, "starboard_count"),
        ({"starboard_count": 0}, "starboard_count"),
        ({"starboard_enabled": "yes"}, "starboard_enabled"),
        ({"stats_command_usage": None}, "stats_command_usage"),
        ({"guild_id": True}, "guild_id"),
        ({"counter_panel_custom_panels_create": [{"channel_name": "x", "role_id": "77"}]}, "role 77"),
        ({"counter_panel_custom_panels_delete": ["555"]}, "555"),
    ],
)
async def test_bad_settings_are_400_and_change_nothing(client, repos: Repositories, changes, fragment):
    await enable(client)
    before = await repos.serverstats.get(GUILD)
    response = await client.put(f"{BASE}/settings", json=full_settings(**changes))
    assert response.status == 400
    body = await response.json()
    assert body["success"] is False and body["error"]["code"] == 400
    assert fragment in body["error"]["message"]
    assert await repos.serverstats.get(GUILD) == before
    assert await repos.counters.for_guild(GUILD) == []


async def test_missing_field_and_disabled_module(client, repos: Repositories):
    await enable(client)
    body = full_settings()
    del body["stats_modules_tags_statistics_enabled"]
    response = await client.put(f"{BASE}/settings", json=body)
    assert response.status == 400
    assert "stats_modules_tags_statistics_enabled" in (await response.json())["error"]["message"]
    response = await client.post(f"{BASE}/disable", json={"guild_id": GUILD})
    assert response.status == 200
    response = await client.put(f"{BASE}/settings", json=full_settings())
    assert response.status == 409
    assert (await response.json())["error"] == {"code": 800, "message": "This module is disabled for this guild!"}
    state = await repos.serverstats.get(GUILD)
    assert state is not None and not state.enabled and state.settings["starboard_enabled"] is False
    response = await client.post(f"{BASE}/disable", json={"guild_id": GUILD})
    assert (response.status, (await response.json())["error"]["code"]) == (409, 800)


# (check path, body fields, view params, kind, user filter value)
CHECKS = [
    ("/stats/command/check", {"command": "about"}, {}, "command"),
    ("/stats/message/check", {"member_is_bot": False, "channel_id": str(TEXT), "message_id": "77"}, {}, "message"),
    ("/stats/functions/reminders/created", {}, {}, "reminders.created"),
    ("/stats/functions/reminders/deleted", {}, {}, "reminders.deleted"),
    ("/stats/functions/giveaways/responders", {"old_giveaway_id": "g-1"}, {}, "giveaways.responders"),
    ("/stats/functions/giveaways/created", {}, {}, "giveaways.created"),
    ("/stats/functions/giveaways/deleted", {}, {}, "giveaways.deleted"),
    ("/stats/modules/tempchannels/created", {"initial_creator_id": str(USER)}, {}, "tempchannels.created"),
    (
        "/stats/modules/tempchannels/creation-time",
        {"initial_creator_id": str(USER), "creation_time_delay": 40},
        {"avg": 40.0, "max": 40},
        "tempchannels.creation-time",
    ),
    (
        "/stats/modules/tempchannels/deletion-time",
        {"initial_creator_id": str(USER), "deletion_time_delay": 12},
        {"avg": 12.0, "max": 12},
        "tempchannels.deletion-time",
    ),
    ("/stats/modules/reactionroles/check-time", {"check_time_delay": 5}, {"avg": 5.0, "max": 5}, "reactionroles"),
    ("/stats/modules/tags/send-time", {"send_time_delay": 7}, {"avg": 7.0, "max": 7}, "tags"),
    (
        "/stats/modules/autoresponder/response-time",
        {"response_time_delay": 9},
        {"avg": 9.0, "max": 9},
        "autoresponder",
    ),
]


def view_path(check_path: str) -> str:
    return check_path.removesuffix("/check") + "/view"


@pytest.mark.parametrize(("path", "fields", "timing", "kind"), CHECKS, ids=[c[3] for c in CHECKS])
async def test_every_check_comes_back_through_its_view(client, clock: ManualClock, path, fields, timing, kind):
    await enable(client)
    response = await client.post(f"{BASE}{path}", json={"guild_id": str(GUILD), **fields})
    assert response.status == 200, await response.text()
    assert (await response.json())["data"] == {"recorded": True}
    view = await client.get(f"{BASE}{view_path(path)}", params={"guild_id": GUILD})
    assert view.status == 200
    [today] = (await view.json())["data"]
    assert today == {"date": serverstats_date(clock.time()), "count": 1, **timing}
    week = (await (await client.get(f"{BASE}{view_path(path)}", params={"guild_id": GUILD, "days": 7})).json())["data"]
    assert [p["count"] for p in week] == [0, 0, 0, 0, 0, 0, 1]


def serverstats_date(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).date().isoformat()


async def test_view_filters_days_and_retention(client, repos: Repositories, clock: ManualClock):
    await enable(client)
    now = int(clock.time())
    for user, channel, days_ago in ((USER, TEXT, 0), (USER, NSFW_TEXT, 1), (OTHER_USER, TEXT, 1), (USER, TEXT, 40)):
        await repos.serverstats.record(
            GUILD, "message", now=now - days_ago * 86_400, user_id=user, channel_id=channel, ref_id=1
        )
    path = f"{BASE}/stats/message/view"

    async def counts(**params: Any) -> list[int]:
        response = await client.get(path, params={"guild_id": GUILD, "days": 2, **params})
        assert response.status == 200
        return [point["count"] for point in (await response.json())["data"]]

    assert await counts() == [2, 1]
    assert await counts(user_id=USER) == [1, 1]
    assert await counts(channel_id=TEXT) == [1, 1]
    assert await counts(user_id=OTHER_USER, channel_id=TEXT) == [1, 0]
    for bad in ({"days": 0}, {"days": 31}, {"days": "x"}, {"guild_id": "abc"}, {"user_id": "-1"}):
        response = await client.get(path, params={"guild_id": GUILD, **bad})
        assert response.status == 400, bad
        assert (await response.json())["error"]["code"] == 400
    response = await client.get(path)
    assert response.status == 400
    deleted = await serverstats.apply_retention(repos, now=clock.time(), retention_days=31)
    assert deleted == 1
    assert await repos.serverstats.count_user_data(GUILD, USER) == 2


async def test_check_routes_respect_toggles_bots_and_the_disabled_module(client, repos: Repositories):
    await enable(client)
    bot_message = {"guild_id": GUILD, "member_is_bot": True, "channel_id": TEXT, "message_id": 9}
    response = await client.post(f"{BASE}/stats/message/check", json=bot_message)
    assert (await response.json())["data"] == {"recorded": False}
    response = await client.post(f"{BASE}/stats/command/check", json={"guild_id": GUILD})
    assert response.status == 400
    response = await client.post(
        f"{BASE}/stats/modules/tags/send-time", json={"guild_id": GUILD, "send_time_delay": -1}
    )
    assert response.status == 400
    await client.post(f"{BASE}/stats/command/check", json={"guild_id": GUILD, "command": "about"})
    assert len(await repos.serverstats.daily(GUILD, "command", since=0)) == 1
    await client.post(f"{BASE}/disable", json={"guild_id": GUILD})
    assert await repos.serverstats.daily(GUILD, "command", since=0) == []  # disabling deletes the data
    response = await client.post(f"{BASE}/stats/command/check", json={"guild_id": GUILD, "command": "about"})
    assert response.status == 409 and (await response.json())["error"]["code"] == 800
    assert await repos.serverstats.daily(GUILD, "command", since=0) == []


async def test_checks_see_settings_and_consent_changed_since_the_last_check(
    client, repos: Repositories, clock: ManualClock
):
    # A guild's settings and a member's consent are remembered between checks until the next commit.
    await enable(client)
    created = {"guild_id": GUILD, "initial_creator_id": USER}

    async def recorded() -> bool:
        response = await client.post(f"{BASE}/stats/modules/tempchannels/created", json=created)
        assert response.status == 200, await response.text()
        return (await response.json())["data"]["recorded"]

    assert await recorded() is True
    await repos.privacy.set_opted_out(GUILD, USER, True, now=int(clock.time()))
    assert await recorded() is False
    await repos.privacy.set_opted_out(GUILD, USER, False, now=int(clock.time()))
    assert await recorded() is True
    response = await client.put(
        f"{BASE}/settings", json=full_settings(stats_modules_tempchannels_statistics_enabled=False)
    )
    assert response.status == 200, await response.text()
    assert await recorded() is False
    assert (await repos.serverstats.daily(GUILD, "tempchannels.created", since=0))[0].count == 2


async def test_check_deleted_channel_updates_the_settings(client, repos: Repositories, bot: StubBot):
    await enable(client)
    await client.put(f"{BASE}/settings", json=full_settings())
    ref = {"guild_id": GUILD, "channel_id": VOICE}
    response = await client.post(f"{BASE}/stats/counter-panel/check-deleted-channel", json=ref)
    assert response.status == 400  # it still exists
    bot.cog.discord.channels[GUILD].pop(VOICE)
    response = await client.post(f"{BASE}/stats/counter-panel/check-deleted-channel", json=ref)
    assert (await response.json())["data"]["was_counter_channel"] is True
    state = await repos.serverstats.get(GUILD)
    assert state is not None and state.settings["counter_panel_member_count_channel"] is None
    assert await repos.counters.for_guild(GUILD) == []


async def test_privacy_routes_count_and_delete_a_members_entries(client, repos: Repositories, clock: ManualClock):
    await enable(client)
    now = int(clock.time())
    await repos.serverstats.record(GUILD, "command", now=now, user_id=USER, label="about")
    await repos.serverstats.record(GUILD, "command", now=now, user_id=OTHER_USER, label="about")
    params = {"guild_id": GUILD, "privacy_member_id": USER}
    body = await (await client.get(f"{BASE}/privacy/get-user-entries", params=params)).json()
    assert body["data"] == {"username": 0, "display_name": 0, "global_name": 0, "nickname": 0, "id": 1}
    response = await client.delete(f"{BASE}/privacy/delete-user-entries", json=params)
    assert (await response.json())["data"] == {"id": 1}
    assert await repos.serverstats.count_user_data(GUILD, USER) == 0
    assert await repos.serverstats.count_user_data(GUILD, OTHER_USER) == 1
    response = await client.delete(f"{BASE}/privacy/delete-user-entries", json={"guild_id": GUILD})
    assert response.status == 400


async def test_a_key_scoped_to_another_guild_is_403(client, repos: Repositories):
    _, scoped = await repos.api_keys.create("scoped", now=0, guild_ids=frozenset({OTHER_GUILD}))
    response = await client.post(f"{BASE}/enable", json={"guild_id": GUILD}, headers={"Authorization": scoped})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == 403
    assert await repos.serverstats.get(GUILD) is None
