"""``convolution``: one input channel, one kernel, the dot products written out.

The window slides over the input map; for the first ``positions`` windows the
nine input values, the nine weights and their products are shown with the
real numbers, their sum is completed with the other input channels and the
bias, and the total lands in its cell of the output map. The rest of the map
then fills in within a few seconds.
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
    Line,
    Mobject,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    linear,
)
from pydantic import Field

from cnn_model.sums import extremes, other_channels_sum
from cnn_model.tinyvgg import PREVIOUS
from cnn_model.trace import ConvExplanation, Trace

from ...i18n import _, integer, ngettext
from ...visuals.colors import diverging_t, hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.layout import Frame, arrange_panels
from ...visuals.numbers import term
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import channel_in, layer_of_kind, neuron_of
from ..kit.common import MapColours, channel_name, colour_name, intro, map_panel, title_for
from ..kit.neuron import NeuronField
from ..kit.registry import Numbered, Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid

# After the explained windows, this many more are shown quickly with numbers
# before the sweep fills in the rest of the map.
QUICK_POSITIONS = 8
CELL = 0.72  # side of a grid cell before the layout scales it


class ConvolutionSpec(StepSpec):
    type: Literal["convolution"]
    layer: str = Field("conv_1_1", description="A convolution layer of the lesson's model.")
    neuron_field = NeuronField()

    neuron: int = Field(
        0,
        ge=0,
        description="Output channel (neuron) of the layer, from 0; default: the lesson's "
        "focus, else 0.",
    )
    channel: int = Field(0, ge=0, description="Input channel shown in detail, from 0.")
    positions: int = Field(
        3, ge=0, le=40, description="Window positions explained in full before the sweep."
    )
    sweep_seconds: float = Field(
        4.0, ge=1.0, le=30.0, description="How long the fast sweep over the rest of the map takes."
    )


def check(spec: ConvolutionSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """Cross-field rules: a conv layer, a neuron and an input channel it has."""
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("conv",))
    errors += neuron_of(info, layer, spec.layer, ("conv",), spec.neuron)
    if layer is None:
        return errors
    source = PREVIOUS[spec.layer]
    inputs = info.layers[source].shape[0]
    errors += channel_in(
        inputs,
        spec.channel,
        "channel",
        "an input channel",
        f"{spec.layer} reads {inputs} channels from {source}",
    )
    h, w = layer.shape[1:]
    if spec.positions > h * w:
        errors.append(
            (
                ("positions",),
                f"expected at most {h * w} positions ({spec.layer} "
                f"is {h}×{w}), got {spec.positions}",
            )
        )
    return errors


@dataclass(frozen=True)
class WindowPlan:
    """One window position written out: the window, the products and their sums."""

    y: int
    x: int
    window: np.ndarray  # (k, k) input values of the shown channel under the kernel
    window_texts: ShownGrid
    products: np.ndarray  # (k, k) window x kernel
    product_texts: ShownGrid
    product_span: float  # full width of the products' colour scale
    # The shown channel's sum, the other channels (each, or together), the bias and
    # the output, in the order they are written.
    sums: tuple[Shown, ...]
    lines: tuple[str, str, str]


@dataclass(frozen=True)
class ConvolutionPlan:
    """What the ``convolution`` step shows, chosen from the trace (no Mobjects)."""

    layer: str
    input_layer: str
    neuron: int
    channel: int
    out_values: np.ndarray  # (H, W) the neuron's activation map
    kernel: np.ndarray  # (k, k) weights for the shown channel
    kernel_texts: ShownGrid
    kernel_span: float  # full width of the weights' colour scale
    windows: tuple[WindowPlan, ...]  # in reading order from (0, 0)
    slow: int  # the first ``slow`` windows are explained slowly, the rest quickly
    sweep_seconds: float
    title: str
    window_label: str
    out_label: str
    rest_note: str | None  # the sweep's note, None when every position was written out
    done_note: str
    facts: dict[str, Any]

    @property
    def kernel_size(self) -> int:
        return int(self.kernel.shape[0])

    @property
    def out_shape(self) -> tuple[int, int]:
        h, w = self.out_values.shape
        return int(h), int(w)

    @property
    def total_positions(self) -> int:
        h, w = self.out_shape
        return h * w


def _signed(name: str, text: str) -> str:
    """'+ bias 0.0512' or '− bias 0.0512' from the shown text."""
    sign, size = term(text)
    return f"{sign} {name} {size}"


def _others(exp: ConvExplanation, channel: int) -> tuple[tuple[str, Shown], ...]:
    """The other channels' sums as written after the shown one: each by name
    ('+ green 0.12 − blue 0.05') when there are two at most, else together
    ('+ 9 other channels 1.23')."""
    others = [t for t in exp.terms if t.channel != channel]
    if len(others) <= 2:
        return tuple(
            (
                colour_name(t.channel)
                if exp.input_layer == "input"
                else channel_name(exp.input_layer, t.channel),
                shown(
                    exp.layer, (exp.out_channel, t.channel, exp.y, exp.x), t.sum, kind="channel_sum"
                ),
            )
            for t in others
        )
    rest = other_channels_sum(exp, channel)
    number = shown(exp.layer, (exp.out_channel, exp.y, exp.x), rest, kind="other_channels_sum")
    count = len(others)
    name = ngettext("{count} other channel", "{count} other channels", count)
    return ((name.format(count=integer(count)), number),)


def plan_window(trace: Trace, layer: str, neuron: int, channel: int, y: int, x: int) -> WindowPlan:
    """The window at output ``(y, x)`` written out for input ``channel``."""
    exp = trace.explain_conv(layer, neuron, y, x)
    part = exp.terms[channel]
    k = part.kernel.shape[0]
    window_texts = shown_grid(exp.input_layer, part.window, lambda i, j: (channel, y + i, x + j))
    product_texts = shown_grid(
        layer, part.products, lambda i, j: (neuron, channel, y, x, i, j), kind="product"
    )
    partial = shown(layer, (neuron, channel, y, x), part.sum, kind="channel_sum")
    others = _others(exp, channel)
    bias = shown(layer, (neuron,), exp.bias, decimals=4, kind="bias")
    # The result is the model's own activation (float32), as the output map shows it.
    total = shown(layer, (neuron, y, x), float(trace.activations[layer][neuron, y, x]))
    others_text = " ".join(_signed(name, number.text) for name, number in others)
    lines = (
        _("sum of the {count} products = {sum}").format(count=k * k, sum=partial.text),
        " ".join(p for p in (partial.text, others_text, _signed(_("bias"), bias.text)) if p),
        f"= {total.text}",
    )
    span = 2 * max(extremes(part.products).peak, 1e-6)
    sums = (partial, *(number for _name, number in others), bias, total)
    return WindowPlan(
        y, x, part.window, window_texts, part.products, product_texts, span, sums, lines
    )


def _rest_note(rest: int) -> str:
    """The sweep's note: "… and the other 3,836 positions"."""
    note = ngettext("… and the other {count} position", "… and the other {count} positions", rest)
    return note.format(count=integer(rest))


