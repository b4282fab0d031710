"""Feature maps drawn as images, cheap at any size.

A map is one ``ImageMobject`` scaled with nearest-neighbour sampling, so a
62x62 map costs one image instead of 3,844 squares. ``MapView`` knows the
geometry, so scenes can outline cells and windows on it.
"""

from __future__ import annotations

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RESAMPLING_ALGORITHMS,
    RIGHT,
    UP,
    Group,
    ImageMobject,
    Rectangle,
)

from .colors import ColourScale, diverging_t


def map_rgb(values: np.ndarray, scale: ColourScale, full_range: float | None) -> np.ndarray:
    """uint8 (H, W, 3) colours of a 2-D map.

    ``full_range`` R maps a value v to (v + R/2)/R on a diverging scale; None
    means the values already lie in [0, 1] (input channels).
    """
    t = values if full_range is None else diverging_t(values, full_range)
    return scale.rgb(t)


def rgba(rgb: np.ndarray) -> np.ndarray:
    """Opaque RGBA (what ImageMobject stores) from RGB or RGBA uint8."""
    if rgb.shape[-1] == 3:
        alpha = np.full((*rgb.shape[:2], 1), 255, dtype=np.uint8)
        rgb = np.concatenate([rgb, alpha], axis=-1)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def image_mobject(rgb: np.ndarray, height: float) -> ImageMobject:
    """An ImageMobject of ``rgb`` (H, W, 3|4 uint8), nearest-neighbour, ``height`` tall."""
    image = ImageMobject(rgba(rgb))
    image.set_resampling_algorithm(RESAMPLING_ALGORITHMS["nearest"])
    image.height = height
    return image


class MapView(Group):
    """A heat-map of an (H, W) grid with helpers to address its cells."""

    def __init__(
        self,
        rgb: np.ndarray,
        height: float,
        border_colour: str,
        border_width: float = 1.5,
    ) -> None:
        self.rows, self.cols = rgb.shape[:2]
        self.image = image_mobject(rgb, height)
        self.image.width = height * self.cols / self.rows
        self.border = Rectangle(
            width=self.image.width,
            height=self.image.height,
            stroke_color=border_colour,
            stroke_width=border_width,
        ).move_to(self.image)
        super().__init__(self.image, self.border)

    @property
    def cell(self) -> float:
        return float(self.image.height / self.rows)

    def set_pixels(self, rgb: np.ndarray) -> None:
        """Replace the colours (same size) keeping position and scaling."""
        self.image.pixel_array = rgba(rgb)

    def cell_corner(self, y: float, x: float) -> np.ndarray:
        """Scene point of the top-left corner of cell (y, x)."""
        origin = self.image.get_corner(UP + LEFT)
        return origin + RIGHT * (x * self.cell) + DOWN * (y * self.cell)

    def cell_center(self, y: float, x: float) -> np.ndarray:
        return self.cell_corner(y + 0.5, x + 0.5)

    def window(self, y: int, x: int, h: int, w: int, colour: str, stroke: float = 3) -> Rectangle:
        """A rectangle outlining the cells [y, y+h) x [x, x+w)."""
        rect = Rectangle(
            width=w * self.cell, height=h * self.cell, stroke_color=colour, stroke_width=stroke
        )
        rect.move_to(self.cell_corner(y + h / 2, x + w / 2))
        return rect

    def place_window(self, rect: Rectangle, y: float, x: float, h: int, w: int) -> None:
        rect.move_to(self.cell_corner(y + h / 2, x + w / 2))
