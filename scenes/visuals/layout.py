"""The frame of each aspect and helpers that place panels inside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from manim import DOWN, RIGHT, Group, Mobject

ASPECTS = ("16:9", "9:16", "1:1")
# Scene units: the short side is always 8 units, so text has the same size
# on every aspect and the long side grows.
SHORT_SIDE = 8.0


@dataclass(frozen=True)
class Box:
    left: float
    bottom: float
    right: float
    top: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.top - self.bottom

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.left + self.right) / 2, (self.bottom + self.top) / 2, 0.0])


@dataclass(frozen=True)
class Frame:
    aspect: str
    width: float
    height: float
    margin: float = 0.3

    @classmethod
    def for_aspect(cls, aspect: str) -> Frame:
        if aspect == "16:9":
            return cls(aspect, SHORT_SIDE * 16 / 9, SHORT_SIDE)
        if aspect == "9:16":
            return cls(aspect, SHORT_SIDE, SHORT_SIDE * 16 / 9)
        if aspect == "1:1":
            return cls(aspect, SHORT_SIDE, SHORT_SIDE)
        raise ValueError(f"aspect must be one of {ASPECTS}, got {aspect!r}")

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def landscape(self) -> bool:
        return self.width > self.height

    @property
    def box(self) -> Box:
        """The whole frame inside its margin."""
        return Box(
            -self.width / 2 + self.margin,
            -self.height / 2 + self.margin,
            self.width / 2 - self.margin,
            self.height / 2 - self.margin,
        )

    def title_box(self, height: float = 0.7) -> Box:
        b = self.box
        return Box(b.left, b.top - height, b.right, b.top)

    def content_box(self, title_height: float = 0.7, gap: float = 0.15) -> Box:
        b = self.box
        return Box(b.left, b.bottom, b.right, b.top - title_height - gap)


def fit(mobject: Mobject, box: Box, max_scale: float = 1.0) -> Mobject:
    """Scale ``mobject`` down (or up to ``max_scale``) to fit ``box``; centre it there."""
    if mobject.width > 0 and mobject.height > 0:
        factor = min(box.width / mobject.width, box.height / mobject.height, max_scale)
        mobject.scale(factor)
    mobject.move_to(box.center)
    return mobject


def largest_fitting(fits: Callable[[float], bool], lo: float, hi: float, steps: int) -> float:
    """The largest size in [lo, hi] for which ``fits`` holds, found by halving the
    interval ``steps`` times (``lo`` when none does; ``fits`` must not hold above a
    size that fails)."""
    if fits(hi):
        return hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def arrange_panels(
    panels: Sequence[Mobject], frame: Frame, box: Box, gap: float = 0.5, max_scale: float = 1.0
) -> Group:
    """Lay panels out for the aspect: a row when wide, a column when tall.

    Square frames put the first and last panels side by side with the middle
    ones beneath them. The group is then scaled to fit ``box``.
    """
    group = Group(*panels)
    if frame.landscape or len(panels) == 1:
        group.arrange(RIGHT, buff=gap)
    elif frame.portrait:
        group.arrange(DOWN, buff=gap)
    else:
        top = Group(panels[0], panels[-1]).arrange(RIGHT, buff=gap)
        middle = Group(*panels[1:-1]).arrange(RIGHT, buff=gap)
        group = Group(top, middle).arrange(DOWN, buff=gap)
    fit(group, box, max_scale)
    return group


def bounds(mobject: Mobject) -> tuple[float, float, float, float] | None:
    """(left, bottom, right, top) of everything ``mobject`` draws, in one pass."""
    arrays = [m.points for m in mobject.get_family() if len(m.points)]
    if not arrays:
        return None
    points = np.concatenate(arrays)
    lo, hi = points.min(axis=0), points.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def outside(mobject: Mobject, frame: Frame, tolerance: float = 1e-3) -> bool:
    """Whether any part of ``mobject`` lies outside the visible frame."""
    box = bounds(mobject)
    if box is None:
        return False
    left, bottom, right, top = box
    half_w, half_h = frame.width / 2 + tolerance, frame.height / 2 + tolerance
    return left < -half_w or right > half_w or bottom < -half_h or top > half_h


__all__ = ["ASPECTS", "Box", "Frame", "arrange_panels", "fit", "outside"]
