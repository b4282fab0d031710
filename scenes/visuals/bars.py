"""Horizontal bar charts of values in [0, 1]: class probabilities and their rivals.

One row per item: an optional label on the left, a faint full-length track,
the bar itself (its length is the value) and the number as drawn. Rows are
``pitch`` apart so a chart can line up with a table beside it. An optional
axis under the bars marks 0, 0.5 and 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from manim import DOWN, LEFT, RIGHT, Line, Rectangle, Text, VGroup

from .glyphs import number_text
from .numbers import fmt
from .vector_cells import number_mobject

# The shortest bar drawn for a value above zero, so "tiny" differs from "none".
MIN_VISIBLE = 0.012


class BarRows(VGroup):
    """Rows of label | track with bar | number; ``bars[i]`` grows from the left."""

    def __init__(
        self,
        values: Sequence[float],
        texts: Sequence[str],
        colours: Sequence[str],
        font: str,
        text_colour: str,
        track_colour: str,
        length: float = 3.0,
        pitch: float = 0.5,
        bar_height: float = 0.28,
        font_size: float = 20,
        labels: Sequence[str] | None = None,
        label_width: float | None = None,
        axis: bool = False,
        axis_colour: str | None = None,
    ) -> None:
        super().__init__()
        self.length = length
        self.labels = VGroup()
        self.tracks = VGroup()
        self.bars = VGroup()
        self.numbers = VGroup()
        self.rows: list[VGroup] = []
        names = [
            Text(name, font=font, font_size=font_size, color=text_colour) for name in labels or []
        ]
        widest = max((n.width for n in names), default=0.0)
        if label_width is not None and widest > label_width:
            for name in names:
                name.scale(label_width / widest)
            widest = label_width
        x0 = widest + 0.25 if names else 0.0
        for i, (value, shown, colour) in enumerate(zip(values, texts, colours, strict=True)):
            y = -i * pitch
            track = Rectangle(width=length, height=bar_height, stroke_width=0)
            track.set_fill(track_colour, opacity=1)
            track.move_to(np.array([x0 + length / 2, y, 0.0]))
            frac = float(np.clip(value, 0.0, 1.0))
            drawn = 0.0 if frac <= 0 else max(frac, MIN_VISIBLE)
            bar = Rectangle(width=max(drawn * length, 1e-4), height=bar_height, stroke_width=0)
            bar.set_fill(colour, opacity=1 if drawn > 0 else 0)
            bar.move_to(track.get_left(), aligned_edge=LEFT)
            number = number_mobject(shown, font, font_size, text_colour)
            number.next_to(track, RIGHT, buff=0.15)
            row = VGroup(track, bar, number)
            if names:
                name = names[i]
                name.move_to(np.array([widest, y, 0.0]), aligned_edge=RIGHT)
                self.labels.add(name)
                row.add(name)
            self.tracks.add(track)
            self.bars.add(bar)
            self.numbers.add(number)
            self.rows.append(row)
        self.add(self.labels, self.tracks, self.bars, self.numbers)
        self.axis = VGroup()
        if axis and values:
            bottom = -(len(values) - 1) * pitch - bar_height / 2 - 0.08
            left, right = x0, x0 + length
            tint = axis_colour or text_colour
            self.axis.add(
                Line(np.array([left, bottom, 0.0]), np.array([right, bottom, 0.0]), color=tint)
            )
            for frac, shown in ((0.0, "0"), (0.5, fmt(0.5, 1)), (1.0, "1")):
                x = left + frac * length
                tick = Line(
                    np.array([x, bottom, 0.0]), np.array([x, bottom - 0.08, 0.0]), color=tint
                )
                label = number_text(shown, font, font_size * 0.8, tint)
                label.next_to(tick, DOWN, buff=0.05)
                self.axis.add(tick, label)
            self.add(self.axis)

    def row_box(self, i: int, colour: str, pad: float = 0.08, stroke: float = 2.5) -> Rectangle:
        """An outline around row ``i`` (label, track and number)."""
        row = self.rows[i]
        rect = Rectangle(
            width=row.width + 2 * pad,
            height=max(row.height, self.tracks[i].height) + 2 * pad,
            stroke_color=colour,
            stroke_width=stroke,
        )
        rect.move_to(row)
        return rect
