"""A long vector (the 1690 values of ``flatten``) as wrapped rows of thin cells.

The whole vector is one ``ImageMobject``: each entry is one pixel column of
its row, rows are separated by transparent gaps, and the image is scaled with
nearest-neighbour sampling. Entry ``i`` sits in row ``i // per_row`` at column
``i % per_row``, read left to right and top to bottom like text, so the
reading order of a flatten is visible at a glance.
"""

from __future__ import annotations

import math

import numpy as np
from manim import DOWN, LEFT, RESAMPLING_ALGORITHMS, RIGHT, UP, ImageMobject, Rectangle

# Pixel rows of one row of entries and of the gap under it: gaps are a
# third of a row, so rows read as separate lines.
ROW_PX = 3
GAP_PX = 1


class VectorStrip(ImageMobject):
    """``rgb`` (n, 3) uint8 entries wrapped ``per_row`` to a row."""

    def __init__(self, rgb: np.ndarray, per_row: int, cell_width: float, row_height: float):
        self.count = len(rgb)
        self.per_row = per_row
        self.rows = math.ceil(self.count / per_row)
        super().__init__(self.pixels(rgb))
        self.set_resampling_algorithm(RESAMPLING_ALGORITHMS["nearest"])
        gap = row_height * GAP_PX / ROW_PX
        self.stretch_to_fit_width(per_row * cell_width)
        self.stretch_to_fit_height(self.rows * row_height + (self.rows - 1) * gap)

    def pixels(self, rgb: np.ndarray) -> np.ndarray:
        """The RGBA image for entry colours ``rgb``: rows with transparent gaps."""
        pitch = ROW_PX + GAP_PX
        image = np.zeros((self.rows * pitch - GAP_PX, self.per_row, 4), dtype=np.uint8)
        padded = np.zeros((self.rows * self.per_row, 3), dtype=np.uint8)
        padded[: len(rgb)] = rgb
        alpha = np.zeros(self.rows * self.per_row, dtype=np.uint8)
        alpha[: len(rgb)] = 255
        for r in range(self.rows):
            block = slice(r * self.per_row, (r + 1) * self.per_row)
            image[r * pitch : r * pitch + ROW_PX, :, :3] = padded[block]
            image[r * pitch : r * pitch + ROW_PX, :, 3] = alpha[block]
        return image

    def set_colours(self, rgb: np.ndarray) -> None:
        """Repaint every entry (same length), keeping position and size."""
        self.pixel_array = self.pixels(rgb)

    # Geometry, from the image's current corners (it may have been scaled).
    @property
    def cell_width(self) -> float:
        return float(self.width / self.per_row)

    @property
    def row_pitch(self) -> float:
        return float(self.height / (self.rows - GAP_PX / (ROW_PX + GAP_PX)))

    @property
    def row_height(self) -> float:
        return self.row_pitch * ROW_PX / (ROW_PX + GAP_PX)

    def entry_center(self, index: int) -> np.ndarray:
        row, col = divmod(int(index), self.per_row)
        origin = self.get_corner(UP + LEFT)
        return (
            origin
            + RIGHT * (col + 0.5) * self.cell_width
            + DOWN * (row * self.row_pitch + self.row_height / 2)
        )

    def row_left(self, row: int) -> np.ndarray:
        """The middle of the left end of ``row``."""
        return self.entry_center(row * self.per_row) + LEFT * self.cell_width / 2

    def marker(
        self,
        index: int,
        colour: str,
        stroke: float = 3.0,
        min_width: float = 0.12,
        halo: str | None = None,
        last: int | None = None,
    ) -> Rectangle:
        """An outline around entry ``index`` (to ``last`` on the same row, if given).

        It is at least ``min_width`` wide so a single thin entry can be seen;
        ``halo`` draws a wider stroke of that colour (the background) under
        the outline, so it stands out on light and dark entries alike.
        """
        last = index if last is None else last
        left = self.entry_center(index)
        right = self.entry_center(last)
        rect = Rectangle(
            width=max(right[0] - left[0] + self.cell_width, min_width),
            height=self.row_height * 1.35,
            stroke_color=colour,
            stroke_width=stroke,
        )
        if halo is not None:
            rect.set_stroke(halo, width=stroke + 3, background=True)
        rect.move_to((left + right) / 2)
        return rect

    def place_marker(self, rect: Rectangle, index: int) -> None:
        rect.move_to(self.entry_center(index))
