"""Feature timings that are not HTTP throughput: rendering a rank card, and ``/applyRoleChanges``
under Discord's rate limits.

Each has a reference: a blank PNG of the card's size encoded by Pillow in the same run (the floor of
any card), and the least time Discord's limits allow the same role changes (``bench/link_bench.py``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from io import BytesIO

from PIL import Image

from bench import link_bench
from core.rankcard import SIZE, Colours, RankCard, render_rank_card

RANK_CARD_LIMIT_MS = 50.0


@dataclass(frozen=True)
class Timing:
    figure_ms: float
    reference_ms: float

    @property
    def ratio(self) -> float:
        return self.figure_ms / self.reference_ms if self.reference_ms else float("inf")


def _median_ms(work, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def rank_card(*, quick: bool) -> Timing:
    card = RankCard("Ada Lovelace", 12, 340, 1015, 3, 41.5, 12_345, Colours())
    render_rank_card(card)  # fonts load once

    def blank() -> None:
        Image.new("RGBA", SIZE, (32, 34, 37, 255)).save(BytesIO(), format="PNG")

    rounds = 10 if quick else 50
    return Timing(_median_ms(lambda: render_rank_card(card), rounds), _median_ms(blank, rounds))


def role_changes(*, quick: bool) -> dict:
    """Target 7: the figures of ``bench/link_bench.py`` (``passed`` says whether the row passes)."""
    figures = link_bench.run(quick)
    return figures | {"passed": link_bench.passed(figures)}
