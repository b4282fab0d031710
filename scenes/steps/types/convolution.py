"""``convolution``: one input channel, one kernel, the dot products written out.

The window slides over the input map; for the first ``positions`` windows the
nine input values, the nine weights and their products are shown with the
real numbers, their sum is completed with the other input channels and the
bias, and the total lands in its cell of the output map. The rest of the map
then fills in within a few seconds.
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
    Line,
    Mobject,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    linear,
)
from pydantic import Field

from cnn_model.tinyvgg import PREVIOUS
from cnn_model.trace import ConvExplanation

from ...visuals.colors import diverging_t, hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.layout import arrange_panels
from ...visuals.numbers import term
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.checks import channel_in, layer_of_kind
from ..kit.common import MapColours, channel_name, intro, map_panel, title_for
from ..kit.registry import StepType, register

# After the explained windows, this many more are shown quickly with numbers
# before the sweep fills in the rest of the map.
QUICK_POSITIONS = 8


class ConvolutionSpec(StepSpec):
    type: Literal["convolution"]
    layer: str = Field("conv_1_1", description="A convolution layer of the lesson's model.")
    neuron: int = Field(0, ge=0, description="Output channel (neuron) of the layer, from 0.")
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
    if layer is None:
        return errors
    source = PREVIOUS[spec.layer]
    neurons, inputs = layer.shape[0], info.layers[source].shape[0]
    errors += channel_in(
        neurons, spec.neuron, "neuron", "a neuron", f"{spec.layer} has {neurons} neurons"
    )
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


def _others_line(exp: ConvExplanation, channel: int, ctx: StepContext) -> str:
    """'+ green 0.12 − blue 0.05' or '+ 9 other channels 1.23', recorded."""
    rec = ctx.recorder
    others = [t for t in exp.terms if t.channel != channel]
    if len(others) <= 2:
        parts = []
        for term in others:
            shown = rec.number(
                exp.layer,
                [exp.out_channel, term.channel, exp.y, exp.x],
                term.sum,
                kind="channel_sum",
            )
            parts.append(
                _signed(
                    channel_name(exp.input_layer, term.channel).split()[0]
                    if exp.input_layer == "input"
                    else f"channel {term.channel}",
                    shown,
                )
            )
        return " ".join(parts)
    rest = float(sum(t.sum for t in others))
    shown = rec.number(exp.layer, [exp.out_channel, exp.y, exp.x], rest, kind="other_channels_sum")
    return _signed(f"{len(others)} other channels", shown)


def _signed(name: str, shown: str) -> str:
    """'+ bias 0.0512' or '− bias 0.0512' from the recorded text."""
    sign, size = term(shown)
    return f"{sign} {name} {size}"


def build(spec: ConvolutionSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    trace = ctx.need_trace()
    theme, rec = ctx.theme, ctx.recorder
    layer, neuron, channel = spec.layer, spec.neuron, spec.channel
    input_layer = PREVIOUS[layer]
    out_values = trace.activations[layer][neuron]
    out_h, out_w = out_values.shape
    total_positions = out_h * out_w

    in_colours = MapColours(trace, input_layer, theme, ctx.colour_range)
    out_colours = MapColours(trace, layer, theme, ctx.colour_range)
    kernel = trace.weights[layer][neuron, channel]
    k = kernel.shape[0]

    title = title_for(ctx, f"Convolution: {layer}, neuron {neuron}")
    in_panel, in_map = map_panel(trace, input_layer, channel, in_colours, theme, rec)
    out_label = f"{layer} · neuron {neuron} ({out_h}×{out_w})"
    out_panel, out_map = map_panel(
        trace, layer, neuron, out_colours, theme, rec, blank=True, label=out_label
    )

    # The kernel never changes: record and draw it once.
    w_range = kernel_range(kernel)
    kernel_texts = rec.grid(layer, kernel, lambda i, j: (neuron, channel, i, j), kind="weight")
    kernel_rgb = theme.weight.rgb(diverging_t(kernel, w_range))
    cell = 0.72
    kernel_grid = NumberGrid(kernel_texts, kernel_rgb, cell, theme.font, NUMBER, theme.grid_line)

    def window_grid(exp: ConvExplanation) -> NumberGrid:
        term = exp.terms[channel]
        texts = rec.grid(input_layer, term.window, lambda i, j: (channel, exp.y + i, exp.x + j))
        return NumberGrid(
            texts, in_colours.rgb(term.window), cell, theme.font, NUMBER, theme.grid_line
        )

    def product_grid(exp: ConvExplanation) -> NumberGrid:
        term = exp.terms[channel]
        texts = rec.grid(
            layer, term.products, lambda i, j: (neuron, channel, exp.y, exp.x, i, j), kind="product"
        )
        span = 2 * max(float(np.abs(term.products).max()), 1e-6)
        rgb = theme.activation.rgb(diverging_t(term.products, span))
        return NumberGrid(texts, rgb, cell, theme.font, NUMBER, theme.grid_line)

    def sum_lines(exp: ConvExplanation) -> VGroup:
        term = exp.terms[channel]
        partial = rec.number(layer, [neuron, channel, exp.y, exp.x], term.sum, kind="channel_sum")
        others = _others_line(exp, channel, ctx)
        bias = rec.number(layer, [neuron], exp.bias, decimals=4, kind="bias")
        # The result is the model's own activation (float32), as the output map shows it.
        activation = float(trace.activations[layer][neuron, exp.y, exp.x])
        total = rec.number(layer, [neuron, exp.y, exp.x], activation)
        lines = [
            f"sum of the {k * k} products = {partial}",
            " ".join(part for part in (partial, others, _signed("bias", bias)) if part),
            f"= {total}",
        ]
        group = VGroup(*[number_text(line, theme.font, BODY, theme.text) for line in lines])
        group.arrange(DOWN, aligned_edge=LEFT, buff=0.16)
        group[-1].set_color(theme.accent)
        return group

    first = trace.explain_conv(layer, neuron, 0, 0)
    win = window_grid(first)
    prod = product_grid(first)
    sums = sum_lines(first)
    times = text("×", theme, 30)
    equals = text("=", theme, 30)
    win_label = text(f"window ({channel_name(input_layer, channel)})", theme, LABEL, theme.muted)
    ker_label = text("kernel (weights)", theme, LABEL, theme.muted)
    prod_label = text("products", theme, LABEL, theme.muted)
    row1 = Group(win, times, kernel_grid).arrange(RIGHT, buff=0.25)
    win_label.next_to(win, UP, buff=0.12)
    ker_label.next_to(kernel_grid, UP, buff=0.12)
    prod.next_to(row1, DOWN, buff=0.75)
    equals.next_to(prod, LEFT, buff=0.25)
    prod_label.next_to(prod, UP, buff=0.12)
    sums.next_to(prod, DOWN, buff=0.3)
    detail = Group(row1, win_label, ker_label, equals, prod, prod_label, sums)
    arrange_panels([in_panel, detail, out_panel], ctx.frame, ctx.frame.content_box())
    layout_scale = win.width / (cell * k)  # new grids and sums are drawn at this scale

    # The output map shows the first `done` positions; it is repainted only
    # in the beats that change `done`, so it stays static (cheap) otherwise.
    done = ValueTracker(0)
    out_full = out_colours.rgb(out_values).reshape(-1, 3)
    empty_rgb = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)

    def paint(_: object) -> None:
        n = int(np.clip(np.floor(done.get_value() + 1e-6), 0, total_positions))
        rgb = np.empty_like(out_full)
        rgb[:] = empty_rgb
        rgb[:n] = out_full[:n]
        out_map.set_pixels(rgb.reshape(out_h, out_w, 3))

    window = in_map.window(0, 0, k, k, theme.highlight)
    target = out_map.window(0, 0, 1, 1, theme.highlight, stroke=2.5)

    def link_lines() -> VGroup:
        return VGroup(
            Line(
                window.get_corner(UP + RIGHT),
                win.get_corner(UP + LEFT),
                stroke_width=1.2,
                color=theme.muted,
            ),
            Line(
                window.get_corner(DOWN + RIGHT),
                win.get_corner(DOWN + LEFT),
                stroke_width=1.2,
                color=theme.muted,
            ),
        )

    links = link_lines()

    def relink(mob: Mobject) -> None:
        mob.become(link_lines())

    def place(index: int) -> tuple[np.ndarray, np.ndarray]:
        y, x = divmod(index, out_w)
        return in_map.cell_corner(y + k / 2, x + k / 2), out_map.cell_center(y, x)

    rec.facts.update(
        {
            "layer": layer,
            "neuron": neuron,
            "channel": channel,
            "input_layer": input_layer,
            "positions_explained": spec.positions,
        }
    )

    yield Add([title])
    yield intro(
        [in_panel, times, kernel_grid, win_label, ker_label, equals, prod_label, out_panel], 1.0
    )
    yield Beat([FadeIn(window), FadeIn(target), FadeIn(links)], 0.6)

    def explain(index: int, slow: bool) -> Iterator[Add | Beat | Hold]:
        nonlocal win, prod, sums
        y, x = divmod(index, out_w)
        if index == 0:
            # The grids laid out above already show position (0, 0).
            yield Beat([FadeIn(win)], 0.8 if slow else 0.3)
            yield Beat([FadeIn(prod, lag_ratio=0.1)], 1.4 if slow else 0.3)
            yield Beat([FadeIn(sums)], 1.0 if slow else 0.25)
        else:
            exp = trace.explain_conv(layer, neuron, y, x)
            new_win = window_grid(exp).scale(layout_scale).move_to(win)
            new_prod = product_grid(exp).scale(layout_scale).move_to(prod)
            new_sums = sum_lines(exp).scale(layout_scale).move_to(sums, aligned_edge=UP + LEFT)
            window_at, target_at = place(index)
            old_win = win
            win = new_win  # the links follow the new grid
            yield Add([old_win, prod, sums], remove=True)
            yield Add([new_win])
            yield Beat(
                [
                    window.animate.move_to(window_at),
                    target.animate.move_to(target_at),
                    UpdateFromFunc(links, relink),
                ],
                0.6 if slow else 0.2,
            )
            if slow:
                yield Beat([FadeIn(new_prod, lag_ratio=0.1)], 0.8)
                yield Beat([FadeIn(new_sums)], 0.6)
            else:
                yield Add([new_prod, new_sums])
            prod, sums = new_prod, new_sums
        result = sums[-1].copy()
        yield Beat(
            [
                result.animate.move_to(out_map.cell_center(y, x)).scale(0.25).set_opacity(0),
                done.animate.set_value(index + 1),
                UpdateFromFunc(out_map.image, paint),
            ],
            0.7 if slow else 0.25,
        )
        yield Add([result], remove=True)
        if slow:
            yield Hold(0.8 if index == 0 else 0.4)

    explained = min(spec.positions, total_positions)
    for index in range(explained):
        yield from explain(index, slow=True)
    quick = min(QUICK_POSITIONS, total_positions - explained)
    for index in range(explained, explained + quick):
        yield from explain(index, slow=False)

    start = explained + quick
    if start < total_positions:

        def follow(_: object) -> None:
            n = int(np.clip(np.floor(done.get_value()), 0, total_positions - 1))
            window_at, target_at = place(n)
            window.move_to(window_at)
            target.move_to(target_at)
            relink(links)

        note = text(
            f"… and the other {total_positions - start:,} positions", theme, BODY, theme.muted
        )
        note.move_to(Group(win, prod, sums))
        # Only the kernel stays: it is the same at every position.
        yield Beat(
            [FadeOut(m) for m in (win, prod, sums, links, win_label, prod_label, times, equals)]
            + [FadeIn(note)],
            0.5,
        )
        yield Beat(
            [
                done.animate(rate_func=linear).set_value(total_positions),  # type: ignore[operator]
                UpdateFromFunc(out_map.image, paint),
                UpdateFromFunc(window, follow),
            ],
            spec.sweep_seconds,
        )
        done_note = number_text(
            f"{out_h}×{out_w} = {total_positions:,} windows, one value each",
            theme.font,
            BODY,
            theme.text,
        ).scale(layout_scale)
        done_note.move_to(note)
        yield Beat([FadeOut(note), FadeIn(done_note)], 0.5)
    yield Beat([FadeOut(window), FadeOut(target)], 0.5)
    yield Hold(1.0)


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
    )
)
