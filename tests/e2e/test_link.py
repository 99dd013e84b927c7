"""The website link end to end: a NamelessMC stand-in, the real bot and API, and fakediscord.

Default world: Admin > Moderator > Guildhall (the bot, managed) > Verified > Member; bram has DMs
open, dax closed; guild 42 is linked but the bot is not in it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.config import Settings
from guildhall.sandbox import Sandbox
from storage import Storage
from tests.conftest import make_settings
from tests.e2e.conftest import Ids, assert_healthy, start
from tests.e2e.nameless_site import NamelessSite

BRAM, CLEO, DAX, EVE = 1179000000000000102, 1179000000000000103, 1179000000000000104, 1179000000000000105
HELPERBOT = 1179000000000000201
NOT_IN = 42
ROLE_PUT = r"/guilds/\d+/members/\d+/roles/\d+"


@pytest.fixture
def e2e_settings(db_path: Path) -> Settings:
    link = {"allow_private_targets": True, "discord_call_timeout": 0.5}
    return make_settings(db_path, logging={"access_log": False}, link=link)


@pytest.fixture
async def site() -> AsyncIterator[NamelessSite]:
    site = NamelessSite()
    await site.start()
    yield site
    await site.stop()


@pytest.fixture
async def linked(site: NamelessSite, sandbox: Sandbox, ids: Ids) -> Sandbox:
    now = int(sandbox.clock.time())
    await sandbox.repos.guild_links.put(ids.guild, site.api_url, site.api_key, now=now)
    await sandbox.repos.guild_links.put(NOT_IN, site.api_url, site.api_key, now=now)
    return sandbox


async def post(sandbox: Sandbox, path: str, data: Any) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.api.url}{path}", data=json.dumps(data).encode()) as response,
    ):
        return response.status, await response.text()


def roles_of(sandbox: Sandbox, guild_id: int, user_id: int) -> set[int]:
    [guild] = [g for g in sandbox.fake.state()["guilds"] if g["id"] == str(guild_id)]
    [member] = [m for m in guild["members"] if m["id"] == str(user_id)]
    return {int(role) for role in member["roles"]}


def changes(ids: Ids, *items: tuple[int, int | str, str], guild: int | None = None, key: str = "website-key-1"):
    role_changes = [{"user_id": str(u), "role_id": r, "action": a} for u, r, a in items]
    return {"guild_id": str(guild or ids.guild), "api_key": key, "role_changes": role_changes}


async def test_apply_role_changes_reaches_discord_with_every_status(linked: Sandbox, ids: Ids, site: NamelessSite):
    site.users[EVE] = 7
    verified, member, moderator, own = (ids.roles[n] for n in ("Verified", "Member", "Moderator", "Guildhall"))
    status, text = await post(
        linked,
        "/applyRoleChanges",
        changes(
            ids,
            (EVE, verified, "add"),
            (BRAM, member, "add"),
            (BRAM, verified, "remove"),
            (EVE, moderator, "add"),
            (EVE, own, "add"),
            (123, verified, "add"),
            (EVE, 456, "add"),
        ),
    )
    assert status == 200
    answer = json.loads(text)
    assert [item["status"] for item in answer["role_changes"]] == [
        "added",
        "none",
        "removed",
        "no_permission",
        "no_permission",
        "invalid_user",
        "invalid_role",
    ]
    assert answer["role_changes"][0] == {"status": "added", "user_id": str(EVE), "role_id": str(verified)}
    assert roles_of(linked, ids.guild, EVE) == {verified}
    assert verified not in roles_of(linked, ids.guild, BRAM)
    # Only the two real changes called Discord; hierarchy was checked before calling.
    assert len(linked.fake.find_requests(None, ROLE_PUT)) == 2
    # The bot reported eve's new role to the website, as Nameless-Link does.
    await linked.fake.settled()
    [report] = site.routes("discord/id:7/sync-roles")
    assert report.body == {"add": [verified], "remove": []}
    assert_healthy(linked)


async def test_a_guild_the_bot_is_not_in_and_a_bad_key(linked: Sandbox, ids: Ids):
    verified = ids.roles["Verified"]
    assert await post(linked, "/applyRoleChanges", changes(ids, (EVE, verified, "add"), guild=NOT_IN)) == (
        400,
        '{"status":"invalid_guild"}',
    )
    assert await post(linked, "/applyRoleChanges", changes(ids, (EVE, verified, "add"), key="WEBSITE-KEY-1")) == (
        401,
        '{"status":"unauthorized","meta":"Invalid API key"}',
    )
    assert linked.fake.find_requests(None, ROLE_PUT) == []
    assert roles_of(linked, ids.guild, EVE) == set()


async def test_discord_faults_on_one_member_leave_the_others_applied(linked: Sandbox, ids: Ids):
    verified = ids.roles["Verified"]
    linked.fake.fault("PUT", rf"/guilds/\d+/members/{EVE}/roles/\d+", status=500, code=0, count=20)
    linked.fake.fault("PUT", rf"/guilds/\d+/members/{DAX}/roles/\d+", status=404, code=10007)
    linked.fake.fault("PUT", rf"/guilds/\d+/members/{CLEO}/roles/\d+", status=429, retry_after=120.0)
    # discord.py queues one guild's role calls behind each other until Discord states the bucket's
    # limit, so the member whose calls hang goes last: the others must not wait behind it.
    items = [(BRAM, ids.roles["Member"], "remove"), (DAX, verified, "add"), (CLEO, verified, "add")]
    status, text = await post(linked, "/applyRoleChanges", changes(ids, *items, (EVE, verified, "add")))
    assert status == 200
    assert [item["status"] for item in json.loads(text)["role_changes"]] == [
        "removed",
        "invalid_user",
        "error",
        "error",
    ]
    assert roles_of(linked, ids.guild, EVE) == set()
    assert roles_of(linked, ids.guild, BRAM) == {verified}
    assert_healthy(linked)


async def test_role_change_legacy_shapes_apply(linked: Sandbox, ids: Ids):
    verified, moderator = ids.roles["Verified"], ids.roles["Moderator"]
    v2 = {
        "guild_id": ids.guild,
        "user_id": EVE,
        "api_key": "website-key-1",
        "roles": [{"id": verified, "action": "add"}],
    }
    assert await post(linked, "/roleChange", v2) == (200, "fullsuccess")
    assert roles_of(linked, ids.guild, EVE) == {verified}
    v1 = {"guild_id": str(ids.guild), "user_id": str(EVE), "api_key": "website-key-1", "remove_role_id": verified}
    assert await post(linked, "/roleChange", v1) == (200, "success")
    assert roles_of(linked, ids.guild, EVE) == set()
    assert await post(linked, "/roleChange", v1 | {"add_role_id": moderator}) == (200, "hierarchy")
    assert await post(linked, "/roleChange", v2 | {"guild_id": NOT_IN}) == (200, "invguild")


async def test_direct_messages_answer_after_discord_decided(linked: Sandbox, ids: Ids):
    def dm(user: int, message: str, guild: int | None = None) -> dict[str, Any]:
        return {"guild_id": guild or ids.guild, "user_id": user, "api_key": "website-key-1", "message": message}

    assert await post(linked, "/sendDirectMessage", dm(BRAM, "Grüße 👋 from the website")) == (200, "Message sent")
    [message] = linked.fake.state()["dms"][str(BRAM)]
    assert message["content"] == "Grüße 👋 from the website"
    assert await post(linked, "/sendDirectMessage", dm(DAX, "hello")) == (403, "Cannot send messages to this user")
    assert linked.fake.state()["dms"].get(str(DAX), []) == []
    assert await post(linked, "/sendDirectMessage", dm(555, "hello")) == (400, "User does not exist")
    assert await post(linked, "/sendDirectMessage", dm(BRAM, "x" * 2001)) == (
        400,
        "Message is longer than 2000 characters",
    )
    assert await post(linked, "/sendDirectMessage", dm(BRAM, "hi", guild=NOT_IN)) == (400, "Bot is not in the guild")
    assert len(linked.fake.state()["dms"][str(BRAM)]) == 1
    assert_healthy(linked)


async def test_an_outage_answers_503_error(linked: Sandbox, ids: Ids):
    await linked.fake.set_outage(True)
    status, text = await post(linked, "/applyRoleChanges", changes(ids, (EVE, ids.roles["Verified"], "add")))
    assert status == 503
    assert json.loads(text)["status"] == "error"
    await linked.fake.set_outage(False)
    assert roles_of(linked, ids.guild, EVE) == set()


async def test_configure_link_test_status_unlink(sandbox: Sandbox, ids: Ids, site: NamelessSite):
    fake = sandbox.fake
    options = {"api_url": site.api_url + "/", "api_key": site.api_key}
    answer = await fake.command(ids.guild, ids.general, ids.owner, "configure link", options)
    reply = answer["responses"][-1]
    assert reply["ephemeral"] is True
    assert "Linked to" in reply["content"]
    stored = await sandbox.repos.guild_links.get(ids.guild)
    assert (stored.api_url, stored.api_key) == (site.api_url, site.api_key)
    [announce] = site.routes("discord/update-bot-settings")
    assert announce.body == {
        "url": sandbox.api.url,
        "guild_id": str(ids.guild),
        "bot_username": "Guildhall",
        "bot_user_id": str(sandbox.bot.user.id),
    }
    assert announce.headers["Authorization"] == f"Bearer {site.api_key}"
    [roles] = site.routes("discord/submit-role-list")
    assert {"id": ids.roles["Verified"], "name": "Verified"} in roles.body["roles"]
    assert all(role["name"] != "@everyone" for role in roles.body["roles"])

    answer = await fake.command(ids.guild, ids.general, ids.owner, "configure test", {})
    assert "is working (NamelessMC 2.1.2)" in answer["responses"][-1]["content"]
    answer = await fake.command(ids.guild, ids.general, ids.owner, "configure status", {})
    assert site.api_url in answer["responses"][-1]["content"]
    assert "worked: connection test" in answer["responses"][-1]["content"]

    answer = await fake.command(ids.guild, ids.general, ids.owner, "configure unlink", {})
    assert answer["responses"][-1]["content"] == "Unlinked from the website."
    assert await sandbox.repos.guild_links.get(ids.guild) is None
    assert_healthy(sandbox)


async def test_configure_link_refuses_a_bad_key_and_needs_manage_server(sandbox: Sandbox, ids: Ids, site: NamelessSite):
    options = {"api_url": site.api_url, "api_key": "wrong"}
    answer = await sandbox.fake.command(ids.guild, ids.general, ids.owner, "configure link", options)
    assert answer["responses"][-1]["content"] == "Not linked. The website refused the API key."
    answer = await sandbox.fake.command(ids.guild, ids.general, BRAM, "configure link", options)
    assert "Manage Server" in answer["responses"][-1]["content"]
    assert await sandbox.repos.guild_links.get(ids.guild) is None
    assert_healthy(sandbox)


async def test_configure_link_refuses_private_targets_unless_allowed(world, db_path: Path, ids: Ids, site):
    settings = make_settings(db_path, logging={"access_log": False})
    async with start(world, settings, db_path) as sandbox:
        options = {"api_url": site.api_url, "api_key": site.api_key}
        answer = await sandbox.fake.command(ids.guild, ids.general, ids.owner, "configure link", options)
        assert "loopback, private or link-local" in answer["responses"][-1]["content"]
        assert site.calls == []
        assert await sandbox.repos.guild_links.get(ids.guild) is None
        assert_healthy(sandbox)


async def test_verify_links_the_account_and_reports_roles(linked: Sandbox, ids: Ids, site: NamelessSite):
    site.codes["good-code"] = 31
    answer = await linked.fake.command(ids.guild, ids.general, BRAM, "verify", {"token": "bad-code"})
    assert "invalid or has expired" in answer["responses"][-1]["content"]
    answer = await linked.fake.command(ids.guild, ids.general, BRAM, "verify", {"token": "good-code"})
    assert answer["responses"][-1]["content"] == "Your website account is now linked to your Discord account."
    verify = site.routes("integration/verify")[-1]
    assert verify.body == {"integration": "Discord", "identifier": str(BRAM), "username": "bram", "code": "good-code"}
    [report] = site.routes("discord/id:31/sync-roles")
    assert sorted(report.body["add"]) == sorted([ids.roles["Member"], ids.roles["Verified"]])
    assert_healthy(linked)


async def test_member_role_changes_fall_back_to_set_roles_on_older_sites(linked: Sandbox, ids: Ids, site):
    site.users[EVE] = 9
    site.sync_roles_supported = False
    await linked.fake.member(ids.guild, EVE, "update", roles=[ids.roles["Member"]])
    [full] = site.routes("discord/set-roles")
    assert full.body == {"user": 9, "roles": [ids.roles["Member"]]}
    await linked.fake.member(ids.guild, HELPERBOT, "update", roles=[ids.roles["Member"]])
    assert len(site.routes("discord/set-roles")) == 1  # bots are not reported
    assert_healthy(linked)


async def test_linked_guilds_are_announced_at_startup(world, e2e_settings: Settings, db_path: Path, ids: Ids, site):
    storage = await Storage.open(db_path)
    from storage import Repositories

    await Repositories(storage).guild_links.put(ids.guild, site.api_url, site.api_key, now=1)
    await storage.close()
    async with start(world, e2e_settings, db_path) as sandbox:
        await sandbox.fake.settled()
        [announce] = site.routes("discord/update-bot-settings")
        assert announce.body["guild_id"] == str(ids.guild)
        assert site.routes("discord/submit-role-list")
        contact = await sandbox.repos.website_contacts.last(ids.guild)
        assert contact is not None and contact.ok
        assert_healthy(sandbox)


async def test_role_list_is_sent_when_roles_are_created_renamed_or_deleted(linked: Sandbox, ids: Ids, site):
    role_id = await linked.fake.role(ids.guild, "create", name="Raiders")
    assert {"id": role_id, "name": "Raiders"} in site.routes("discord/submit-role-list")[-1].body["roles"]
    await linked.fake.role(ids.guild, "update", role_id=role_id, name="Veterans")
    assert {"id": role_id, "name": "Veterans"} in site.routes("discord/submit-role-list")[-1].body["roles"]
    await linked.fake.role(ids.guild, "delete", role_id=role_id)
    last = site.routes("discord/submit-role-list")[-1].body["roles"]
    assert role_id not in {role["id"] for role in last}
    assert len(site.routes("discord/submit-role-list")) == 3
    assert_healthy(linked)
