"""``hyperparameters``: input size, padding, kernel size and stride on a grid.

No model is needed: the input is drawn as W x W cells with P rings of zero
padding (drawn distinctly), the K x K window slides with stride S, each
position lights its output cell, and the output size is worked out as
(W - K + 2P) / S + 1 with the numbers substituted. ``compare:`` shows more
settings in sequence with the changed quantities highlighted. A setting the
kernel cannot slide over evenly is a validation error unless marked
``allow_invalid: true``, in which case the video shows why it is invalid.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    FadeIn,
    FadeOut,
    Group,
    Mobject,
    Square,
    VGroup,
    VMobject,
)
from pydantic import BaseModel, ConfigDict, Field

from cnn_model.ops import output_size
from cnn_model.trace import Trace

from ...i18n import _, ngettext
from ...visuals.glyphs import number_text
from ...visuals.layout import Box, Frame, fit
from ...visuals.numbers import fmt
from ...visuals.text import BODY, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.common import title_for
from ..kit.registry import Numbered, Phases, StepType, register
from ..kit.shown import Shown
from ..kit.wrap import wrapped

MAX_INPUT = 16
MAX_PADDING = 4
MAX_KERNEL = 9
MAX_STRIDE = 8


class Setting(BaseModel):
    """One combination of the four hyperparameters."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    input_size: int = Field(5, ge=1, le=MAX_INPUT, description="Width W of the square input.")
    padding: int = Field(0, ge=0, le=MAX_PADDING, description="Rings of zeros P around it.")
    kernel_size: int = Field(3, ge=1, le=MAX_KERNEL, description="Width K of the square kernel.")
    stride: int = Field(1, ge=1, le=MAX_STRIDE, description="Step S between window positions.")
    allow_invalid: bool = Field(
        False, description="Show this setting even if the kernel cannot slide evenly, as invalid."
    )


class HyperparametersSpec(StepSpec, Setting):
    type: Literal["hyperparameters"]
    compare: list[Setting] = Field(
        default_factory=list,
        max_length=6,
        description="More settings shown after the first, to compare what changes.",
    )
    seconds_per_setting: float = Field(
        6.0, ge=2.0, le=30.0, description="About how long the window sweep of one setting takes."
    )


def valid_strides(span: int) -> list[int]:
    """Strides the kernel can slide with over a span of W - K + 2P cells."""
    return [s for s in range(1, MAX_STRIDE + 1) if span % s == 0] if span > 0 else [1]


def setting_errors(setting: Setting) -> list[tuple[FieldParts, str]]:
    """Cross-field problems of one setting, as (field, message)."""
    w, k, p, s = setting.input_size, setting.kernel_size, setting.padding, setting.stride
    padded = w + 2 * p
    if k > padded:
        return [
            (
                ("kernel_size",),
                f"expected a kernel no larger than the padded input "
                f"(W + 2P = {w} + 2·{p} = {padded}), got {k}",
            )
        ]
    span = padded - k
    if span % s and not setting.allow_invalid:
        strides = valid_strides(span)
        lower = [v for v in strides if v < s]
        upper = [v for v in strides if v > s]
        nearest = [str(v) for v in (lower[-1:] + upper[:1])]
        return [
            (
                ("stride",),
                f"the kernel cannot slide symmetrically: W − K + 2P = {w} − {k} + "
                f"2·{p} = {span} is not divisible by stride {s}; nearest valid "
                f"strides: {' or '.join(nearest)} (or set allow_invalid: true "
                f"to show it as invalid)",
            )
        ]
    return []


