"""The real bot against fakediscord: start-up, /about, command sync, resume, faults, health."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from discord import app_commands

from guildhall.sandbox import Sandbox, open_sandbox
from tests.e2e.conftest import FailingBot, Ids, assert_healthy, start


async def test_about_answers_ephemerally_through_the_control_api(sandbox: Sandbox, ids: Ids):
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{sandbox.fake.url}/_control/command",
            json={
                "guild_id": str(ids.guild),
                "channel_id": str(ids.general),
                "user_id": str(ids.member),
                "name": "about",
                "options": {},
            },
        )
        assert response.status == 200
        answer = await response.json()
    [reply] = answer["responses"]
    assert reply["ephemeral"] is True
    [embed] = reply["embeds"]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields["Version"] == sandbox.bot.version
    assert fields["Guilds"] == "1"
    assert fields["API"] == sandbox.api.url
    # The answer reached "Discord" as a real interaction callback, not a direct call of the bot's code.
    callbacks = sandbox.fake.find_requests("POST", r"/interactions/\d+/[^/]+/callback")
    assert len(callbacks) == 1
    assert callbacks[0].body["type"] == 4
    assert_healthy(sandbox)


async def test_uptime_follows_the_injected_clock(sandbox: Sandbox, ids: Ids):
    await sandbox.fake.advance_clock(3 * 3600 + 61)
    answer = await sandbox.fake.command(ids.guild, ids.general, ids.member, "about", {})
    fields = {f["name"]: f["value"] for f in answer["responses"][0]["embeds"][0]["fields"]}
    assert fields["Uptime"] == "3h 1m 1s"


async def test_commands_are_synced_only_when_the_tree_changed(world, e2e_settings, db_path, sandbox: Sandbox):
    first_sync = sandbox.fake.find_requests("PUT", r"/applications/\d+/commands")
    assert len(first_sync) == 1
    assert {command["name"] for command in first_sync[0].body} >= {"about"}
    await sandbox.bot.close()
    async with start(world, e2e_settings, db_path) as again:
        assert again.fake.find_requests("PUT", r"/applications/\d+/commands") == []


async def test_resume_after_disconnect_replays_and_keeps_working(sandbox: Sandbox, ids: Ids):
    resumed = []

    async def on_resumed() -> None:
        resumed.append(True)

    sandbox.bot.add_listener(on_resumed)
    await sandbox.fake.disconnect(resume=True)
    assert resumed == [True]
    assert sandbox.bot.gateway_connected
    answer = await sandbox.fake.command(ids.guild, ids.general, ids.member, "about", {})
    assert answer["responses"][0]["ephemeral"] is True
    assert_healthy(sandbox)


async def test_fresh_identify_after_an_invalidated_session(sandbox: Sandbox, ids: Ids):
    identifies_before = sandbox.fake.gateway.identify_count
    await sandbox.fake.disconnect(resume=False)
    assert sandbox.fake.gateway.identify_count == identifies_before + 1
    answer = await sandbox.fake.command(ids.guild, ids.general, ids.member, "about", {})
    assert answer["responses"]
    assert_healthy(sandbox)


@pytest.mark.parametrize(
    ("status", "code", "exception"),
    [(403, 50013, discord.Forbidden), (404, 10007, discord.NotFound), (400, 50035, discord.HTTPException)],
)
async def test_injected_rest_faults_reach_the_bot_as_discord_exceptions(
    sandbox: Sandbox, ids: Ids, status, code, exception
):
    sandbox.fake.fault("PUT", r"/guilds/\d+/members/\d+/roles/\d+", status=status, code=code)
    guild = sandbox.bot.get_guild(ids.guild)
    member = guild.get_member(ids.member)
    with pytest.raises(exception) as raised:
        await member.add_roles(discord.Object(ids.roles["Verified"]))
    assert raised.value.status == status
    assert raised.value.code == code
    # The fault was used up: the next call goes through and Discord echoes the new role.
    await member.add_roles(discord.Object(ids.roles["Verified"]))
    await sandbox.fake.settled()
    assert ids.roles["Verified"] in {role.id for role in guild.get_member(ids.member).roles}


async def test_health_is_ready_with_the_gateway_connected(sandbox: Sandbox):
    async with aiohttp.ClientSession() as session, session.get(f"{sandbox.api.url}/healthz") as response:
        body = await response.json()
    assert response.status == 200
    lag = body.pop("loop_lag_ms")
    assert body == {"live": True, "ready": True, "checks": {"gateway": True, "database": True}}
    assert set(lag) == {"p50", "p99", "max", "samples", "window_s"}


async def test_health_reports_the_gateway_down_during_an_outage(sandbox: Sandbox):
    await sandbox.fake.set_outage(True)
    async with aiohttp.ClientSession() as session, session.get(f"{sandbox.api.url}/healthz") as response:
        assert response.status == 503
        assert (await response.json())["checks"]["gateway"] is False
    await sandbox.fake.set_outage(False)
    assert sandbox.bot.gateway_connected


class BoomBot(FailingBot):
    """The real bot plus one command that fails, to see the one error handler at work."""

    async def setup_hook(self) -> None:
        @app_commands.command(name="boom")
        async def boom(interaction: discord.Interaction) -> None:
            """Fails on purpose."""
            raise RuntimeError("kaboom")

        self.tree.add_command(boom)
        await super().setup_hook()


async def test_a_failing_command_is_logged_and_answered_politely(world, e2e_settings, db_path, ids: Ids, caplog):
    async with open_sandbox(e2e_settings, world=world, db_path=db_path, bot_cls=BoomBot) as sandbox:
        answer = await sandbox.fake.command(ids.guild, ids.general, ids.member, "boom", {})
        [reply] = answer["responses"]
        assert reply["ephemeral"] is True
        assert reply["content"].startswith("Something went wrong on my side")
        assert "kaboom" not in reply["content"]
        [(where, error)] = sandbox.bot.failures
        assert where == "command /boom"
        assert "kaboom" in str(error.__cause__ or error)
        assert "Traceback" in caplog.text
        assert "kaboom" in caplog.text
