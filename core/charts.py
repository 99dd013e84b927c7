"""A member's balance over time as a PNG line chart, drawn from ledger points with Pillow."""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from core.rankcard import font

SIZE = (800, 360)
PLOT = (90, 40, 780, 310)  # left, top, right, bottom of the plotting area
BACKGROUND = (35, 39, 42, 255)
GRID = (72, 75, 78, 255)
LINE = (88, 101, 242, 255)
TEXT = (220, 221, 222, 255)


def render_balance_chart(
    points: Sequence[tuple[int, int]], *, title: str, now: int, tz: ZoneInfo | None = None
) -> bytes:
    """``points`` are ``(epoch seconds, balance after)``, oldest first; the line runs on to ``now``."""
    tz = tz or ZoneInfo("UTC")
    image = Image.new("RGBA", SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((PLOT[0], 10), title, font=font(18, bold=True), fill=TEXT)
    left, top, right, bottom = PLOT
    if not points:
        middle = ((left + right) / 2, (top + bottom) / 2)
        draw.text(middle, "No balance changes yet", font=font(20), fill=TEXT, anchor="mm")
        return _png(image)

    series = [*points, (max(now, points[-1][0]), points[-1][1])]
    start, end = series[0][0], series[-1][0]
    low = min(0, *(balance for _, balance in series))
    high = max(balance for _, balance in series)
    if high == low:
        high = low + 1
    span = max(1, end - start)

    def x(t: int) -> float:
        return left + (t - start) / span * (right - left)

    def y(balance: int) -> float:
        return bottom - (balance - low) / (high - low) * (bottom - top)

    for step in range(5):
        value = low + (high - low) * step / 4
        draw.line((left, y(round(value)), right, y(round(value))), fill=GRID)
        draw.text((left - 8, y(round(value))), f"{round(value):,}", font=font(13), fill=TEXT, anchor="rm")
    # A balance holds until the next change: a step line.
    line: list[tuple[float, float]] = []
    for (t, balance), (next_t, _) in itertools.pairwise(series):
        line += [(x(t), y(balance)), (x(next_t), y(balance))]
    draw.line(line, fill=LINE, width=3)
    for t, label_anchor in ((start, "la"), (end, "ra")):
        when = datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M")
        draw.text((x(t), bottom + 12), when, font=font(13), fill=TEXT, anchor=label_anchor)
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