def check(spec: HyperparametersSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    errors = setting_errors(spec)
    for i, setting in enumerate(spec.compare):
        errors += [(("compare", i, *parts), message) for parts, message in setting_errors(setting)]
    return errors


def _settings(spec: HyperparametersSpec) -> list[Setting]:
    first = Setting(
        input_size=spec.input_size,
        padding=spec.padding,
        kernel_size=spec.kernel_size,
        stride=spec.stride,
        allow_invalid=spec.allow_invalid,
    )
    return [first, *spec.compare]


SYMBOLS = (("W", "input_size"), ("K", "kernel_size"), ("P", "padding"), ("S", "stride"))
FORMULA_HEIGHT = 1.3  # of the formula's band under the grids
# In a tall or square frame the formula takes two lines and the verdict may too.
NARROW_FORMULA_HEIGHT = 2.1
MAX_LABEL_SCALE = 1.2  # grids may grow more than this; their captions do not
CELL = 0.5  # side of a cell before the layout scales it


@dataclass(frozen=True)
class SettingPlan:
    """One setting as the step shows it: sizes, the windows it slides and its texts."""

    number: int
    setting: Setting
    size: float  # (W − K + 2P) / S + 1
    valid: bool  # the kernel slides evenly: the size is a whole number
    out_n: int  # output cells per side (the whole steps the kernel takes, + 1)
    padded: int  # W + 2P
    # Top-left cell of each window on the padded input, in the order they are swept.
    windows: tuple[tuple[int, int], ...]
    overhang: tuple[int, int] | None  # where an invalid setting's next window would be
    size_shown: Shown
    changed: frozenset[str]  # fields that differ from the previous setting
    symbols: tuple[str, ...]  # "W = 5", "K = 3", ...
    in_label: str
    out_label: str
    formula: str
    verdict: str
    step_time: float  # seconds per window of the sweep
    fact: dict[str, Any]

    def is_padding(self, i: int, j: int) -> bool:
        """Whether cell (i, j) of the padded input is one of the zeros around it."""
        p, w = self.setting.padding, self.setting.input_size
        return min(i, j) < p or max(i, j) >= p + w


@dataclass(frozen=True)
class HyperparametersPlan:
    """What the ``hyperparameters`` step shows, setting after setting (no Mobjects)."""

    title: str
    settings: tuple[SettingPlan, ...]
    grids_box: Box  # where the input and output grids go
    formula_box: Box  # the formula, its numbers and the verdict


def plan_setting(
    number: int, setting: Setting, previous: Setting | None, seconds: float
) -> SettingPlan:
    """Sizes, windows and texts of one setting (``previous``: the one shown before)."""
    w, k, p, s = setting.input_size, setting.kernel_size, setting.padding, setting.stride
    size = output_size(w, k, p, s)
    valid = float(size).is_integer()
    out_n = int(np.floor(size)) if size >= 1 else 0
    padded = w + 2 * p
    windows = tuple((y * s, x * s) for y in range(out_n) for x in range(out_n))
    text = str(int(size)) if valid else fmt(size, 2)
    size_shown = Shown("hyperparameters", (number,), float(size), text, "output_size")
    changed = frozenset(
        name
        for _symbol, name in SYMBOLS
        if previous is not None and getattr(previous, name) != getattr(setting, name)
    )
    travel = padded - k
    verdict = (
        _("valid: the kernel slides evenly")
        if valid
        else ngettext(
            "invalid: {travel} cell of travel does not divide into steps of {stride}; "
            "the kernel cannot slide symmetrically",
            "invalid: {travel} cells of travel do not divide into steps of {stride}; "
            "the kernel cannot slide symmetrically",
            travel,
        ).format(travel=travel, stride=s)
    )
    if p:
        in_label = _("input {height}×{width} + padding {padding}").format(
            height=w, width=w, padding=p
        )
    else:
        in_label = _("input {height}×{width}").format(height=w, width=w)
    if valid:
        out_label = _("output {height}×{width}").format(height=out_n, width=out_n)
    else:
        out_label = _("output: not a whole grid")
    return SettingPlan(
        number=number,
        setting=setting,
        size=size,
        valid=valid,
        out_n=out_n,
        padded=padded,
        windows=windows,
        overhang=None if valid else (0, out_n * s),
        size_shown=size_shown,
        changed=changed,
        symbols=tuple(f"{sym} = {getattr(setting, name)}" for sym, name in SYMBOLS),
        in_label=in_label,
        out_label=out_label,
        # Translators: W, K, P and S are the input size, kernel size, padding and stride.
        formula=_("output = (W − K + 2P) / S + 1 = ({w} − {k} + 2·{p}) / {s} + 1 = {size}").format(
            w=w, k=k, p=p, s=s, size=text
        ),
        verdict=verdict,
        step_time=float(np.clip(seconds / max(len(windows), 1), 0.05, 0.7)),
        fact={
            "input_size": w,
            "padding": p,
            "kernel_size": k,
            "stride": s,
            "output_size": size,
            "valid": valid,
        },
    )


def plan(spec: HyperparametersSpec, trace: Trace | None, frame: Frame) -> HyperparametersPlan:
    """Every setting of the step, worked out; builds no Mobject (no model needed)."""
    content = frame.content_box()
    band = FORMULA_HEIGHT if frame.landscape else NARROW_FORMULA_HEIGHT
    settings = _settings(spec)
    planned = tuple(
        plan_setting(
            number, setting, settings[number - 1] if number else None, spec.seconds_per_setting
        )
        for number, setting in enumerate(settings)
    )
    return HyperparametersPlan(
        title=_("Hyperparameters: padding, kernel size and stride"),
        settings=planned,
        grids_box=Box(content.left, content.bottom + band, content.right, content.top),
        formula_box=Box(content.left, content.bottom, content.right, content.bottom + band),
    )


def _grid(n: int, cell: float, fill: str, stroke: str) -> VGroup:
    cells = VGroup(
        *[
            Square(cell, stroke_color=stroke, stroke_width=1.5)
            .set_fill(fill, 1)
            .move_to(np.array([j * cell, -i * cell, 0.0]))
            for i in range(n)
            for j in range(n)
        ]
    )
    return cells


def build(spec: HyperparametersSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.trace, ctx.frame)
    title = title_for(ctx, p.title)
    yield Add([title])
    shown: list[Mobject] = []
    for sp in p.settings:
        if shown:
            yield Beat([FadeOut(m) for m in shown], 0.5)
        # A setting's phase starts with its grids: the end of the last one is held
        # (while its words are said) with that setting still on screen.
        yield Phase(f"setting {sp.number + 1}")
        board = _SettingBoard(sp, p, ctx)
        shown = [board.panels, board.formula, board.window]
        yield from board.beats()


class _SettingBoard:
    """One setting's grids, window and formula, laid out in the frame."""

    def __init__(self, sp: SettingPlan, p: HyperparametersPlan, ctx: StepContext) -> None:
        theme, frame = ctx.theme, ctx.frame
        self.sp, self.theme = sp, theme
        # Input cells: a light tint of the theme's activation scale (padding stays neutral).
        inputs = _grid(sp.padded, CELL, theme.activation.hex(0.62), theme.grid_line)
        zeros = VGroup()
        for i in range(sp.padded):
            for j in range(sp.padded):
                if sp.is_padding(i, j):
                    square = inputs[i * sp.padded + j]
                    square.set_fill(theme.empty_cell, 1).set_stroke(theme.muted, 1.5)
                    zeros.add(number_text("0", theme.font, NUMBER, theme.muted).move_to(square))
        in_label = text(sp.in_label, theme, LABEL)
        self.outputs = _grid(max(sp.out_n, 1), CELL, theme.empty_cell, theme.grid_line)
        if sp.out_n == 0:
            self.outputs.set_opacity(0)
        out_label = text(sp.out_label, theme, LABEL)
        left = VGroup(inputs, zeros)
        in_label.next_to(left, UP, buff=0.2)
        out_label.next_to(self.outputs, UP, buff=0.2)
        self.panels = Group(Group(in_label, left), Group(out_label, self.outputs))
        self.panels.arrange(DOWN if frame.portrait else RIGHT, buff=0.6 if frame.portrait else 1.2)
        fit(self.panels, p.grids_box, max_scale=1.6)
        for label in (in_label, out_label):  # large grids, captions of a usual size
            grown = label.font_size / LABEL
            if grown > MAX_LABEL_SCALE:
                label.scale(MAX_LABEL_SCALE / grown, about_edge=DOWN)
        self.pitch = inputs[0].width  # one cell, as laid out
        self.corner = inputs[0].get_corner(UP + LEFT)
        k = sp.setting.kernel_size
        self.window = Square(k * self.pitch, stroke_color=theme.highlight, stroke_width=5)
        self.window.move_to(self.window_at(0, 0))
        # The formula, with what changed since the previous setting highlighted.
        self.symbols = VGroup(
            *[
                number_text(
                    symbol,
                    theme.font,
                    BODY,
                    theme.accent if name in sp.changed else theme.text,
                )
                for symbol, (_symbol, name) in zip(sp.symbols, SYMBOLS, strict=True)
            ]
        ).arrange(RIGHT, buff=0.5)
        sp.size_shown.record(ctx.recorder)
        box = p.formula_box
        # The formula in one line where it fits, else its worked numbers on a second.
        line: VMobject = number_text(sp.formula, theme.font, BODY, theme.text)
        if line.width > box.width:
            line = VGroup(
                *[number_text(part, theme.font, BODY, theme.text) for part in _halves(sp.formula)]
            ).arrange(DOWN, buff=0.1)
        self.line = line
        # An invalid setting's reason in the theme's accent: its highlight (the window's
        # outline) is too light for text on a light background.
        colour = theme.muted if sp.valid else theme.accent
        self.verdict = wrapped(sp.verdict, theme, LABEL, box.width, colour)
        self.formula = VGroup(self.symbols, self.line, self.verdict).arrange(DOWN, buff=0.18)
        fit(self.formula, box)
        ctx.recorder.facts.setdefault("settings", []).append(sp.fact)

    def window_at(self, top: int, left: int) -> np.ndarray:
        """The centre of the window whose top-left cell is (top, left)."""
        half = self.sp.setting.kernel_size / 2
        return self.corner + np.array([(left + half) * self.pitch, -(top + half) * self.pitch, 0.0])

    def beats(self) -> Iterator[Beat | Hold]:
        """The grids appear, the window sweeps lighting output cells, the verdict."""
        sp = self.sp
        yield Beat([FadeIn(self.panels), FadeIn(self.symbols)], 0.8)
        yield Beat([FadeIn(self.line), FadeIn(self.window)], 0.8)
        for index, corner in enumerate(sp.windows):
            yield Beat(
                [
                    self.window.animate.move_to(self.window_at(*corner)),
                    self.outputs[index].animate.set_fill(self.theme.accent, 0.85),
                ],
                sp.step_time,
            )
        if sp.overhang is not None:
            # Where the window would have to go next: over the edge.
            yield Beat([self.window.animate.move_to(self.window_at(*sp.overhang))], 0.8)
        yield Beat([FadeIn(self.verdict)], 0.6)
        yield Hold(1.2)


def _halves(formula: str) -> list[str]:
    """ "output = (W − K + 2P) / S + 1 = (5 − 3 + 2·1) / 1 + 1 = 5" as its first
    equation and, on a line of its own, the rest ("= (5 − 3 + 2·1) / 1 + 1 = 5")."""
    parts = formula.split(" = ")
    if len(parts) < 3:
        return [formula]
    return [" = ".join(parts[:2]), "= " + " = ".join(parts[2:])]


def settings_shown(spec: HyperparametersSpec) -> int:
    """The step's settings: its own, then those it is compared with."""
    return 1 + len(spec.compare)


def planned_seconds(spec: HyperparametersSpec) -> float:
    """Every setting's window sweep takes about ``seconds_per_setting``."""
    return settings_shown(spec) * spec.seconds_per_setting


register(
    StepType(
        name="hyperparameters",
        planned_seconds=planned_seconds,
        spec=HyperparametersSpec,
        build=build,
        check=check,
        summary="Padding, kernel size and stride on a grid, and the output size they give.",
        needs_trace=False,
        phases=Phases((Numbered("setting", count=settings_shown, counted_by="1 + compare"),)),
    )
)