def plan(spec: ConvolutionSpec, trace: Trace, frame: Frame) -> ConvolutionPlan:
    """Choose the windows to write out and everything they show; builds no Mobject.

    (Nothing here depends on ``frame``: the panels are laid out by their size.)
    """
    layer, neuron, channel = spec.layer, spec.neuron, spec.channel
    input_layer = PREVIOUS[layer]
    out_values = trace.activations[layer][neuron]
    out_h, out_w = out_values.shape
    total = out_h * out_w
    kernel = trace.weights[layer][neuron, channel]
    kernel_texts = shown_grid(layer, kernel, lambda i, j: (neuron, channel, i, j), kind="weight")
    slow = min(spec.positions, total)
    count = slow + min(QUICK_POSITIONS, total - slow)
    windows = tuple(
        plan_window(trace, layer, neuron, channel, *divmod(index, out_w)) for index in range(count)
    )
    return ConvolutionPlan(
        layer=layer,
        input_layer=input_layer,
        neuron=neuron,
        channel=channel,
        out_values=out_values,
        kernel=kernel,
        kernel_texts=kernel_texts,
        kernel_span=kernel_range(kernel),
        windows=windows,
        slow=slow,
        sweep_seconds=spec.sweep_seconds,
        title=_("Convolution: {layer}, neuron {neuron}").format(layer=layer, neuron=neuron),
        window_label=_("window ({channel})").format(channel=channel_name(input_layer, channel)),
        out_label=_("{layer} · neuron {neuron} ({height}×{width})").format(
            layer=layer, neuron=neuron, height=out_h, width=out_w
        ),
        rest_note=_rest_note(total - count) if count < total else None,
        done_note=_("{height}×{width} = {count} windows, one value each").format(
            height=out_h, width=out_w, count=integer(total)
        ),
        facts={
            "layer": layer,
            "neuron": neuron,
            "channel": channel,
            "input_layer": input_layer,
            "positions_explained": spec.positions,
        },
    )


