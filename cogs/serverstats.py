"""Server stats: enabling the module, counter channels, statistics recording and charts."""

from __future__ import annotations

import contextlib
import io
import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs._batch import Batcher
from cogs._checks import is_manager
from cogs._serverstats_discord import DiscordStats, chart_png
from core import counters, serverstats
from core.clock import Timer
from core.serverstats import (
    DiscordUnavailable,
    GatheredMessage,
    InvalidSettings,
    ModuleDisabled,
    ModuleEnabled,
    SettingsMissing,
)

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)

HOUR = 3600.0

TOGGLES = {
    "command usage": "stats_command_usage",
    "messages": "stats_message_statistics",
    "bot messages": "stats_track_bot_messages",
    "reminders": "stats_functions_reminders_statistics_enabled",
    "giveaways": "stats_functions_giveaways_statistics_enabled",
    "tempchannels": "stats_modules_tempchannels_statistics_enabled",
    "autoresponder": "stats_modules_autoresponder_statistics_enabled",
    "reactionroles": "stats_modules_reactionroles_statistics_enabled",
    "tags": "stats_modules_tags_statistics_enabled",
}


def explain(error: Exception) -> str:
    """The ephemeral answer for an expected failure of the module's rules."""
    if isinstance(error, ModuleDisabled):
        return "Server stats are off in this server: run `/serverstats enable` first."
    if isinstance(error, ModuleEnabled):
        return "Server stats are already on in this server."
    if isinstance(error, SettingsMissing):
        return "Server stats have never been set up here: run `/serverstats enable`."
    if isinstance(error, InvalidSettings):
        return f"That can't be saved: {error}."
    return f"Discord refused the change: {error}. Do I have Manage Channels and Send Messages?"


