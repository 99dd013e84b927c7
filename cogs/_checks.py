"""Permission checks for slash commands, enforced in code as well as through Discord's defaults.

Discord's ``default_member_permissions`` can be overridden by a guild's admins per command, so a
command that changes settings checks the permission itself too.
"""

from __future__ import annotations

import discord
from discord import app_commands


def is_manager():
    """Manage Server is needed (checked here too, whatever the guild's command permissions say)."""

    def predicate(interaction: discord.Interaction) -> bool:
        permissions = getattr(interaction.user, "guild_permissions", None)
        if permissions is None or not permissions.manage_guild:
            raise app_commands.CheckFailure("You need the Manage Server permission for this.")
        return True

    return app_commands.check(predicate)
