"""The ReLU graph y = max(0, x): axes, the kinked line and labelled points.

Drawn by hand from lines and cached glyphs (no LaTeX, no ``Axes``): the
graph is small and its tick labels are plain numbers. The data-to-scene
mapping survives any later ``scale``/``move_to`` of the whole graph, because
it is read from an invisible anchor that moves with it.
"""

from __future__ import annotations

import math

import numpy as np
from manim import DOWN, LEFT, RIGHT, UP, DashedLine, Line, VGroup, VMobject

from .glyphs import number_text
from .numbers import fmt
from .text import LABEL, SMALL, text
from .theme import Theme

# Half-width of the plotted range in scene units (before any scaling).
HALF = 2.0
NICE_STEPS = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0)


def nice_extent(peak: float, max_ticks: int = 2) -> tuple[float, float]:
    """(extent, tick step) covering ``peak`` with at most ``max_ticks`` ticks per side."""
    peak = max(abs(peak) * 1.15, 0.1)
    for step in NICE_STEPS:
        ticks = math.ceil(peak / step - 1e-9)
        if ticks <= max_ticks:
            return ticks * step, step
    step = 10 ** math.ceil(math.log10(peak / max_ticks))
    return math.ceil(peak / step) * step, step


class ReluGraph(VGroup):
    """Axes over [-extent, extent] in both directions with y = max(0, x) drawn on them."""

    def __init__(self, extent: float, step: float, theme: Theme) -> None:
        super().__init__()
        self.extent = extent
        self.step = step
        unit = HALF / extent

        def at(x: float, y: float) -> np.ndarray:
            return np.array([x * unit, y * unit, 0.0])

        over = 1.12 * extent
        self.x_axis = Line(at(-over, 0), at(over, 0), color=theme.muted, stroke_width=2)
        self.x_axis.add_tip(tip_length=0.16, tip_width=0.14)
        self.y_axis = Line(at(0, -over), at(0, over), color=theme.muted, stroke_width=2)
        self.y_axis.add_tip(tip_length=0.16, tip_width=0.14)
        self.ticks = VGroup()
        self.tick_labels = VGroup()
        self.tick_values: list[float] = []
        count = round(extent / step)
        for k in [*range(-count, 0), *range(1, count + 1)]:
            value = k * step
            self.tick_values.append(value)
            decimals = (
                0 if float(value).is_integer() else (1 if round(value * 10) == value * 10 else 2)
            )
            shown = fmt(value, decimals)
            self.ticks.add(
                Line(at(value, 0) + 0.06 * DOWN, at(value, 0) + 0.06 * UP, color=theme.muted),
                Line(at(0, value) + 0.06 * LEFT, at(0, value) + 0.06 * RIGHT, color=theme.muted),
            )
            x_label = number_text(shown, theme.font, SMALL, theme.muted)
            x_label.next_to(at(value, 0), DOWN, buff=0.12)
            y_label = number_text(shown, theme.font, SMALL, theme.muted)
            y_label.next_to(at(0, value), LEFT, buff=0.12)
            self.tick_labels.add(x_label, y_label)
        self.identity = DashedLine(
            at(-extent, -extent), at(0, 0), color=theme.muted, stroke_width=2, dash_length=0.08
        )
        self.identity_label = text("y = x", theme, SMALL, theme.muted)
        self.identity_label.next_to(at(-extent, -extent), UP + RIGHT, buff=0.05).shift(0.35 * RIGHT)
        self.line = VMobject(stroke_color=theme.accent, stroke_width=6)
        self.line.set_points_as_corners([at(-extent, 0), at(0, 0), at(extent, extent)])
        self.x_name = text("x", theme, LABEL, theme.text)
        self.x_name.next_to(self.x_axis.get_end(), RIGHT, buff=0.12)
        self.y_name = text("max(0, x)", theme, LABEL, theme.accent)
        self.y_name.next_to(self.y_axis.get_end(), RIGHT, buff=0.12)
        # (0, 0) and (1, 1) in data units: scene coordinates follow the graph.
        self.anchor = VMobject(stroke_opacity=0.0, fill_opacity=0.0, stroke_width=0.0)
        self.anchor.set_points_as_corners([at(0, 0), at(1, 1)])
        self.axes = VGroup(self.x_axis, self.y_axis, self.ticks, self.tick_labels)
        self.add(
            self.axes,
            self.identity,
            self.identity_label,
            self.line,
            self.x_name,
            self.y_name,
            self.anchor,
        )

    @property
    def scale_factor(self) -> float:
        """How much the graph has been scaled since it was built (for text added later)."""
        unit = self.anchor.points[-1][0] - self.anchor.points[0][0]
        return float(unit / (HALF / self.extent))

    @property
    def origin(self) -> np.ndarray:
        return np.array(self.anchor.points[0])

    def point(self, x: float, y: float) -> np.ndarray:
        """Scene coordinates of the data point (x, y)."""
        origin = self.anchor.points[0]
        unit = self.anchor.points[-1] - origin
        return origin + np.array([x * unit[0], y * unit[1], 0.0])
