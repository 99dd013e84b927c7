"""Fixtures for fakediscord's own tests: a fake per test and a minimal plain ``commands.Bot`` against it.

The test bot is not the project's bot: it only records what reaches it, so tests can assert that
events and interactions arrive in the shape discord.py expects. Every REST answer the fakes give is
collected and validated against Discord's OpenAPI description when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import tomllib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from core.clock import ManualClock
from fakediscord import EventTracker, FakeDiscord, RestCall, TrackedCommandTree, World, check_rest_log, default_world
from fakediscord.world import parse_world

HERE = Path(__file__).parent
SPEC = HERE / "discord-openapi.json"
TOKEN = "test-token"
MIN_OPERATIONS = 35

GUILD = 1179000000000001000
BOT = 1179000000000000001
OWNER = 1179000000000000101
BRAM = 1179000000000000102
CLEO = 1179000000000000103
DAX = 1179000000000000104
EVE = 1179000000000000105
HELPER = 1179000000000000201
MEMBER_ROLE = 1179000000000002001
VERIFIED_ROLE = 1179000000000002002
BOT_ROLE = 1179000000000002003
MOD_ROLE = 1179000000000002004
GENERAL = 1179000000000003001
STARBOARD = 1179000000000003002
MEMBERS_COUNTER = 1179000000000003011
LOUNGE = 1179000000000003021
GAMING = 1179000000000003022


def world_text(extra_guild_lines: str = "") -> str:
    """The default world file, with extra keys added to its guild table."""
    text = resources.files("fakediscord").joinpath("default_world.toml").read_text(encoding="utf-8")
    return text.replace("premium_subscription_count = 2\n", f"premium_subscription_count = 2\n{extra_guild_lines}\n", 1)


def world_with(extra_guild_lines: str = "") -> World:
    return parse_world(tomllib.loads(world_text(extra_guild_lines)))


class TestBot(commands.Bot):
    """Records events, turns swallowed errors into data, and tracks its tasks for settling."""

    __test__ = False

    def __init__(self, clock: ManualClock) -> None:
        self.event_tracker = EventTracker()
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.all(),
            guild_ready_timeout=0.1,
            tree_cls=TrackedCommandTree,
            max_ratelimit_timeout=30.0,
        )
        self.clock = clock
        self.errors: list[tuple[str, BaseException | None]] = []
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.ready_count = 0
        self.tree.error(self._tree_error)
        self.event_tracker.watch_views(self)
        install_commands(self)

    def _schedule_event(self, coro: Any, event_name: str, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = super()._schedule_event(coro, event_name, *args, **kwargs)
        self.event_tracker.track(task)
        return task

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        self.errors.append((event_method, sys.exc_info()[1]))

    async def _tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        self.errors.append(("app_command", error))

    def take_errors(self) -> list[tuple[str, BaseException | None]]:
        errors, self.errors = self.errors, []
        return errors

    async def on_ready(self) -> None:
        self.ready_count += 1

    async def on_message(self, message: discord.Message) -> None:
        self.events["message"].append(message)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.events["reaction_add"].append(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.events["reaction_remove"].append(payload)

    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        self.events["voice"].append((member, before.channel, after.channel, after))

    async def on_member_join(self, member: discord.Member) -> None:
        self.events["member_join"].append(member)

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.events["member_remove"].append(payload)

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        self.events["member_update"].append((before, after))

    async def on_presence_update(self, before: discord.Member, after: discord.Member) -> None:
        self.events["presence"].append((before.status, after.status, after))

    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        self.events["guild_update"].append((before, after))

    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        self.events["channel_update"].append((before, after))

    async def on_resumed(self) -> None:
        self.events["resumed"].append(True)


class ChoiceView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="OK", custom_id="choice:ok", style=discord.ButtonStyle.success)
    async def ok(self, interaction: discord.Interaction, button: discord.ui.Button[ChoiceView]) -> None:
        await interaction.response.edit_message(content=f"{interaction.user.name} chose OK", view=None)

    @discord.ui.select(
        custom_id="choice:colour", options=[discord.SelectOption(label=c, value=c) for c in ("red", "blue")]
    )
    async def colour(self, interaction: discord.Interaction, select: discord.ui.Select[ChoiceView]) -> None:
        await interaction.response.send_message(f"colour {select.values[0]}", ephemeral=True)


class NameModal(discord.ui.Modal, title="Your name"):
    name: discord.ui.TextInput[NameModal] = discord.ui.TextInput(label="Name", custom_id="modal:name")

    def __init__(self) -> None:
        super().__init__(custom_id="modal:ask")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"hello {self.name.value}", ephemeral=True)


def install_commands(bot: TestBot) -> None:
    """Commands the tests run through ``fake.command``."""
    tree = bot.tree

    @tree.command(description="Reply ephemerally")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    @tree.command(description="Give a member a role")
    async def grant(interaction: discord.Interaction, member: discord.Member, role: discord.Role) -> None:
        try:
            await member.add_roles(role)
        except discord.Forbidden as error:
            await interaction.response.send_message(f"cannot: {error.code}", ephemeral=True)
            return
        await interaction.response.send_message(f"{member.name} now has {role.name}", ephemeral=True)

    item = app_commands.Group(name="item", description="Shop items")

    @item.command(name="create", description="Create an item")
    async def item_create(
        interaction: discord.Interaction, name: str, price: int, owner: discord.Member | None = None
    ) -> None:
        who = owner.name if owner else "nobody"
        await interaction.response.send_message(f"created {name} for {price} owned by {who}", ephemeral=True)

    tree.add_command(item)

    @tree.command(description="Defer, then follow up")
    async def slow(interaction: discord.Interaction, channel: discord.VoiceChannel) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await channel.edit(name="Renamed")
        await interaction.followup.send(f"renamed {channel.id}")
        await interaction.edit_original_response(content="renamed, edited")

    @tree.command(description="Answer too late")
    async def late(interaction: discord.Interaction) -> None:
        await bot.clock.advance(4)
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as error:
            bot.events["late"].append(error)

    @tree.command(description="Post a file and buttons")
    async def post(interaction: discord.Interaction) -> None:
        file = discord.File(io.BytesIO(b"hello file"), filename="hello.txt")
        await interaction.response.send_message("here", file=file, view=ChoiceView())

    @tree.command(description="Reply, follow up, edit and delete")
    async def tidy(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        original = await interaction.original_response()
        followup = await interaction.followup.send("second", wait=True)
        await followup.edit(content="second, edited")
        fetched = await followup.fetch()
        bot.events["tidy"].append((original.content, fetched.content))
        await interaction.delete_original_response()

    @tree.command(description="Ask with a modal")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NameModal())

    bot.add_view(ChoiceView())


@pytest.fixture(scope="session")
def rest_answers(request: pytest.FixtureRequest) -> Iterator[list[RestCall]]:
    """Every REST answer of every fake in the session; validated against the OpenAPI spec at the end."""
    answers: list[RestCall] = []
    yield answers
    report = check_rest_log(answers, SPEC)
    if report.errors:
        pytest.fail("fakediscord answers that do not conform:\n" + "\n".join(report.errors[:40]), pytrace=False)
    files = {Path(str(item.path)).name for item in request.session.items}
    if {p.name for p in HERE.glob("test_*.py")} <= files:
        assert len(report.operations) >= MIN_OPERATIONS, sorted(report.operations)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_764_150_000.0)


@pytest.fixture
def world() -> World:
    return default_world()


@pytest.fixture
async def fake(world: World, clock: ManualClock, rest_answers: list[RestCall]) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(world, clock=clock, token=TOKEN)
    await fake.start()
    with fake.patched_discord():
        yield fake
    await fake.stop()
    rest_answers.extend(fake.rest_log)


async def start_bot(bot: commands.Bot, token: str = TOKEN) -> asyncio.Task[None]:
    """Start ``bot`` and return once it is ready (or raise what killed it)."""
    task = asyncio.create_task(bot.start(token))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not bot.is_ready():
        if task.done():
            task.result()
            raise AssertionError("the bot stopped before it was ready")
        if loop.time() > deadline:
            raise AssertionError("the bot was not ready within 10 s")
        await asyncio.sleep(0.01)
    return task


async def stop_bot(bot: commands.Bot, task: asyncio.Task[None]) -> None:
    await bot.close()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(fake: FakeDiscord, clock: ManualClock) -> AsyncIterator[TestBot]:
    bot = TestBot(clock)
    fake.settle = bot.event_tracker.settle_for(bot)
    task = await start_bot(bot)
    await bot.tree.sync()
    yield bot
    died = task.done()
    await stop_bot(bot, task)
    assert not died, "the bot task died during the test"
    assert bot.errors == [], f"errors swallowed by the bot: {bot.errors}"
