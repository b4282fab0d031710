"""``conv_elastic``: one conv neuron pulled apart, channel by channel.

Every input channel meets its own 3x3 kernel and gives an intermediate map;
the intermediate maps plus the neuron's bias add up to the neuron's
activation map. conv_1_1 has 3 input channels and 10 neurons, so 3 x 10 = 30
kernels; the later conv layers read 10 channels (100 kernels), all shown
compactly.
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
    Arrow,
    FadeIn,
    Group,
    LaggedStart,
    Mobject,
    Rectangle,
    VGroup,
)
from pydantic import Field

from cnn_model.sums import extremes
from cnn_model.tinyvgg import PREVIOUS
from cnn_model.trace import Trace

from ...i18n import _, integer
from ...visuals.colors import diverging_t
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, Frame, fit
from ...visuals.legend import Legend
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, SMALL, text
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import layer_of_kind, neuron_of
from ..kit.common import MapColours, channel_name, title_for
from ..kit.neuron import NeuronField
from ..kit.registry import Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid

LEGEND_HEIGHT = 0.75
ARROW_GAP = 0.9  # between the rows and the sum, where the arrows go


class ConvElasticSpec(StepSpec):
    type: Literal["conv_elastic"]
    layer: str = Field("conv_1_1", description="A convolution layer of the lesson's model.")
    neuron_field = NeuronField()

    neuron: int = Field(
        0,
        ge=0,
        description="Output channel (neuron) of the layer, from 0; default: the lesson's "
        "focus, else 0.",
    )


def check(spec: ConvElasticSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("conv",))
    return errors + neuron_of(info, layer, spec.layer, ("conv",), spec.neuron)


@dataclass(frozen=True)
class ChannelRow:
    """One input channel of the neuron: its map, its kernel and the map they make."""

    channel: int
    name: str
    values: np.ndarray  # (H, W) the input channel
    kernel: np.ndarray  # (3, 3) the neuron's weights for it
    kernel_texts: ShownGrid | None  # the weights as numbers, when there are few channels
    contribution: np.ndarray  # the channel cross-correlated with its kernel (no bias)


@dataclass(frozen=True)
class ConvElasticPlan:
    """What the ``conv_elastic`` step shows, chosen from the trace (no Mobjects)."""

    layer: str
    source: str  # the layer the neuron reads
    neuron: int
    rows: tuple[ChannelRow, ...]
    output: np.ndarray  # (H, W) the neuron's activation map
    bias: Shown
    mid_range: float  # full width of the intermediate maps' shared colour scale
    kernel_span: float  # full width of the weights' colour scale
    few: bool  # three channels or fewer: every weight written, one row each
    title: str
    count_line: str
    sum_label: str
    out_label: str
    legend_box: Box
    facts: dict[str, Any]

    @property
    def row_height(self) -> float:
        return 1.5 if self.few else 1.0


def _weight_texts(layer: str, neuron: int, channel: int, kernel: np.ndarray) -> ShownGrid:
    return shown_grid(layer, kernel, lambda i, j: (neuron, channel, i, j), kind="weight")


def plan(spec: ConvElasticSpec, trace: Trace, frame: Frame) -> ConvElasticPlan:
    """Every channel's map, kernel and intermediate map, and the sum's texts."""
    layer, neuron = spec.layer, spec.neuron
    source = PREVIOUS[layer]
    inputs = trace.activations[source]
    channels = inputs.shape[0]
    neurons = trace.activations[layer].shape[0]
    contributions = trace.channel_contributions(layer, neuron)
    kernels = trace.weights[layer][neuron]
    few = channels <= 3
    rows = tuple(
        ChannelRow(
            c,
            channel_name(source, c) if few else _("ch {channel}").format(channel=c),
            inputs[c],
            kernels[c],
            _weight_texts(layer, neuron, c, kernels[c]) if few else None,
            contributions[c],
        )
        for c in range(channels)
    )
    output = trace.activations[layer][neuron]
    bias = shown(layer, (neuron,), float(trace.biases[layer][neuron]), 4, "bias")
    total_kernels = channels * neurons
    content = frame.content_box()
    return ConvElasticPlan(
        layer=layer,
        source=source,
        neuron=neuron,
        rows=rows,
        output=output,
        bias=bias,
        # The intermediate maps share one diverging range, as CNN Explainer's do.
        mid_range=2 * round(0.1 + extremes(contributions).peak, 3),
        kernel_span=kernel_range(kernels),
        few=few,
        title=_("One neuron, every input channel: {layer}, neuron {neuron}").format(
            layer=layer, neuron=neuron
        ),
        count_line=_(
            "{layer}: {channels} input channels × {neurons} neurons = "
            "{kernels} kernels; neuron {neuron} uses {channels} of them"
        ).format(
            layer=layer,
            channels=integer(channels),
            neurons=integer(neurons),
            kernels=integer(total_kernels),
            neuron=neuron,
        ),
        sum_label=_("Σ of the {channels} maps + bias {bias}").format(
            channels=integer(channels), bias=bias.text
        ),
        out_label=_("{layer} · neuron {neuron} ({height}×{width})").format(
            layer=layer, neuron=neuron, height=output.shape[0], width=output.shape[1]
        ),
        legend_box=Box(content.left, content.bottom, content.right, content.bottom + LEGEND_HEIGHT),
        facts={
            "layer": layer,
            "neuron": neuron,
            "input_channels": channels,
            "neurons": neurons,
            "kernels": total_kernels,
        },
    )


def build(spec: ConvElasticSpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    theme, frame = ctx.theme, ctx.frame
    p = plan(spec, trace, frame)
    in_colours = MapColours(trace, p.source, theme, ctx.colour_range)
    out_colours = MapColours(trace, p.layer, theme, ctx.colour_range)
    title = title_for(ctx, p.title)
    yield Add([title])
    count_line = number_text(p.count_line, theme.font, LABEL, theme.muted)
    ctx.recorder.facts.update(p.facts)
    rows = [_row(p, row, in_colours, ctx) for row in p.rows]
    one_column = p.few or frame.portrait
    if one_column:
        stack = Group(*rows).arrange(DOWN, buff=0.12, aligned_edge=RIGHT)
    else:  # ten rows side by side in two columns of five
        half = (len(rows) + 1) // 2
        columns = [Group(*rows[:half]), Group(*rows[half:])]
        for column in columns:
            column.arrange(DOWN, buff=0.12, aligned_edge=RIGHT)
        stack = Group(*columns).arrange(RIGHT, buff=0.5, aligned_edge=UP)
    right, legend_row = _sum_side(p, in_colours, out_colours, ctx)
    _place(p, count_line, Group(stack, right), legend_row, frame)
    # Arrows from the intermediate maps into the sum: one per map when they
    # stand in one column, one for the whole block otherwise.
    tails = [row[-1] for row in rows] if one_column else [stack]
    arrows = VGroup(*[_arrow(tail, right, len(tails) > 1, frame, theme.muted) for tail in tails])
    box = Rectangle(
        width=right.width + 0.3,
        height=right.height + 0.3,
        stroke_color=theme.grid_line,
        stroke_width=1.5,
    ).move_to(right)
    sum_label, out_label, out_map = right

    yield Phase("inputs")
    yield Beat([FadeIn(count_line)], 0.8)
    inputs_first = [Group(row[0], row[1]) for row in rows]
    yield Beat([LaggedStart(*[FadeIn(g) for g in inputs_first], lag_ratio=0.15)], 1.2)
    yield Phase("kernels")
    yield Beat([LaggedStart(*[FadeIn(Group(row[2], row[3])) for row in rows], lag_ratio=0.15)], 1.2)
    yield Hold(0.4)
    yield Phase("intermediates")
    yield Beat([LaggedStart(*[FadeIn(Group(row[4], row[5])) for row in rows], lag_ratio=0.15)], 1.5)
    yield Beat([FadeIn(legend_row)], 0.6)
    yield Hold(0.6)
    yield Phase("sum")
    yield Beat([FadeIn(arrows), FadeIn(box), FadeIn(sum_label)], 1.0)
    yield Beat([FadeIn(out_label), FadeIn(out_map, shift=0.2 * LEFT)], 1.2)
    yield Hold(1.5)


def _row(p: ConvElasticPlan, row: ChannelRow, in_colours: MapColours, ctx: StepContext) -> Group:
    """name, input map ⊛ kernel → intermediate map (each drawn map recorded)."""
    theme, rec = ctx.theme, ctx.recorder
    height = p.row_height
    in_map = MapView(in_colours.rgb(row.values), height, theme.grid_line)
    rec.heatmap(
        p.source, [row.channel], row.values, (in_colours.lo, in_colours.hi), in_colours.scale.name
    )
    kernel_rgb = theme.weight.rgb(diverging_t(row.kernel, p.kernel_span))
    kernel: Mobject
    if row.kernel_texts is not None:
        texts = record_grid(rec, row.kernel_texts)
        kernel = NumberGrid(texts, kernel_rgb, height / 3, theme.font, 16, theme.grid_line)
    else:
        kernel = MapView(kernel_rgb, height * 0.6, theme.grid_line)
        span = p.kernel_span / 2
        rec.heatmap(
            f"{p.layer}.weight",
            [p.neuron, row.channel],
            row.kernel,
            (-span, span),
            theme.weight.name,
        )
    mid_rgb = theme.activation.rgb(diverging_t(row.contribution, p.mid_range))
    mid_map = MapView(mid_rgb, height, theme.grid_line)
    rec.heatmap(
        f"{p.layer}.contribution",
        [p.neuron, row.channel],
        row.contribution,
        (-p.mid_range / 2, p.mid_range / 2),
        theme.activation.name,
    )
    name = text(row.name, theme, SMALL, theme.muted)
    star = number_text("⊛", theme.font, BODY, theme.text)
    arrow = number_text("→", theme.font, BODY, theme.text)
    return Group(name, in_map, star, kernel, arrow, mid_map).arrange(RIGHT, buff=0.18)


def _sum_side(
    p: ConvElasticPlan, in_colours: MapColours, out_colours: MapColours, ctx: StepContext
) -> tuple[Group, Group]:
    """The sum's label over the activation map; and the row of colour legends."""
    theme, rec = ctx.theme, ctx.recorder
    out_map = MapView(out_colours.rgb(p.output), 3.0, theme.grid_line)
    rec.heatmap(
        p.layer, [p.neuron], p.output, (out_colours.lo, out_colours.hi), out_colours.scale.name
    )
    p.bias.record(rec)
    sum_label = number_text(p.sum_label, theme.font, LABEL, theme.text)
    out_label = text(p.out_label, theme, LABEL)
    half = p.mid_range / 2
    mid_legend = Legend(
        theme.activation, -half, half, _("intermediate maps"), theme.font, theme.text, mid=0.0
    )
    legends = [in_colours.legend(theme), mid_legend, out_colours.legend(theme)]
    if not p.few:
        span = p.kernel_span / 2
        legends.insert(
            1,
            Legend(theme.weight, -span, span, _("kernel weights"), theme.font, theme.text, mid=0.0),
        )
    right = Group(sum_label, out_label, out_map).arrange(DOWN, buff=0.2)
    return right, Group(*legends).arrange(RIGHT, buff=0.5)


