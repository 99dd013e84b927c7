"""The member record's identity, shared by every view of it (voice profile, economy profile)."""

from __future__ import annotations

import functools
import hashlib

MAX_AMOUNT = 2**53 - 1  # balances, amounts and counters stay within ±(2^53 − 1)


# A pure function on the path of every transfer; ~300 B an entry, so 8,192 hold ~2.5 MB.
@functools.lru_cache(maxsize=8_192)
def vp_id(guild_id: int, user_id: int) -> str:
    """The voice-profile id: ``sha256("{guild_id}:{user_id}")`` as 64 lowercase hex digits."""
    return hashlib.sha256(f"{guild_id}:{user_id}".encode()).hexdigest()


def is_vp_id(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)
