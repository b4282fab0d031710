"""Text that wraps to a width: paragraphs, bullet lists and formula boxes.

Manim's ``Text`` never wraps. Words are measured with the advance widths of
the cached glyphs (:mod:`.glyphs`), greedily filled into lines no wider than
the width asked for, and each block is drawn as one multi-line ``Text`` so
Pango keeps the line spacing even. A block that still comes out too wide
(kerning, a font without a glyph) is wrapped again a little narrower.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, cast

import numpy as np
from manim import DOWN, LEFT, ORIGIN, RIGHT, UP, Animation, RoundedRectangle, Text, VGroup, VMobject

from .glyphs import BASE_SIZE, glyph_font

# Extra space between lines, as Manim's ``line_spacing`` (1 is Pango's default).
LINE_SPACING = 0.9
BULLET = "•"
# Lines break at spaces, never at no-break spaces: French and German write
# "88 %" and "3 833" with them, and a number must not be cut in two.
BREAKING = " \t\r\f\v"
BREAKS = re.compile(f"[{BREAKING}]+")


_ADVANCES: dict[str, dict[str, float]] = {}


def advances(font: str, chars: str) -> dict[str, float]:
    """Advance widths at ``BASE_SIZE`` of every character in ``chars`` (cached per font).

    Unknown characters are measured together in one ``Text`` ("0a0b0...0"):
    the distance between two zeros is a zero's advance plus the character's.
    Should Pango merge or split glyphs, each is measured on its own instead.
    """
    known = _ADVANCES.setdefault(font, {})
    missing = sorted({c for c in chars if c not in known and c != "\n"})
    visible = [c for c in missing if not c.isspace()]
    if visible:
        sample = Text("0" + "0".join(visible) + "0", font=font, font_size=BASE_SIZE)
        glyphs = glyph_font(font)
        if len(sample) == 2 * len(visible) + 1:
            lefts = [float(sample[2 * i].get_left()[0]) for i in range(len(visible) + 1)]
            for i, char in enumerate(visible):
                known[char] = lefts[i + 1] - lefts[i] - glyphs.zero_advance
        else:
            for char in visible:
                known[char] = glyphs.glyph(char).advance
    for char in missing:
        if char.isspace():
            known[char] = glyph_font(font).glyph(char).advance
    return known


def text_width(content: str, font: str, size: float) -> float:
    """Estimated width of ``content`` on one line at font ``size``."""
    widths = advances(font, content)
    return sum(widths[char] for char in content) * size / BASE_SIZE


def _split_word(word: str, font: str, size: float, width: float) -> list[str]:
    """A word wider than a line, cut into pieces that fit (a long URL, a formula)."""
    pieces, current = [], ""
    for char in word:
        if current and text_width(current + char, font, size) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    return [*pieces, current] if current else pieces


def wrap(content: str, font: str, size: float, width: float) -> list[str]:
    """``content`` as lines no wider than ``width``; blank lines separate paragraphs.

    Lines break at spaces only: a no-break space keeps its neighbours together.
    """
    lines: list[str] = []
    space = text_width(" ", font, size)
    for block in content.split("\n"):
        words = [word for word in BREAKS.split(block) if word]
        if not words:
            lines.append("")
            continue
        current, current_width = "", 0.0
        for word in words:
            pieces = (
                _split_word(word, font, size, width)
                if text_width(word, font, size) > width
                else [word]
            )
            for piece in pieces:
                piece_width = text_width(piece, font, size)
                if current and current_width + space + piece_width <= width:
                    current += " " + piece
                    current_width += space + piece_width
                else:
                    if current:
                        lines.append(current)
                    current, current_width = piece, piece_width
        lines.append(current)
    while lines and not lines[-1]:
        lines.pop()
    return lines


@cache
def line_pitch(font: str, size: float) -> tuple[float, float]:
    """(height of one line, extra height of each further line) at ``size``."""
    one = Text("Ag", font=font, font_size=size, line_spacing=LINE_SPACING)
    two = Text("Ag\nAg", font=font, font_size=size, line_spacing=LINE_SPACING)
    return float(one.height), float(two.height - one.height)


def block_height(lines: int, font: str, size: float) -> float:
    """Estimated height of ``lines`` wrapped lines."""
    if lines <= 0:
        return 0.0
    first, pitch = line_pitch(font, size)
    return first + pitch * (lines - 1)


class Paragraph(VGroup):
    """Wrapped text, left-aligned, at most ``width`` wide. ``lines`` holds the wrapped lines."""

    def __init__(
        self,
        content: str,
        font: str,
        size: float,
        colour: str,
        width: float,
        weight: str = "NORMAL",
    ) -> None:
        super().__init__()
        target = width
        for _ in range(4):
            self.lines = wrap(content, font, size, target)
            body = Text(
                "\n".join(self.lines) or " ",
                font=font,
                font_size=size,
                color=colour,
                weight=weight,
                line_spacing=LINE_SPACING,
            )
            if body.width <= width or len(self.lines) == 0:
                break
            target *= width / body.width * 0.98
        if body.width > width:  # a single glyph wider than the line: nothing else helps
            body.scale_to_fit_width(width)
        self.body = body
        self.add(body)


class BulletList(VGroup):
    """Items with a bullet and a hanging indent; each item is one submobject."""

    def __init__(
        self,
        items: list[str],
        font: str,
        size: float,
        colour: str,
        marker_colour: str,
        width: float,
        gap: float = 0.22,
    ) -> None:
        super().__init__()
        indent = text_width(BULLET + "  ", font, size)
        self.paragraphs: list[Paragraph] = []
        for item in items:
            marker = Text(BULLET, font=font, font_size=size, color=marker_colour)
            body = Paragraph(item, font, size, colour, width - indent)
            body.next_to(marker, RIGHT, buff=indent - marker.width, aligned_edge=UP)
            # The bullet sits on the first line's middle, not the block's top.
            first, _ = line_pitch(font, size)
            marker.set_y(float(body.get_top()[1]) - first / 2)
            self.paragraphs.append(body)
            self.add(VGroup(marker, body))
        self.arrange(DOWN, aligned_edge=LEFT, buff=gap)


class FormulaBox(VGroup):
    """A formula (Unicode text, no LaTeX) on one line in a rounded frame."""

    def __init__(
        self,
        formula: str,
        font: str,
        size: float,
        colour: str,
        frame_colour: str,
        width: float,
        padding: float = 0.25,
    ) -> None:
        super().__init__()
        body = Text(formula, font=font, font_size=size, color=colour)
        natural = body.width
        if body.width > width - 2 * padding:
            body.scale_to_fit_width(width - 2 * padding)
        self.scale_factor = body.width / natural if natural else 1.0  # < 1: shrunk to fit
        frame = RoundedRectangle(
            corner_radius=0.15,
            width=body.width + 2 * padding,
            height=body.height + 2 * padding,
            stroke_color=frame_colour,
            stroke_width=2.5,
        ).move_to(body)
        self.body, self.frame = body, frame
        self.add(frame, body)


class Reveal(Animation):
    """Fade a group of vector shapes in, optionally sliding by ``shift``, without copying it.

    ``FadeIn`` deep-copies its mobject, which costs about a second for a
    paragraph of a few hundred glyphs; this sets the opacities in place.
    """

    def __init__(
        self, mobject: VMobject, shift: np.ndarray = ORIGIN, vanish: bool = False, **kwargs: Any
    ) -> None:
        # ``vanish`` plays it backwards: the mobject fades out and leaves the scene.
        super().__init__(mobject, introducer=not vanish, remover=vanish, **kwargs)
        self.vanish = vanish
        self.shift_vector = np.asarray(shift, dtype=np.float64)
        self._moved = np.zeros(3)
        self._opacities: list[tuple[VMobject, np.ndarray, np.ndarray]] = []

    def create_starting_mobject(self) -> VMobject:
        return VMobject()  # never drawn: interpolate_mobject works on the mobject itself

    def begin(self) -> None:
        self._opacities = []
        for member in self.mobject.family_members_with_points():
            if isinstance(member, VMobject):
                shape = cast(VMobject, member)
                fill, stroke = shape.fill_rgbas[:, 3].copy(), shape.stroke_rgbas[:, 3].copy()
                self._opacities.append((shape, fill, stroke))
        self._moved = np.zeros(3)
        super().begin()

    def interpolate_mobject(self, alpha: float) -> None:
        t = self.rate_func(alpha)
        shown = 1 - t if self.vanish else t
        for m, fill, stroke in self._opacities:
            m.fill_rgbas[:, 3] = fill * shown
            m.stroke_rgbas[:, 3] = stroke * shown
        target = self.shift_vector * t if self.vanish else -self.shift_vector * (1 - t)
        self.mobject.shift(target - self._moved)
        self._moved = target

    def clean_up_from_scene(self, scene: Any) -> None:
        if self.vanish:  # gone, but whole again should it be shown later
            for m, fill, stroke in self._opacities:
                m.fill_rgbas[:, 3] = fill
                m.stroke_rgbas[:, 3] = stroke
            self.mobject.shift(-self._moved)
        super().clean_up_from_scene(scene)


__all__ = ["BulletList", "FormulaBox", "Paragraph", "Reveal", "block_height", "text_width", "wrap"]
