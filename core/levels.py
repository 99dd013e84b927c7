"""Level curves: the experience needed to go from level L to L+1, and the totals the views show.

``experience`` is progress within the current level (DESIGN §3). The curves are the ones admins
of leveling bots know: MEE6's ``5L² + 50L + 100`` (default), the uno-chi voice curve
``(10 + L)·10·L²`` and WetBot's linear ``L·f + 100`` (``f`` the level factor, 10 by default).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

CurveName = Literal["mee6", "unochi", "wetbot"]
CURVES: tuple[CurveName, ...] = ("mee6", "unochi", "wetbot")
Curve = Callable[[int], int]


def mee6(level: int) -> int:
    return 5 * level * level + 50 * level + 100


def unochi(level: int) -> int:
    return (10 + level) * 10 * level * level


def wetbot(level: int, factor: int = 10) -> int:
    return level * factor + 100


def curve(name: CurveName, *, factor: int = 10) -> Curve:
    """The requirement function of a named curve (never below 1 XP per level)."""
    if name == "mee6":
        return mee6
    if name == "unochi":
        return unochi
    if name == "wetbot":
        return partial(wetbot, factor=factor)
    raise ValueError(f"unknown level curve {name!r}; choose one of {', '.join(CURVES)}")


def _sums(n: int) -> tuple[int, int, int]:
    """Σl, Σl², Σl³ for l = 1..n."""
    s1 = n * (n + 1) // 2
    return s1, n * (n + 1) * (2 * n + 1) // 6, s1 * s1


def experience_to_reach(name: CurveName, level: int, *, factor: int = 10) -> int:
    """The experience needed to climb from level 1 to ``level`` (closed forms: fine for any level)."""
    n = level - 1
    if n <= 0:
        return 0
    s1, s2, s3 = _sums(n)
    if name == "mee6":
        return 5 * s2 + 50 * s1 + 100 * n
    if name == "unochi":
        return 10 * (10 * s2 + s3)
    return factor * s1 + 100 * n


def totalxp(name: CurveName, level: int, experience: int, *, factor: int = 10) -> int:
    """The economy view's ``totalxp``: what reaching ``level`` took plus the progress within it."""
    return experience_to_reach(name, level, factor=factor) + experience


def progress(name: CurveName, level: int, experience: int, *, factor: int = 10) -> tuple[int, int]:
    """(experience within the level, experience the level needs) for a progress bar."""
    return experience, max(1, curve(name, factor=factor)(level))
