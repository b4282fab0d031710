"""Colour legends: a gradient bar with its range written under it."""

from __future__ import annotations

import numpy as np
from manim import DOWN, UP, Group, Mobject, Text, VGroup

from .colors import ColourScale
from .glyphs import number_text
from .heatmap import image_mobject
from .numbers import fmt


class Legend(Group):
    """A horizontal colour bar from ``lo`` to ``hi`` with labelled ends.

    ``t_lo`` and ``t_hi`` are where the bar starts and ends on the scale
    (logits, for instance, use [0.2, 1] of Oranges). A ``mid`` value (0 on a
    diverging scale) is labelled at the centre.
    """

    def __init__(
        self,
        scale: ColourScale,
        lo: float,
        hi: float,
        title: str,
        font: str,
        text_colour: str,
        width: float = 2.4,
        height: float = 0.16,
        decimals: int = 2,
        mid: float | None = None,
        t_lo: float = 0.0,
        t_hi: float = 1.0,
        font_size: float = 16,
        end_labels: tuple[str, str] | None = None,
    ) -> None:
        self.lo, self.hi = lo, hi
        ramp = scale.rgb(np.linspace(t_lo, t_hi, 256))[None, :, :]
        bar = image_mobject(np.repeat(ramp, 2, axis=0), height)
        bar.stretch_to_fit_width(width)
        bar.stretch_to_fit_height(height)
        lines = [
            Text(part, font=font, font_size=font_size, color=text_colour)
            for part in title.split("\n")
        ]
        # A title broken into lines ("\n") has each line centred.
        title_text: Mobject = (
            lines[0] if len(lines) == 1 else VGroup(*lines).arrange(DOWN, buff=0.06)
        )
        title_text.next_to(bar, UP, buff=0.08)
        lo_shown, hi_shown = end_labels or (fmt(lo, decimals), fmt(hi, decimals))
        lo_text = number_text(lo_shown, font, font_size, text_colour)
        hi_text = number_text(hi_shown, font, font_size, text_colour)
        lo_text.next_to(bar.get_corner(DOWN + np.array([-1, 0, 0])), DOWN, buff=0.08)
        hi_text.next_to(bar.get_corner(DOWN + np.array([1, 0, 0])), DOWN, buff=0.08)
        parts = [bar, title_text, lo_text, hi_text]
        self.labels = {"lo": lo_shown, "hi": hi_shown}
        if mid is not None and hi > lo:
            mid_shown = fmt(mid, decimals if mid else 0)
            mid_text = number_text(mid_shown, font, font_size, text_colour)
            frac = (mid - lo) / (hi - lo)
            mid_text.next_to(
                bar.get_left() + (bar.get_right() - bar.get_left()) * frac,
                DOWN,
                buff=0.08 + bar.height / 2,
            )
            parts.append(mid_text)
            self.labels["mid"] = mid_shown
        super().__init__(*parts)
