"""The rank card: a PNG of a member's level, progress, rank, voice time and balance.

Drawn with Pillow and the DejaVu Sans font shipped in ``core/assets/fonts`` (no system font is used),
in the member's ``rank_card`` colours. The progress bar's geometry is fixed (:data:`BAR`) so a
reader of the image can measure the filled width.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

FONTS = Path(__file__).resolve().parent / "assets" / "fonts"
SIZE = (934, 282)
AVATAR = (40, 51, 220, 231)  # left, top, right, bottom
BAR = (270, 196, 894, 232)  # the progress bar's box; the filled part starts at its left edge
BACKGROUND = (35, 39, 42, 255)

RGBA = tuple[int, int, int, int]
HEX = re.compile(r"^#?([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")


class ColourError(ValueError):
    """A colour that is neither ``#rrggbb`` nor ``#rrggbbaa``."""


def parse_hex(text: str) -> RGBA:
    match = HEX.match(text.strip())
    if not match:
        raise ColourError(f"{text!r} is not a colour like #ff8800 or #ff880080")
    rgb, alpha = match.groups()
    return (int(rgb[0:2], 16), int(rgb[2:4], 16), int(rgb[4:6], 16), int(alpha, 16) if alpha else 255)


def to_hex(colour: RGBA) -> str:
    return "#" + "".join(f"{part:02x}" for part in colour)


@dataclass(frozen=True, slots=True)
class Colours:
    """A member's rank-card colours (the WetBot profile's ``rank_card`` object)."""

    font: RGBA = (255, 255, 255, 255)
    xp: RGBA = (88, 101, 242, 255)
    xp_background: RGBA = (72, 75, 78, 255)

    def to_json(self) -> dict[str, Any]:
        def channels(colour: RGBA) -> dict[str, int]:
            return dict(zip("rgba", colour, strict=True))

        return {
            "background": None,
            "background_brightness": 100,
            "background_blur": 0,
            "font_color": channels(self.font),
            "xp_color": channels(self.xp),
            "xp_background_color": channels(self.xp_background),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Colours:
        if not data:
            return cls()

        def colour(name: str, default: RGBA) -> RGBA:
            value = data.get(name)
            if not isinstance(value, dict):
                return default
            return tuple(max(0, min(255, int(value.get(part, 255)))) for part in "rgba")  # type: ignore[return-value]

        defaults = cls()
        return cls(
            colour("font_color", defaults.font),
            colour("xp_color", defaults.xp),
            colour("xp_background_color", defaults.xp_background),
        )


@dataclass(frozen=True, slots=True)
class RankCard:
    name: str
    level: int
    experience: int  # progress within the level
    needed: int  # experience from this level to the next
    rank: int | None
    voice_hours: float
    balance: int
    colours: Colours = field(default_factory=Colours)
    avatar: bytes | None = None

    @property
    def progress(self) -> float:
        if self.needed <= 0:
            return 0.0
        return max(0.0, min(1.0, self.experience / self.needed))


def filled_width(progress: float) -> int:
    """How many pixels of the bar a progress between 0 and 1 fills."""
    return round((BAR[2] - BAR[0]) * max(0.0, min(1.0, progress)))


@cache
def font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


def render_rank_card(card: RankCard) -> bytes:
    """The card as PNG bytes."""
    image = Image.new("RGBA", SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image, "RGBA")
    colours = card.colours
    _avatar(image, card)

    draw.text((BAR[0], 70), _fit(card.name, 30, 380), font=font(30, bold=True), fill=colours.font)
    rank = f"RANK #{card.rank}" if card.rank else "RANK —"
    right = BAR[2]
    level_text = f"LEVEL {card.level}"
    draw.text((right, 40), level_text, font=font(34, bold=True), fill=colours.xp, anchor="ra")
    level_width = draw.textlength(level_text, font=font(34, bold=True))
    draw.text((right - level_width - 24, 46), rank, font=font(26), fill=colours.font, anchor="ra")
    details = f"{card.voice_hours:.1f} h in voice · {card.balance:,} points"
    draw.text((BAR[0], 122), details, font=font(22), fill=colours.font)
    draw.text((right, 160), f"{card.experience:,} / {card.needed:,} XP", font=font(22), fill=colours.font, anchor="ra")

    draw.rectangle((BAR[0], BAR[1], BAR[2] - 1, BAR[3] - 1), fill=colours.xp_background)
    width = filled_width(card.progress)
    if width > 0:
        draw.rectangle((BAR[0], BAR[1], BAR[0] + width - 1, BAR[3] - 1), fill=colours.xp)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _fit(text: str, size: int, width: int) -> str:
    face = font(size, bold=True)
    if face.getlength(text) <= width:
        return text
    while text and face.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _avatar(image: Image.Image, card: RankCard) -> None:
    box = AVATAR
    diameter = box[2] - box[0]
    mask = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
    picture: Image.Image | None = None
    if card.avatar:
        try:
            with Image.open(io.BytesIO(card.avatar)) as opened:
                picture = opened.convert("RGBA").resize((diameter, diameter))
        except (OSError, ValueError):
            picture = None  # an unreadable avatar falls back to the initial
    if picture is None:
        picture = Image.new("RGBA", (diameter, diameter), card.colours.xp)
        initial = (card.name[:1] or "?").upper()
        ImageDraw.Draw(picture).text(
            (diameter / 2, diameter / 2), initial, font=font(96, bold=True), fill=card.colours.font, anchor="mm"
        )
    image.paste(picture, box[:2], mask)
