"""Economy rules: period boundaries in a guild's time zone, the xp inverse, rep/like and privacy."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core import economy, levels
from core.config import EconomySettings
from storage import Repositories

GUILD = 10
SETTINGS = EconomySettings()


def local(text: str, zone: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp())


def test_periods_start_at_local_midnight_monday_first_of_month_and_year():
    zone = "America/New_York"
    now = local("2026-11-26T01:30:00", zone)  # a Thursday, after the autumn clock change
    starts = economy.period_starts(now, ZoneInfo(zone))
    assert starts == {
        "daily": local("2026-11-26T00:00:00", zone),
        "weekly": local("2026-11-23T00:00:00", zone),
        "monthly": local("2026-11-01T00:00:00", zone),
        "yearly": local("2026-01-01T00:00:00", zone),
    }
    # The same instant is already the 26th in Tokyo but the day began at another moment.
    tokyo = economy.period_starts(now, ZoneInfo("Asia/Tokyo"))
    assert tokyo["daily"] == local("2026-11-26T00:00:00", "Asia/Tokyo") != starts["daily"]


@pytest.mark.parametrize("curve", levels.CURVES)
@pytest.mark.parametrize("total", [0, 1, 154, 155, 156, 10_000, 123_456_789])
def test_from_totalxp_inverts_the_curve(curve, total):
    level, experience = economy.from_totalxp(curve, total, factor=10)
    assert levels.totalxp(curve, level, experience, factor=10) == total
    assert 0 <= experience < levels.curve(curve, factor=10)(level)


async def test_rep_is_once_a_day_per_giver_and_never_to_oneself_or_a_bot(repos: Repositories):
    give = economy.give_rep
    assert await give(repos, SETTINGS, GUILD, giver_id=1, receiver_id=2, receiver_is_bot=False, now=1000) == 1
    with pytest.raises(economy.Cooldown) as cooldown:
        await give(repos, SETTINGS, GUILD, giver_id=1, receiver_id=3, receiver_is_bot=False, now=1000 + 3600)
    assert cooldown.value.retry_at == 1000 + 86_400
    with pytest.raises(economy.EconomyError, match="yourself"):
        await give(repos, SETTINGS, GUILD, giver_id=2, receiver_id=2, receiver_is_bot=False, now=1000)
    with pytest.raises(economy.EconomyError, match="bots"):
        await give(repos, SETTINGS, GUILD, giver_id=2, receiver_id=9, receiver_is_bot=True, now=1000)
    assert await give(repos, SETTINGS, GUILD, giver_id=1, receiver_id=3, receiver_is_bot=False, now=1000 + 86_400) == 1
    assert (await repos.economy.totals(GUILD, 2, {})).rp == 1


async def test_likes_cool_down_per_receiver(repos: Repositories):
    like = economy.give_like
    assert await like(repos, SETTINGS, GUILD, giver_id=1, receiver_id=2, receiver_is_bot=False, now=0) == 1
    assert await like(repos, SETTINGS, GUILD, giver_id=1, receiver_id=3, receiver_is_bot=False, now=0) == 1
    with pytest.raises(economy.Cooldown):
        await like(repos, SETTINGS, GUILD, giver_id=1, receiver_id=2, receiver_is_bot=False, now=60)
    totals = await repos.economy.totals(GUILD, 1, {})
    assert totals.last_like_given == 0


async def test_privacy_reaches_the_economy_data(repos: Repositories):
    await repos.economy.create_item(GUILD, "gem", "Gem", "", now=0)
    await repos.economy.change_inventory(GUILD, 2, {"gem": 4}, now=0)
    await economy.give_rep(repos, SETTINGS, GUILD, giver_id=2, receiver_id=3, receiver_is_bot=False, now=0)
    await economy.set_colours(repos, GUILD, 2, now=0, xp=(1, 2, 3, 255))
    assert repos.economy in repos.user_data_owners()
    assert await repos.economy.count_user_data(GUILD, 2) == 3
    assert await repos.economy.delete_user_data(GUILD, 2) == 3
    assert await repos.economy.count_user_data(GUILD, 2) == 0
    assert await repos.economy.inventory(GUILD, 2) == []
    assert (await repos.economy.totals(GUILD, 3, {})).rp == 1  # the receiver keeps the point, without the giver


async def test_deleting_an_item_empties_it_from_inventories(repos: Repositories):
    await economy.create_item(repos, GUILD, "gem", "Gem", "", now=0)
    with pytest.raises(economy.Conflict):
        await economy.create_item(repos, GUILD, "gem", "Gem", "", now=0)
    with pytest.raises(economy.EconomyError, match="item id"):
        await economy.create_item(repos, GUILD, "bad id!", "Gem", "", now=0)
    await economy.change_inventory(repos, GUILD, 2, [("gem", 2), ("gem", 3)], now=0)
    assert [(s.item_id, s.amount) for s in await repos.economy.inventory(GUILD, 2)] == [("gem", 5)]
    await economy.delete_item(repos, GUILD, "gem")
    assert await repos.economy.inventory(GUILD, 2) == []
    with pytest.raises(economy.NotFound):
        await economy.delete_item(repos, GUILD, "gem")
