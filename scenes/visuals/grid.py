"""Small grids of numbers (windows, kernels, products) drawn as coloured cells."""

from __future__ import annotations

import numpy as np
from manim import DOWN, RIGHT, Square, VGroup

from .colors import luminance, rgb_to_hex
from .glyphs import number_text

DARK_TEXT = "#000000"
LIGHT_TEXT = "#ffffff"


_DARK_L = 0.0  # black


def text_colour_on(rgb: np.ndarray) -> str:
    """Dark or white, whichever has the higher contrast ratio (WCAG 2) on a cell of
    colour ``rgb``: one of them always reaches 4.5:1."""
    cell = float(luminance(rgb))
    on_dark_text = (cell + 0.05) / (_DARK_L + 0.05)
    on_white_text = 1.05 / (cell + 0.05)
    return DARK_TEXT if on_dark_text >= on_white_text else LIGHT_TEXT


class NumberGrid(VGroup):
    """An (h, w) grid of numbers, each on a square filled with its colour.

    ``texts`` are the strings drawn (the caller records them with their full
    values); ``colours`` is uint8 (h, w, 3).
    """

    def __init__(
        self,
        texts: list[list[str]],
        colours: np.ndarray,
        cell: float,
        font: str,
        font_size: float,
        line_colour: str,
    ) -> None:
        super().__init__()
        self.rows = len(texts)
        self.cols = len(texts[0]) if texts else 0
        self.cell = cell
        self.squares = VGroup()
        self.labels = VGroup()
        for i, row in enumerate(texts):
            for j, text in enumerate(row):
                rgb = colours[i, j]
                square = Square(side_length=cell, stroke_color=line_colour, stroke_width=1)
                square.set_fill(rgb_to_hex(rgb), opacity=1)
                square.move_to(RIGHT * j * cell + DOWN * i * cell)
                label = number_text(text, font, font_size, text_colour_on(rgb))
                label.move_to(square)
                self.squares.add(square)
                self.labels.add(label)
        # One size for every number in the grid, small enough for the widest.
        widest = max((label.width for label in self.labels), default=0.0)
        if widest > cell * 0.88:
            factor = cell * 0.88 / widest
            for glyphs in self.labels:
                glyphs.scale(factor)
        self.add(self.squares, self.labels)
