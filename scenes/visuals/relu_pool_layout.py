"""Layout of an element-wise or pooling step: a map and a patch of it, before and after.

Shared by the ``relu`` and ``max_pool`` steps, which make their map panels
themselves (a panel records the map it shows). The parts are the map before
the operation, a patch of its values as numbers, an operator arrow, the patch
after the operation, the map after it (optional), one shared colour legend
and a reserved strip for notes and formulas.

The arrangement follows the aspect, so that every text keeps a readable size
(nothing is shrunk far below the size it was made at):

- wide: one row, map → numbers → numbers → map, the legend and notes under it;
- tall: the maps in a row over the numbers in a row, or (``stack_tall``, for
  patches too wide to sit side by side) the "before" map and numbers in a
  row over the "after" ones, the arrows pointing down between them;
- square: small maps in a row (the legend between them) over the numbers,
  or (``one_grid_square``) the maps in a column beside a single patch whose
  values change in place.

Spare height is shared out between the rows, so a tall frame is filled
evenly rather than holding a small block in its middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, Arrow, Group, Mobject, Rectangle, VGroup

from .glyphs import number_text
from .grid import NumberGrid
from .layout import Box, Frame
from .text import LABEL, NUMBER, text
from .theme import Theme

NOTES_HEIGHT = 0.85  # two lines: a formula or summary and a caption under it
TALL_NOTES_HEIGHT = 1.25  # tall frames have room for a line more (long texts wrap)
SQUARE_NOTES_HEIGHT = 0.75  # square frames are short of height: two lines of labels
GAP = 0.3  # between rows and between the parts of a row
MAX_GAP = 0.6  # the most a gap grows to fill a tall frame


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
    caption: str | Sequence[str],
    theme: Theme,
    font_size: float = NUMBER,
) -> tuple[Group, NumberGrid, Rectangle, Mobject]:
    """A patch of numbers framed in the highlight colour, with its caption above
    (one line, or the lines given)."""
    grid = NumberGrid(texts, rgb, cell, theme.font, font_size, theme.grid_line)
    border = Rectangle(
        width=grid.width, height=grid.height, stroke_color=theme.highlight, stroke_width=3
    ).move_to(grid)
    label: Mobject = (
        text(caption, theme, LABEL) if isinstance(caption, str) else lines(caption, theme, LABEL)
    )
    label.next_to(grid, UP, buff=0.15)
    return Group(label, grid, border), grid, border, label


def captioned_map(view: Mobject, label: str, theme: Theme) -> Group:
    """A map with its caption above it on two lines (see :func:`map_caption`)."""
    caption = lines(map_caption(label), theme, LABEL).next_to(view, UP, buff=0.15)
    return Group(caption, view)


def operator_arrow(
    label: str, theme: Theme, length: float = 1.2, down: bool = False, narrow: bool = False
) -> VGroup:
    """An arrow with the operation written beside it (above, or right when pointing down).

    ``narrow`` writes the label on two lines (broken at its last space) where
    the arrow has little room across.
    """
    start, end = (UP, DOWN) if down else (LEFT, RIGHT)
    arrow = Arrow(
        start * length / 2,
        end * length / 2,
        buff=0,
        stroke_width=4,
        color=theme.muted,
        max_tip_length_to_length_ratio=0.3,
    )
    words = label.rsplit(" ", 1) if narrow else [label]
    caption = lines(words, theme, LABEL, theme.text)
    caption.next_to(arrow, RIGHT if down else UP, buff=0.12)
    return VGroup(arrow, caption)


def lines(parts: Sequence[str], theme: Theme, size: float, colour: str | None = None) -> VGroup:
    """Lines of text, each centred under the one before."""
    group = VGroup(*[text(part, theme, size, colour) for part in parts if part])
    return group.arrange(DOWN, buff=0.1 * size / LABEL)


def map_caption(label: str) -> list[str]:
    """A map's caption ("conv_1_1 · neuron 3 (62×62)") as two lines, broken at its
    first " · ", so it is no wider than a small map; one line if it has none."""
    head, sep, tail = label.partition(" · ")
    return [head, tail] if sep else [label]


def wrapped(content: str, theme: Theme, size: float, colour: str | None, width: float) -> VGroup:
    """``content`` broken at spaces into centred lines no wider than ``width``: each
    line takes as many words as fit (at least one).

    A line's width only grows with its words, so the most that fit are found by
    halving: a few trial layouts a line, not one a word."""
    words = content.split(" ")
    found: list[str] = []
    while words:
        fits, over = 1, len(words) + 1  # this many words fit; this many do not
        while over - fits > 1:
            middle = (fits + over) // 2
            # In the line's own colour: the line that fits is then a copy of its trial.
            if text(" ".join(words[:middle]), theme, size, colour).width > width:
                over = middle
            else:
                fits = middle
        found.append(" ".join(words[:fits]))
        words = words[fits:]
    return lines(found, theme, size, colour)


def notes_placeholder(width: float = 1.0, height: float = NOTES_HEIGHT) -> Rectangle:
    """An invisible strip that reserves room for notes (never added to the scene)."""
    return Rectangle(width=width, height=height, stroke_opacity=0.0, fill_opacity=0.0)


def stack(rows: Sequence[Mobject], box: Box, notes_height: float, gap: float = GAP) -> Box:
    """Stack ``rows`` and a notes strip in ``box``: scaled down only if they do not
    fit, spare height shared out between the rows. Returns the notes' box."""
    notes = notes_placeholder(height=notes_height)
    body = Group(*rows, notes).arrange(DOWN, buff=gap)
    scale = min(box.width / body.width, box.height / body.height, 1.0)
    body.scale(scale)
    spare = box.height - body.height
    if spare > 0:
        body.arrange(DOWN, buff=gap * scale + min(spare / len(rows), MAX_GAP - gap))
    body.move_to(box.center)
    return Box(box.left, float(notes.get_bottom()[1]), box.right, float(notes.get_top()[1]))


