"""``conv_elastic``: one conv neuron pulled apart, channel by channel.

Every input channel meets its own 3x3 kernel and gives an intermediate map;
the intermediate maps plus the neuron's bias add up to the neuron's
activation map. conv_1_1 has 3 input channels and 10 neurons, so 3 x 10 = 30
kernels; the later conv layers read 10 channels (100 kernels), all shown
compactly.
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
    Arrow,
    FadeIn,
    Group,
    LaggedStart,
    Mobject,
    Rectangle,
    VGroup,
)
from pydantic import Field

from cnn_model.tinyvgg import PREVIOUS

from ...visuals.colors import diverging_t
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, fit
from ...visuals.legend import Legend
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, SMALL, text
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.checks import channel_in, layer_of_kind
from ..kit.common import MapColours, channel_name, title_for
from ..kit.registry import StepType, register


class ConvElasticSpec(StepSpec):
    type: Literal["conv_elastic"]
    layer: str = Field("conv_1_1", description="A convolution layer of the lesson's model.")
    neuron: int = Field(0, ge=0, description="Output channel (neuron) of the layer, from 0.")


def check(spec: ConvElasticSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("conv",))
    if layer is None:
        return errors
    return channel_in(
        layer.shape[0],
        spec.neuron,
        "neuron",
        "a neuron",
        f"{spec.layer} has {layer.shape[0]} neurons",
    )


def build(spec: ConvElasticSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    layer, neuron = spec.layer, spec.neuron
    source = PREVIOUS[layer]
    inputs = trace.activations[source]
    channels = inputs.shape[0]
    neurons = trace.activations[layer].shape[0]
    contributions = trace.channel_contributions(layer, neuron)
    output = trace.activations[layer][neuron]
    bias = float(trace.biases[layer][neuron])
    kernels = trace.weights[layer][neuron]
    in_colours = MapColours(trace, source, theme, ctx.colour_range)
    out_colours = MapColours(trace, layer, theme, ctx.colour_range)
    # The intermediate maps share one diverging range, as CNN Explainer's do.
    mid_range = 2 * round(0.1 + float(np.abs(contributions).max()), 3)
    w_range = kernel_range(kernels)
    few = channels <= 3

    title = title_for(ctx, f"One neuron, every input channel: {layer}, neuron {neuron}")
    yield Add([title])
    total_kernels = channels * neurons
    count_line = number_text(
        f"{layer}: {channels} input channels × {neurons} neurons = {total_kernels} kernels; "
        f"neuron {neuron} uses {channels} of them",
        theme.font,
        LABEL,
        theme.muted,
    )
    rec.facts.update(
        {
            "layer": layer,
            "neuron": neuron,
            "input_channels": channels,
            "neurons": neurons,
            "kernels": total_kernels,
        }
    )

    rows = []
    row_height = 1.5 if few else 1.0
    for c in range(channels):
        in_map = MapView(in_colours.rgb(inputs[c]), row_height, theme.grid_line)
        rec.heatmap(source, [c], inputs[c], (in_colours.lo, in_colours.hi), in_colours.scale.name)
        kernel_rgb = theme.weight.rgb(diverging_t(kernels[c], w_range))
        if few:
            texts = [
                [
                    rec.number(layer, [neuron, c, i, j], float(kernels[c, i, j]), kind="weight")
                    for j in range(3)
                ]
                for i in range(3)
            ]
            kernel: Mobject = NumberGrid(
                texts, kernel_rgb, row_height / 3, theme.font, 16, theme.grid_line
            )
        else:
            kernel = MapView(kernel_rgb, row_height * 0.6, theme.grid_line)
            rec.heatmap(
                f"{layer}.weight",
                [neuron, c],
                kernels[c],
                (-w_range / 2, w_range / 2),
                theme.weight.name,
            )
        mid_rgb = theme.activation.rgb(diverging_t(contributions[c], mid_range))
        mid_map = MapView(mid_rgb, row_height, theme.grid_line)
        rec.heatmap(
            f"{layer}.contribution",
            [neuron, c],
            contributions[c],
            (-mid_range / 2, mid_range / 2),
            theme.activation.name,
        )
        name = text(channel_name(source, c) if few else f"ch {c}", theme, SMALL, theme.muted)
        star = number_text("⊛", theme.font, BODY, theme.text)
        arrow = number_text("→", theme.font, BODY, theme.text)
        row = Group(name, in_map, star, kernel, arrow, mid_map).arrange(RIGHT, buff=0.18)
        rows.append(row)
    if few or frame.portrait:
        stack = Group(*rows).arrange(DOWN, buff=0.12, aligned_edge=RIGHT)
    else:  # ten rows side by side in two columns of five
        half = (len(rows) + 1) // 2
        columns = [Group(*rows[:half]), Group(*rows[half:])]
        for column in columns:
            column.arrange(DOWN, buff=0.12, aligned_edge=RIGHT)
        stack = Group(*columns).arrange(RIGHT, buff=0.5, aligned_edge=UP)

    out_map = MapView(out_colours.rgb(output), 3.0, theme.grid_line)
    rec.heatmap(layer, [neuron], output, (out_colours.lo, out_colours.hi), out_colours.scale.name)
    bias_text = rec.number(layer, [neuron], bias, decimals=4, kind="bias")
    sum_label = number_text(
        f"Σ of the {channels} maps + bias {bias_text}", theme.font, LABEL, theme.text
    )
    out_label = text(
        f"{layer} · neuron {neuron} ({output.shape[0]}×{output.shape[1]})", theme, LABEL
    )
    out_legend = out_colours.legend(theme)
    mid_legend = Legend(
        theme.activation,
        -mid_range / 2,
        mid_range / 2,
        "intermediate maps",
        theme.font,
        theme.text,
        mid=0.0,
    )
    legends = [in_colours.legend(theme), mid_legend, out_legend]
    if not few:
        legends.insert(
            1,
            Legend(
                theme.weight,
                -w_range / 2,
                w_range / 2,
                "kernel weights",
                theme.font,
                theme.text,
                mid=0.0,
            ),
        )
    legend_row = Group(*legends).arrange(RIGHT, buff=0.5)
    right = Group(sum_label, out_label, out_map).arrange(DOWN, buff=0.2)

    content = frame.content_box()
    count_line.scale_to_fit_width(min(count_line.width, content.width))
    count_line.move_to(np.array([0.0, content.top - count_line.height / 2, 0.0]))
    legend_h = 0.75
    body = Box(
        content.left,
        content.bottom + legend_h + 0.1,
        content.right,
        content.top - count_line.height - 0.15,
    )
    legend_box = Box(content.left, content.bottom, content.right, content.bottom + legend_h)
    arrow_gap = 0.9
    if frame.portrait:
        layout = Group(stack, right).arrange(DOWN, buff=arrow_gap)
    else:
        layout = Group(stack, right).arrange(RIGHT, buff=arrow_gap)
    fit(layout, body)
    fit(legend_row, legend_box)
    # Arrows from the intermediate maps into the sum: one per map when they
    # stand in one column, one for the whole block otherwise.
    tails = [row[-1] for row in rows] if (few or frame.portrait) else [stack]
    arrows = VGroup(
        *[
            Arrow(
                tail.get_bottom() if frame.portrait else tail.get_right(),
                right.get_top() if frame.portrait else right.get_left(),
                buff=0.1,
                stroke_width=2 if len(tails) > 1 else 4,
                color=theme.muted,
                max_tip_length_to_length_ratio=0.06 if len(tails) > 1 else 0.25,
            )
            for tail in tails
        ]
    )
    box = Rectangle(
        width=right.width + 0.3,
        height=right.height + 0.3,
        stroke_color=theme.grid_line,
        stroke_width=1.5,
    ).move_to(right)

    yield Beat([FadeIn(count_line)], 0.8)
    inputs_first = [Group(row[0], row[1]) for row in rows]
    yield Beat([LaggedStart(*[FadeIn(g) for g in inputs_first], lag_ratio=0.15)], 1.2)
    yield Beat([LaggedStart(*[FadeIn(Group(row[2], row[3])) for row in rows], lag_ratio=0.15)], 1.2)
    yield Hold(0.4)
    yield Beat([LaggedStart(*[FadeIn(Group(row[4], row[5])) for row in rows], lag_ratio=0.15)], 1.5)
    yield Beat([FadeIn(legend_row)], 0.6)
    yield Hold(0.6)
    yield Beat([FadeIn(arrows), FadeIn(box), FadeIn(sum_label)], 1.0)
    yield Beat([FadeIn(out_label), FadeIn(out_map, shift=0.2 * LEFT)], 1.2)
    yield Hold(1.5)


register(
    StepType(
        name="conv_elastic",
        spec=ConvElasticSpec,
        build=build,
        check=check,
        summary="One neuron's kernels, one per input channel, their maps summed with the bias.",
    )
)
