"""Voice session accounting and text activity, flushed to storage on the clock and at shutdown."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from cogs._batch import Batcher
from core import voice
from core.voice import Carry, GuildVoiceSettings, VoiceSessions, VoiceSnapshot
from storage.members import CountedMessage, Progress

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
        self.messages: Batcher[tuple[int, CountedMessage]] = Batcher(
            self.credit_messages, name="text activity", track=bot.track, report=bot.report_failure
        )

    async def cog_load(self) -> None:
        self.bot.add_message_sink(self.gather_message)
        self._timer = self.bot.clock.every(self.bot.settings.voice.flush_interval, self.flush, name="voice-flush")
        if self.bot.is_ready():
            await self.resync()

    async def cog_unload(self) -> None:
        self.bot.remove_message_sink(self.gather_message)
        if self._timer is not None:
            self._timer.cancel()
        self.sessions.pause(self.bot.clock.time())
        self._paused = True
        await self.messages.close()
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

    async def update_member(self, member: discord.Member, state: discord.VoiceState | None) -> None:
        """One member's voice state changed: constant work, not a pass over the guild's voice states."""
        if self._paused:
            return
        guild = member.guild
        rules = await self.rules(guild.id)
        afk = guild.afk_channel.id if guild.afk_channel else None
        snapshot = None
        if state is not None and state.channel is not None:
            snapshot = VoiceSnapshot(
                user_id=member.id,
                channel_id=state.channel.id,
                bot=member.bot,
                self_mute=state.self_mute,
                self_deaf=state.self_deaf,
                mute=state.mute,
                deaf=state.deaf,
                suppress=state.suppress,
                role_ids=frozenset(role.id for role in member.roles),
            )
        now = self.bot.clock.time()
        if not self.sessions.update(guild.id, member.id, snapshot, now=now, rules=rules, afk_channel_id=afk):
            await self.sync_guild(guild)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        await self.update_member(member, after)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if after.voice is not None and before.roles != after.roles:
            await self.update_member(after, after.voice)

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
            by_guild: dict[int, dict[int, int]] = {}
            for (guild_id, user_id), seconds in drained.items():
                by_guild.setdefault(guild_id, {})[user_id] = seconds
            results: list[Progress | BaseException] = []
            for guild_id, seconds in by_guild.items():
                try:
                    results += await voice.credit_voice(
                        self.bot.repos,
                        await self.rules(guild_id),
                        self.carry,
                        guild_id=guild_id,
                        seconds=seconds,
                        bot_user_id=self.bot.user.id,
                        now=int(now),
                    )
                except Exception as error:
                    results.append(error)
        for result in results:
            if isinstance(result, BaseException):
                self.bot.report_failure("voice flush", result)
            elif effects and result.levels_gained:
                await self.level_up(result)

    def gather_message(self, message: discord.Message) -> None:
        """A message sink: a human's guild message counts (written in batches)."""
        if message.guild is None or message.author.bot or message.type not in COUNTED_MESSAGE_TYPES:
            return
        if message.interaction_metadata is not None or self.bot.user is None:
            return
        rules = self._rules.get(message.guild.id)
        if rules is None:  # the guild's first message since its settings were (re)read
            self.bot.track(asyncio.get_running_loop().create_task(self._gather_after_reading_rules(message)))
            return
        self._gather(message, rules)

    async def _gather_after_reading_rules(self, message: discord.Message) -> None:
        assert message.guild is not None
        self._gather(message, await self.rules(message.guild.id))

    def _gather(self, message: discord.Message, rules: GuildVoiceSettings) -> None:
        assert message.guild is not None
        if message.channel.id in rules.no_xp_channels:
            return
        if rules.no_xp_roles and {role.id for role in getattr(message.author, "roles", [])} & rules.no_xp_roles:
            return
        self.messages.add(
            voice.counted_message(rules, message.guild.id, message.author.id, self.bot.clock.time(), self.rng)
        )

    async def credit_messages(self, batch: list[tuple[int, CountedMessage]]) -> None:
        """Count gathered messages, a few units of work per guild, and level up whoever reached a level."""
        if self.bot.user is None:
            return
        by_guild: dict[int, list[CountedMessage]] = {}
        for guild_id, message in batch:
            by_guild.setdefault(guild_id, []).append(message)
        for guild_id, messages in by_guild.items():
            rules = await self.rules(guild_id)
            levelled = await voice.credit_messages(
                self.bot.repos, rules, guild_id=guild_id, messages=messages, bot_user_id=self.bot.user.id
            )
            for progress in levelled:
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
