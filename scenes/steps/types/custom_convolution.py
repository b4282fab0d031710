"""``custom_convolution``: a convolution of matrices typed into the lesson.

The classic example is a 5x5 binary image and the kernel
[[1,0,1],[0,1,0],[1,0,1]], giving a 3x3 feature map of integers. Each of the
first ``positions`` windows is written out as its products and their sum;
the rest of the output fills in quickly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
from manim import UP, FadeIn, FadeOut, Group, Square, VGroup
from pydantic import Field

from cnn_model import ops

from ...visuals.colors import diverging_t, hex_to_rgb, rgb_to_hex
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid, text_colour_on
from ...visuals.layout import Box, arrange_panels, fit
from ...visuals.numbers import fmt
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.common import title_for
from ..kit.registry import StepType, register
from .hyperparameters import MAX_PADDING, MAX_STRIDE, valid_strides

MAX_SIDE = 12
MAX_KERNEL = 7

Matrix = list[list[float]]


class CustomConvolutionSpec(StepSpec):
    type: Literal["custom_convolution"]
    input: Matrix = Field(..., description="The input as rows of numbers (at most 12x12).")
    kernel: Matrix = Field(..., description="The kernel as rows of numbers (at most 7x7).")
    stride: int = Field(1, ge=1, le=MAX_STRIDE, description="Step between window positions.")
    padding: int = Field(0, ge=0, le=MAX_PADDING, description="Rings of zeros around the input.")
    positions: int = Field(
        3, ge=0, le=200, description="Windows written out in full before the rest fill in."
    )


def _matrix_errors(name: str, matrix: Matrix, limit: int) -> list[tuple[FieldParts, str]]:
    if not matrix:
        return [((name,), "expected at least one row of numbers, got an empty list")]
    errors: list[tuple[FieldParts, str]] = []
    width = len(matrix[0])
    for i, row in enumerate(matrix):
        if len(row) != width:
            errors.append(
                (
                    (name, i),
                    f"expected {width} numbers like row 0 (rows must be "
                    f"equally long), got {len(row)}",
                )
            )
    if len(matrix) > limit or width > limit:
        errors.append(
            ((name,), f"expected at most {limit}x{limit} numbers, got {len(matrix)}x{width}")
        )
    if width == 0:
        errors.append(((name, 0), "expected at least one number in a row, got none"))
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if not np.isfinite(value) or abs(value) > 1e6:
                errors.append(((name, i, j), f"expected a finite number within ±1e6, got {value}"))
    return errors


def check(spec: CustomConvolutionSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    errors = _matrix_errors("input", spec.input, MAX_SIDE) + _matrix_errors(
        "kernel", spec.kernel, MAX_KERNEL
    )
    if errors:
        return errors
    h, w = len(spec.input), len(spec.input[0])
    kh, kw = len(spec.kernel), len(spec.kernel[0])
    p, s = spec.padding, spec.stride
    if kh > h + 2 * p or kw > w + 2 * p:
        return [
            (
                ("kernel",),
                f"expected a kernel no larger than the padded input "
                f"({h + 2 * p}x{w + 2 * p}), got {kh}x{kw}",
            )
        ]
    for axis, size, k in (("rows", h, kh), ("columns", w, kw)):
        span = size + 2 * p - k
        if span % s:
            strides = valid_strides(span)
            lower = [v for v in strides if v < s]
            upper = [v for v in strides if v > s]
            nearest = " or ".join(str(v) for v in lower[-1:] + upper[:1])
            return [
                (
                    ("stride",),
                    f"the kernel cannot slide symmetrically over the {axis}: "
                    f"{size} − {k} + 2·{p} = {span} is not divisible by stride "
                    f"{s}; nearest valid strides: {nearest}",
                )
            ]
    return []


def _decimals(*arrays: np.ndarray) -> int:
    return 0 if all(np.allclose(a, np.round(a)) for a in arrays) else 2


def build(spec: CustomConvolutionSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    values = np.array(spec.input, dtype=np.float64)
    kernel = np.array(spec.kernel, dtype=np.float64)
    p, s = spec.padding, spec.stride
    padded = ops.pad(values, p)
    result = ops.conv2d(values, kernel, s, p)
    kh, kw = kernel.shape
    out_h, out_w = result.shape
    digits = _decimals(values, kernel)
    title = title_for(ctx, "Convolution, step by step")
    yield Add([title])

    def colours(a: np.ndarray, span: float) -> np.ndarray:
        return theme.activation.rgb(diverging_t(a, span))

    in_span = 2 * max(float(np.abs(padded).max()), 1e-9) * 1.25
    in_texts = [
        [
            rec.number("custom.input", [i - p, j - p], float(padded[i, j]), digits, kind="input")
            if p <= i < p + values.shape[0] and p <= j < p + values.shape[1]
            else "0"
            for j in range(padded.shape[1])
        ]
        for i in range(padded.shape[0])
    ]
    in_rgb = colours(padded, in_span)
    cell = 0.62
    in_grid = NumberGrid(in_texts, in_rgb, cell, theme.font, NUMBER, theme.grid_line)
    for i in range(padded.shape[0]):
        for j in range(padded.shape[1]):
            if not (p <= i < p + values.shape[0] and p <= j < p + values.shape[1]):
                in_grid.squares[i * padded.shape[1] + j].set_fill(theme.empty_cell, 1)
    k_texts = rec.grid("custom.kernel", kernel, lambda i, j: (i, j), digits, kind="weight")
    k_grid = NumberGrid(
        k_texts,
        theme.weight.rgb(diverging_t(kernel, kernel_range(kernel))),
        cell,
        theme.font,
        NUMBER,
        theme.grid_line,
    )
    out_rgb = np.empty((out_h, out_w, 3), dtype=np.uint8)
    out_rgb[:] = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
    out_texts = [[" " for _ in range(out_w)] for _ in range(out_h)]
    out_grid = NumberGrid(out_texts, out_rgb, cell, theme.font, NUMBER, theme.grid_line)
    in_label = text(
        f"input {values.shape[0]}×{values.shape[1]}" + (f", padding {p}" if p else ""), theme, LABEL
    )
    k_label = text(f"kernel {kh}×{kw}", theme, LABEL)
    o_label = text(f"output {out_h}×{out_w}" + (f" (stride {s})" if s > 1 else ""), theme, LABEL)
    in_label.next_to(in_grid, UP, buff=0.15)
    k_label.next_to(k_grid, UP, buff=0.15)
    o_label.next_to(out_grid, UP, buff=0.15)
    panels = [Group(in_label, in_grid), Group(k_label, k_grid), Group(o_label, out_grid)]
    content = frame.content_box()
    sum_h = 1.0
    top = Box(content.left, content.bottom + sum_h, content.right, content.top)
    sum_box = Box(content.left, content.bottom, content.right, content.bottom + sum_h)
    arrange_panels(panels, frame, top, max_scale=1.5)
    scale = in_grid.squares[0].width / cell
    yield Beat([FadeIn(g) for g in panels], 1.0)

    window = (
        Square(1, stroke_color=theme.highlight, stroke_width=5)
        .stretch_to_fit_width(kw * cell * scale)
        .stretch_to_fit_height(kh * cell * scale)
    )

    def window_centre(y: int, x: int) -> np.ndarray:
        first = in_grid.squares[(y * s) * padded.shape[1] + x * s]
        last = in_grid.squares[(y * s + kh - 1) * padded.shape[1] + x * s + kw - 1]
        return (first.get_center() + last.get_center()) / 2

    window.move_to(window_centre(0, 0))
    target = Square(cell * scale, stroke_color=theme.highlight, stroke_width=5)
    target.move_to(out_grid.squares[0])
    yield Beat([FadeIn(window), FadeIn(target)], 0.5)
    out_span = 2 * max(float(np.abs(result).max()), 1e-9) * 1.25
    line: VGroup | None = None
    total = out_h * out_w
    for index in range(total):
        y, x = divmod(index, out_w)
        window_at = window_centre(y, x)
        square = out_grid.squares[index]
        detailed = index < spec.positions
        if index:
            yield Beat(
                [window.animate.move_to(window_at), target.animate.move_to(square)],
                0.5 if detailed else 0.15,
            )
        shown = rec.number("custom.output", [y, x], float(result[y, x]), digits, kind="output")
        rgb = colours(np.array([result[y, x]]), out_span)[0]
        value = number_text(shown, theme.font, NUMBER, text_colour_on(rgb)).scale(scale)
        if value.width > square.width * 0.9:
            value.scale_to_fit_width(square.width * 0.9)
        value.move_to(square)
        fill = rgb_to_hex(rgb)
        if detailed:
            window_values = padded[y * s : y * s + kh, x * s : x * s + kw]
            terms = [
                f"{fmt(a, digits)}×{fmt(b, digits)}"
                for a, b in zip(window_values.ravel(), kernel.ravel(), strict=True)
            ]
            new_line = number_text(" + ".join(terms) + f" = {shown}", theme.font, BODY, theme.text)
            fit(new_line, sum_box)
            if line is not None:
                yield Add([line], remove=True)
            yield Beat([FadeIn(new_line, shift=0.1 * UP)], 1.2)
            line = new_line
            yield Beat([square.animate.set_fill(fill, 1), FadeIn(value)], 0.6)
            yield Hold(0.6)
        else:
            if line is not None:
                yield Beat([FadeOut(line)], 0.3)
                line = None
            yield Beat([square.animate.set_fill(fill, 1), FadeIn(value)], 0.15)
    rec.facts.update(
        {
            "input_shape": list(values.shape),
            "kernel_shape": list(kernel.shape),
            "stride": s,
            "padding": p,
            "output_shape": [out_h, out_w],
        }
    )
    yield Beat([FadeOut(window), FadeOut(target)], 0.5)
    yield Hold(1.0)


def planned_seconds(spec: CustomConvolutionSpec) -> float:
    """Each window written out takes a couple of seconds at least."""
    return 2.0 * spec.positions


register(
    StepType(
        name="custom_convolution",
        planned_seconds=planned_seconds,
        spec=CustomConvolutionSpec,
        build=build,
        check=check,
        summary="A convolution of matrices written in the lesson, every window step by step.",
        needs_trace=False,
    )
)
