"""Counter names and the per-channel rename budget."""

import pytest

from core.counters import RenameBudget, counter_name, shorten


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1K"),
        (12_345, "12.3K"),
        (999_949, "999.9K"),
        (999_999, "1M"),
        (1_500_000, "1.5M"),
        (2_000_000_000, "2B"),
    ],
)
def test_large_numbers_are_shortened(value, text):
    assert shorten(value) == text


def test_counter_names_fit_discord():
    assert counter_name("Members", 12_345) == "Members: 12.3K"
    assert len(counter_name("x" * 200, 1)) == 100


def test_two_renames_per_window_and_discords_retry_after():
    budget = RenameBudget(limit=2, window=600)
    assert budget.allows(1, 0)
    budget.spend(1, 0)
    budget.spend(1, 100)
    assert not budget.allows(1, 599)
    assert budget.allows(2, 599)  # per channel
    assert budget.allows(1, 600)
    budget.block(2, until=900)
    assert not budget.allows(2, 899)
    assert budget.allows(2, 900)
