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
from typing import Literal

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
)
from pydantic import BaseModel, ConfigDict, Field

from cnn_model.ops import output_size

from ...visuals.glyphs import number_text
from ...visuals.layout import Box, fit
from ...visuals.numbers import fmt
from ...visuals.text import BODY, LABEL, text
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.common import title_for
from ..kit.registry import StepType, register

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


def build(spec: HyperparametersSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    title = title_for(ctx, "Hyperparameters: padding, kernel size and stride")
    yield Add([title])
    shown: list[Mobject] = []
    previous: Setting | None = None
    for number, setting in enumerate(_settings(spec)):
        if shown:
            yield Beat([FadeOut(m) for m in shown], 0.5)
        shown = []
        yield from _show_setting(number, setting, previous, spec, ctx, shown)
        previous = setting


def _show_setting(
    number: int,
    setting: Setting,
    previous: Setting | None,
    spec: HyperparametersSpec,
    ctx: StepContext,
    shown: list[Mobject],
) -> Iterator[Beat | Hold]:
    """Draw one setting, sweep its window, state its output size; fills ``shown``."""
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    content = frame.content_box()
    formula_h = 1.3
    grids_box = Box(content.left, content.bottom + formula_h, content.right, content.top)
    formula_box = Box(content.left, content.bottom, content.right, content.bottom + formula_h)
    w, k, p, s = setting.input_size, setting.kernel_size, setting.padding, setting.stride
    size = output_size(w, k, p, s)
    valid = float(size).is_integer()
    out_n = int(np.floor(size)) if size >= 1 else 0
    padded = w + 2 * p
    cell = 0.5
    # Input cells: a light tint of the theme's activation scale (padding stays neutral).
    inputs = _grid(padded, cell, theme.activation.hex(0.62), theme.grid_line)
    zeros = VGroup()
    for i in range(padded):
        for j in range(padded):
            square = inputs[i * padded + j]
            if min(i, j) < p or max(i, j) >= p + w:
                square.set_fill(theme.empty_cell, 1).set_stroke(theme.muted, 1.5)
                zeros.add(number_text("0", theme.font, 16, theme.muted).move_to(square))
    in_label = text(f"input {w}×{w}" + (f" + padding {p}" if p else ""), theme, LABEL)
    outputs = _grid(max(out_n, 1), cell, theme.empty_cell, theme.grid_line)
    if out_n == 0:
        outputs.set_opacity(0)
    out_label = text(
        f"output {out_n}×{out_n}" if valid else "output: not a whole grid", theme, LABEL
    )
    left = VGroup(inputs, zeros)
    in_label.next_to(left, UP, buff=0.2)
    out_label.next_to(outputs, UP, buff=0.2)
    panels = Group(Group(in_label, left), Group(out_label, outputs))
    panels.arrange(DOWN if frame.portrait else RIGHT, buff=0.6 if frame.portrait else 1.2)
    fit(panels, grids_box, max_scale=1.6)
    pitch = inputs[0].width  # one cell, as laid out
    corner = inputs[0].get_corner(UP + LEFT)
    window = Square(k * pitch, stroke_color=theme.highlight, stroke_width=5)

    def window_at(y: int, x: int) -> np.ndarray:
        return corner + np.array([(x * s + k / 2) * pitch, -(y * s + k / 2) * pitch, 0.0])

    window.move_to(window_at(0, 0))
    # The formula, with what changed since the previous setting highlighted.
    names = ("input_size", "kernel_size", "padding", "stride")
    colour = {
        n: theme.accent
        if previous is not None and getattr(previous, n) != getattr(setting, n)
        else theme.text
        for n in names
    }
    symbols = VGroup(
        *[
            number_text(f"{sym} = {getattr(setting, n)}", theme.font, BODY, colour[n])
            for sym, n in zip("WKPS", names, strict=True)
        ]
    ).arrange(RIGHT, buff=0.5)
    size_text = rec.number(
        "hyperparameters",
        [number],
        size,
        decimals=0 if valid else 2,
        kind="output_size",
        text=str(int(size)) if valid else fmt(size, 2),
    )
    line = number_text(
        f"output = (W − K + 2P) / S + 1 = ({w} − {k} + 2·{p}) / {s} + 1 = {size_text}",
        theme.font,
        BODY,
        theme.text,
    )
    verdict = text(
        "valid: the kernel slides evenly"
        if valid
        else f"invalid: {padded - k} cells of travel do not divide into steps of {s}; "
        "the kernel cannot slide symmetrically",
        theme,
        LABEL,
        theme.muted if valid else theme.highlight,
    )
    formula = VGroup(symbols, line, verdict).arrange(DOWN, buff=0.18)
    fit(formula, formula_box)
    rec.facts.setdefault("settings", []).append(
        {
            "input_size": w,
            "padding": p,
            "kernel_size": k,
            "stride": s,
            "output_size": size,
            "valid": valid,
        }
    )
    shown.extend([panels, formula, window])
    yield Beat([FadeIn(panels), FadeIn(symbols)], 0.8)
    yield Beat([FadeIn(line), FadeIn(window)], 0.8)
    positions = [(y, x) for y in range(out_n) for x in range(out_n)]
    step_time = float(np.clip(spec.seconds_per_setting / max(len(positions), 1), 0.05, 0.7))
    for y, x in positions:
        yield Beat(
            [
                window.animate.move_to(window_at(y, x)),
                outputs[y * out_n + x].animate.set_fill(theme.accent, 0.85),
            ],
            step_time,
        )
    if not valid:
        # Where the window would have to go next: over the edge.
        yield Beat([window.animate.move_to(window_at(0, out_n))], 0.8)
    yield Beat([FadeIn(verdict)], 0.6)
    yield Hold(1.2)


def planned_seconds(spec: HyperparametersSpec) -> float:
    """Every setting's window sweep takes about ``seconds_per_setting``."""
    return (1 + len(spec.compare)) * spec.seconds_per_setting


register(
    StepType(
        name="hyperparameters",
        planned_seconds=planned_seconds,
        spec=HyperparametersSpec,
        build=build,
        check=check,
        summary="Padding, kernel size and stride on a grid, and the output size they give.",
        needs_trace=False,
    )
)
