"""``convolution``: one input channel, one kernel, the dot products written out.

The window slides over the input map; for the first ``positions`` windows the
nine input values, the nine weights and their products are shown with the
real numbers, their sum is completed with the other input channels and the
bias, and the total lands in its cell of the output map. The rest of the map
then fills in within a few seconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Animation,
    FadeIn,
    FadeOut,
    Group,
    Line,
    Mobject,
    ReplacementTransform,
    UpdateFromAlphaFunc,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    VMobject,
    linear,
    smooth,
)
from pydantic import Field

from cnn_model.sums import extremes, other_channels_sum
from cnn_model.tinyvgg import PREVIOUS
from cnn_model.trace import ConvExplanation, Trace

from ...i18n import _, integer, ngettext
from ...visuals.colors import diverging_t, hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, Frame, arrange_panels, bounds, fit
from ...visuals.numbers import term
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, NUMBER, text
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.cells import readable
from ..kit.checks import channel_in, layer_of_kind, neuron_of
from ..kit.common import MapColours, channel_name, colour_name, intro, map_panel, title_for
from ..kit.neuron import NeuronField
from ..kit.registry import Numbered, Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid
from ..kit.wrap import stacked, wrap_lines, wrapped

# After the explained windows, this many more are shown quickly with numbers
# before the sweep fills in the rest of the map.
QUICK_POSITIONS = 8
# Side of a grid cell before the layout scales it: the widest number ("−0.15")
# fits at full size, so the layout alone decides how large the numbers are.
CELL = 0.92
NARROW_CELL = 0.87  # in a square frame, where the numbers are a little smaller
LEGEND_ZOOM = 1.2  # map legends drawn larger, their words as large as the captions
LEGEND_FONT = 16  # a legend's font size before that (Legend's own)
FLIGHT_SCALE = 0.3  # a result flies to its output cell at this share of its size
# Before the sweep the explanation fades out, then the maps grow into its room.
FADE_SECONDS = 0.3
ACROSS_SECONDS = 0.25
GROW_SECONDS = 0.45
NOTE_SECONDS = 0.3
NOTE_BAND = 0.6  # under the grown maps, for the sweep's note
WIDE_GAP = 0.6  # between the grown maps (and the kernel)
LABEL_BUFF = 0.1  # between a grid and its label
MAP = 3.2  # height of a map before the layout scales it
MAP_GAP = 0.3  # between the maps one over the other in a square frame
CAPTION_WIDTH = 2.7  # a map's caption may be as wide as this, or as its map


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
    # The middle line in two, for a narrow frame: the channels' sums, then the bias.
    split: tuple[str, str]


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
    channels = " ".join(p for p in (partial.text, others_text) if p)
    bias_term = _signed(_("bias"), bias.text)
    lines = (
        _("sum of the {count} products = {sum}").format(count=k * k, sum=partial.text),
        f"{channels} {bias_term}",
        f"= {total.text}",
    )
    span = 2 * max(extremes(part.products).peak, 1e-6)
    sums = (partial, *(number for _name, number in others), bias, total)
    return WindowPlan(
        y,
        x,
        part.window,
        window_texts,
        part.products,
        product_texts,
        span,
        sums,
        lines,
        (channels, bias_term),
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
    """The step's Mobjects, laid out around the first window, and how they move.

    Two arrangements: while windows are written out, the input map, the
    explanation (window × kernel, = products, the sums) and the output map
    share the frame; for the sweep the explanation leaves and the maps grow
    into its room, so the finished map is drawn as large as the frame allows.
    """

    def __init__(self, p: ConvolutionPlan, trace: Trace, ctx: StepContext) -> None:
        theme, rec = ctx.theme, ctx.recorder
        self.p, self.theme, self.rec, self.frame = p, theme, rec, ctx.frame
        # A square frame has room for one column of maps beside the explanation:
        # their captions take two lines and the sums four.
        self.narrow = not (ctx.frame.landscape or ctx.frame.portrait)
        self.cell = NARROW_CELL if self.narrow else CELL
        self.in_colours = MapColours(trace, p.input_layer, theme, ctx.colour_range)
        out_colours = MapColours(trace, p.layer, theme, ctx.colour_range)
        self.title = title_for(ctx, p.title)
        self.colours = (self.in_colours, out_colours)
        self.in_panel, self.in_map = self._panel(trace, p.input_layer, p.channel, self.in_colours)
        self.out_panel, self.out_map = self._panel(
            trace, p.layer, p.neuron, out_colours, blank=True, label=p.out_label
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
        self.scale = self.win.width / (self.cell * k)  # new grids and sums are drawn so
        # Where every window's sums start (the last line leaves them for its cell).
        self.sums_corner = self.sums.get_corner(UP + LEFT)
        # The output map shows the first ``done`` positions; it is repainted only
        # in the beats that change ``done``, so it stays static (cheap) otherwise.
        self.done = ValueTracker(0)
        self.out_full = out_colours.rgb(p.out_values).reshape(-1, 3)
        self.empty_rgb = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
        self.window = self.in_map.window(0, 0, k, k, theme.highlight)
        self.target = self.out_map.window(0, 0, 1, 1, theme.highlight, stroke=2.5)
        self.links = self.link_lines()

    def _panel(
        self,
        trace: Trace,
        layer: str,
        channel: int,
        colours: MapColours,
        blank: bool = False,
        label: str | None = None,
    ) -> tuple[Group, MapView]:
        """A map with its caption over it and its legend (recorded). The legend goes
        under the map, or over it in a tall frame, where the explanation is under it."""
        theme = self.theme
        panel, view = map_panel(
            trace,
            layer,
            channel,
            colours,
            theme,
            self.rec,
            height=MAP,
            blank=blank,
            label=label,
            legend=False,
        )
        # The caption no wider than its map (in two or three lines if need be); in a
        # square frame, where the maps stand small beside the explanation, narrower.
        widest = CAPTION_WIDTH if self.narrow else max(view.width, CAPTION_WIDTH)
        caption = _wrapped(str(panel[0].original_text), theme, widest)
        # A clear outline: a map of values near zero is almost the background's colour.
        view.border.set_stroke(theme.muted, width=2)
        key = _legend(colours, theme, min(2.6, view.width), widest)
        if self.frame.portrait:
            key.next_to(view, UP, buff=0.2)
            caption.next_to(key, UP, buff=0.15)
        else:
            caption.next_to(view, UP, buff=0.15)
            key.next_to(view, DOWN, buff=0.2)
        return Group(caption, view, key), view

    def _lay_out(self, ctx: StepContext) -> None:
        theme = self.theme
        self.times = text("×", theme, 30)
        self.equals = text("=", theme, 30)
        self.win_label = text(self.p.window_label, theme, LABEL, theme.muted)
        self.ker_label = text(_("kernel (weights)"), theme, LABEL, theme.muted)
        self.prod_label = text(_("products"), theme, LABEL, theme.muted)
        row1 = Group(self.win, self.times, self.kernel)
        row1.arrange(RIGHT, buff=0.18 if self.narrow else 0.25)
        self.win_label.next_to(self.win, UP, buff=LABEL_BUFF)
        self.ker_label.next_to(self.kernel, UP, buff=LABEL_BUFF)
        if self.narrow:
            # "products =" before the grid, under the kernel: no line of its own.
            self.prod.next_to(row1, DOWN, buff=0.3).align_to(self.kernel, RIGHT)
            self.equals.next_to(self.prod, LEFT, buff=0.25)
            self.prod_label.next_to(self.equals, LEFT, buff=0.2)
        else:
            self.prod.next_to(row1, DOWN, buff=self.prod_label.height + LABEL_BUFF + 0.3)
            self.equals.next_to(self.prod, LEFT, buff=0.25)
            self.prod_label.next_to(self.prod, UP, buff=LABEL_BUFF)
        self.sums.next_to(self.prod, DOWN, buff=0.25)
        if self.narrow:
            self.sums.align_to(row1, LEFT)
        detail = Group(
            row1, self.win_label, self.ker_label, self.equals, self.prod, self.prod_label, self.sums
        )
        frame, box = ctx.frame, ctx.frame.content_box()
        if frame.landscape:
            # input | explanation | output, as the article draws it.
            arrange_panels([self.in_panel, detail, self.out_panel], frame, box)
        elif frame.portrait:
            # Both maps side by side over the explanation.
            maps = Group(self.in_panel, self.out_panel).arrange(RIGHT, buff=0.5, aligned_edge=DOWN)
            fit(Group(maps, detail).arrange(DOWN, buff=0.5), box)
        else:
            # The maps one over the other beside the explanation, as tall as it.
            panels = [(self.in_panel, self.in_map), (self.out_panel, self.out_map)]
            rims = sum(panel.height - view.height for panel, view in panels)
            factor = (detail.height - MAP_GAP - rims) / sum(view.height for _p, view in panels)
            for (panel, view), colours in zip(panels, self.colours, strict=True):
                caption = panel[0]
                view.scale(factor)
                caption.next_to(view, UP, buff=0.15)
                key = _legend(colours, theme, view.width, CAPTION_WIDTH)
                panel.submobjects[2] = key.next_to(view, DOWN, buff=0.2)
            maps = Group(self.in_panel, self.out_panel).arrange(DOWN, buff=MAP_GAP)
            fit(Group(maps, detail).arrange(RIGHT, buff=0.3), box)

    def _grid(self, texts: list[list[str]], rgb: np.ndarray) -> NumberGrid:
        theme = self.theme
        grid = NumberGrid(texts, rgb, self.cell, theme.font, NUMBER, theme.grid_line)
        return readable(grid, rgb)

    def window_grid(self, w: WindowPlan) -> NumberGrid:
        return self._grid(record_grid(self.rec, w.window_texts), self.in_colours.rgb(w.window))

    def product_grid(self, w: WindowPlan) -> NumberGrid:
        rgb = self.theme.activation.rgb(diverging_t(w.products, w.product_span))
        return self._grid(record_grid(self.rec, w.product_texts), rgb)

    def sum_lines(self, w: WindowPlan) -> VGroup:
        for number in w.sums:
            number.record(self.rec)
        theme = self.theme
        lines: tuple[str, ...] = w.lines
        if self.narrow:  # the bias on a line of its own
            lines = (w.lines[0], *w.split, w.lines[2])
        group = VGroup(*[number_text(line, theme.font, BODY, theme.text) for line in lines])
        group.arrange(DOWN, aligned_edge=LEFT, buff=0.14)
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
        """Two lines from the window on the input map to the window's grid: to its
        left side when it stands beside the map, to its label's top corners when it
        stands under the map (so they pass beside the label)."""
        if self.frame.portrait:
            under = Group(self.win, self.win_label)
            ends = [
                (self.window.get_corner(DOWN + side), under.get_corner(UP + side))
                for side in (LEFT, RIGHT)
            ]
        else:
            ends = [
                (self.window.get_corner(side + RIGHT), self.win.get_corner(side + LEFT))
                for side in (UP, DOWN)
            ]
        return VGroup(*[Line(a, b, stroke_width=1.2, color=self.theme.muted) for a, b in ends])

    def relink(self, mob: Mobject) -> None:
        mob.become(self.link_lines())

    def place(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Where the window (on the input) and the target (on the output) go."""
        y, x = divmod(index, self.p.out_shape[1])
        half = self.p.kernel_size / 2
        return self.in_map.cell_corner(y + half, x + half), self.out_map.cell_center(y, x)

    def obstacles(self) -> list[tuple[float, float, float, float]]:
        """What a number flying to the output map must pass beside: every text and
        grid of the explanation, the input map and the output map's caption and legend."""
        caption, _view, key = self.out_panel
        pieces: list[Mobject] = [
            self.in_panel,
            caption,
            key,
            self.win,
            self.kernel,
            self.prod,
            self.win_label,
            self.ker_label,
            self.prod_label,
            self.times,
            self.equals,
            *self.sums[:-1],
        ]
        return [box for box in (bounds(m) for m in pieces) if box is not None]

    def landing(self, result: Mobject, y: int, x: int) -> Animation:
        """The result flies to its output cell along a path clear of every text."""
        target = self.out_map.cell_center(y, x)
        # It may pass through the frame's margin, where nothing else is drawn.
        half_w, half_h = self.frame.width / 2 - 0.05, self.frame.height / 2 - 0.05
        path = flight_path(result, target, self.obstacles(), Box(-half_w, -half_h, half_w, half_h))
        return fly(result, path)

    def wide(self) -> tuple[list[Any], list[Any], np.ndarray]:
        """Animations that give the maps the room of the explanation (the kernel stays
        between them in a wide frame), in two stages so that no map passes over the
        other's words: the output map first goes across (or down, in a tall frame) to
        its new column (row), then both grow into place. And where the sweep's note
        goes, under them. The maps grow; their captions and legends keep their size."""
        frame = self.frame
        content = frame.content_box()
        box = Box(content.left, content.bottom + NOTE_BAND, content.right, content.top)
        kernel = Group(self.ker_label, self.kernel) if self.keeps_kernel else None
        panels = [
            (self.in_panel, self.in_map, self.window),
            (self.out_panel, self.out_map, self.target),
        ]
        # What does not grow: a panel's caption and legend, the kernel, the gaps.
        rims = [panel.height - view.height for panel, view, _rect in panels]
        views_w = sum(view.width for _panel, view, _rect in panels)
        views_h = [view.height for _panel, view, _rect in panels]
        down = frame.portrait
        if down:
            room = box.height - WIDE_GAP * (len(panels) - 1) - sum(rims)
            factor = min(room / sum(views_h), box.width / max(v.width for _p, v, _r in panels))
        else:
            kept = kernel.width + WIDE_GAP if kernel is not None else 0.0
            room = box.width - WIDE_GAP * (len(panels) - 1) - kept
            factor = min(
                room / views_w,
                min((box.height - rim) / h for rim, h in zip(rims, views_h, strict=True)),
            )
        sizes = [
            (
                max(panel[0].width, view.width * factor, panel[2].width),
                rim + view.height * factor,
            )
            for (panel, view, _rect), rim in zip(panels, rims, strict=True)
        ]
        slots = [sizes[0], (kernel.width, kernel.height), sizes[1]] if kernel else sizes
        centres = _along(slots, box, down)
        out_panel, _out_view, out_rect = panels[1]
        here = out_panel.get_center()
        there = centres[-1]
        across = np.array([here[0], there[1], 0.0]) if down else np.array([there[0], here[1], 0.0])
        first = [Group(out_panel, out_rect).animate.shift(across - here)]
        then: list[Any] = []
        for (panel, view, rect), centre, (_w, height), colours in zip(
            panels, [centres[0], centres[-1]], sizes, self.colours, strict=True
        ):
            shift = across - here if panel is out_panel else np.zeros(3)
            top = centre[1] + height / 2 - (panel.get_top()[1] - view.get_top()[1])
            at = np.array([centre[0], top - view.height * factor / 2, 0.0])
            bottom = at[1] - view.height * factor / 2
            then.append(Group(view, rect).animate.shift(shift).scale(factor).move_to(at))
            if self.narrow:
                # The legend was as narrow as the small map: its bar widens with it (its
                # title keeps its lines, so that its words only move).
                key, scale, grown = panel[2], self.scale, view.width * factor
                bar = min(2.6 * scale, grown) / scale
                wider = _legend(colours, self.theme, bar, CAPTION_WIDTH).scale(scale)
                below = bottom - (view.get_bottom()[1] - key.get_top()[1])
                wider.move_to(np.array([centre[0], below - wider.height / 2, 0.0]))
                then.append(ReplacementTransform(key, wider))
                then.append(panel[0].animate.move_to(self._above(panel[0], view, top, centre)))
                continue
            for piece in (panel[0], panel[2]):  # the caption and the legend keep their size
                y = piece.get_center()[1]
                if y > view.get_center()[1]:
                    y = top + y - view.get_top()[1]
                else:
                    y = bottom + y - view.get_bottom()[1]
                then.append(piece.animate.move_to(np.array([centre[0], y, 0.0])))
        if kernel is not None:
            then.append(kernel.animate.move_to(centres[1]))
        note_at = np.array([0.0, content.bottom + NOTE_BAND / 2, 0.0])
        return first, then, note_at

    @staticmethod
    def _above(caption: Mobject, view: Mobject, top: float, centre: np.ndarray) -> np.ndarray:
        """Where a map's caption goes when the map's top comes to ``top``."""
        return np.array([centre[0], top + caption.get_center()[1] - view.get_top()[1], 0.0])

    @property
    def keeps_kernel(self) -> bool:
        """Whether the kernel stays for the sweep: only a wide frame has room for it
        between the grown maps."""
        return self.frame.landscape


