"""Level curves and the totals the views show."""

from __future__ import annotations

import pytest

from core import levels


def test_the_curves_match_their_originals():
    assert [levels.mee6(level) for level in (0, 1, 2)] == [100, 155, 220]
    assert levels.unochi(1) == 110 and levels.unochi(2) == 480
    assert levels.wetbot(3) == 130 and levels.curve("wetbot", factor=20)(3) == 160


@pytest.mark.parametrize("name", levels.CURVES)
@pytest.mark.parametrize("level", [1, 2, 3, 10, 57])
def test_closed_form_totals_equal_the_sum_of_requirements(name, level):
    requirement = levels.curve(name)
    assert levels.experience_to_reach(name, level) == sum(requirement(lv) for lv in range(1, level))
    assert levels.totalxp(name, level, 7) == levels.experience_to_reach(name, level) + 7


def test_mee6_total_to_level_ten_from_level_one():
    # MEE6 counts from level 0 (4,675 XP to level 10); profiles start at level 1, 100 XP later.
    assert levels.experience_to_reach("mee6", 10) == 4675 - 100


def test_huge_levels_do_not_loop():
    assert levels.experience_to_reach("unochi", 10**9) > 0


def test_unknown_curve_is_refused():
    with pytest.raises(ValueError, match="unknown level curve"):
        levels.curve("steep")  # type: ignore[arg-type]
