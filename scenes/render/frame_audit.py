"""Checks of what a step's scene shows, without drawing it: is every text readable?

:class:`FrameAudit` looks at a scene's mobjects (at the end of each beat and
in the middle of each animation) and reports what a viewer could not read:

- two texts drawn over each other (two numbers in one cell, a label moving
  across a sum);
- a text with less than 4.5:1 contrast (WCAG 2 AA) against what is drawn
  behind it, or covered by something drawn over it;
- a text whose digits are smaller than 2 % of the frame's short side;
- anything outside the frame.

What lies behind a text is worked out from the scene's drawing order: the
filled shapes and images that contain the point, blended over the theme's
background. Contrast and size are judged on the still picture at a beat's
end (a text fading in is meant to be faint half-way); overlaps, covering and
the frame's edge in the middle of animations too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from manim import ImageMobject, Mobject, Text, ValueTracker, VMobject
from manim.utils.color import ManimColor
from manim.utils.family import extract_mobject_family_members

from ..visuals.glyphs import NumberText
from ..visuals.layout import Frame, outside

MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text
MIN_DIGIT_SHARE = 0.02  # digit height against the frame's short side
VISIBLE = 0.1  # an opacity below this counts as not drawn
COVERING = 0.5  # something drawn over a text at this opacity or more hides it
OVERLAP = 0.12  # share of the smaller glyph's box two glyphs may share

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Finding:
    """One problem, where it was seen: the beat (from 1), its phase, and when."""

    kind: str  # overlap, numbers, contrast, covered, size, outside
    beat: int
    phase: str
    moment: str  # "end" of the beat, or "mid" animation
    seconds: float
    message: str

    def key(self) -> tuple[str, str]:
        return self.kind, self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "beat": self.beat,
            "phase": self.phase,
            "moment": self.moment,
            "seconds": round(self.seconds, 2),
            "message": self.message,
        }


def relative_luminance(rgb: RGB) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio of two opaque colours, from 1 to 21."""
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def hex_of(rgb: RGB) -> str:
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


def _rgb(colour: Any) -> RGB:
    r, g, b = ManimColor(colour).to_rgb()[:3]
    return float(r), float(g), float(b)


def _blend(under: RGB, over: RGB, alpha: float) -> RGB:
    return (
        under[0] + (over[0] - under[0]) * alpha,
        under[1] + (over[1] - under[1]) * alpha,
        under[2] + (over[2] - under[2]) * alpha,
    )


@cache
def digit_height_per_point(font: str) -> float:
    """How tall a digit of ``font`` is, in frame units, per point of font size."""
    return float(Text("0", font=font, font_size=48).height) / 48.0


def _is_text(mob: Mobject) -> bool:
    return isinstance(mob, (Text, NumberText))


def _content(mob: Mobject) -> str:
    if isinstance(mob, NumberText):
        return mob.content
    return str(getattr(mob, "original_text", getattr(mob, "text", "")))


def _numeric(content: str) -> bool:
    stripped = content.strip().replace("−", "-").replace("+", "").replace("=", "").strip()
    try:
        float(stripped)
    except ValueError:
        return False
    return True


