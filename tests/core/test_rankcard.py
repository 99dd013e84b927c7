"""The rank card and balance chart images, measured from their pixels."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.charts import render_balance_chart
from core.rankcard import (
    BAR,
    FONTS,
    SIZE,
    ColourError,
    Colours,
    RankCard,
    filled_width,
    font,
    parse_hex,
    render_rank_card,
)

RED = (255, 0, 0, 255)
GREEN = (0, 255, 0, 255)


def measured_fill(png: bytes) -> tuple[int, int]:
    """(filled, empty) pixels along the middle row of the progress bar."""
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    middle = (BAR[1] + BAR[3]) // 2
    row = [image.getpixel((x, middle)) for x in range(BAR[0], BAR[2])]
    return row.count(RED), row.count(GREEN)


@pytest.mark.parametrize(("experience", "needed"), [(0, 155), (1, 155), (77, 155), (154, 155), (500, 1000), (9, 9)])
def test_the_bar_fills_in_proportion_to_progress(experience, needed):
    card = RankCard("ada", 3, experience, needed, 1, 2.5, 300, Colours(xp=RED, xp_background=GREEN))
    png = render_rank_card(card)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == SIZE
    filled, empty = measured_fill(png)
    assert filled == round((BAR[2] - BAR[0]) * experience / needed) == filled_width(experience / needed)
    assert filled + empty == BAR[2] - BAR[0]


def test_progress_is_clamped_and_a_zero_requirement_draws_an_empty_bar():
    assert RankCard("a", 1, 500, 100, None, 0, 0).progress == 1.0
    assert RankCard("a", 1, 5, 0, None, 0, 0).progress == 0.0
    assert filled_width(-1) == 0


def test_the_font_is_the_one_the_project_ships():
    assert (FONTS / "DejaVuSans.ttf").is_file() and (FONTS / "LICENSE-DejaVu.txt").is_file()
    assert font(20).path == str(FONTS / "DejaVuSans.ttf")
    assert font(20, bold=True).getname() == ("DejaVu Sans", "Bold")


def test_text_is_drawn_in_the_font_colour():
    card = RankCard("WWWWWW", 12, 5, 10, 4, 1, 1, Colours(font=(0, 0, 255, 255)))
    image = Image.open(io.BytesIO(render_rank_card(card))).convert("RGB")
    name_area = image.crop((BAR[0], 70, BAR[0] + 200, 110))
    assert (0, 0, 255) in {pixel for _, pixel in name_area.getcolors(100_000)}


def test_an_avatar_is_pasted_as_a_circle_and_a_broken_one_falls_back():
    avatar = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(avatar, format="PNG")
    image = Image.open(io.BytesIO(render_rank_card(RankCard("a", 1, 0, 1, None, 0, 0, avatar=avatar.getvalue()))))
    assert image.convert("RGB").getpixel((130, 141)) == (10, 200, 30)
    assert image.convert("RGB").getpixel((42, 53)) == (35, 39, 42)  # outside the circle: background
    broken = render_rank_card(RankCard("a", 1, 0, 1, None, 0, 0, avatar=b"not an image"))
    assert Image.open(io.BytesIO(broken)).size == SIZE


def test_colours_parse_and_round_trip_through_the_profile_shape():
    assert parse_hex("#FF8800") == (255, 136, 0, 255)
    assert parse_hex("ff880080") == (255, 136, 0, 128)
    with pytest.raises(ColourError):
        parse_hex("orange")
    colours = Colours(font=(1, 2, 3, 4), xp=(5, 6, 7, 8), xp_background=(9, 10, 11, 12))
    assert Colours.from_json(colours.to_json()) == colours
    assert colours.to_json()["xp_color"] == {"r": 5, "g": 6, "b": 7, "a": 8}
    assert Colours.from_json(None) == Colours()


def test_balance_chart_is_a_png_with_the_line_drawn():
    png = render_balance_chart([(0, 100), (3600, 300), (7200, 50)], title="Balance", now=10_800)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (800, 360)
    assert (88, 101, 242) in {pixel for _, pixel in image.getcolors(1_000_000)}
    empty = Image.open(io.BytesIO(render_balance_chart([], title="Balance", now=0))).convert("RGB")
    assert (88, 101, 242) not in {pixel for _, pixel in empty.getcolors(1_000_000)}