class _Board:
    """The step's Mobjects, laid out around the first window, and how they move."""

    def __init__(self, p: ConvolutionPlan, trace: Trace, ctx: StepContext) -> None:
        theme, rec = ctx.theme, ctx.recorder
        self.p, self.theme, self.rec = p, theme, rec
        self.in_colours = MapColours(trace, p.input_layer, theme, ctx.colour_range)
        out_colours = MapColours(trace, p.layer, theme, ctx.colour_range)
        self.title = title_for(ctx, p.title)
        self.in_panel, self.in_map = map_panel(
            trace, p.input_layer, p.channel, self.in_colours, theme, rec
        )
        self.out_panel, self.out_map = map_panel(
            trace, p.layer, p.neuron, out_colours, theme, rec, blank=True, label=p.out_label
        )
        # The kernel never changes: record and draw it once.
        kernel_rgb = theme.weight.rgb(diverging_t(p.kernel, p.kernel_span))
        self.kernel = self._grid(record_grid(rec, p.kernel_texts), kernel_rgb)
        first = p.windows[0]
        self.win, self.prod, self.sums = (
            self.window_grid(first),
            self.product_grid(first),
            self.sum_lines(first),
        )
        self._lay_out(ctx)
        k = p.kernel_size
        self.scale = self.win.width / (CELL * k)  # new grids and sums are drawn at this scale
        # The output map shows the first ``done`` positions; it is repainted only
        # in the beats that change ``done``, so it stays static (cheap) otherwise.
        self.done = ValueTracker(0)
        self.out_full = out_colours.rgb(p.out_values).reshape(-1, 3)
        self.empty_rgb = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
        self.window = self.in_map.window(0, 0, k, k, theme.highlight)
        self.target = self.out_map.window(0, 0, 1, 1, theme.highlight, stroke=2.5)
        self.links = self.link_lines()

    def _lay_out(self, ctx: StepContext) -> None:
        theme = self.theme
        self.times = text("×", theme, 30)
        self.equals = text("=", theme, 30)
        self.win_label = text(self.p.window_label, theme, LABEL, theme.muted)
        self.ker_label = text(_("kernel (weights)"), theme, LABEL, theme.muted)
        self.prod_label = text(_("products"), theme, LABEL, theme.muted)
        row1 = Group(self.win, self.times, self.kernel).arrange(RIGHT, buff=0.25)
        self.win_label.next_to(self.win, UP, buff=0.12)
        self.ker_label.next_to(self.kernel, UP, buff=0.12)
        self.prod.next_to(row1, DOWN, buff=0.75)
        self.equals.next_to(self.prod, LEFT, buff=0.25)
        self.prod_label.next_to(self.prod, UP, buff=0.12)
        self.sums.next_to(self.prod, DOWN, buff=0.3)
        detail = Group(
            row1, self.win_label, self.ker_label, self.equals, self.prod, self.prod_label, self.sums
        )
        arrange_panels([self.in_panel, detail, self.out_panel], ctx.frame, ctx.frame.content_box())

    def _grid(self, texts: list[list[str]], rgb: np.ndarray) -> NumberGrid:
        theme = self.theme
        return NumberGrid(texts, rgb, CELL, theme.font, NUMBER, theme.grid_line)

    def window_grid(self, w: WindowPlan) -> NumberGrid:
        return self._grid(record_grid(self.rec, w.window_texts), self.in_colours.rgb(w.window))

    def product_grid(self, w: WindowPlan) -> NumberGrid:
        rgb = self.theme.activation.rgb(diverging_t(w.products, w.product_span))
        return self._grid(record_grid(self.rec, w.product_texts), rgb)

    def sum_lines(self, w: WindowPlan) -> VGroup:
        for number in w.sums:
            number.record(self.rec)
        theme = self.theme
        group = VGroup(*[number_text(line, theme.font, BODY, theme.text) for line in w.lines])
        group.arrange(DOWN, aligned_edge=LEFT, buff=0.16)
        group[-1].set_color(theme.accent)
        return group

    def paint(self, _mob: object) -> None:
        total = self.p.total_positions
        n = int(np.clip(np.floor(self.done.get_value() + 1e-6), 0, total))
        rgb = np.empty_like(self.out_full)
        rgb[:] = self.empty_rgb
        rgb[:n] = self.out_full[:n]
        self.out_map.set_pixels(rgb.reshape(*self.p.out_shape, 3))

    def link_lines(self) -> VGroup:
        """Two lines from the window on the input map to the window's grid."""
        return VGroup(
            *[
                Line(
                    self.window.get_corner(side + RIGHT),
                    self.win.get_corner(side + LEFT),
                    stroke_width=1.2,
                    color=self.theme.muted,
                )
                for side in (UP, DOWN)
            ]
        )

    def relink(self, mob: Mobject) -> None:
        mob.become(self.link_lines())

    def place(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Where the window (on the input) and the target (on the output) go."""
        y, x = divmod(index, self.p.out_shape[1])
        half = self.p.kernel_size / 2
        return self.in_map.cell_corner(y + half, x + half), self.out_map.cell_center(y, x)


def build(spec: ConvolutionSpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    p = plan(spec, trace, ctx.frame)
    b = _Board(p, trace, ctx)
    ctx.recorder.facts.update(p.facts)
    yield Add([b.title])
    yield Phase("intro")
    yield intro(
        [
            b.in_panel,
            b.times,
            b.kernel,
            b.win_label,
            b.ker_label,
            b.equals,
            b.prod_label,
            b.out_panel,
        ],
        1.0,
    )
    # Each window explained slowly is a phase; the quick ones start the sweep.
    for index, window in enumerate(p.windows):
        if index < p.slow:
            yield Phase(f"window {index + 1}")
        elif index == p.slow:
            yield Phase("sweep")
        if index == 0:
            yield Beat([FadeIn(b.window), FadeIn(b.target), FadeIn(b.links)], 0.6)
        yield from _explain(b, index, window, slow=index < p.slow)
    if p.rest_note is not None:
        yield from _sweep(b, p.rest_note)  # its last beat starts the result
    elif p.slow < len(p.windows):
        yield Phase("result")
    else:  # a map so small that every window was explained: the window's exit is the sweep
        yield Phase("sweep")
        yield Beat([FadeOut(b.window), FadeOut(b.target)], 0.5)
        yield Phase("result")
        yield Hold(1.0)
        return
    yield Beat([FadeOut(b.window), FadeOut(b.target)], 0.5)
    yield Hold(1.0)


def _explain(b: _Board, index: int, w: WindowPlan, slow: bool) -> Iterator[Item]:
    """Write one window out and send its result to its output cell."""
    if index == 0:
        # The grids laid out in the board already show position (0, 0).
        yield Beat([FadeIn(b.win)], 0.8 if slow else 0.3)
        yield Beat([FadeIn(b.prod, lag_ratio=0.1)], 1.4 if slow else 0.3)
        yield Beat([FadeIn(b.sums)], 1.0 if slow else 0.25)
    else:
        new_win = b.window_grid(w).scale(b.scale).move_to(b.win)
        new_prod = b.product_grid(w).scale(b.scale).move_to(b.prod)
        new_sums = b.sum_lines(w).scale(b.scale).move_to(b.sums, aligned_edge=UP + LEFT)
        window_at, target_at = b.place(index)
        old_win = b.win
        b.win = new_win  # the links follow the new grid
        yield Add([old_win, b.prod, b.sums], remove=True)
        yield Add([new_win])
        yield Beat(
            [
                b.window.animate.move_to(window_at),
                b.target.animate.move_to(target_at),
                UpdateFromFunc(b.links, b.relink),
            ],
            0.6 if slow else 0.2,
        )
        if slow:
            yield Beat([FadeIn(new_prod, lag_ratio=0.1)], 0.8)
            yield Beat([FadeIn(new_sums)], 0.6)
        else:
            yield Add([new_prod, new_sums])
        b.prod, b.sums = new_prod, new_sums
    result = b.sums[-1].copy()
    yield Beat(
        [
            result.animate.move_to(b.out_map.cell_center(w.y, w.x)).scale(0.25).set_opacity(0),
            b.done.animate.set_value(index + 1),
            UpdateFromFunc(b.out_map.image, b.paint),
        ],
        0.7 if slow else 0.25,
    )
    yield Add([result], remove=True)
    if slow:
        yield Hold(0.8 if index == 0 else 0.4)


def _sweep(b: _Board, rest_note: str) -> Iterator[Beat | Phase]:
    """The rest of the map fills in while the window races over the input."""
    p, theme = b.p, b.theme
    total = p.total_positions

    def follow(_mob: object) -> None:
        n = int(np.clip(np.floor(b.done.get_value()), 0, total - 1))
        window_at, target_at = b.place(n)
        b.window.move_to(window_at)
        b.target.move_to(target_at)
        b.relink(b.links)

    note = text(rest_note, theme, BODY, theme.muted)
    note.move_to(Group(b.win, b.prod, b.sums))
    # Only the kernel stays: it is the same at every position.
    leaving = (b.win, b.prod, b.sums, b.links, b.win_label, b.prod_label, b.times, b.equals)
    yield Beat([FadeOut(m) for m in leaving] + [FadeIn(note)], 0.5)
    yield Beat(
        [
            b.done.animate(rate_func=linear).set_value(total),  # type: ignore[operator]
            UpdateFromFunc(b.out_map.image, b.paint),
            UpdateFromFunc(b.window, follow),
        ],
        p.sweep_seconds,
    )
    done_note = number_text(p.done_note, theme.font, BODY, theme.text).scale(b.scale)
    done_note.move_to(note)
    yield Phase("result")
    yield Beat([FadeOut(note), FadeIn(done_note)], 0.5)


def planned_seconds(spec: ConvolutionSpec) -> float:
    """Each window explained takes a couple of seconds at least, then the sweep."""
    return 2.0 * spec.positions + spec.sweep_seconds


register(
    StepType(
        name="convolution",
        planned_seconds=planned_seconds,
        spec=ConvolutionSpec,
        build=build,
        check=check,
        summary="One kernel sliding over one input channel, with every dot product written out.",
        phases=Phases(
            (
                "intro",
                Numbered("window", count=lambda spec: spec.positions, counted_by="positions"),
                "sweep",
                "result",
            )
        ),
    )
)
