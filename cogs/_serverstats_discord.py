"""The server-stats module's view of Discord through discord.py (core.serverstats/starboard/counters ports)."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import discord
from PIL import Image, ImageDraw

from core.serverstats import ChannelInfo, DiscordUnavailable, GuildCounts
from core.starboard import StarCard, StarredMessage, Starrer

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)

STAR_COLOUR = 0xFFAC33


def channel_kind(channel: discord.abc.GuildChannel) -> str:
    return {
        discord.ChannelType.text: "text",
        discord.ChannelType.news: "news",
        discord.ChannelType.voice: "voice",
        discord.ChannelType.stage_voice: "stage",
        discord.ChannelType.category: "category",
        discord.ChannelType.forum: "forum",
    }.get(channel.type, "other")


def channel_info(channel: discord.abc.GuildChannel) -> ChannelInfo:
    nsfw = bool(getattr(channel, "nsfw", False))
    return ChannelInfo(channel.id, channel_kind(channel), nsfw, getattr(channel, "category_id", None))


class DiscordStats:
    """Implements StatsDiscord, StarboardDiscord and CounterDiscord over the bot's connection."""

    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot

    # --- guilds and channels ---------------------------------------------------------------------

    def guild_channels(self, guild_id: int) -> dict[int, ChannelInfo] | None:
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return None
        return {channel.id: channel_info(channel) for channel in guild.channels}

    def guild_roles(self, guild_id: int) -> set[int]:
        guild = self.bot.get_guild(guild_id)
        return {role.id for role in guild.roles} if guild else set()

    def channel(self, guild_id: int, channel_id: int) -> ChannelInfo | None:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild else None
        return channel_info(channel) if channel is not None else None

    def channel_name(self, guild_id: int, channel_id: int) -> str | None:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild else None
        return channel.name if channel is not None else None

    async def create_voice_channel(self, guild_id: int, category_id: int, name: str) -> int:
        guild = self.bot.get_guild(guild_id)
        category = guild.get_channel(category_id) if guild else None
        if guild is None or not isinstance(category, discord.CategoryChannel):
            raise DiscordUnavailable(f"category {category_id} is not available")
        try:
            channel = await guild.create_voice_channel(name, category=category, reason="server stats counter")
        except discord.HTTPException as error:
            raise DiscordUnavailable(f"could not create the counter channel: {error.text or error.status}") from None
        return channel.id

    async def delete_channel(self, guild_id: int, channel_id: int) -> None:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild else None
        if channel is None:
            return
        try:
            await channel.delete(reason="server stats counter removed")
        except discord.NotFound:
            pass
        except discord.HTTPException as error:
            raise DiscordUnavailable(f"could not delete channel {channel_id}: {error.text or error.status}") from None

    # --- counters ---------------------------------------------------------------------------------

    async def counts(self, guild_id: int, role_ids: set[int]) -> GuildCounts | None:
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return None
        intents = self.bot.intents
        members = guild.member_count or 0
        if intents.presences and intents.members:
            online = sum(1 for m in guild.members if m.status is not discord.Status.offline)
            role_online = {
                role_id: sum(1 for m in guild.members if m.status is not discord.Status.offline and m.get_role(role_id))
                for role_id in role_ids
            }
            return GuildCounts(members, online, guild.premium_subscription_count, "presences", role_online)
        try:
            fetched = await self.bot.fetch_guild(guild_id, with_counts=True)
        except discord.HTTPException:
            log.warning("could not fetch the approximate counts of guild %s", guild_id, exc_info=True)
            return None
        if not intents.members:
            members = fetched.approximate_member_count or members
        online = fetched.approximate_presence_count or 0
        role_members = {role_id: len(r.members) if (r := guild.get_role(role_id)) else 0 for role_id in role_ids}
        return GuildCounts(
            members,
            online,
            guild.premium_subscription_count,
            "approximate (no presences intent)",
            role_members,
            "all members with the role (no presences intent)",
        )

    async def rename(self, channel_id: int, name: str) -> float | None:
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.GuildChannel):
            return None
        try:
            await channel.edit(name=name, reason="server stats counter")
        except discord.RateLimited as limited:
            return limited.retry_after
        except discord.HTTPException as error:
            if error.status == 429:
                return 60.0
            log.warning("could not rename counter channel %s: %s", channel_id, error)
        return None

    # --- starboard -------------------------------------------------------------------------------

    def _messageable(self, channel_id: int) -> discord.TextChannel | discord.Thread | None:
        channel = self.bot.get_channel(channel_id)
        return channel if isinstance(channel, discord.TextChannel | discord.Thread) else None

    async def fetch_message(self, channel_id: int, message_id: int) -> StarredMessage | None:
        channel = self._messageable(channel_id)
        if channel is None:
            return None
        try:
            message = await channel.fetch_message(message_id)
        except discord.NotFound:
            return None
        except discord.HTTPException as error:
            raise DiscordUnavailable(f"could not fetch message {message_id}: {error.text or error.status}") from None
        image = next(
            (a.url for a in message.attachments if (a.content_type or "").startswith("image/") and not a.is_spoiler()),
            None,
        ) or next((e.image.url or e.thumbnail.url for e in message.embeds if e.image.url or e.thumbnail.url), None)
        return StarredMessage(
            id=message.id,
            guild_id=message.guild.id if message.guild else 0,
            channel_id=channel.id,
            author_id=message.author.id,
            author_name=message.author.display_name,
            author_avatar=message.author.display_avatar.url,
            content=message.content,
            image_url=image,
            jump_url=message.jump_url,
            created_at=message.created_at.timestamp(),
            nsfw=channel.is_nsfw(),
        )

    async def star_users(self, channel_id: int, message_id: int, emoji: str) -> list[Starrer]:
        channel = self._messageable(channel_id)
        if channel is None:
            return []
        try:
            message = await channel.fetch_message(message_id)
            reaction = next((r for r in message.reactions if str(r.emoji) == emoji), None)
            if reaction is None:
                return []
            return [Starrer(user.id, user.bot) async for user in reaction.users(limit=None)]
        except discord.NotFound:
            return []
        except discord.HTTPException as error:
            raise DiscordUnavailable(
                f"could not read the stars of {message_id}: {error.text or error.status}"
            ) from None

    @staticmethod
    def _embed(card: StarCard) -> discord.Embed:
        embed = discord.Embed(description=card.description or None, colour=STAR_COLOUR, timestamp=card.timestamp)
        embed.set_author(name=card.author_name, icon_url=card.author_avatar)
        embed.add_field(name="Original", value=f"[Jump to message!]({card.jump_url})", inline=False)
        if card.image_url:
            embed.set_image(url=card.image_url)
        embed.set_footer(text=card.footer)
        return embed

    async def post(self, channel_id: int, card: StarCard) -> int:
        channel = self._messageable(channel_id)
        if channel is None:
            raise DiscordUnavailable(f"the starboard channel {channel_id} is not available")
        try:
            message = await channel.send(card.content, embed=self._embed(card))
        except discord.HTTPException as error:
            raise DiscordUnavailable(f"could not post to the starboard: {error.text or error.status}") from None
        return message.id

    async def edit(self, channel_id: int, message_id: int, card: StarCard) -> bool:
        channel = self._messageable(channel_id)
        if channel is None:
            return False
        try:
            await channel.get_partial_message(message_id).edit(content=card.content, embed=self._embed(card))
        except discord.NotFound:
            return False
        except discord.HTTPException as error:
            raise DiscordUnavailable(f"could not edit the starboard post: {error.text or error.status}") from None
        return True

    async def delete(self, channel_id: int, message_id: int) -> None:
        channel = self._messageable(channel_id)
        if channel is None:
            return
        try:
            await channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            pass
        except discord.HTTPException as error:
            raise DiscordUnavailable(f"could not remove the starboard post: {error.text or error.status}") from None


def chart_png(title: str, series: list[dict[str, object]]) -> bytes:
    """A small bar chart of a per-day series."""
    width, height, margin = 640, 320, 40
    image = Image.new("RGB", (width, height), (47, 49, 54))
    draw = ImageDraw.Draw(image)
    draw.text((margin, 10), title, fill=(255, 255, 255))
    counts = [int(str(point["count"])) for point in series]
    top = max(counts, default=0) or 1
    slot = (width - 2 * margin) / max(1, len(counts))
    for index, count in enumerate(counts):
        bar = (height - 2 * margin) * count / top
        x0 = margin + index * slot + slot * 0.15
        draw.rectangle((x0, height - margin - bar, x0 + slot * 0.7, height - margin), fill=(255, 172, 51))
    draw.text((margin, height - margin + 8), f"{series[0]['date']} .. {series[-1]['date']}", fill=(200, 200, 200))
    draw.text((width - margin - 80, 10), f"max {top}", fill=(200, 200, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
