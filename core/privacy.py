"""Privacy for the whole bot: what is stored about a member, deleting it, opting out, guild purges.

Every repository that stores per-member data implements ``storage.repositories.UserDataOwner``;
these rules reach all of them through ``repos.user_data_owners()``.
"""

from __future__ import annotations

import logging

from storage import Repositories

log = logging.getLogger(__name__)

DAY = 86_400


async def user_data(repos: Repositories, guild_id: int, user_id: int) -> dict[str, int]:
    """How many stored items each feature holds about the member in this guild (zero counts too)."""
    return {owner.user_data_kind: await owner.count_user_data(guild_id, user_id) for owner in repos.user_data_owners()}


async def delete_user_data(repos: Repositories, guild_id: int, user_id: int) -> dict[str, int]:
    """Delete what every feature stores about the member in this guild; what was deleted, per kind.

    The opt-out flag is kept: it is what stops collection.
    """
    deleted = {}
    for owner in repos.user_data_owners():
        deleted[owner.user_data_kind] = await owner.delete_user_data(guild_id, user_id)
    log.info("deleted the data of a member in guild %s on request (%d items)", guild_id, sum(deleted.values()))
    return deleted


async def set_opt_out(repos: Repositories, guild_id: int, user_id: int, opted_out: bool, *, now: int) -> None:
    await repos.privacy.set_opted_out(guild_id, user_id, opted_out, now=now)


async def guild_left(repos: Repositories, guild_id: int, *, now: int) -> None:
    await repos.privacy.guild_left(guild_id, now=now)


async def guild_joined(repos: Repositories, guild_id: int) -> bool:
    return await repos.privacy.guild_joined(guild_id)


async def purge_departed_guilds(repos: Repositories, *, now: float, grace_days: float) -> list[int]:
    """Delete the data of guilds the bot left more than the grace period ago."""
    purged = await repos.privacy.purge_departed(left_before=int(now - grace_days * DAY))
    for guild_id in purged:
        log.info("purged the data of guild %s, left more than %.0f days ago", guild_id, grace_days)
    return purged
