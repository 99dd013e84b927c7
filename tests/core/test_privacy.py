"""Guild data purge after the bot leaves, opt-outs, and the privacy summary across features."""

from core import privacy
from core.clock import ManualClock
from storage import Repositories

DAY = 86_400
GUILD, KEPT_GUILD, USER = 10, 20, 501


async def test_a_left_guild_is_purged_after_the_grace_period(repos: Repositories, clock: ManualClock):
    now = int(clock.time())
    for guild in (GUILD, KEPT_GUILD):
        await repos.serverstats.enable(guild, {}, now=now)
        await repos.serverstats.record(guild, "command", now=now, user_id=USER)
        await repos.guild_settings.put(guild, "probe", {"a": 1}, now=now)
    await privacy.guild_left(repos, GUILD, now=now)
    await privacy.guild_left(repos, KEPT_GUILD, now=now)
    assert await privacy.guild_joined(repos, KEPT_GUILD) is True  # rejoining cancels the purge
    assert await privacy.purge_departed_guilds(repos, now=now + 29 * DAY, grace_days=30) == []
    assert await repos.serverstats.count_user_data(GUILD, USER) == 1
    assert await privacy.purge_departed_guilds(repos, now=now + 31 * DAY, grace_days=30) == [GUILD]
    assert await repos.serverstats.count_user_data(GUILD, USER) == 0
    assert await repos.serverstats.get(GUILD) is None
    assert await repos.guild_settings.get(GUILD, "probe") is None
    assert await repos.privacy.pending_departures() == {}
    # The guild the bot came back to keeps everything.
    assert await repos.serverstats.count_user_data(KEPT_GUILD, USER) == 1
    assert await repos.guild_settings.get(KEPT_GUILD, "probe") == {"a": 1}


async def test_summary_names_every_feature_and_delete_keeps_the_opt_out(repos: Repositories, clock: ManualClock):
    now = int(clock.time())
    await repos.serverstats.enable(GUILD, {}, now=now)
    await repos.serverstats.record(GUILD, "message", now=now, user_id=USER)
    await privacy.set_opt_out(repos, GUILD, USER, True, now=now)
    counts = await privacy.user_data(repos, GUILD, USER)
    assert set(counts) == {owner.user_data_kind for owner in repos.user_data_owners()}
    assert counts["server statistics events"] == 1
    deleted = await privacy.delete_user_data(repos, GUILD, USER)
    assert deleted["server statistics events"] == 1
    assert sum((await privacy.user_data(repos, GUILD, USER)).values()) == 0
    assert await repos.privacy.is_opted_out(GUILD, USER)