def _box(points: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = points.min(axis=0), points.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


@dataclass
class _TextUnit:
    mob: Mobject
    content: str
    glyphs: list[VMobject]
    boxes: np.ndarray  # (n, 4) per glyph: left, bottom, right, top
    box: tuple[float, float, float, float]
    first: int  # where its first glyph is drawn
    last: int
    colour: RGB
    opacity: float

    @property
    def numeric(self) -> bool:
        return _numeric(self.content)

    def label(self) -> str:
        shown = " ".join(self.content.split())
        return repr(shown if len(shown) <= 48 else shown[:45] + "...")


@dataclass
class _Filled:
    mob: Mobject
    order: int
    box: tuple[float, float, float, float]
    colour: RGB | None  # None for an image: its colour depends on the point
    opacity: float


def _contains(mob: Mobject, x: float, y: float) -> bool:
    """Whether (x, y) lies inside a filled VMobject's outline (even-odd, by its anchors)."""
    points = mob.points
    if len(points) < 4:
        return False
    anchors = points[:, :2]
    starts, ends = anchors[0::4], anchors[3::4]
    n = min(len(starts), len(ends))
    starts, ends = starts[:n], ends[:n]
    # Each cubic piece counts as the chord between its anchors.
    y0, y1 = starts[:, 1], ends[:, 1]
    crosses = (y0 > y) != (y1 > y)
    if not crosses.any():
        return False
    x0, x1 = starts[crosses, 0], ends[crosses, 0]
    yy0, yy1 = y0[crosses], y1[crosses]
    xs = x0 + (y - yy0) * (x1 - x0) / (yy1 - yy0)
    return bool(np.count_nonzero(xs > x) % 2)


def _image_colour(mob: ImageMobject, x: float, y: float) -> tuple[RGB, float]:
    left, bottom, right, top = _box(mob.points)
    pixels = mob.pixel_array
    h, w = pixels.shape[:2]
    u = (x - left) / max(right - left, 1e-9)
    v = (top - y) / max(top - bottom, 1e-9)
    col = min(max(int(u * w), 0), w - 1)
    row = min(max(int(v * h), 0), h - 1)
    pixel = pixels[row, col]
    if pixels.shape[2] < 4:
        alpha = 1.0
    else:
        alpha = float(pixel[3]) / 255.0
    rgb = (float(pixel[0]) / 255.0, float(pixel[1]) / 255.0, float(pixel[2]) / 255.0)
    return rgb, alpha


@dataclass
class FrameAudit:
    """Collects findings for one step's scene: call :meth:`look` at each moment."""

    frame: Frame
    background: str
    font: str
    findings: list[Finding] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def short_side(self) -> float:
        return min(self.frame.width, self.frame.height)

    def look(
        self, mobjects: list[Mobject], beat: int, phase: str, moment: str, seconds: float
    ) -> None:
        """Inspect the scene's mobjects as they are now."""
        order = extract_mobject_family_members(
            mobjects, use_z_index=True, only_those_with_points=True
        )
        position = {id(m): i for i, m in enumerate(order)}
        units = self._texts(mobjects, position)
        text_members = {id(g) for unit in units for g in unit.glyphs}
        filled = self._filled(order, text_members)

        def report(kind: str, message: str, same: str | None = None) -> None:
            key = (kind, message if same is None else same)
            self.counts[key] = self.counts.get(key, 0) + 1
            if key not in self.seen:
                self.seen.add(key)
                self.findings.append(Finding(kind, beat, phase, moment, seconds, message))

        visible = [u for u in units if u.opacity >= VISIBLE]
        for kind, message in self._overlaps(visible):
            report(kind, message)
        small: dict[float, list[_TextUnit]] = {}
        for unit in visible:
            problem = self._backdrop_problem(unit, filled, judge_contrast=moment == "end")
            if problem is not None:
                report(*problem)
            if moment == "end":
                size = self._too_small(unit)
                if size is not None:
                    small.setdefault(round(size, 1), []).append(unit)
        for size, found in sorted(small.items()):
            report("size", self._size_message(size, found), same=f"{size:.1f}")
        for mob in mobjects:
            if isinstance(mob, ValueTracker):
                continue
            if outside(mob, self.frame) and _drawn(mob):
                where = [round(float(v), 2) for v in mob.get_center()[:2]]
                report("outside", f"{type(mob).__name__} at {where} lies outside the frame")

    # --- gathering --------------------------------------------------------

    def _texts(self, mobjects: list[Mobject], position: dict[int, int]) -> list[_TextUnit]:
        units: list[_TextUnit] = []

        def walk(mob: Mobject) -> None:
            if _is_text(mob):
                glyphs = [
                    g
                    for g in mob.family_members_with_points()
                    if isinstance(g, VMobject) and id(g) in position
                ]
                if not glyphs:
                    return
                boxes = np.array([_box(g.points) for g in glyphs])
                opacities = [float(g.get_fill_opacity()) for g in glyphs]
                strongest = int(np.argmax(opacities))
                indices = [position[id(g)] for g in glyphs]
                units.append(
                    _TextUnit(
                        mob=mob,
                        content=_content(mob),
                        glyphs=glyphs,
                        boxes=boxes,
                        box=(
                            float(boxes[:, 0].min()),
                            float(boxes[:, 1].min()),
                            float(boxes[:, 2].max()),
                            float(boxes[:, 3].max()),
                        ),
                        first=min(indices),
                        last=max(indices),
                        colour=_rgb(glyphs[strongest].get_fill_color()),
                        opacity=opacities[strongest],
                    )
                )
                return
            for sub in mob.submobjects:
                walk(sub)

        for mob in mobjects:
            walk(mob)
        return units

    def _filled(self, order: list[Mobject], text_members: set[int]) -> list[_Filled]:
        filled: list[_Filled] = []
        for index, mob in enumerate(order):
            if id(mob) in text_members:
                continue
            if isinstance(mob, ImageMobject):
                filled.append(_Filled(mob, index, _box(mob.points), None, 1.0))
            elif isinstance(mob, VMobject):
                opacity = float(mob.get_fill_opacity())
                if opacity <= 0.0:
                    continue
                filled.append(
                    _Filled(mob, index, _box(mob.points), _rgb(mob.get_fill_color()), opacity)
                )
        return filled

    # --- checks -----------------------------------------------------------

    def _overlaps(self, units: list[_TextUnit]) -> list[tuple[str, str]]:
        if len(units) < 2:
            return []
        boxes = np.array([u.box for u in units])
        left, bottom, right, top = boxes.T
        hit = (
            (left[:, None] < right[None, :])
            & (left[None, :] < right[:, None])
            & (bottom[:, None] < top[None, :])
            & (bottom[None, :] < top[:, None])
        )
        found: list[tuple[str, str]] = []
        for i, j in zip(*np.nonzero(np.triu(hit, k=1)), strict=True):
            a, b = units[int(i)], units[int(j)]
            if not _glyphs_meet(a.boxes, b.boxes):
                continue
            if a.numeric and b.numeric:
                found.append(
                    ("numbers", f"two numbers drawn in one place: {a.label()} and {b.label()}")
                )
            else:
                found.append(("overlap", f"text {a.label()} overlaps text {b.label()}"))
        return found

    def _backdrop_problem(
        self, unit: _TextUnit, filled: list[_Filled], judge_contrast: bool
    ) -> tuple[str, str] | None:
        left, bottom, right, top = unit.box
        y = (bottom + top) / 2
        worst: tuple[float, RGB, RGB] | None = None
        for x in (left + (right - left) * share for share in (0.2, 0.5, 0.8)):
            under = _rgb(self.background)
            over: list[tuple[RGB, float, Mobject]] = []
            for item in filled:
                x0, y0, x1, y1 = item.box
                if not (x0 <= x <= x1 and y0 <= y <= y1):
                    continue
                if item.colour is None:
                    colour, alpha = _image_colour(item.mob, x, y)  # type: ignore[arg-type]
                elif _contains(item.mob, x, y):
                    colour, alpha = item.colour, item.opacity
                else:
                    continue
                if alpha <= 0.0:
                    continue
                if item.order < unit.first:
                    under = _blend(under, colour, alpha)
                elif item.order > unit.last:
                    over.append((colour, alpha, item.mob))
            seen_text = _blend(under, unit.colour, min(unit.opacity, 1.0))
            seen_under = under
            for colour, alpha, mob in over:
                if alpha >= COVERING:
                    return (
                        "covered",
                        f"text {unit.label()} is covered by a {type(mob).__name__} drawn over it",
                    )
                seen_text = _blend(seen_text, colour, alpha)
                seen_under = _blend(seen_under, colour, alpha)
            ratio = contrast_ratio(seen_text, seen_under)
            if worst is None or ratio < worst[0]:
                worst = (ratio, seen_text, seen_under)
        if not judge_contrast or worst is None or worst[0] >= MIN_CONTRAST:
            return None
        ratio, fg, bg = worst
        return (
            "contrast",
            f"text {unit.label()} has contrast {ratio:.2f}:1 ({hex_of(fg)} on {hex_of(bg)}), "
            f"needs {MIN_CONTRAST}:1",
        )

    def _too_small(self, unit: _TextUnit) -> float | None:
        """The text's font size as drawn, if its digits are too small to read."""
        size = float(getattr(unit.mob, "font_size", 0.0) or 0.0)
        if size <= 0 or not math.isfinite(size):
            return None
        share = size * digit_height_per_point(self.font) / self.short_side
        return size if share < MIN_DIGIT_SHARE - 1e-4 else None

    def _size_message(self, size: float, units: list[_TextUnit]) -> str:
        share = size * digit_height_per_point(self.font) / self.short_side
        names = ", ".join(unit.label() for unit in units[:3])
        more = f" and {len(units) - 3} more" if len(units) > 3 else ""
        return (
            f"text at font size {size:.1f} is too small ({names}{more}): digits "
            f"{share * 100:.1f} % of the frame's short side, needs {MIN_DIGIT_SHARE * 100:.0f} %"
        )


def _drawn(mob: Mobject) -> bool:
    """Whether any part of ``mob`` is drawn at all (not fully transparent)."""
    for member in mob.family_members_with_points():
        if isinstance(member, ImageMobject):
            return True
        if isinstance(member, VMobject) and (
            member.get_fill_opacity() > 0 or member.get_stroke_opacity() > 0
        ):
            return True
    return False


def _glyphs_meet(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a glyph box of ``a`` shares more than :data:`OVERLAP` of the smaller
    glyph's area with one of ``b``."""
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    shared = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    return bool(np.any(shared > OVERLAP * np.maximum(smaller, 1e-9)))


__all__ = ["Finding", "FrameAudit", "contrast_ratio", "relative_luminance"]
