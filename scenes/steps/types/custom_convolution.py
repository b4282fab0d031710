"""``custom_convolution``: a convolution of matrices typed into the lesson.

The classic example is a 5x5 binary image and the kernel
[[1,0,1],[0,1,0],[1,0,1]], giving a 3x3 feature map of integers. Each of the
first ``positions`` windows is written out as its products and their sum;
the rest of the output fills in quickly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from manim import DOWN, RIGHT, UP, FadeIn, FadeOut, Group, Mobject, Square
from pydantic import Field

from cnn_model import ops
from cnn_model.sums import extremes
from cnn_model.trace import Trace

from ...i18n import _
from ...visuals.colors import diverging_t, hex_to_rgb, rgb_to_hex
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.layout import Box, Frame, arrange_panels, fit
from ...visuals.numbers import fmt
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.cells import cell_text_colour, readable
from ..kit.common import title_for
from ..kit.registry import Numbered, Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid
from .hyperparameters import MAX_PADDING, MAX_STRIDE, valid_strides

MAX_SIDE = 12
MAX_KERNEL = 7
CELL = 0.62  # side of a grid cell before the layout scales it
SUM_HEIGHT = 1.0  # of the band under the grids where a window's sum is written

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


@dataclass(frozen=True)
class Position:
    """One window position: where it is, its output and, when written out, its sum."""

    y: int
    x: int
    window: np.ndarray  # (kh, kw) values of the padded input under the kernel
    output: Shown
    line: str | None  # "a×b + ... = total" for the windows written out


@dataclass(frozen=True)
class CustomConvolutionPlan:
    """What the ``custom_convolution`` step shows (no Mobjects, no model)."""

    values: np.ndarray  # the input as typed
    kernel: np.ndarray
    padding: int
    stride: int
    padded: np.ndarray  # the input with its rings of zeros
    result: np.ndarray  # the output map
    input_texts: tuple[tuple[Shown | None, ...], ...]  # None: a padding zero
    kernel_texts: ShownGrid
    in_span: float  # full widths of the colour scales
    out_span: float
    kernel_span: float
    labels: tuple[str, str, str]  # input, kernel, output
    positions: tuple[Position, ...]  # in reading order
    top_box: Box  # the three grids
    sum_box: Box  # the sum written out under them
    facts: dict[str, Any]

    def is_padding(self, i: int, j: int) -> bool:
        p, (h, w) = self.padding, self.values.shape
        return not (p <= i < p + h and p <= j < p + w)


def _input_texts(values: np.ndarray, p: int, digits: int) -> tuple[tuple[Shown | None, ...], ...]:
    h, w = values.shape
    return tuple(
        tuple(
            shown("custom.input", (i - p, j - p), float(values[i - p, j - p]), digits, "input")
            if p <= i < p + h and p <= j < p + w
            else None
            for j in range(w + 2 * p)
        )
        for i in range(h + 2 * p)
    )


def _positions(
    spec: CustomConvolutionSpec,
    padded: np.ndarray,
    kernel: np.ndarray,
    result: np.ndarray,
    digits: int,
) -> tuple[Position, ...]:
    """Every window in reading order; the first ``spec.positions`` written out."""
    s = spec.stride
    kh, kw = kernel.shape
    out_h, out_w = result.shape
    positions = []
    for index in range(out_h * out_w):
        y, x = divmod(index, out_w)
        window = padded[y * s : y * s + kh, x * s : x * s + kw]
        output = shown("custom.output", (y, x), float(result[y, x]), digits, "output")
        line = None
        if index < spec.positions:
            terms = [
                f"{fmt(a, digits)}×{fmt(b, digits)}"
                for a, b in zip(window.ravel(), kernel.ravel(), strict=True)
            ]
            line = " + ".join(terms) + f" = {output.text}"
        positions.append(Position(y, x, window, output, line))
    return tuple(positions)


def _labels(
    shape: tuple[int, ...], kernel: tuple[int, ...], out: tuple[int, ...], padding: int, stride: int
) -> tuple[str, str, str]:
    """The captions of the input, kernel and output grids."""
    (h, w), (kh, kw), (out_h, out_w) = shape, kernel, out
    if padding:
        input_label = _("input {height}×{width}, padding {padding}").format(
            height=h, width=w, padding=padding
        )
    else:
        input_label = _("input {height}×{width}").format(height=h, width=w)
    if stride > 1:
        output_label = _("output {height}×{width} (stride {stride})").format(
            height=out_h, width=out_w, stride=stride
        )
    else:
        output_label = _("output {height}×{width}").format(height=out_h, width=out_w)
    kernel_label = _("kernel {height}×{width}").format(height=kh, width=kw)
    return input_label, kernel_label, output_label


def plan(spec: CustomConvolutionSpec, trace: Trace | None, frame: Frame) -> CustomConvolutionPlan:
    """The convolution of the typed matrices, every window and what is written."""
    values = np.array(spec.input, dtype=np.float64)
    kernel = np.array(spec.kernel, dtype=np.float64)
    p, s = spec.padding, spec.stride
    padded = ops.pad(values, p)
    result = ops.conv2d(values, kernel, s, p)
    out_h, out_w = result.shape
    digits = _decimals(values, kernel)
    content = frame.content_box()
    return CustomConvolutionPlan(
        values=values,
        kernel=kernel,
        padding=p,
        stride=s,
        padded=padded,
        result=result,
        input_texts=_input_texts(values, p, digits),
        kernel_texts=shown_grid("custom.kernel", kernel, lambda i, j: (i, j), digits, "weight"),
        in_span=2 * max(extremes(padded).peak, 1e-9) * 1.25,
        out_span=2 * max(extremes(result).peak, 1e-9) * 1.25,
        kernel_span=kernel_range(kernel),
        labels=_labels(values.shape, kernel.shape, result.shape, p, s),
        positions=_positions(spec, padded, kernel, result, digits),
        top_box=Box(content.left, content.bottom + SUM_HEIGHT, content.right, content.top),
        sum_box=Box(content.left, content.bottom, content.right, content.bottom + SUM_HEIGHT),
        facts={
            "input_shape": list(values.shape),
            "kernel_shape": list(kernel.shape),
            "stride": s,
            "padding": p,
            "output_shape": [out_h, out_w],
        },
    )


def build(spec: CustomConvolutionSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.trace, ctx.frame)
    title = title_for(ctx, _("Convolution, step by step"))
    yield Add([title])
    b = _Board(p, ctx)
    yield Phase("intro")
    yield Beat([FadeIn(g) for g in b.panels], 1.0)
    # Each window written out is a phase; the first filled in quickly starts the result.
    written = sum(position.line is not None for position in p.positions)
    line: Mobject | None = None
    for index, position in enumerate(p.positions):
        if index < written:
            yield Phase(f"window {index + 1}")
        elif index == written:
            yield Phase("result")
        square = b.out_grid.squares[index]
        detailed = position.line is not None
        if index == 0:
            yield Beat([FadeIn(b.window), FadeIn(b.target)], 0.5)
        else:
            yield Beat(
                [
                    b.window.animate.move_to(b.window_centre(position)),
                    b.target.animate.move_to(square),
                ],
                0.5 if detailed else 0.15,
            )
        value, fill = b.output_value(position, square)
        if position.line is not None:
            new_line = number_text(position.line, b.theme.font, BODY, b.theme.text)
            fit(new_line, p.sum_box)
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
    ctx.recorder.facts.update(p.facts)
    if written == len(p.positions):  # every window was written out
        yield Phase("result")
    yield Beat([FadeOut(b.window), FadeOut(b.target)], 0.5)
    yield Hold(1.0)


class _Board:
    """The input, kernel and output grids laid out, the window and its target."""

    def __init__(self, p: CustomConvolutionPlan, ctx: StepContext) -> None:
        theme, rec = ctx.theme, ctx.recorder
        self.p, self.theme, self.rec = p, theme, rec
        in_texts = [
            [number.record(rec) if number is not None else "0" for number in row]
            for row in p.input_texts
        ]
        in_rgb = self.colours(p.padded, p.in_span)
        self.in_grid = readable(
            NumberGrid(in_texts, in_rgb, CELL, theme.font, NUMBER, theme.grid_line), in_rgb
        )
        columns = p.padded.shape[1]
        for i in range(p.padded.shape[0]):
            for j in range(columns):
                if p.is_padding(i, j):
                    # The zeros around the input on empty cells, as muted as in
                    # the hyperparameters step (readable on them in every theme).
                    index = i * columns + j
                    self.in_grid.squares[index].set_fill(theme.empty_cell, 1)
                    self.in_grid.labels[index].set_color(theme.muted)
        k_rgb = theme.weight.rgb(diverging_t(p.kernel, p.kernel_span))
        k_texts = record_grid(rec, p.kernel_texts)
        k_grid = readable(
            NumberGrid(k_texts, k_rgb, CELL, theme.font, NUMBER, theme.grid_line), k_rgb
        )
        out_h, out_w = p.result.shape
        out_rgb = np.empty((out_h, out_w, 3), dtype=np.uint8)
        out_rgb[:] = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
        out_texts = [[" "] * out_w for _row in range(out_h)]
        self.out_grid = NumberGrid(out_texts, out_rgb, CELL, theme.font, NUMBER, theme.grid_line)
        grids = (self.in_grid, k_grid, self.out_grid)
        self.panels = []
        for label, grid in zip(p.labels, grids, strict=True):
            caption = text(label, theme, LABEL).next_to(grid, UP, buff=0.15)
            self.panels.append(Group(caption, grid))
        frame = ctx.frame
        if frame.landscape or frame.portrait:
            arrange_panels(self.panels, frame, p.top_box, max_scale=1.5)
        else:
            # Square: the input beside the kernel over the output (a row of three, or
            # two over one, leaves the grids too small to read).
            right = Group(self.panels[1], self.panels[2]).arrange(DOWN, buff=0.5)
            fit(Group(self.panels[0], right).arrange(RIGHT, buff=0.6), p.top_box, max_scale=1.5)
        self.scale = self.in_grid.squares[0].width / CELL
        kh, kw = p.kernel.shape
        self.window = (
            Square(1, stroke_color=theme.highlight, stroke_width=5)
            .stretch_to_fit_width(kw * CELL * self.scale)
            .stretch_to_fit_height(kh * CELL * self.scale)
        )
        self.window.move_to(self.window_centre(p.positions[0]))
        self.target = Square(CELL * self.scale, stroke_color=theme.highlight, stroke_width=5)
        self.target.move_to(self.out_grid.squares[0])

    def colours(self, a: np.ndarray, span: float) -> np.ndarray:
        return self.theme.activation.rgb(diverging_t(a, span))

    def window_centre(self, position: Position) -> np.ndarray:
        """The centre of the window's cells on the padded input."""
        s, columns = self.p.stride, self.p.padded.shape[1]
        kh, kw = self.p.kernel.shape
        top, left = position.y * s, position.x * s
        first = self.in_grid.squares[top * columns + left]
        last = self.in_grid.squares[(top + kh - 1) * columns + left + kw - 1]
        return (first.get_center() + last.get_center()) / 2

    def output_value(self, position: Position, square: Mobject) -> tuple[Mobject, str]:
        """The output's number in its cell (recorded), and the cell's new colour."""
        shown_text = position.output.record(self.rec)
        rgb = self.colours(np.array([position.output.value]), self.p.out_span)[0]
        value = number_text(shown_text, self.theme.font, NUMBER, cell_text_colour(rgb))
        value.scale(self.scale)
        if value.width > square.width * 0.9:
            value.scale_to_fit_width(square.width * 0.9)
        value.move_to(square)
        return value, rgb_to_hex(rgb)


def written_out(spec: CustomConvolutionSpec) -> int:
    """The windows written out in full: ``positions``, at most as many as the output has."""
    p, s = spec.padding, spec.stride
    sizes = [
        (len(spec.input), len(spec.kernel)),
        (len(spec.input[0]) if spec.input else 0, len(spec.kernel[0]) if spec.kernel else 0),
    ]
    cells = 1
    for size, k in sizes:
        cells *= max((size + 2 * p - k) // s + 1, 0)
    return min(spec.positions, cells)


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
        phases=Phases(
            (
                "intro",
                Numbered(
                    "window", count=written_out, counted_by="positions, at most the output's cells"
                ),
                "result",
            )
        ),
    )
)
