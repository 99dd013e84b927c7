"""Feature timings that are not HTTP throughput: rendering a rank card, and one batched
``/applyRoleChanges`` against applying the same changes one request at a time.

Each has a reference measured in the same run: a blank PNG of the card's size encoded by Pillow
(the floor of any card), and the one-by-one time of the same role changes.
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
    return link_bench.run(quick)
