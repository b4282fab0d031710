"""Short vectors drawn as cells with numbers, small tables, and wide-range numbers.

Used by the output end of the network: the logits as a column of coloured
cells, e^z values that span dozens of orders of magnitude (written with a
power of ten), and small tables of dot-product terms. Numbers are drawn
with the cached glyphs of :mod:`.glyphs`, so a table costs little.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from manim import DOWN, RIGHT, UP, Rectangle, VGroup, VMobject

from ..i18n import decimal_symbol, parse_number
from .colors import hex_to_rgb, luminance, rgb_to_hex
from .glyphs import number_text
from .grid import text_colour_on
from .numbers import MINUS, fmt

SUPERSCRIPTS = str.maketrans("0123456789-\u2212", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻")
FROM_SUPERSCRIPTS = {v: k for k, v in zip("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹", strict=True)} | {"⁻": "-"}
POWER_MARK = "×10"
# Values from 0.001 up to this are written with plain decimals.
PLAIN_MAX = 1e5
PLAIN_MIN = 1e-3
# A raised exponent is 70 % of its base's size, but never below this font size:
# its digits must stay as legible as any other number of the frame.
EXPONENT_SHARE = 0.7
MIN_EXPONENT_SIZE = 17.0
# WCAG 2 AA contrast for the number on a cell.
MIN_CONTRAST = 4.5
BLACK = "#000000"


def fmt_wide(value: float, decimals: int = 4, digits: int = 3) -> str:
    """A positive number that may be tiny or huge (e^z of a logit).

    Between 0.001 and 100,000 it is written with ``decimals`` places (in the
    current language, without grouping); outside, as a mantissa with
    ``digits`` significant digits times a power of ten, with the exponent in
    superscript digits: ``1.33×10⁻²⁴`` (``1,33×10⁻²⁴`` in German).
    """
    if value == 0 or not math.isfinite(value):
        return fmt(value, decimals)
    if PLAIN_MIN <= abs(value) < PLAIN_MAX:
        return fmt(value, decimals)
    exponent = math.floor(math.log10(abs(value)))
    mantissa = value / 10**exponent
    if round(abs(mantissa), digits - 1) >= 10:  # 9.996 rounds up to 10.0
        exponent += 1
        mantissa = value / 10**exponent
    power = str(exponent).replace("-", MINUS).translate(SUPERSCRIPTS)
    return f"{fmt(mantissa, digits - 1)}{POWER_MARK}{power}"


def parse_wide(shown: str) -> tuple[float, float]:
    """What :func:`fmt_wide` wrote (in the current language), back to (value, half a
    unit in the last place)."""
    shown = shown.strip()
    if POWER_MARK in shown:
        mantissa, power = shown.split(POWER_MARK)
        exponent = int("".join(FROM_SUPERSCRIPTS[ch] for ch in power))
    else:
        mantissa, exponent = shown, 0
    point = decimal_symbol()
    decimals = len(mantissa.split(point)[1]) if point in mantissa else 0
    scale = 10.0**exponent
    return parse_number(mantissa) * scale, 0.5 * 10.0**-decimals * scale


def number_mobject(
    shown: str, font: str, size: float, colour: str, weight: str = "NORMAL"
) -> VGroup:
    """A number as drawn: ``1.33×10⁻²⁴`` gets a raised exponent of legible size."""
    if POWER_MARK not in shown:
        return number_text(shown, font, size, colour, weight)
    base, power = shown.split(POWER_MARK)
    exponent = power.translate({ord(k): v for k, v in FROM_SUPERSCRIPTS.items()})
    exponent = exponent.replace("-", MINUS)
    return raised(f"{base}{POWER_MARK}", exponent, font, size, colour, weight)


def raised(
    base: str, exponent: str, font: str, size: float, colour: str, weight: str = "NORMAL"
) -> VGroup:
    """``base`` with ``exponent`` raised after it at 70 % size (e^z, 10^-24), or at
    :data:`MIN_EXPONENT_SIZE` if that is larger."""
    low = number_text(base, font, size, colour, weight)
    high = number_text(
        exponent, font, max(size * EXPONENT_SHARE, MIN_EXPONENT_SIZE), colour, weight
    )
    high.next_to(low, RIGHT, buff=size * 0.0025)
    high.align_to(low, UP).shift(UP * size * 0.0045)
    return VGroup(low, high)


def _contrast(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def readable_on(rgb: np.ndarray) -> str:
    """The text colour for a number on a cell of colour ``rgb``: the dark or white of
    :func:`~.grid.text_colour_on`, or black where neither reaches 4.5:1 (mid-dark
    oranges and greys, whose luminance is about 0.18 to 0.21)."""
    chosen = text_colour_on(rgb)
    cell = float(luminance(np.asarray(rgb)))
    text = float(luminance(np.array(hex_to_rgb(chosen))))
    return chosen if _contrast(cell, text) >= MIN_CONTRAST else BLACK


class CellColumn(VGroup):
    """A vector as a column of coloured cells, each with its number.

    ``texts`` are the strings drawn (the caller records them); ``colours`` is
    uint8 (n, 3). Rows are ``pitch`` apart, so other columns can line up.
    """

    def __init__(
        self,
        texts: Sequence[str],
        colours: np.ndarray,
        width: float,
        height: float,
        pitch: float,
        font: str,
        font_size: float,
        line_colour: str,
    ) -> None:
        super().__init__()
        self.cells = VGroup()
        self.labels = VGroup()
        for i, shown in enumerate(texts):
            rgb = colours[i]
            cell = Rectangle(width=width, height=height, stroke_color=line_colour, stroke_width=1)
            cell.set_fill(rgb_to_hex(rgb), opacity=1)
            cell.move_to(DOWN * i * pitch)
            label = number_mobject(shown, font, font_size, readable_on(np.asarray(rgb)))
            if label.width > width * 0.9:
                label.scale(width * 0.9 / label.width)
            label.move_to(cell)
            self.cells.add(cell)
            self.labels.add(label)
        self.add(self.cells, self.labels)


def place(mob: VMobject, x: float, y: float, align: str, font: str, size: float) -> VMobject:
    """Put text made by :func:`number_mobject` (baseline still at y = 0) on a row.

    The row's ``y`` is where the middle of its digits goes, so every piece of
    a row shares one baseline whatever its descenders; ``align`` "l", "c" or
    "r" says which edge sits at ``x``.
    """
    half = number_text("0", font, size, "#000000").height / 2
    if align == "l":
        dx = x - mob.get_left()[0]
    elif align == "c":
        dx = x - mob.get_center()[0]
    else:
        dx = x - mob.get_right()[0]
    mob.shift(RIGHT * dx + UP * (y - half))
    return mob


Cell = str | VMobject


class Table(VGroup):
    """Rows of short strings in aligned columns, with an optional header row.

    Every row sits ``pitch`` below the previous one, all pieces of a row on
    one baseline; numbers are right-aligned, text (``align`` "l") left-aligned
    and "c" centred, per column. A cell may also be a ready-made mobject
    drawn with :func:`number_mobject` or :func:`raised` and not yet moved.
    """

    def __init__(
        self,
        rows: Sequence[Sequence[Cell]],
        font: str,
        font_size: float,
        colour: str,
        pitch: float,
        header: Sequence[Cell] | None = None,
        header_colour: str | None = None,
        align: str | None = None,
        gap: float = 0.35,
        header_size: float | None = None,
    ) -> None:
        super().__init__()
        columns = len(header) if header else (len(rows[0]) if rows else 0)
        align = align or "r" * columns
        made: list[list[VMobject]] = []
        all_rows = ([list(header)] if header else []) + [list(r) for r in rows]
        sizes = []
        for r, row in enumerate(all_rows):
            is_header = header is not None and r == 0
            size = (header_size or font_size * 0.85) if is_header else font_size
            tint = (header_colour or colour) if is_header else colour
            sizes.append(size)
            made.append(
                [
                    number_mobject(cell, font, size, tint) if isinstance(cell, str) else cell
                    for cell in row
                ]
            )
        widths = [max((row[j].width for row in made), default=0.0) for j in range(columns)]
        x = 0.0
        lefts = []
        for w in widths:
            lefts.append(x)
            x += w + gap
        self.row_groups: list[VGroup] = []
        for r, pieces in enumerate(made):
            y = -r * pitch
            group = VGroup()
            for j, mob in enumerate(pieces):
                edge = {"l": lefts[j], "c": lefts[j] + widths[j] / 2}.get(
                    align[j], lefts[j] + widths[j]
                )
                place(mob, edge, y, align[j], font, sizes[r])
                group.add(mob)
            self.row_groups.append(group)
            self.add(group)
        self.header = self.row_groups[0] if header else None
        self.body = self.row_groups[1:] if header else self.row_groups