EXPECTED = (ModuleDisabled, ModuleEnabled, SettingsMissing, InvalidSettings, DiscordUnavailable)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ServerStats(commands.GroupCog, group_name="serverstats"):
    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot
        self.discord = DiscordStats(bot)
        config = bot.settings.serverstats
        self.budget = counters.RenameBudget(config.renames_per_window, config.rename_window)
        self._timers: list[Timer] = []
        self.messages: Batcher[tuple[int, GatheredMessage]] = Batcher(
            self.record_messages, name="message statistics", track=bot.track, report=bot.report_failure
        )

    async def cog_load(self) -> None:
        self.bot.add_message_sink(self.gather_message)
        config = self.bot.settings.serverstats
        clock = self.bot.clock
        self._timers = [
            clock.every(config.counter_interval, self.update_counters, name="serverstats-counters"),
            clock.every(HOUR, self.apply_retention, name="serverstats-retention"),
        ]

    async def cog_unload(self) -> None:
        self.bot.remove_message_sink(self.gather_message)
        for timer in self._timers:
            timer.cancel()
        await self.messages.close()

    def now(self) -> int:
        return int(self.bot.clock.time())

    async def update_counters(self) -> None:
        if self.bot.is_ready():
            await counters.update_all(self.bot.repos, self.discord, self.budget, now=self.bot.clock.time())

    async def apply_retention(self) -> None:
        days = self.bot.settings.serverstats.retention_days
        await serverstats.apply_retention(self.bot.repos, now=self.bot.clock.time(), retention_days=days)

    # --- recording ---------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: app_commands.Command | app_commands.ContextMenu
    ) -> None:
        if interaction.guild_id is None or command.qualified_name.split()[0] == "privacy":
            return  # the use of /privacy is never recorded
        with contextlib.suppress(ModuleDisabled):
            await serverstats.record(
                self.bot.repos,
                interaction.guild_id,
                "command",
                now=self.now(),
                user_id=interaction.user.id,
                channel_id=interaction.channel_id,
                label=command.qualified_name,
            )

    def gather_message(self, message: discord.Message) -> None:
        """A message sink: every guild message is gathered for the statistics (written in batches)."""
        if message.guild is None:
            return
        gathered = GatheredMessage(message.author.id, message.channel.id, message.id, message.author.bot, self.now())
        self.messages.add((message.guild.id, gathered))

    async def record_messages(self, batch: list[tuple[int, GatheredMessage]]) -> None:
        by_guild: dict[int, list[GatheredMessage]] = {}
        for guild_id, gathered in batch:
            by_guild.setdefault(guild_id, []).append(gathered)
        for guild_id, messages in by_guild.items():
            await serverstats.record_messages(self.bot.repos, guild_id, messages)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        with contextlib.suppress(ModuleDisabled):
            await serverstats.channel_deleted(self.bot.repos, channel.guild.id, channel.id, now=self.now())

    # --- commands ----------------------------------------------------------------------------

    async def _run(self, interaction: discord.Interaction, work, done: str) -> None:
        try:
            await work
        except EXPECTED as error:
            await interaction.followup.send(explain(error), ephemeral=True)
            return
        await interaction.followup.send(done, ephemeral=True)

    @app_commands.command(name="enable")
    @is_manager()
    async def enable(self, interaction: discord.Interaction) -> None:
        """Turn the server stats module on in this server."""
        await interaction.response.defer(ephemeral=True)
        work = serverstats.enable(self.bot.repos, self.discord, interaction.guild_id, now=self.now())
        await self._run(interaction, work, "Server stats are on.")

    @app_commands.command(name="disable")
    @is_manager()
    async def disable(self, interaction: discord.Interaction) -> None:
        """Turn the module off and delete everything it collected in this server."""
        await interaction.response.defer(ephemeral=True)
        work = serverstats.disable(self.bot.repos, interaction.guild_id, now=self.now())
        await self._run(interaction, work, "Server stats are off; their data was deleted.")

    @app_commands.command(name="status")
    @is_manager()
    async def status(self, interaction: discord.Interaction) -> None:
        """Whether the module is on, what it shows and where each count comes from."""
        await interaction.response.defer(ephemeral=True)
        state = await self.bot.repos.serverstats.get(interaction.guild_id)
        embed = discord.Embed(title="Server stats", colour=0xFFAC33)
        embed.add_field(name="Module", value="on" if state and state.enabled else "off")
        settings = {**serverstats.DEFAULT_SETTINGS, **(state.settings if state else {})}
        board = settings["starboard_channel"]
        embed.add_field(
            name="Starboard",
            value=f"<#{board}>, {settings['starboard_count']} stars" if settings["starboard_enabled"] else "off",
        )
        counts = await self.discord.counts(interaction.guild_id, set())
        intents = self.bot.intents
        sources = [
            "members: " + ("member events (members intent)" if intents.members else "approximate count"),
            "online: " + (counts.online_source if counts else "unavailable"),
            "boosts: the guild's boost count",
            "online with role: "
            + ("presences" if intents.presences and intents.members else "all members with the role (no presences)"),
        ]
        if not intents.presences:
            sources.append("The presences intent is off: online counts are Discord's approximate counts.")
        embed.add_field(name="Counter sources", value="\n".join(sources), inline=False)
        panel = await self.bot.repos.counters.for_guild(interaction.guild_id)
        embed.add_field(
            name="Counters",
            value="\n".join(f"<#{c.channel_id}> {c.kind}" for c in panel) or "none",
            inline=False,
        )
        await interaction.followup.send(embed=embed, ephemeral=True)

    @app_commands.command(name="toggle")
    @is_manager()
    @app_commands.describe(statistic="which statistics", record="record them or not")
    async def toggle(
        self,
        interaction: discord.Interaction,
        statistic: Literal[
            "command usage",
            "messages",
            "bot messages",
            "reminders",
            "giveaways",
            "tempchannels",
            "autoresponder",
            "reactionroles",
            "tags",
        ],
        record: bool,
    ) -> None:
        """Switch the recording of one kind of statistics on or off."""
        await interaction.response.defer(ephemeral=True)
        work = serverstats.update_settings(
            self.bot.repos, self.discord, interaction.guild_id, now=self.now(), **{TOGGLES[statistic]: record}
        )
        await self._run(interaction, work, f"Recording {statistic}: {'on' if record else 'off'}.")

    @app_commands.command(name="counters")
    @is_manager()
    @app_commands.describe(
        category="the category holding the counters (leave out to turn the panel off)",
        members="channel showing the member count",
        online="channel showing the online count",
        boosts="channel showing the boost count",
    )
    async def counters_command(
        self,
        interaction: discord.Interaction,
        category: discord.CategoryChannel | None = None,
        members: discord.VoiceChannel | None = None,
        online: discord.VoiceChannel | None = None,
        boosts: discord.VoiceChannel | None = None,
    ) -> None:
        """Set up (or, without a category, turn off) the counter channels."""
        await interaction.response.defer(ephemeral=True)
        values = {
            "counter_panel_enabled": category is not None,
            "counter_panel_category_channel": category.id if category else None,
            "counter_panel_member_count_channel": members.id if members else None,
            "counter_panel_online_member_count_channel": online.id if online else None,
            "counter_panel_server_boost_number_channel": boosts.id if boosts else None,
        }
        work = serverstats.update_settings(self.bot.repos, self.discord, interaction.guild_id, now=self.now(), **values)
        done = "Counters set: they update within a few minutes." if category else "Counter panel off."
        await self._run(interaction, work, done)

    @app_commands.command(name="role-counter")
    @is_manager()
    @app_commands.describe(
        role="count the online members with this role", name="the channel's label", remove="remove this counter"
    )
    async def role_counter(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        name: app_commands.Range[str, 1, 80] | None = None,
        remove: discord.VoiceChannel | None = None,
    ) -> None:
        """Add an "online with role" counter channel, or remove one."""
        await interaction.response.defer(ephemeral=True)
        if remove is not None:
            work = serverstats.change_custom_panels(
                self.bot.repos, self.discord, interaction.guild_id, now=self.now(), delete=[remove.id]
            )
            await self._run(interaction, work, "Counter removed.")
            return
        if role is None:
            await interaction.followup.send("Name a role to count, or a counter to remove.", ephemeral=True)
            return
        panel = serverstats.CustomPanel(name or role.name, role.id)
        work = serverstats.change_custom_panels(
            self.bot.repos, self.discord, interaction.guild_id, now=self.now(), create=[panel]
        )
        await self._run(interaction, work, f"Counter for {role.name} added to the counter category.")

    @app_commands.command(name="stats")
    @is_manager()
    @app_commands.describe(kind="which statistics", days="how many days back (1-30)")
    async def stats(
        self,
        interaction: discord.Interaction,
        kind: Literal["command", "message"],
        days: app_commands.Range[int, 1, 30] = 7,
    ) -> None:
        """A chart of the last N days of command uses or messages."""
        await interaction.response.defer(ephemeral=True)
        try:
            series = await serverstats.view(
                self.bot.repos, interaction.guild_id, kind, now=self.bot.clock.time(), days=days
            )
        except EXPECTED as error:
            await interaction.followup.send(explain(error), ephemeral=True)
            return
        total = sum(point["count"] for point in series)
        title = f"{kind} statistics, last {days} days: {total}"
        file = discord.File(fp=io.BytesIO(chart_png(title, series)), filename="stats.png")
        await interaction.followup.send(title, file=file, ephemeral=True)


async def setup(bot: Guildhall) -> None:
    await bot.add_cog(ServerStats(bot))
