"""``python bot.py doctor``: what Discord says about this bot, and what to fix, in plain words."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import discord

from core.config import PRIVILEGED_INTENTS, Settings
from guildhall.runtime import point_discord_at

log = logging.getLogger(__name__)

# What the features need, and why, in the words the report uses.
NEEDED_PERMISSIONS = {
    "view_channel": "see channels",
    "send_messages": "answer and post",
    "embed_links": "post starboard and profile embeds",
    "attach_files": "send rank cards",
    "read_message_history": "find starred messages",
    "add_reactions": "react on the starboard",
    "manage_roles": "apply role changes from the website",
    "manage_channels": "rename counter channels",
}

INTENT_FLAGS = {
    "members": ("gateway_guild_members", "gateway_guild_members_limited", "Server Members Intent"),
    "message_content": ("gateway_message_content", "gateway_message_content_limited", "Message Content Intent"),
    "presences": ("gateway_presence", "gateway_presence_limited", "Presence Intent"),
}


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def print(self) -> None:
        for line in self.ok:
            print(f"  ok   {line}")
        for line in self.problems:
            print(f"  FIX  {line}")
        verdict = "everything Guildhall needs is in place" if not self.problems else f"{len(self.problems)} to fix"
        print(f"doctor: {verdict}")


async def run_doctor(settings: Settings) -> int:
    if not settings.has_token:
        print("  FIX  no Discord token: set DISCORD_TOKEN or [discord] token (Developer Portal → your app → Bot)")
        return 1
    point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    report = await diagnose(settings)
    report.print()
    return 0 if not report.problems else 1


async def diagnose(settings: Settings) -> Report:
    report = Report()
    client = discord.Client(intents=discord.Intents.none())
    try:
        try:
            await client.login(settings.discord.token)
        except discord.LoginFailure:
            report.problems.append("Discord rejected the token: reset it in the Developer Portal (Bot page)")
            return report
        assert client.user is not None
        report.ok.append(f"token accepted: logged in as {client.user} ({client.user.id})")
        application = await client.application_info()
        _check_intents(settings, application.flags, report)
        guilds = [guild async for guild in client.fetch_guilds(limit=None)]
        if not guilds:
            report.problems.append(
                "the bot is in no guild: invite it with the 'bot' and 'applications.commands' scopes"
            )
        for partial in guilds:
            guild = await client.fetch_guild(partial.id)
            me = await guild.fetch_member(client.user.id)
            _check_guild(guild, me, report)
    finally:
        await client.close()
    return report


def _check_intents(settings: Settings, flags: discord.ApplicationFlags, report: Report) -> None:
    for intent in settings.discord.intents:
        if intent not in PRIVILEGED_INTENTS:
            continue
        full, limited, label = INTENT_FLAGS[intent]
        if getattr(flags, full) or getattr(flags, limited):
            report.ok.append(f"{label} enabled")
        else:
            report.problems.append(
                f"{label} is off: enable it in the Developer Portal (Bot page → Privileged Gateway Intents), "
                f"or remove '{intent}' from [discord] intents"
            )


def _check_guild(guild: discord.Guild, me: discord.Member, report: Report) -> None:
    permissions = me.guild_permissions
    missing = [
        f"{name.replace('_', ' ').title()} (to {why})"
        for name, why in NEEDED_PERMISSIONS.items()
        if not getattr(permissions, name)
    ]
    if missing:
        report.problems.append(f"in {guild.name} ({guild.id}) the bot lacks: {', '.join(missing)}")
    else:
        report.ok.append(f"in {guild.name} ({guild.id}) the bot has every permission it needs")
    top = me.top_role
    above = [role.name for role in guild.roles if role >= top and role != top and not role.managed]
    if above:
        report.problems.append(
            f"in {guild.name} the bot's highest role '{top.name}' is below {', '.join(sorted(above))}: "
            "it cannot give or take those roles. Drag the bot's role above them in Server Settings → Roles"
        )