@dataclass
class BeforeAfter:
    """The parts of the step, arranged by :meth:`arrange` for the frame's aspect.

    The operator arrows are made by :meth:`arrange` (they point right or
    down): ``op`` between the patches, ``op_maps`` between the maps where
    they are drawn (not in a wide frame, whose maps are at the row's ends).
    """

    theme: Theme
    before_map: Mobject
    before_grid: Mobject
    op_label: str
    after_grid: Mobject
    legend: Mobject
    after_map: Mobject | None = None
    maps_label: str | None = None
    stack_tall: bool = False  # tall frames: "before" row over "after" row
    one_grid_square: bool = False  # square frames: after_grid takes before_grid's place
    op: VGroup = field(init=False)
    op_maps: VGroup | None = field(init=False, default=None)

    def arrange(self, frame: Frame, box: Box) -> Box:
        """Place the parts for the aspect inside ``box``; returns the box for notes."""
        theme = self.theme
        if frame.landscape:
            self.op = operator_arrow(self.op_label, theme, length=0.9)
            parts = [self.before_map, self.before_grid, self.op, self.after_grid]
            if self.after_map is not None:
                parts.append(self.after_map)
            row = Group(*parts).arrange(RIGHT, buff=0.3)
            self._level_op()
            return stack([row, self.legend], box, NOTES_HEIGHT)
        if frame.portrait and self.stack_tall:
            return self._stacked(box)
        if frame.portrait:
            return self._rows(box, TALL_NOTES_HEIGHT)
        if self.one_grid_square:
            return self._columns(box)
        return self._rows(box, SQUARE_NOTES_HEIGHT, legend_between_maps=True)

    def _maps_arrow(self, down: bool = False) -> VGroup | None:
        if self.after_map is None or self.maps_label is None:
            return None
        self.op_maps = operator_arrow(self.maps_label, self.theme, length=0.8, down=down)
        return self.op_maps

    def _rows(self, box: Box, notes_height: float, legend_between_maps: bool = False) -> Box:
        """The maps in a row over the patches in a row (the operation's name on two
        lines, so the patches keep their room)."""
        square = legend_between_maps
        self.op = operator_arrow(self.op_label, self.theme, length=0.8, narrow=True)
        arrow = self._maps_arrow()
        maps: list[Mobject] = [self.before_map]
        middle: list[Mobject] = [arrow] if arrow is not None else []
        if square:
            middle.append(self.legend)
        if middle:
            maps.append(Group(*middle).arrange(DOWN, buff=0.25))
        if self.after_map is not None:
            maps.append(self.after_map)
        rows: list[Mobject] = [
            Group(*maps).arrange(RIGHT, buff=0.3),
            Group(self.before_grid, self.op, self.after_grid).arrange(RIGHT, buff=0.3),
        ]
        self._level_op()
        if not square:
            rows.append(self.legend)
        return stack(rows, box, notes_height, gap=0.2 if square else GAP)

    def _level_op(self) -> None:
        """Put the arrow between the patches level with the middle of the first patch
        (its label above it), where a number carried across passes under the label."""
        panel = self.before_grid
        grid_bottom = panel.get_bottom()[1]
        grid_top = panel[0].get_bottom()[1] - 0.15  # under the patch's caption
        self.op.shift(((grid_bottom + grid_top) / 2 - self.op[0].get_center()[1]) * UP)

    def _stacked(self, box: Box) -> Box:
        """Before (map and patch) in a row over after, arrows pointing down between."""
        assert self.after_map is not None
        self.op = operator_arrow(self.op_label, self.theme, length=0.7, down=True)
        arrow = self._maps_arrow(down=True)
        before = Group(self.before_map, self.before_grid).arrange(RIGHT, buff=0.45)
        after = Group(self.after_map, self.after_grid)
        arrows = Group(*([arrow] if arrow is not None else []), self.op)
        grid_x = self.before_grid.get_center()[0]
        map_x = self.before_map.get_center()[0]
        self.after_map.move_to(np.array([map_x, 0.0, 0.0]))
        self.after_grid.move_to(np.array([grid_x, 0.0, 0.0]))
        # Arrows under the middle of what they lead from (their captions to the right).
        self.op.shift((grid_x - self.op[0].get_center()[0]) * RIGHT)
        if arrow is not None:
            arrow.shift((map_x - arrow[0].get_center()[0]) * RIGHT)
        arrows_row = _aligned_row(arrows)
        after_row = _aligned_row(after)
        return stack([before, arrows_row, after_row, self.legend], box, TALL_NOTES_HEIGHT)

    def _columns(self, box: Box) -> Box:
        """The maps in a column beside one patch (after_grid replaces it in place)."""
        assert self.after_map is not None
        self.op = operator_arrow(self.op_label, self.theme, length=0.6, down=True)
        arrow = self._maps_arrow(down=True)
        left = Group(
            self.before_map, *([arrow] if arrow is not None else []), self.after_map
        ).arrange(DOWN, buff=0.2)
        right = Group(self.before_grid, self.legend).arrange(DOWN, buff=0.45)
        top = Group(left, right).arrange(RIGHT, buff=0.5)
        width = self.before_grid.width
        notes = stack([top], box, TALL_NOTES_HEIGHT)
        self.after_grid.scale(self.before_grid.width / width).move_to(self.before_grid)
        return notes


def _aligned_row(group: Group) -> Group:
    """A row whose parts keep the x they were given, centred on one line."""
    y = group.get_center()[1]
    for part in group:
        part.shift((y - part.get_center()[1]) * UP)
    return group


def place_notes(content: Mobject, box: Box) -> Mobject:
    """Centre ``content`` in the notes strip, shrinking it to fit if it must."""
    if content.width > box.width:
        content.scale_to_fit_width(box.width)
    if content.height > box.height:
        content.scale_to_fit_height(box.height)
    content.move_to(box.center)
    return content