def _place(
    p: ConvElasticPlan, count_line: Mobject, layout: Group, legend_row: Group, frame: Frame
) -> None:
    """The count line at the top, the rows and the sum under it, the legends at the bottom."""
    content = frame.content_box()
    count_line.scale_to_fit_width(min(count_line.width, content.width))
    count_line.move_to(np.array([0.0, content.top - count_line.height / 2, 0.0]))
    body = Box(
        content.left,
        content.bottom + LEGEND_HEIGHT + 0.1,
        content.right,
        content.top - count_line.height - 0.15,
    )
    layout.arrange(DOWN if frame.portrait else RIGHT, buff=ARROW_GAP)
    fit(layout, body)
    fit(legend_row, p.legend_box)


def _arrow(tail: Mobject, right: Mobject, many: bool, frame: Frame, colour: str) -> Arrow:
    return Arrow(
        tail.get_bottom() if frame.portrait else tail.get_right(),
        right.get_top() if frame.portrait else right.get_left(),
        buff=0.1,
        stroke_width=2 if many else 4,
        color=colour,
        max_tip_length_to_length_ratio=0.06 if many else 0.25,
    )


register(
    StepType(
        name="conv_elastic",
        spec=ConvElasticSpec,
        build=build,
        check=check,
        summary="One neuron's kernels, one per input channel, their maps summed with the bias.",
        phases=Phases(("inputs", "kernels", "intermediates", "sum")),
    )
)
