"""Slash commands over voice profiles: /profile, /top, /give, /pray, /voice settings, /points."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs._checks import is_manager
from cogs._rankcard import rank_card_file
from cogs.meta import format_duration
from core import ledger, levels, voice
from core.members import MAX_AMOUNT
from storage.members import AlreadyPrayed, Member

if TYPE_CHECKING:
    from cogs.voice.tracking import VoiceTracking
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)

TOP_SIZE = 10
TopChoice = Literal["points", "levels", "time", "text-level", "text-message", "pray-streak"]


async def ephemeral(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True)


def _value(member: Member, by: str) -> str:
    if by == "levels":
        return f"level {member.level} ({member.experience} XP)"
    if by == "time":
        return format_duration(member.voice_seconds)
    if by == "text-level":
        return f"text level {member.text_level}"
    if by == "text-message":
        return f"{member.message_count} messages"
    if by == "pray-streak":
        return f"{member.pray.streak}-day streak"
    return f"{member.voicepoints} VP"


class Profiles(commands.Cog):
    """What every member may do with their profile and voicepoints."""

    def __init__(self, bot: Guildhall, tracking: VoiceTracking) -> None:
        self.bot = bot
        self.tracking = tracking

    def _now(self) -> int:
        return int(self.bot.clock.time())

    @app_commands.command(name="profile")
    @app_commands.guild_only()
    @app_commands.describe(member="Whose profile (default: yours)")
    async def profile(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        """Your (or a member's) voice level, voicepoints, voice time and text activity."""
        assert interaction.guild is not None
        target = member or interaction.user
        record = await self.bot.repos.members.get(interaction.guild.id, target.id)
        if record is None:
            await ephemeral(interaction, f"{target.display_name} has no profile yet.")
            return
        rules = await self.tracking.rules(interaction.guild.id)
        within, needed = levels.progress(rules.curve, record.level, record.experience, factor=rules.level_factor)
        rank = await self.bot.repos.members.rank(interaction.guild.id, target.id, "levels")
        embed = discord.Embed(title=f"{target.display_name}'s profile", colour=discord.Colour.blurple())
        embed.add_field(name="Level", value=f"{record.level} ({within}/{needed} XP)")
        embed.add_field(name="Rank", value=f"#{rank}" if rank else "—")
        embed.add_field(name="Voicepoints", value=str(record.voicepoints))
        embed.add_field(name="Voice time", value=format_duration(record.voice_seconds))
        embed.add_field(name="Text", value=f"level {record.text_level}, {record.message_count} messages")
        embed.add_field(name="Prayers", value=f"{record.pray.total} ({record.pray.streak}-day streak)")
        await interaction.response.defer()  # the rank card fetches the avatar and draws an image
        card = await rank_card_file(self.bot, target)
        embed.set_image(url=f"attachment://{card.filename}")
        await interaction.followup.send(embed=embed, file=card)

    @app_commands.command(name="top")
    @app_commands.guild_only()
    @app_commands.describe(by="What to rank by (default: voicepoints)")
    async def top(self, interaction: discord.Interaction, by: TopChoice = "points") -> None:
        """The server's leaderboard."""
        assert interaction.guild is not None
        members = await self.bot.repos.members.top(interaction.guild.id, by, amount=TOP_SIZE)
        members = [m for m in members if not m.is_bot]
        if not members:
            await ephemeral(interaction, "Nobody is on the leaderboard yet.")
            return
        lines = [f"**{i}.** <@{m.user_id}> — {_value(m, by)}" for i, m in enumerate(members, start=1)]
        embed = discord.Embed(title=f"Top by {by}", description="\n".join(lines), colour=discord.Colour.gold())
        await interaction.response.send_message(embed=embed, allowed_mentions=discord.AllowedMentions.none())

    @app_commands.command(name="give")
    @app_commands.guild_only()
    @app_commands.describe(member="Who receives", amount="How many voicepoints", reason="Why (shown in the ledger)")
    async def give(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 1, MAX_AMOUNT],
        reason: str = "give",
    ) -> None:
        """Give some of your voicepoints to another member."""
        assert interaction.guild is not None
        if member.bot:
            await ephemeral(interaction, "Bots can't receive voicepoints.")
            return
        try:
            entry = await ledger.transfer(
                self.bot.repos,
                guild_id_from=interaction.guild.id,
                user_id_from=interaction.user.id,
                guild_id_to=interaction.guild.id,
                user_id_to=member.id,
                amount=amount,
                reason=reason,
                actor=ledger.cog_actor("give"),
                now=self._now(),
            )
        except ledger.SelfTransfer:
            await ephemeral(interaction, "You can't give voicepoints to yourself.")
            return
        except ledger.LedgerError as error:
            await ephemeral(interaction, f"Not sent: {error}.")
            return
        await interaction.response.send_message(
            f"{interaction.user.mention} gave {member.mention} **{entry.amount}** voicepoints (#{entry.id}).",
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="pray")
    @app_commands.guild_only()
    async def pray(self, interaction: discord.Interaction) -> None:
        """Pray once a day for voicepoints; praying on consecutive days builds a streak."""
        assert interaction.guild is not None and self.bot.user is not None
        rules = await self.tracking.rules(interaction.guild.id)
        try:
            result = await voice.pray(
                self.bot.repos,
                rules,
                guild_id=interaction.guild.id,
                user_id=interaction.user.id,
                bot_user_id=self.bot.user.id,
                now=self._now(),
                rng=self.tracking.rng,
            )
        except AlreadyPrayed as error:
            await ephemeral(interaction, f"You already prayed today. Pray again <t:{error.next_at}:R>.")
            return
        except ledger.LedgerError as error:
            await ephemeral(interaction, f"Your prayer went unanswered: {error}.")
            return
        await interaction.response.send_message(
            f"🙏 {interaction.user.mention} prayed and received **{result.amount}** voicepoints "
            f"(streak {result.streak}).",
            allowed_mentions=discord.AllowedMentions.none(),
        )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class VoiceAdmin(commands.GroupCog, group_name="voice"):
    """Voice and text earning settings of the server."""

    def __init__(self, bot: Guildhall, tracking: VoiceTracking) -> None:
        self.bot = bot
        self.tracking = tracking

    async def _save(self, interaction: discord.Interaction, updated: voice.GuildVoiceSettings) -> None:
        assert interaction.guild is not None
        await voice.save_guild_settings(
            self.bot.repos, self.bot.settings, interaction.guild.id, updated, now=int(self.bot.clock.time())
        )
        await self.tracking.settings_changed(interaction.guild)

    @app_commands.command(name="settings")
    @is_manager()
    @app_commands.describe(
        ignore_muted="Muted members earn nothing",
        ignore_deafened="Deafened members earn nothing",
        ignore_suppressed="Suppressed (stage audience) members earn nothing",
        ignore_afk="Nothing is earned in the AFK channel",
        ignore_alone="A member alone (no other counting human) earns nothing",
        xp_per_minute="Voice experience per counted minute",
        points_per_minute="Voicepoints per counted minute",
        join_grace="Seconds after joining before time counts",
        text_cooldown="Seconds between two text-experience grants per member",
        reward_per_level="Level-up reward: this × the new level, in voicepoints",
        announce="Where level-ups are announced",
        announce_channel="The channel for announcements",
        keep_level_roles="Keep lower level roles when a higher one is granted",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        ignore_muted: bool | None = None,
        ignore_deafened: bool | None = None,
        ignore_suppressed: bool | None = None,
        ignore_afk: bool | None = None,
        ignore_alone: bool | None = None,
        xp_per_minute: app_commands.Range[int, 0, 1_000_000] | None = None,
        points_per_minute: app_commands.Range[int, 0, 1_000_000] | None = None,
        join_grace: app_commands.Range[int, 0, 3600] | None = None,
        text_cooldown: app_commands.Range[int, 0, 86_400] | None = None,
        reward_per_level: app_commands.Range[int, 0, 1_000_000_000] | None = None,
        announce: Literal["off", "channel", "dm"] | None = None,
        announce_channel: discord.TextChannel | None = None,
        keep_level_roles: bool | None = None,
    ) -> None:
        """Show or change how members earn voice time, experience and voicepoints here."""
        assert interaction.guild is not None
        changes = {
            name: value
            for name, value in {
                "ignore_muted": ignore_muted,
                "ignore_deafened": ignore_deafened,
                "ignore_suppressed": ignore_suppressed,
                "ignore_afk": ignore_afk,
                "ignore_alone": ignore_alone,
                "xp_per_minute": xp_per_minute,
                "points_per_minute": points_per_minute,
                "join_grace": float(join_grace) if join_grace is not None else None,
                "text_cooldown": text_cooldown,
                "reward_per_level": reward_per_level,
                "announce": announce,
                "announce_channel_id": announce_channel.id if announce_channel else None,
                "keep_level_roles": keep_level_roles,
            }.items()
            if value is not None
        }
        rules = await self.tracking.rules(interaction.guild.id)
        if changes:
            rules = replace(rules, **changes)
            await self._save(interaction, rules)
        await interaction.response.send_message(embed=self._describe(rules), ephemeral=True)

    @app_commands.command(name="no-xp")
    @is_manager()
    @app_commands.describe(channel="A channel that earns nothing (again to undo)", role="A role that earns nothing")
    async def no_xp(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.StageChannel | None = None,
        role: discord.Role | None = None,
    ) -> None:
        """Toggle a channel or a role that earns no experience, time or points."""
        assert interaction.guild is not None
        if channel is None and role is None:
            await ephemeral(interaction, "Name a channel or a role.")
            return
        rules = await self.tracking.rules(interaction.guild.id)
        channels, roles = set(rules.no_xp_channels), set(rules.no_xp_roles)
        if channel is not None:
            channels ^= {channel.id}
        if role is not None:
            roles ^= {role.id}
        rules = replace(rules, no_xp_channels=frozenset(channels), no_xp_roles=frozenset(roles))
        await self._save(interaction, rules)
        await interaction.response.send_message(embed=self._describe(rules), ephemeral=True)

    @app_commands.command(name="level-role")
    @is_manager()
    @app_commands.describe(level="The voice level", role="The role granted at that level (omit to remove)")
    async def level_role(
        self, interaction: discord.Interaction, level: app_commands.Range[int, 1, 100_000], role: discord.Role | None
    ) -> None:
        """Set (or clear) the role a member receives on reaching a voice level."""
        assert interaction.guild is not None
        if role is not None and (role.managed or role.is_default()):
            await ephemeral(interaction, f"{role.name} can't be granted by a bot.")
            return
        rules = await self.tracking.rules(interaction.guild.id)
        pairs = {lv: r for lv, r in rules.level_roles if lv != level}
        if role is not None:
            pairs[level] = role.id
        rules = replace(rules, level_roles=tuple(sorted(pairs.items())))
        await self._save(interaction, rules)
        await interaction.response.send_message(embed=self._describe(rules), ephemeral=True)

    @staticmethod
    def _describe(rules: voice.GuildVoiceSettings) -> discord.Embed:
        embed = discord.Embed(title="Voice settings", colour=discord.Colour.blurple())
        ignored = [name.removeprefix("ignore_") for name in
                   ("ignore_muted", "ignore_deafened", "ignore_suppressed", "ignore_afk", "ignore_alone")
                   if getattr(rules, name)]  # fmt: skip
        embed.add_field(name="Not counted", value=", ".join(ignored) or "nothing", inline=False)
        embed.add_field(name="Per minute", value=f"{rules.xp_per_minute} XP, {rules.points_per_minute} VP")
        embed.add_field(name="Join grace", value=f"{rules.join_grace:g} s")
        embed.add_field(name="Text cooldown", value=f"{rules.text_cooldown} s")
        embed.add_field(name="Level-up reward", value=f"{rules.reward_per_level} × level")
        where = f" in <#{rules.announce_channel_id}>" if rules.announce_channel_id else ""
        embed.add_field(name="Announcements", value=f"{rules.announce}{where if rules.announce == 'channel' else ''}")
        muted = [f"<#{c}>" for c in sorted(rules.no_xp_channels)] + [f"<@&{r}>" for r in sorted(rules.no_xp_roles)]
        embed.add_field(name="No XP", value=" ".join(muted) or "none", inline=False)
        embed.add_field(
            name="Level roles",
            value=", ".join(f"{lv}: <@&{r}>" for lv, r in rules.level_roles) or "none",
            inline=False,
        )
        return embed


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class PointsAdmin(commands.GroupCog, group_name="points"):
    """Admin changes of voicepoints; each is a ledger row naming the admin."""

    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot

    async def _adjust(self, interaction: discord.Interaction, member: discord.Member, delta: int, reason: str) -> None:
        assert interaction.guild is not None and self.bot.user is not None
        try:
            entry = await ledger.adjust_balance(
                self.bot.repos,
                guild_id=interaction.guild.id,
                user_id=member.id,
                delta=delta,
                reason=reason,
                actor=f"admin:{interaction.user.id}",
                now=int(self.bot.clock.time()),
                bot_user_id=self.bot.user.id,
            )
        except ledger.LedgerError as error:
            await ephemeral(interaction, f"Not changed: {error}.")
            return
        record = await self.bot.repos.members.get(interaction.guild.id, member.id)
        balance = record.voicepoints if record else 0
        await ephemeral(
            interaction, f"{member.mention} now has **{balance}** voicepoints (#{entry.id if entry else '—'})."
        )

    @app_commands.command(name="add")
    @is_manager()
    @app_commands.describe(member="Who", amount="Voicepoints to add", reason="Why (shown in the ledger)")
    async def add(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 1, MAX_AMOUNT],
        reason: str,
    ) -> None:
        """Add voicepoints to a member (a ledger row from the bot's profile)."""
        await self._adjust(interaction, member, amount, reason)

    @app_commands.command(name="remove")
    @is_manager()
    @app_commands.describe(member="Who", amount="Voicepoints to take", reason="Why (shown in the ledger)")
    async def remove(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 1, MAX_AMOUNT],
        reason: str,
    ) -> None:
        """Take voicepoints from a member (a ledger row to the bot's profile)."""
        await self._adjust(interaction, member, -amount, reason)

    @app_commands.command(name="reverse")
    @is_manager()
    @app_commands.describe(transaction_id="The transaction to undo")
    async def reverse(self, interaction: discord.Interaction, transaction_id: app_commands.Range[int, 1]) -> None:
        """Undo a transaction with a new one the other way; history is kept."""
        assert interaction.guild is not None
        try:
            entry = await ledger.reverse(
                self.bot.repos,
                transaction_id,
                actor=f"admin:{interaction.user.id}",
                now=int(self.bot.clock.time()),
                guild_id=interaction.guild.id,
            )
        except ledger.LedgerError as error:
            await ephemeral(interaction, f"Not reversed: {error}.")
            return
        await ephemeral(interaction, f"Reversed #{transaction_id} with #{entry.id} ({entry.amount} voicepoints).")
