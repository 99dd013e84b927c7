"""The website link on Discord: /configure link|unlink|test|status, /verify, and reports to the website."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._checks import is_manager
from core.links import LinkError, normalise_website_url
from guildhall.bot import reply
from guildhall.website import Website, WebsiteClient, WebsiteError
from storage import GuildLink

if TYPE_CHECKING:
    from guildhall.bot import Guildhall

log = logging.getLogger(__name__)

WEBSITE_ANSWERS = {
    "refused": "I won't call that address: it is on a loopback, private or link-local network.",
    "unreachable": "I could not reach the website. Is the API URL right and the site up?",
    "nameless:invalid_api_key": "The website refused the API key.",
    "core:invalid_api_key": "The website refused the API key.",
    "core:invalid_code": "That token is invalid or has expired: get a new one on the website.",
    "core:integration_identifier_already_linked": "This Discord account is already linked to a website account.",
}


def explain(error: WebsiteError) -> str:
    return WEBSITE_ANSWERS.get(error.code, f"The website answered with an error: {error.message}")


def site_of(link: GuildLink) -> Website:
    return Website(link.api_url, link.api_key)


def role_list(guild: discord.Guild) -> list[tuple[int, str]]:
    return [(role.id, role.name) for role in guild.roles if not role.is_default()]


class Link(commands.Cog):
    configure = app_commands.Group(
        name="configure",
        description="Link this server to a NamelessMC website",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: Guildhall) -> None:
        self.bot = bot
        config = bot.settings.link
        self.website = WebsiteClient(allow_private=config.allow_private_targets, timeout=config.website_timeout)
        self._guild_locks: dict[int, asyncio.Lock] = {}
        self._announced = False

    def now(self) -> int:
        return int(self.bot.clock.time())

    @property
    def bot_url(self) -> str:
        return self.bot.settings.api.public_url or self.bot.api_url

    async def _contact(self, guild_id: int, work: Callable[[], Awaitable[object]], what: str) -> WebsiteError | None:
        """Run one exchange with the guild's website and remember how it went."""
        try:
            await work()
        except WebsiteError as error:
            log.warning("website of guild %s: %s failed: %s", guild_id, what, error.message)
            await self.bot.repos.website_contacts.record(guild_id, ok=False, detail=f"{what}: {error}", now=self.now())
            return error
        await self.bot.repos.website_contacts.record(guild_id, ok=True, detail=what, now=self.now())
        return None

    async def _announce(self, guild: discord.Guild, site: Website) -> None:
        assert self.bot.user is not None
        await self.website.update_bot_settings(
            site, bot_url=self.bot_url, guild_id=guild.id, name=self.bot.user.name, user_id=self.bot.user.id
        )
        await self.website.submit_role_list(site, role_list(guild))

    # --- /configure ---------------------------------------------------------------------------

    @configure.command(name="link")
    @app_commands.describe(api_url="The website's API URL (StaffCP → Configuration → API)", api_key="Its API key")
    @is_manager()
    async def link(self, interaction: discord.Interaction[Guildhall], api_url: str, api_key: str) -> None:
        """Link this server to a NamelessMC website."""
        assert interaction.guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            url = normalise_website_url(api_url)
            if not api_key.strip():
                raise LinkError("the API key is empty")
        except LinkError as error:
            await reply(interaction, f"That can't be linked: {error}.")
            return
        site = Website(url, api_key.strip())
        try:
            info = await self.website.info(site)
            await self.website.update_bot_settings(
                site,
                bot_url=self.bot_url,
                guild_id=interaction.guild.id,
                name=self.bot.user.name if self.bot.user else "Guildhall",
                user_id=self.bot.user.id if self.bot.user else 0,
            )
        except WebsiteError as error:
            await reply(interaction, f"Not linked. {explain(error)}")
            return
        await self.bot.repos.guild_links.put(interaction.guild.id, url, site.api_key, now=self.now())
        guild = interaction.guild
        await self._contact(guild.id, lambda: self.website.submit_role_list(site, role_list(guild)), "role list")
        version = info.get("nameless_version", "?")
        await reply(interaction, f"Linked to {url} (NamelessMC {version}). The website reaches me at {self.bot_url}.")

    @configure.command(name="unlink")
    @is_manager()
    async def unlink(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Remove this server's link to its website."""
        assert interaction.guild_id is not None
        removed = await self.bot.repos.guild_links.delete(interaction.guild_id)
        await reply(interaction, "Unlinked from the website." if removed else "This server is not linked to a website.")

    @configure.command(name="test")
    @is_manager()
    async def test(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Check that the linked website answers."""
        assert interaction.guild_id is not None
        link = await self.bot.repos.guild_links.get(interaction.guild_id)
        if link is None:
            await reply(interaction, "This server is not linked: use `/configure link` first.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        started = self.bot.clock.monotonic()
        result: dict[str, str] = {}

        async def check() -> None:
            info = await self.website.info(site_of(link))
            result["version"] = str(info.get("nameless_version"))

        error = await self._contact(interaction.guild_id, check, "connection test")
        if error is not None:
            await reply(interaction, f"The website link is not working. {explain(error)}")
            return
        took = round((self.bot.clock.monotonic() - started) * 1000)
        await reply(interaction, f"The website link is working (NamelessMC {result['version']}). Took {took}ms.")

    @configure.command(name="status")
    @is_manager()
    async def status(self, interaction: discord.Interaction[Guildhall]) -> None:
        """Show this server's website link and the last contact with the website."""
        assert interaction.guild_id is not None
        link = await self.bot.repos.guild_links.get(interaction.guild_id)
        if link is None:
            await reply(interaction, "This server is not linked to a website.")
            return
        lines = [
            f"Linked to {link.api_url} since <t:{link.linked_at}:f>.",
            f"The website reaches me at {self.bot_url}.",
        ]
        contact = await self.bot.repos.website_contacts.last(interaction.guild_id)
        if contact is not None:
            state = "worked" if contact.ok else "failed"
            lines.append(f"Last contact <t:{contact.checked_at}:R> {state}: {contact.detail}.")
        await reply(interaction, "\n".join(lines))

    # --- /verify ------------------------------------------------------------------------------

    @app_commands.command(name="verify")
    @app_commands.guild_only()
    @app_commands.describe(token="The token the website shows on your account's integrations page")  # noqa: S106
    async def verify(self, interaction: discord.Interaction[Guildhall], token: str) -> None:
        """Link your website account with the token the website gave you."""
        assert interaction.guild is not None
        link = await self.bot.repos.guild_links.get(interaction.guild.id)
        if link is None:
            await reply(interaction, "This server is not linked to a website.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        user = interaction.user
        try:
            await self.website.verify(site_of(link), discord_id=user.id, username=user.name, code=token.strip())
        except WebsiteError as error:
            await reply(interaction, f"Not verified. {explain(error)}")
            return
        member = interaction.guild.get_member(user.id)
        if member is not None:
            current = [role.id for role in member.roles if not role.is_default()]
            await self._report_roles(interaction.guild.id, link, user.id, add=current, remove=[], current=current)
        await reply(interaction, "Your website account is now linked to your Discord account.")

    # --- reports to the website ---------------------------------------------------------------

    async def _report_roles(
        self, guild_id: int, link: GuildLink, user_id: int, *, add: list[int], remove: list[int], current: list[int]
    ) -> None:
        """One role report at a time per guild: websites mishandle concurrent role calls."""
        site = site_of(link)

        async def report() -> None:
            website_user = await self.website.website_user(site, user_id)
            if website_user is not None:
                await self.website.sync_roles(site, website_user, add=add, remove=remove, current=current)

        async with self._guild_locks.setdefault(guild_id, asyncio.Lock()):
            await self._contact(guild_id, report, "role report")

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self._announced:
            return
        self._announced = True
        for guild in self.bot.guilds:
            link = await self.bot.repos.guild_links.get(guild.id)
            if link is not None:
                site = site_of(link)
                await self._contact(guild.id, lambda g=guild, s=site: self._announce(g, s), "announcement")

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if after.bot or before.roles == after.roles:
            return
        link = await self.bot.repos.guild_links.get(after.guild.id)
        if link is None:
            return
        old = {role.id for role in before.roles if not role.is_default()}
        new = {role.id for role in after.roles if not role.is_default()}
        await self._report_roles(
            after.guild.id, link, after.id, add=sorted(new - old), remove=sorted(old - new), current=sorted(new)
        )

    async def _roles_changed(self, guild: discord.Guild) -> None:
        link = await self.bot.repos.guild_links.get(guild.id)
        if link is not None:
            site = site_of(link)
            await self._contact(guild.id, lambda: self.website.submit_role_list(site, role_list(guild)), "role list")

    @commands.Cog.listener()
    async def on_guild_role_create(self, role: discord.Role) -> None:
        await self._roles_changed(role.guild)

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        await self._roles_changed(role.guild)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        if before.name != after.name:
            await self._roles_changed(after.guild)


async def setup(bot: Guildhall) -> None:
    await bot.add_cog(Link(bot))
