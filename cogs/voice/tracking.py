"""Voice session accounting and text activity, flushed to storage on the clock and at shutdown."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from core import voice
from core.voice import Carry, GuildVoiceSettings, VoiceSessions, VoiceSnapshot
from storage.members import Progress

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)

COUNTED_MESSAGE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


class VoiceTracking(commands.Cog):
    """Counts voice time from voice-state events (not ticks) and text messages; pays level-ups."""

    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot
        self.sessions = VoiceSessions()
        self.carry = Carry()
        self.rng = random.Random()
        self._rules: dict[int, GuildVoiceSettings] = {}
        self._paused = not bot.is_ready()
        self._timer = None
        self._lock = asyncio.Lock()

    async def cog_load(self) -> None:
        self._timer = self.bot.clock.every(self.bot.settings.voice.flush_interval, self.flush, name="voice-flush")
        if self.bot.is_ready():
            await self.resync()

    async def cog_unload(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.sessions.pause(self.bot.clock.time())
        self._paused = True
        await self.flush(effects=False)

    # --- settings ------------------------------------------------------------------------------

    async def rules(self, guild_id: int) -> GuildVoiceSettings:
        cached = self._rules.get(guild_id)
        if cached is None:
            cached = self._rules[guild_id] = await voice.guild_settings(self.bot.repos, self.bot.settings, guild_id)
        return cached

    async def settings_changed(self, guild: discord.Guild) -> None:
        """New rules apply from now on: time so far was counted under the old ones."""
        self._rules.pop(guild.id, None)
        await self.sync_guild(guild)

    # --- sessions --------------------------------------------------------------------------------

    def _snapshots(self, guild: discord.Guild) -> list[VoiceSnapshot]:
        states = []
        for channel in [*guild.voice_channels, *guild.stage_channels]:
            for user_id, state in channel.voice_states.items():
                member = guild.get_member(user_id)
                states.append(
                    VoiceSnapshot(
                        user_id=user_id,
                        channel_id=channel.id,
                        bot=bool(member and member.bot),
                        self_mute=state.self_mute,
                        self_deaf=state.self_deaf,
                        mute=state.mute,
                        deaf=state.deaf,
                        suppress=state.suppress,
                        role_ids=frozenset(role.id for role in member.roles) if member else frozenset(),
                    )
                )
        return states

    async def sync_guild(self, guild: discord.Guild) -> None:
        if self._paused:
            return
        rules = await self.rules(guild.id)
        afk = guild.afk_channel.id if guild.afk_channel else None
        self.sessions.sync(guild.id, self._snapshots(guild), now=self.bot.clock.time(), rules=rules, afk_channel_id=afk)

    async def resync(self) -> None:
        self._paused = False
        for guild in self.bot.guilds:
            await self.sync_guild(guild)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self.resync()

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        await self.resync()

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        # Nothing counts while the gateway is down; sessions restart from what the bot sees when back.
        self._paused = True
        self.sessions.pause(self.bot.clock.time())

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        await self.sync_guild(member.guild)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if after.voice is not None and before.roles != after.roles:
            await self.sync_guild(after.guild)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.sessions.sync(
            guild.id, [], now=self.bot.clock.time(), rules=await self.rules(guild.id), afk_channel_id=None
        )

    # --- paying ----------------------------------------------------------------------------------

    async def flush(self, *, effects: bool = True) -> None:
        """Store the counted seconds of every session (the timer, and once more at shutdown)."""
        if self.bot.user is None:
            return
        async with self._lock:
            now = self.bot.clock.time()
            drained = self.sessions.drain(now)
            if not drained:
                return
            credits = []
            for (guild_id, user_id), seconds in drained.items():
                rules = await self.rules(guild_id)
                credits.append(
                    voice.credit_voice(
                        self.bot.repos,
                        rules,
                        guild_id=guild_id,
                        user_id=user_id,
                        seconds=seconds,
                        experience=self.carry.pay(("xp", guild_id, user_id), seconds, rules.xp_per_minute),
                        voicepoints=self.carry.pay(("vp", guild_id, user_id), seconds, rules.points_per_minute),
                        bot_user_id=self.bot.user.id,
                        now=int(now),
                    )
                )
            results = await asyncio.gather(*credits, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self.bot.report_failure("voice flush", result)
            elif effects and result.levels_gained:
                await self.level_up(result)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or message.author.bot or message.type not in COUNTED_MESSAGE_TYPES:
            return
        if message.interaction_metadata is not None or self.bot.user is None:
            return
        rules = await self.rules(message.guild.id)
        roles = {role.id for role in getattr(message.author, "roles", [])}
        if message.channel.id in rules.no_xp_channels or roles & rules.no_xp_roles:
            return
        progress = await voice.credit_message(
            self.bot.repos,
            rules,
            guild_id=message.guild.id,
            user_id=message.author.id,
            bot_user_id=self.bot.user.id,
            now=int(self.bot.clock.time()),
            rng=self.rng,
        )
        if progress.levels_gained:
            await self.level_up(progress)

    async def level_up(self, progress: Progress) -> None:
        """Level roles and the announcement; failures on Discord's side are logged, not raised."""
        member_record = progress.member
        guild = self.bot.get_guild(member_record.guild_id)
        if guild is None:
            return
        rules = await self.rules(guild.id)
        member = guild.get_member(member_record.user_id)
        if member is None:
            return
        hold, drop = rules.role_changes(member_record.level)
        current = {role.id for role in member.roles}
        add = [discord.Object(r) for r in hold - current if guild.get_role(r)]
        remove = [discord.Object(r) for r in drop & current]
        try:
            if add:
                await member.add_roles(*add, reason=f"reached voice level {member_record.level}")
            if remove:
                await member.remove_roles(*remove, reason=f"reached voice level {member_record.level}")
        except discord.HTTPException as error:
            log.warning("could not update the level roles of %s in %s: %s", member.id, guild.id, error)
        await self._announce(guild, member, rules, member_record.level)

    async def _announce(
        self, guild: discord.Guild, member: discord.Member, rules: GuildVoiceSettings, level: int
    ) -> None:
        text = f"🎉 {member.mention} reached voice level **{level}**!"
        try:
            if rules.announce == "dm":
                await member.send(f"🎉 You reached voice level **{level}** in {guild.name}!")
            elif rules.announce == "channel" and rules.announce_channel_id:
                channel = guild.get_channel(rules.announce_channel_id)
                if isinstance(channel, discord.abc.Messageable):
                    await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[member]))
        except discord.HTTPException as error:
            log.info("level-up announcement for %s in %s not delivered: %s", member.id, guild.id, error)
