"""Who counts in voice, session accounting, and the per-minute carry."""

from __future__ import annotations

import random
from dataclasses import replace

from core.config import Settings
from core.voice import Carry, GuildVoiceSettings, VoiceSessions, VoiceSnapshot, counting

RULES = GuildVoiceSettings.defaults(Settings())
G, A, B, C = 1, 10, 20, 30
ROOM, OTHER, AFK = 100, 200, 300


def test_counting_needs_another_counting_human():
    assert counting([VoiceSnapshot(A, ROOM)], RULES, AFK) == set()
    assert counting([VoiceSnapshot(A, ROOM), VoiceSnapshot(B, ROOM, bot=True)], RULES, AFK) == set()
    assert counting([VoiceSnapshot(A, ROOM), VoiceSnapshot(B, ROOM, self_mute=True)], RULES, AFK) == set()
    assert counting([VoiceSnapshot(A, ROOM), VoiceSnapshot(B, ROOM)], RULES, AFK) == {A, B}
    assert counting([VoiceSnapshot(A, ROOM), VoiceSnapshot(B, OTHER)], RULES, AFK) == set()
    assert counting([VoiceSnapshot(A, AFK), VoiceSnapshot(B, AFK)], RULES, AFK) == set()
    assert counting([VoiceSnapshot(A, ROOM, suppress=True), VoiceSnapshot(B, ROOM)], RULES, AFK) == set()
    assert counting([VoiceSnapshot(A, ROOM, deaf=True), VoiceSnapshot(B, ROOM)], RULES, AFK) == set()


def test_each_rule_is_a_toggle():
    lenient = replace(RULES, ignore_alone=False, ignore_muted=False, ignore_afk=False)
    assert counting([VoiceSnapshot(A, AFK, self_mute=True)], lenient, AFK) == {A}
    no_xp = replace(RULES, no_xp_roles=frozenset({7}))
    assert counting([VoiceSnapshot(A, ROOM, role_ids=frozenset({7})), VoiceSnapshot(B, ROOM)], no_xp, AFK) == set()


def test_sessions_count_only_while_counting_and_drain_whole_seconds():
    sessions = VoiceSessions()
    sessions.sync(G, [VoiceSnapshot(A, ROOM)], now=0, rules=RULES, afk_channel_id=None)
    sessions.sync(G, [VoiceSnapshot(A, ROOM), VoiceSnapshot(B, ROOM)], now=100, rules=RULES, afk_channel_id=None)
    assert sessions.drain(160.5) == {(G, A): 60, (G, B): 60}
    sessions.sync(G, [VoiceSnapshot(A, ROOM)], now=200.5, rules=RULES, afk_channel_id=None)
    assert sessions.drain(1000) == {(G, A): 40, (G, B): 40}  # 40 + the carried half second, whole seconds only
    assert sessions.drain(2000) == {}


def test_join_grace_and_pause():
    rules = replace(RULES, join_grace=30)
    sessions = VoiceSessions()
    pair = [VoiceSnapshot(A, ROOM), VoiceSnapshot(B, ROOM)]
    sessions.sync(G, pair, now=0, rules=rules, afk_channel_id=None)
    sessions.pause(100)
    sessions.sync(G, pair, now=500, rules=rules, afk_channel_id=None)  # back: a new session, a new grace
    assert sessions.drain(560) == {(G, A): 100, (G, B): 100}


def test_carry_pays_fractions_later():
    carry = Carry()
    assert [carry.pay(("x",), 30, 1) for _ in range(4)] == [0, 1, 0, 1]


def test_role_changes_for_level_roles():
    rules = replace(RULES, level_roles=((2, 500), (5, 600)))
    assert rules.role_changes(1) == (set(), {500, 600})
    assert rules.role_changes(5) == ({600}, {500})
    assert replace(rules, keep_level_roles=True).role_changes(5) == ({500, 600}, set())


def test_overrides_round_trip_through_storage_json():
    changed = replace(RULES, no_xp_channels=frozenset({5}), level_roles=((2, 9),), xp_per_minute=3)
    stored = changed.stored(RULES)
    assert stored == {"no_xp_channels": [5], "level_roles": [[2, 9]], "xp_per_minute": 3}
    assert RULES.with_overrides(stored) == changed


def test_one_member_updates_match_a_whole_guild_sync():
    rng = random.Random(8)
    for rules in (RULES, replace(RULES, ignore_alone=False), replace(RULES, join_grace=5, no_xp_roles=frozenset({7}))):
        incremental, whole = VoiceSessions(), VoiceSessions()
        current: dict[int, VoiceSnapshot] = {}
        incremental.sync(G, [], now=0, rules=rules, afk_channel_id=AFK)
        whole.sync(G, [], now=0, rules=rules, afk_channel_id=AFK)
        now = 0.0
        for _ in range(600):
            now += rng.choice((0.0, 0.5, 3.0))
            user = rng.randrange(6)
            channel = rng.choice((None, ROOM, OTHER, AFK))
            if channel is None:
                current.pop(user, None)
                state = None
            else:
                flags = {
                    "self_mute": rng.random() < 0.2,
                    "bot": user == 5,
                    "role_ids": frozenset({7} if rng.random() < 0.1 else ()),
                }
                state = current[user] = VoiceSnapshot(user, channel, **flags)
            assert incremental.update(G, user, state, now=now, rules=rules, afk_channel_id=AFK)
            whole.sync(G, list(current.values()), now=now, rules=rules, afk_channel_id=AFK)
            assert incremental.counting_now(G) == whole.counting_now(G) == counting(current.values(), rules, AFK)
            if rng.random() < 0.05:
                assert incremental.drain(now) == whole.drain(now)
        assert incremental.drain(now + 10) == whole.drain(now + 10)


def test_an_update_under_other_rules_asks_for_a_sync():
    sessions = VoiceSessions()
    assert not sessions.update(G, A, VoiceSnapshot(A, ROOM), now=0, rules=RULES, afk_channel_id=None)
    sessions.sync(G, [], now=0, rules=RULES, afk_channel_id=None)
    assert not sessions.update(
        G, A, VoiceSnapshot(A, ROOM), now=0, rules=replace(RULES, join_grace=9), afk_channel_id=None
    )
    sessions.pause(1)
    assert not sessions.update(G, A, VoiceSnapshot(A, ROOM), now=2, rules=RULES, afk_channel_id=None)
