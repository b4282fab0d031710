"""Layout of an element-wise or pooling step: a map and a patch of it, before and after.

Shared by the ``relu`` and ``max_pool`` steps, which make their map panels
themselves (a panel records the map it shows). The parts are the map before
the operation, a patch of its values as numbers, an operator arrow, the patch
after the operation, the map after it (optional), one shared colour legend
and a reserved strip for notes and formulas. The arrangement follows the
aspect: one row when wide, rows of maps and of numbers when tall or square.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, Group, Mobject, Rectangle, Text, VGroup

from .glyphs import number_text
from .grid import NumberGrid
from .layout import Box, Frame, fit
from .text import LABEL, NUMBER, text
from .theme import Theme

NOTES_HEIGHT = 0.85


def grid_cell(texts: Sequence[Sequence[str]], font: str, size: float, base: float) -> float:
    """A cell side wide enough for every text at ``size`` (so no grid shrinks its numbers)."""
    widest = max(
        (number_text(t, font, size, "#000000").width for row in texts for t in row), default=0.0
    )
    return max(base, widest / 0.85)


def grid_panel(
    texts: list[list[str]],
    rgb: np.ndarray,
    cell: float,
    caption: str,
    theme: Theme,
    font_size: float = NUMBER,
) -> tuple[Group, NumberGrid, Rectangle, Text]:
    """A patch of numbers framed in the highlight colour, with its caption above."""
    grid = NumberGrid(texts, rgb, cell, theme.font, font_size, theme.grid_line)
    border = Rectangle(
        width=grid.width, height=grid.height, stroke_color=theme.highlight, stroke_width=3
    ).move_to(grid)
    label = text(caption, theme, LABEL)
    label.next_to(grid, UP, buff=0.15)
    return Group(label, grid, border), grid, border, label


def operator_arrow(label: str, theme: Theme, length: float = 1.2, down: bool = False) -> VGroup:
    """An arrow with the operation written beside it (above, or right when pointing down)."""
    start, end = (UP, DOWN) if down else (LEFT, RIGHT)
    arrow = Arrow(
        start * length / 2,
        end * length / 2,
        buff=0,
        stroke_width=4,
        color=theme.muted,
        max_tip_length_to_length_ratio=0.3,
    )
    caption = text(label, theme, LABEL, theme.text)
    caption.next_to(arrow, RIGHT if down else UP, buff=0.12)
    return VGroup(arrow, caption)


def notes_placeholder(width: float = 1.0) -> Rectangle:
    """An invisible strip that reserves room for notes (never added to the scene)."""
    return Rectangle(width=width, height=NOTES_HEIGHT, stroke_opacity=0.0, fill_opacity=0.0)


@dataclass
class BeforeAfter:
    before_map: Mobject
    before_grid: Mobject
    op: Mobject  # between the two grids
    after_grid: Mobject
    legend: Mobject
    after_map: Mobject | None = None
    op_maps: Mobject | None = None  # between the two maps when they sit in a row of their own
    top: Mobject | None = None  # shown above everything on tall frames (e.g. the ReLU graph)

    def arrange(self, frame: Frame, box: Box, max_scale: float = 1.25) -> tuple[Group, Box]:
        """Place the parts for the aspect and fit them in ``box``.

        Returns the group of parts in use (``op_maps`` and ``top`` are left
        out where the aspect has no room for them) and the box for notes.
        """
        notes = notes_placeholder()
        if frame.landscape:
            parts = [self.before_map, self.before_grid, self.op, self.after_grid]
            if self.after_map is not None:
                parts.append(self.after_map)
            row = Group(*parts).arrange(RIGHT, buff=0.35)
            body = Group(row, self.legend, notes).arrange(DOWN, buff=0.3)
        else:
            maps: list[Mobject] = [self.before_map]
            if self.after_map is not None:
                if self.op_maps is not None:
                    maps.append(self.op_maps)
                maps.append(self.after_map)
            maps_row = Group(*maps).arrange(RIGHT, buff=0.35)
            grids_row = Group(self.before_grid, self.op, self.after_grid).arrange(RIGHT, buff=0.35)
            rows: list[Mobject] = []
            if self.top is not None and frame.portrait:
                rows.append(self.top)
            rows += [maps_row, grids_row, self.legend, notes]
            body = Group(*rows).arrange(DOWN, buff=0.3)
        fit(body, box, max_scale)
        body.remove(notes)
        notes_box = Box(
            box.left,
            float(notes.get_bottom()[1]),
            box.right,
            float(notes.get_top()[1]),
        )
        return body, notes_box


def place_notes(lines: Mobject, box: Box) -> Mobject:
    """Centre ``lines`` in the notes strip, shrinking them to fit its width if needed."""
    if lines.width > box.width:
        lines.scale_to_fit_width(box.width)
    if lines.height > box.height:
        lines.scale_to_fit_height(box.height)
    lines.move_to(box.center)
    return lines
