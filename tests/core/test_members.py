"""The member identity: vp_id's value and its bounded memo."""

from __future__ import annotations

import hashlib

from core.members import vp_id


def test_vp_id_is_the_sha256_of_guild_and_user() -> None:
    assert (
        vp_id(1179000000000001000, 1179000000000000101)
        == hashlib.sha256(b"1179000000000001000:1179000000000000101").hexdigest()
    )


def test_the_vp_id_memo_holds_at_most_8192_members() -> None:
    vp_id.cache_clear()
    for user_id in range(10_000):
        vp_id(1, user_id)
    info = vp_id.cache_info()
    assert info.maxsize == 8_192 and info.currsize == 8_192
    assert vp_id(1, 0) == hashlib.sha256(b"1:0").hexdigest()  # evicted, computed again
    vp_id.cache_clear()
