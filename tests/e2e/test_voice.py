"""Voice and text tracking end to end: voice states and messages through fakediscord, time on its clock."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp

from guildhall.sandbox import Sandbox
from tests.e2e.conftest import Ids, assert_healthy

BRAM = 1179000000000000102
DAX = 1179000000000000104
EVE = 1179000000000000105
HELPER = 1179000000000000201
LOUNGE = 1179000000000003021
GAMING = 1179000000000003022
AFK = 1179000000000003023
KEYS = itertools.count()


async def profile(sandbox: Sandbox, ids: Ids, user: int) -> dict[str, Any] | None:
    status, body = await api(sandbox, "GET", f"/profile/{ids.guild}/{user}")
    return body if status == 200 else None


async def seconds(sandbox: Sandbox, ids: Ids, user: int) -> int:
    found = await profile(sandbox, ids, user)
    return 0 if found is None else found["timespent"]["global"]


async def api(sandbox: Sandbox, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    _, key = await sandbox.repos.api_keys.create(f"voice-e2e-{next(KEYS)}", now=int(sandbox.clock.time()))
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{sandbox.api.url}{path}", json=body, headers={"Authorization": key}) as response,
    ):
        return response.status, await response.json()


async def run(sandbox: Sandbox, ids: Ids, user: int, name: str, options: dict[str, Any] | None = None) -> dict:
    answer = await sandbox.fake.command(ids.guild, ids.general, user, name, options or {})
    return answer["responses"][-1]


async def test_alone_earns_nothing_and_two_together_earn_exactly_their_time(sandbox: Sandbox, ids: Ids):
    fake = sandbox.fake
    await fake.voice(ids.guild, DAX, LOUNGE)
    await fake.voice(ids.guild, HELPER, LOUNGE)  # a bot is no company
    await fake.advance_clock(300)
    assert await seconds(sandbox, ids, DAX) == 0
    await fake.voice(ids.guild, EVE, LOUNGE)
    await fake.advance_clock(600)
    assert await seconds(sandbox, ids, DAX) == 600
    assert await seconds(sandbox, ids, EVE) == 600
    assert await profile(sandbox, ids, HELPER) is None
    # Points were paid from the bot's own profile, one row per flush, and the ledger adds up.
    dax = await profile(sandbox, ids, DAX)
    assert dax["voicepoints"] == 10  # 1 per minute by default
    assert await sandbox.repos.ledger.verify_balances() == []
    assert_healthy(sandbox)


async def test_muting_deafening_and_the_afk_channel_stop_the_count(sandbox: Sandbox, ids: Ids):
    fake = sandbox.fake
    await fake.voice(ids.guild, DAX, LOUNGE)
    await fake.voice(ids.guild, EVE, LOUNGE)
    await fake.advance_clock(120)
    await fake.voice(ids.guild, DAX, LOUNGE, self_mute=True)  # eve is now alone with a muted member
    await fake.advance_clock(120)
    assert await seconds(sandbox, ids, DAX) == 120
    assert await seconds(sandbox, ids, EVE) == 120
    await fake.voice(ids.guild, DAX, LOUNGE)
    await fake.voice(ids.guild, EVE, LOUNGE, deaf=True)  # server-deafened
    await fake.advance_clock(60)
    await fake.voice(ids.guild, EVE, LOUNGE, deaf=False)
    await fake.advance_clock(60)
    await fake.voice(ids.guild, DAX, AFK)
    await fake.voice(ids.guild, EVE, AFK)
    await fake.advance_clock(300)
    assert await seconds(sandbox, ids, DAX) == 180
    assert await seconds(sandbox, ids, EVE) == 180
    # Moving together to another channel counts again; leaving stops it.
    await fake.voice(ids.guild, DAX, GAMING)
    await fake.voice(ids.guild, EVE, GAMING)
    await fake.advance_clock(60)
    await fake.voice(ids.guild, EVE, None)
    await fake.advance_clock(600)
    assert await seconds(sandbox, ids, DAX) == 240
    assert_healthy(sandbox)


async def test_the_rules_are_per_guild_toggles(sandbox: Sandbox, ids: Ids):
    reply = await run(sandbox, ids, ids.owner, "voice settings", {"ignore_alone": False, "ignore_afk": False})
    assert reply["ephemeral"] is True
    refused = await run(sandbox, ids, BRAM, "voice settings", {"ignore_alone": True})
    assert "Manage Server" in refused["content"]
    await sandbox.fake.voice(ids.guild, DAX, AFK)
    await sandbox.fake.advance_clock(120)
    assert await seconds(sandbox, ids, DAX) == 120
    assert_healthy(sandbox)


async def test_a_level_up_pays_its_reward_grants_the_level_role_and_is_announced(sandbox: Sandbox, ids: Ids):
    verified = ids.roles["Verified"]
    await run(sandbox, ids, ids.owner, "voice level-role", {"level": 2, "role": str(verified)})
    await run(sandbox, ids, ids.owner, "voice settings", {"announce": "channel", "announce_channel": str(ids.general)})
    await sandbox.fake.voice(ids.guild, DAX, LOUNGE)
    await sandbox.fake.voice(ids.guild, EVE, LOUNGE)
    await sandbox.fake.advance_clock(16 * 60)  # 160 XP at 10/min; MEE6 level 1 → 2 needs 155
    eve = await profile(sandbox, ids, EVE)
    assert (eve["level"], eve["experience"]) == (2, 5)
    status, rows = await api(sandbox, "GET", f"/transaction?user_id={EVE}&reason=level%20up")
    assert status == 200
    assert [(row["amount"], row["from"]["user_id"], row["actor"]) for row in rows] == [
        (20, str(sandbox.bot.user.id), "cog:voice")
    ]
    state = sandbox.fake.state()
    [guild] = state["guilds"]
    members = {m["id"]: m for m in guild["members"]}
    assert str(verified) in members[str(EVE)]["roles"]
    texts = [m["content"] for m in guild["messages"].get(str(ids.general), [])]
    assert any(f"<@{EVE}> reached voice level **2**" in text for text in texts)
    assert await sandbox.repos.ledger.verify_balances() == []
    assert_healthy(sandbox)


async def test_open_sessions_are_flushed_at_shutdown(sandbox: Sandbox, ids: Ids):
    await sandbox.fake.voice(ids.guild, DAX, LOUNGE)
    await sandbox.fake.voice(ids.guild, EVE, LOUNGE)
    await sandbox.fake.advance_clock(90)  # one flush at 60 s, 30 s still open
    await sandbox.bot.close()
    stored = await sandbox.repos.members.get(ids.guild, DAX)
    assert stored is not None and stored.voice_seconds == 90


async def test_nothing_counts_while_the_gateway_is_down(sandbox: Sandbox, ids: Ids):
    await sandbox.fake.voice(ids.guild, DAX, LOUNGE)
    await sandbox.fake.voice(ids.guild, EVE, LOUNGE)
    await sandbox.fake.advance_clock(60)
    await sandbox.fake.disconnect(resume=True)
    await sandbox.fake.advance_clock(60)
    assert await seconds(sandbox, ids, DAX) == 120  # a resume keeps counting from the states it sees
    gone = asyncio.Event()

    async def on_disconnect() -> None:
        gone.set()

    sandbox.bot.add_listener(on_disconnect)
    await sandbox.fake.set_outage(True)
    await asyncio.wait_for(gone.wait(), timeout=10)  # the bot has seen the gateway close
    await sandbox.fake.settled()
    await sandbox.fake.advance_clock(300)
    assert await seconds(sandbox, ids, DAX) == 120
    await sandbox.fake.set_outage(False)
    await sandbox.fake.advance_clock(60)
    assert await seconds(sandbox, ids, DAX) == 180  # counting again from the voice states seen after it
    assert_healthy(sandbox)


async def test_messages_count_and_text_experience_has_a_cooldown(sandbox: Sandbox, ids: Ids):
    fake = sandbox.fake
    await fake.message(ids.guild, ids.general, DAX, "hello")
    await fake.message(ids.guild, ids.general, DAX, "again")
    await fake.message(ids.guild, ids.general, HELPER, "beep")
    dax = await profile(sandbox, ids, DAX)
    assert dax["text"]["message_count"] == 2
    first = dax["text"]["experience"]
    assert 15 <= first <= 25  # once: the second message was within the cooldown
    await fake.advance_clock(61)
    await fake.message(ids.guild, ids.general, DAX, "later")
    dax = await profile(sandbox, ids, DAX)
    assert dax["text"]["message_count"] == 3
    assert dax["text"]["experience"] >= first + 15
    assert await profile(sandbox, ids, HELPER) is None
    assert_healthy(sandbox)


async def test_give_pray_points_and_reverse_share_the_ledger(sandbox: Sandbox, ids: Ids):
    prayed = await run(sandbox, ids, DAX, "pray")
    assert "prayed and received" in prayed["content"]
    again = await run(sandbox, ids, DAX, "pray")
    assert again["ephemeral"] is True and "already prayed" in again["content"]
    added = await run(sandbox, ids, ids.owner, "points add", {"member": str(DAX), "amount": 1000, "reason": "event"})
    assert "now has" in added["content"]
    refused = await run(sandbox, ids, EVE, "give", {"member": str(DAX), "amount": 5})
    assert refused["ephemeral"] is True and "fewer than 5" in refused["content"]
    gave = await run(sandbox, ids, DAX, "give", {"member": str(EVE), "amount": 400, "reason": "thanks"})
    assert "gave" in gave["content"]
    assert (await profile(sandbox, ids, EVE))["voicepoints"] == 400
    self_give = await run(sandbox, ids, DAX, "give", {"member": str(DAX), "amount": 1})
    assert "yourself" in self_give["content"]
    _, rows = await api(sandbox, "GET", f"/transaction?to={EVE}&reason=thanks")
    [gift] = rows
    reversed_ = await run(sandbox, ids, ids.owner, "points reverse", {"transaction_id": gift["id"]})
    assert f"Reversed #{gift['id']}" in reversed_["content"]
    assert (await profile(sandbox, ids, EVE))["voicepoints"] == 0
    twice = await run(sandbox, ids, ids.owner, "points reverse", {"transaction_id": gift["id"]})
    assert "already reversed" in twice["content"]
    _status, rows = await api(sandbox, "GET", f"/transaction?user_id={DAX}&limit=0")
    reasons = [row["reason"] for row in rows]
    assert reasons[-1].startswith("pray | streak 1")
    assert f"reversal of #{gift['id']}" in reasons
    shown = await run(sandbox, ids, DAX, "profile")
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert fields["Voicepoints"] == str((await profile(sandbox, ids, DAX))["voicepoints"])
    top = await run(sandbox, ids, DAX, "top", {"by": "points"})
    assert f"<@{DAX}>" in top["embeds"][0]["description"]
    assert await sandbox.repos.ledger.verify_balances() == []
    assert_healthy(sandbox)


async def test_a_higher_level_role_replaces_the_lower_one_and_dms_announce(sandbox: Sandbox, ids: Ids):
    member_role, verified = ids.roles["Member"], ids.roles["Verified"]
    await run(sandbox, ids, ids.owner, "voice level-role", {"level": 2, "role": str(member_role)})
    await run(sandbox, ids, ids.owner, "voice level-role", {"level": 3, "role": str(verified)})
    await run(sandbox, ids, ids.owner, "voice settings", {"announce": "dm", "xp_per_minute": 100})
    await sandbox.fake.voice(ids.guild, EVE, LOUNGE)
    await sandbox.fake.voice(ids.guild, BRAM, LOUNGE)
    await sandbox.fake.advance_clock(2 * 60)  # 200 XP: level 2
    roles = {m["id"]: m["roles"] for m in sandbox.fake.state()["guilds"][0]["members"]}
    assert str(member_role) in roles[str(EVE)] and str(verified) not in roles[str(EVE)]
    await sandbox.fake.advance_clock(2 * 60)  # 400 XP: level 3 (155 + 220)
    state = sandbox.fake.state()
    roles = {m["id"]: m["roles"] for m in state["guilds"][0]["members"]}
    assert str(verified) in roles[str(EVE)] and str(member_role) not in roles[str(EVE)]
    dms = [message["content"] for message in state["dms"].get(str(EVE), [])]
    assert any("voice level **3**" in text for text in dms)
    assert_healthy(sandbox)
