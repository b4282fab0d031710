"""Pictures, zoom connectors and galleries of panels.

A photo is drawn smoothly (it is not a grid of values); a map the network
reads stays nearest-neighbour (:class:`.heatmap.MapView`). ``tile`` lays a
gallery out in the number of columns that lets its panels be largest in the
box, so the same gallery is a wide grid in 16:9 and a tall one in 9:16.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from manim import (
    DL,
    DOWN,
    DR,
    LEFT,
    RIGHT,
    UL,
    UP,
    UR,
    Group,
    ImageMobject,
    Line,
    Mobject,
    Rectangle,
    VGroup,
)
from PIL import Image

from .colors import ColourScale
from .glyphs import number_text
from .heatmap import image_mobject, rgba
from .layout import Box, fit, largest_fitting

# The longest side, in pixels, a picture keeps: enough for 1080p frames.
MAX_PICTURE_PIXELS = 720


class Picture(Group):
    """An RGB image drawn ``height`` tall with smooth scaling and a thin border."""

    def __init__(
        self, rgb: np.ndarray, height: float, border_colour: str, border_width: float = 1.5
    ) -> None:
        pixels = np.asarray(rgb, dtype=np.uint8)
        h, w = pixels.shape[:2]
        if max(h, w) > MAX_PICTURE_PIXELS:
            factor = MAX_PICTURE_PIXELS / max(h, w)
            size = (max(1, round(w * factor)), max(1, round(h * factor)))
            pixels = np.asarray(
                Image.fromarray(pixels[..., :3]).resize(size, Image.Resampling.LANCZOS)
            )
        self.source_size = (w, h)
        self.image = ImageMobject(rgba(pixels))
        self.image.height = height
        self.image.width = height * w / h
        self.border = Rectangle(
            width=self.image.width,
            height=self.image.height,
            stroke_color=border_colour,
            stroke_width=border_width,
        ).move_to(self.image)
        super().__init__(self.image, self.border)

    def region(
        self, left: float, top: float, right: float, bottom: float, colour: str, stroke: float = 3
    ) -> Rectangle:
        """A rectangle around the source pixels [left, right) x [top, bottom)."""
        w, h = self.source_size
        unit_x, unit_y = self.image.width / w, self.image.height / h
        rect = Rectangle(
            width=(right - left) * unit_x,
            height=(bottom - top) * unit_y,
            stroke_color=colour,
            stroke_width=stroke,
        )
        corner = self.image.get_corner(UL)
        rect.move_to(
            corner + RIGHT * (left + right) / 2 * unit_x + DOWN * (top + bottom) / 2 * unit_y
        )
        return rect


def zoom_lines(source: Mobject, target: Mobject, colour: str, width: float = 1.5) -> VGroup:
    """Two lines from the outline ``source`` to the enlarged ``target``.

    They leave from the sides that face each other, so they never cross the
    target: right side to left side when the target is to the right,
    bottom to top when it is below, and so on.
    """
    dx, dy = (target.get_center() - source.get_center())[:2]
    sw, sh, tw, th = source.width, source.height, target.width, target.height
    # How far apart they are along each axis, compared with their sizes.
    horizontal = abs(dx) - (sw + tw) / 2 >= abs(dy) - (sh + th) / 2
    if horizontal:
        pairs = [(UR, UL), (DR, DL)] if dx > 0 else [(UL, UR), (DL, DR)]
    else:
        pairs = [(DL, UL), (DR, UR)] if dy < 0 else [(UL, DL), (UR, DR)]
    return VGroup(
        *[
            Line(source.get_corner(a), target.get_corner(b), stroke_width=width, color=colour)
            for a, b in pairs
        ]
    )


def tile_plan(
    sizes: Sequence[tuple[float, float]], box: Box, gap: float = 0.35
) -> tuple[int, float]:
    """(columns, scale) that make panels of these (width, height) largest in ``box``.

    Panels fill rows left to right; each column is as wide as its widest
    panel and each row as tall as its tallest.
    """
    best_cols, best_scale = 1, 0.0
    for cols in range(1, len(sizes) + 1):
        widths, heights = tracks(sizes, cols)
        width = sum(widths) + gap * (len(widths) - 1)
        height = sum(heights) + gap * (len(heights) - 1)
        scale = min(box.width / width, box.height / height)
        if scale > best_scale + 1e-9:
            best_cols, best_scale = cols, scale
    return best_cols, best_scale


def tracks(sizes: Sequence[tuple[float, float]], cols: int) -> tuple[list[float], list[float]]:
    """The column widths and row heights of cells of these (width, height) in ``cols`` columns."""
    rows = math.ceil(len(sizes) / cols)
    widths = [max(sizes[i][0] for i in range(c, len(sizes), cols)) for c in range(cols)]
    heights = [max(w_h[1] for w_h in sizes[r * cols : (r + 1) * cols]) for r in range(rows)]
    return widths, heights


def arrange_grid(
    panels: Sequence[Mobject],
    cols: int,
    gap: float = 0.35,
    sizes: Sequence[tuple[float, float]] | None = None,
) -> Group:
    """Panels row by row in ``cols`` columns, each centred at the top of its cell.

    ``sizes`` (width, height) of each cell's content default to the panels' own.
    """
    sizes = sizes or [(p.width, p.height) for p in panels]
    widths, heights = tracks(sizes, cols)
    for index, panel in enumerate(panels):
        row, col = divmod(index, cols)
        x = sum(widths[:col]) + gap * col + widths[col] / 2
        y = -(sum(heights[:row]) + gap * row)
        panel.move_to(np.array([x, y, 0.0]), aligned_edge=UP)
    return Group(*panels)


def tile(
    panels: Sequence[Mobject], box: Box, gap: float = 0.35, max_scale: float = 1.5
) -> tuple[Group, int, float]:
    """Arrange ``panels`` in the column count that makes them largest inside ``box``
    (see :func:`tile_plan`). Returns the group (scaled and centred), the columns
    and the scale.
    """
    cols, best = tile_plan([(p.width, p.height) for p in panels], box, gap)
    group = arrange_grid(panels, cols, gap)
    scale = min(best, max_scale)
    group.scale(scale)
    group.move_to(box.center)
    return group, cols, scale


def best_layout(
    options: dict[str, Callable[[float], Mobject]],
    box: Box,
    smallest: float,
    largest: float,
    steps: int = 12,
) -> tuple[str, float, float]:
    """The layout whose pictures can be largest inside ``box``, with texts at their size.

    Each option places the same mobjects for a picture height ``h`` (it must
    set sizes absolutely and never scale texts, so it can be called again)
    and returns the group. Options are ranked by how little their texts must
    shrink (not at all if the layout fits with pictures ``smallest`` tall),
    then by the size the pictures end up with. Where the group must shrink
    anyway, its pictures grow into the room that shrinking leaves.
    Returns (option name, picture height, shrink factor: 1 when texts keep
    their size, rounded to 2 decimals). Leaves the mobjects in some trial
    layout: call the winning option again to place them.
    """

    def shrink(place: Callable[[float], Mobject], h: float) -> float:
        group = place(h)
        return min(box.width / group.width, box.height / group.height, 1.0)

    best: tuple[float, float] = (-1.0, -1.0)
    best_name, best_h = next(iter(options)), smallest
    for name, place in options.items():
        scale = shrink(place, smallest)

        def keeps_scale(
            h: float, place: Callable[[float], Mobject] = place, scale: float = scale
        ) -> bool:
            return shrink(place, h) >= scale - 1e-9

        h = largest_fitting(keeps_scale, smallest, largest, steps)
        score = (round(scale, 2), h * scale)
        if score > best:
            best, best_name, best_h = score, name, h
    return best_name, best_h, best[0]


def largest_layout(
    options: dict[str, Callable[[float], Mobject]],
    box: Box,
    smallest: float,
    largest: float,
) -> tuple[str, Mobject, float, float]:
    """:func:`best_layout`, then that layout placed, shrunk if it must be, centred in ``box``.

    Returns (option name, group, picture height before shrinking, shrink factor).
    """
    name, height, _ = best_layout(options, box, smallest, largest)
    group = options[name](height)
    natural = group.width
    fit(group, box, max_scale=1.0)
    return name, group, height, group.width / natural if natural else 1.0


class InlineLegend(Group):
    """A compact legend on one line: low value, colour bar, high value.

    For galleries of small maps, where a legend per map must stay short.
    ``texts`` are the strings drawn at the ends (recorded by the caller).
    """

    def __init__(
        self,
        scale: ColourScale,
        texts: tuple[str, str],
        font: str,
        colour: str,
        width: float,
        height: float = 0.14,
        font_size: float = 16,
    ) -> None:
        ramp = scale.rgb(np.linspace(0.0, 1.0, 256))[None, :, :]
        low = number_text(texts[0], font, font_size, colour)
        high = number_text(texts[1], font, font_size, colour)
        bar = image_mobject(np.repeat(ramp, 2, axis=0), height)
        bar.stretch_to_fit_height(height)
        self.bar, self.low, self.high = bar, low, high
        super().__init__(low, bar, high)
        self.set_span(width)

    def set_span(self, width: float) -> InlineLegend:
        """Make the whole legend ``width`` wide (the bar stretches, the numbers keep their size)."""
        left = self.get_left()
        self.bar.stretch_to_fit_width(max(width - self.low.width - self.high.width - 0.2, 0.4))
        self.low.next_to(self.bar, LEFT, buff=0.1)
        self.high.next_to(self.bar, RIGHT, buff=0.1)
        self.shift(left - self.get_left())
        return self
