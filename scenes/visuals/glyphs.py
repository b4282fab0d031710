"""Fast text for numbers: strings composed from cached glyph outlines.

A Manim ``Text`` costs a Pango layout and an SVG parse each time. A lesson
draws hundreds of short numeric strings, so instead every character is
rendered once per font (between two zeros, to learn its advance width and
its place on the baseline) and each string is assembled from copies of those
glyphs. Digits in DejaVu Sans have equal widths, so columns of numbers line
up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import ORIGIN, Text, VGroup, VMobject

BASE_SIZE = 48.0


class NumberText(VGroup):
    """A string composed from glyphs. It knows what it says and its font size, so
    checks of the frame (overlaps, legibility) can treat it as the text it is."""

    def __init__(self, content: str, size: float) -> None:
        super().__init__()
        self.content = content
        self.size = size
        self.initial_height = 0.0

    @property
    def font_size(self) -> float:
        """The font size as drawn now (after any scaling), as a ``Text`` gives it."""
        if self.initial_height <= 0:
            return self.size
        return self.size * self.height / self.initial_height


@dataclass(frozen=True)
class Glyph:
    points: np.ndarray | None  # the outline's Bézier points at BASE_SIZE; None for blanks
    bearing: float  # left edge of the outline relative to the pen (as '0' sees it)
    rise: float  # centre of the outline above the baseline
    advance: float


class GlyphFont:
    def __init__(
        self, font: str, weight: str = "NORMAL", zero_advance: float | None = None
    ) -> None:
        """``zero_advance`` is given when another process measured it (see take_in)."""
        self.font = font
        self.weight = weight
        self.handed_over = zero_advance is not None  # its zero's advance, by take_new()
        if zero_advance is None:
            zeros = self._text("00")
            zero_advance = float(zeros[1].get_left()[0] - zeros[0].get_left()[0])
        self.zero_advance = zero_advance
        self.glyphs: dict[str, Glyph] = {}
        self.new: set[str] = set()  # measured here since the last take_new()

    def _text(self, content: str) -> Text:
        return Text(content, font=self.font, font_size=BASE_SIZE, weight=self.weight)

    def glyph(self, char: str) -> Glyph:
        found = self.glyphs.get(char)
        if found is None:
            sample = self._text(f"0{char}0")
            if len(sample) < 2:
                # Pango gave no outlines to measure by (seen with a right-to-left
                # letter between digits): count it as blank, one digit wide.
                found = Glyph(None, 0.0, 0.0, self.zero_advance)
                self.glyphs[char] = found
                self.new.add(char)
                return found
            first, last = sample[0], sample[-1]
            pen = float(first.get_left()[0]) + self.zero_advance
            advance = float(last.get_left()[0]) - pen
            baseline = float(first.get_bottom()[1])
            if len(sample) == 3:
                outline = sample[1]
                found = Glyph(
                    np.array(outline.points),
                    float(outline.get_left()[0]) - pen,
                    float(outline.get_center()[1]) - baseline,
                    advance,
                )
            else:
                found = Glyph(None, 0.0, 0.0, advance)
            self.glyphs[char] = found
            self.new.add(char)
        return found

    def compose(self, content: str, size: float, colour: str) -> NumberText:
        """``content`` as a group of glyphs, ``size`` as a Text font size would be."""
        group = NumberText(content, size)
        pen = 0.0
        for char in content:
            glyph = self.glyph(char)
            if glyph.points is not None:
                # A bare VMobject with the outline's points: far cheaper than a deep copy.
                piece = VMobject(fill_opacity=1.0, stroke_width=0.0)
                piece.set_points(glyph.points.copy())
                piece.move_to(np.array([pen + glyph.bearing + piece.width / 2, glyph.rise, 0.0]))
                group.add(piece)
            pen += glyph.advance
        group.set_color(colour)
        group.scale(size / BASE_SIZE, about_point=ORIGIN)
        if len(group):
            group.initial_height = group.height
        return group


FontKey = tuple[str, str]  # font, weight
_FONTS: dict[FontKey, GlyphFont] = {}


def glyph_font(font: str, weight: str = "NORMAL") -> GlyphFont:
    key = (font, weight)
    found = _FONTS.get(key)
    if found is None:
        found = _FONTS[key] = GlyphFont(font, weight)
    return found


# What a process hands to a later one (see scenes/render/text_outlines.py): by
# font, its zero's advance and the glyphs measured.
Measured = dict[FontKey, tuple[float, dict[str, Glyph]]]


def take_new() -> Measured:
    """The glyphs measured in this process since the last call."""
    found: Measured = {}
    for key, font in _FONTS.items():
        if font.new or not font.handed_over:
            found[key] = (font.zero_advance, {c: font.glyphs[c] for c in font.new})
            font.new.clear()
            font.handed_over = True
    return found


def take_in(measured: Measured) -> None:
    """Glyphs another process measured, for the fonts of this one to start with."""
    for key, (zero_advance, glyphs) in measured.items():
        font = _FONTS.get(key)
        if font is None:
            font = _FONTS[key] = GlyphFont(*key, zero_advance=zero_advance)
        for char, glyph in glyphs.items():
            font.glyphs.setdefault(char, glyph)


def number_text(
    content: str, font: str, size: float, colour: str, weight: str = "NORMAL"
) -> NumberText:
    """A short string (a number, a sum) drawn from cached glyphs."""
    return glyph_font(font, weight).compose(content, size, colour)