def _along(sizes: list[tuple[float, float]], box: Box, down: bool) -> list[np.ndarray]:
    """Centres of boxes of ``sizes`` in a row (or a column, ``down``) centred in ``box``."""
    total = sum(h if down else w for w, h in sizes) + WIDE_GAP * (len(sizes) - 1)
    centre = box.center
    run = (centre[1] + total / 2) if down else (centre[0] - total / 2)
    centres = []
    for w, h in sizes:
        if down:
            centres.append(np.array([centre[0], run - h / 2, 0.0]))
            run -= h + WIDE_GAP
        else:
            centres.append(np.array([run + w / 2, centre[1], 0.0]))
            run += w + WIDE_GAP
    return centres


def _legend(colours: MapColours, theme: Theme, width: float, widest: float) -> Group:
    """A map's legend ``width`` wide, its words as large as the captions' and its
    title in lines no wider than ``widest``."""
    key = colours.legend(theme, width=width / LEGEND_ZOOM).scale(LEGEND_ZOOM)
    bar, title = key[0], key[1]
    if title.width > widest:
        size = LEGEND_FONT * LEGEND_ZOOM
        lines = wrapped(str(title.original_text), theme, size, widest)
        gap = title.get_bottom()[1] - bar.get_top()[1]
        key.submobjects[1] = lines.next_to(bar, UP, buff=gap)
    return key


