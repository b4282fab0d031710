"""Numbers on coloured cells that stay readable on every cell colour."""

from __future__ import annotations

import numpy as np

from ...visuals.colors import hex_to_rgb, luminance
from ...visuals.grid import DARK_TEXT, NumberGrid, text_colour_on

MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text
BLACK_TEXT = "#000000"
_DARK = float(luminance(np.array(hex_to_rgb(DARK_TEXT), dtype=np.float64))) + 0.05


def cell_text_colour(rgb: np.ndarray) -> str:
    """The grid's text colour for a cell of colour ``rgb``, or black on the few
    mid-tone cells where neither its dark grey nor white reaches 4.5:1 (black
    always does there)."""
    lum = float(luminance(np.asarray(rgb, dtype=np.float64))) + 0.05
    if lum / _DARK < MIN_CONTRAST and 1.05 / lum < MIN_CONTRAST:
        return BLACK_TEXT
    return text_colour_on(rgb)


def readable(grid: NumberGrid, rgb: np.ndarray) -> NumberGrid:
    """``grid`` (drawn with colours ``rgb``) with every number readable on its cell."""
    for label, cell in zip(grid.labels, rgb.reshape(-1, 3), strict=True):
        colour = cell_text_colour(cell)
        if colour == BLACK_TEXT:
            label.set_color(colour)
    return grid