def _wrapped(words: str, theme: Theme, width: float) -> VMobject:
    """A caption in lines no wider than ``width``, centred one over the other: a size
    in brackets at the end gets a line of its own, the rest breaks between words."""
    if text(words, theme, LABEL).width <= width:
        return text(words, theme, LABEL)
    head, sep, size = words.rpartition(" (")
    if not (sep and head):
        return wrapped(words, theme, LABEL, width)
    return stacked([*wrap_lines(head, theme, LABEL, width), f"({size}"], theme, LABEL)


Rect = tuple[float, float, float, float]


def _meets(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def flight_path(
    result: Mobject, target: np.ndarray, obstacles: list[Rect], box: Box
) -> list[np.ndarray]:
    """Corner points from ``result`` to ``target``: across to a free column, along it to
    the target's row, then into the target; the shortest such path that meets none of
    ``obstacles`` (a straight line if there is none)."""
    start = result.get_center()
    w, h = result.width, result.height
    w2, h2 = w * FLIGHT_SCALE, h * FLIGHT_SCALE
    sx, sy, tx, ty = float(start[0]), float(start[1]), float(target[0]), float(target[1])
    best: tuple[float, float] | None = None
    for xc in np.linspace(box.left + w2 / 2, box.right - w2 / 2, 241):
        xc = float(xc)
        # Across, shrinking as it goes (where it is at a tenth of the way, and so on).
        swept = [
            (x - size * w / 2, sy - size * h / 2, x + size * w / 2, sy + size * h / 2)
            for share in np.linspace(0.0, 1.0, 11)
            for x, size in [(sx + (xc - sx) * share, 1 - (1 - FLIGHT_SCALE) * share)]
        ]
        swept += [
            (xc - w2 / 2, min(sy, ty) - h2 / 2, xc + w2 / 2, max(sy, ty) + h2 / 2),
            (min(xc, tx) - w2 / 2, ty - h2 / 2, max(xc, tx) + w2 / 2, ty + h2 / 2),
        ]
        if any(_meets(s, o) for s in swept for o in obstacles):
            continue
        length = abs(xc - sx) + abs(ty - sy) + abs(tx - xc)
        if best is None or length < best[0]:
            best = (length, xc)
    if best is None:
        return [start, target]
    xc = best[1]
    return [start, np.array([xc, sy, 0.0]), np.array([xc, ty, 0.0]), target]


def fly(mob: Mobject, path: list[np.ndarray]) -> Animation:
    """Move ``mob`` along the corner points ``path``, shrinking on the first leg and
    fading out on the last stretch."""
    start = mob.copy()
    lengths = [float(np.linalg.norm(b - a)) for a, b in itertools.pairwise(path)]
    total = max(sum(lengths), 1e-9)
    first = lengths[0] / total if len(lengths) > 1 else 0.5

    def at(t: float) -> np.ndarray:
        run = t * total
        for (a, b), length in zip(itertools.pairwise(path), lengths, strict=True):
            if run <= length:
                return a + (b - a) * (run / max(length, 1e-9))
            run -= length
        return path[-1]

    def update(m: Mobject, alpha: float) -> None:
        t = smooth(alpha)
        shrink = 1 - (1 - FLIGHT_SCALE) * min(t / max(first, 1e-9), 1.0)
        if t > 0.8:
            shrink *= 1 - 0.4 * (t - 0.8) / 0.2
        m.become(start)
        m.scale(shrink).move_to(at(t))
        m.set_opacity(1.0 if t < 0.75 else max(0.0, 1 - (t - 0.75) / 0.25))

    return UpdateFromAlphaFunc(mob, update)


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
        new_sums = b.sum_lines(w).scale(b.scale)
        new_sums.move_to(b.sums_corner, aligned_edge=UP + LEFT)
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
    # The result itself leaves the sums for its cell (a copy would start as a second
    # number drawn over it).
    yield Beat(
        [
            b.landing(b.sums[-1], w.y, w.x),
            b.done.animate.set_value(index + 1),
            UpdateFromFunc(b.out_map.image, b.paint),
        ],
        0.7 if slow else 0.25,
    )
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

    # Only the kernel stays (it is the same at every position), where there is room.
    leaving = [b.win, b.prod, b.sums, b.links, b.win_label, b.prod_label, b.times, b.equals]
    if not b.keeps_kernel:
        leaving += [b.kernel, b.ker_label]
    across, grow, note_at = b.wide()
    note = text(rest_note, theme, BODY, theme.muted).move_to(note_at)
    # The explanation leaves first; then the maps take its room as the note appears.
    yield Beat([FadeOut(m) for m in leaving], FADE_SECONDS)
    yield Beat(across, ACROSS_SECONDS)
    yield Beat(grow, GROW_SECONDS)
    yield Beat([FadeIn(note)], NOTE_SECONDS)
    yield Beat(
        [
            b.done.animate(rate_func=linear).set_value(total),  # type: ignore[operator]
            UpdateFromFunc(b.out_map.image, b.paint),
            UpdateFromFunc(b.window, follow),
        ],
        # As long as the note's beat and the sweep always took.
        max(
            p.sweep_seconds - (FADE_SECONDS + ACROSS_SECONDS + GROW_SECONDS + NOTE_SECONDS - 0.5),
            0.4,
        ),
    )
    done_note = number_text(p.done_note, theme.font, BODY, theme.text).move_to(note)
    yield Phase("result")
    # One note after the other: they never stand in one place together.
    yield Beat([FadeOut(note)], 0.25)
    yield Beat([FadeIn(done_note)], 0.25)


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
