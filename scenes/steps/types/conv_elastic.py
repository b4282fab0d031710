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
    FadeOut,
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
from ...visuals.text import LABEL, NUMBER, text
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.cells import readable
from ..kit.checks import layer_of_kind, neuron_of
from ..kit.common import MapColours, channel_name, title_for
from ..kit.neuron import NeuronField
from ..kit.registry import Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid
from ..kit.wrap import wrap_lines

ARROW_GAP = 0.9  # between the channels and the sum, where the arrows go
# Sizes before the layout scales them. With few channels each kernel's weights are
# written in cells wide enough for the widest ("−0.15") at full size.
FEW_MAP = 1.6
SQUARE_FEW_MAP = 1.0  # a square frame has little height for the columns' two maps
MANY_MAP = 1.0
NARROW_MANY_MAP = 0.8  # two columns of rows in a tall or square frame
KERNEL_CELL = 0.88
OUT_MAP = 3.0
LEGEND_ZOOM = 1.2  # legends drawn larger, their words as large as the labels
LEGEND_WIDTH = 2.2  # a legend's bar, so drawn


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
    few: bool  # three channels or fewer: every weight written, one column each
    title: str
    count_line: str
    sum_label: str
    out_label: str
    facts: dict[str, Any]


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
    ctx.recorder.facts.update(p.facts)
    if p.few:
        height = FEW_MAP if frame.landscape or frame.portrait else SQUARE_FEW_MAP
    else:
        height = MANY_MAP if frame.landscape else NARROW_MANY_MAP
    units = [_unit(p, row, in_colours, ctx, height) for row in p.rows]
    block = _block(units, p.few)
    legends = _legends(p, in_colours, theme)
    sum_side = _sum_side(p, out_colours, ctx)
    sum_label, out_label, out_map, out_key = sum_side
    box = Rectangle(
        width=sum_side.width + 0.3,
        height=sum_side.height + 0.3,
        stroke_color=theme.grid_line,
        stroke_width=1.5,
    ).move_to(sum_side)
    framed = Group(box, sum_side)
    count_line = _count_line(p.count_line, theme, frame.content_box().width)
    mids = [unit[5] for unit in units]
    # In a square frame the channels take the whole frame; for the sum only their
    # intermediate maps stay, beside it.
    regroup = _place(frame, count_line, block, legends, framed, mids, p.few)
    if regroup is None:
        arrows = _arrows(frame, mids, block, box, p.few, regrouped=False)
    else:
        arrows = _arrows(frame, regroup[1], block, box, p.few, regrouped=True)
    arrows.set_color(theme.muted)

    yield Phase("inputs")
    yield Beat([FadeIn(count_line)], 0.8)
    inputs_first = [Group(unit[0], unit[1]) for unit in units]
    yield Beat([LaggedStart(*[FadeIn(g) for g in inputs_first], lag_ratio=0.15)], 1.2)
    yield Phase("kernels")
    yield Beat(
        [LaggedStart(*[FadeIn(Group(unit[2], unit[3])) for unit in units], lag_ratio=0.15)], 1.2
    )
    yield Hold(0.4)
    yield Phase("intermediates")
    yield Beat(
        [LaggedStart(*[FadeIn(Group(unit[4], unit[5])) for unit in units], lag_ratio=0.15)], 1.5
    )
    yield Beat([FadeIn(legends)], 0.6)
    yield Hold(0.6)
    yield Phase("sum")
    hold = 1.5
    if regroup is not None:
        leaving = [piece for unit in units for piece in unit[:5]] + list(legends[:-1])
        yield Beat([FadeOut(m) for m in leaving], 0.4)
        yield Beat(regroup[0], 0.6)
        hold -= 1.0
    yield Beat([FadeIn(arrows), FadeIn(box), FadeIn(sum_label)], 1.0)
    yield Beat([FadeIn(out_label), FadeIn(out_map, shift=0.2 * LEFT), FadeIn(out_key)], 1.2)
    yield Hold(hold)


def _unit(
    p: ConvElasticPlan, row: ChannelRow, in_colours: MapColours, ctx: StepContext, height: float
) -> Group:
    """name, input map ⊛ kernel → intermediate map (each drawn map recorded, ``height``
    tall): a column when there are few channels (the kernel's weights written large),
    else a row."""
    theme, rec = ctx.theme, ctx.recorder
    in_map = MapView(in_colours.rgb(row.values), height, theme.grid_line)
    rec.heatmap(
        p.source, [row.channel], row.values, (in_colours.lo, in_colours.hi), in_colours.scale.name
    )
    kernel_rgb = theme.weight.rgb(diverging_t(row.kernel, p.kernel_span))
    kernel: Mobject
    if row.kernel_texts is not None:
        texts = record_grid(rec, row.kernel_texts)
        grid = NumberGrid(texts, kernel_rgb, KERNEL_CELL, theme.font, NUMBER, theme.grid_line)
        kernel = readable(grid, kernel_rgb)
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
    name = text(row.name, theme, LABEL, theme.muted)
    star = number_text("⊛", theme.font, LABEL, theme.text)
    arrow = number_text("↓" if p.few else "→", theme.font, LABEL, theme.text)
    unit = Group(name, in_map, star, kernel, arrow, mid_map)
    return unit.arrange(DOWN if p.few else RIGHT, buff=0.08 if p.few else 0.12)


def _block(units: list[Group], few: bool) -> Group:
    """The channels side by side (few, in columns), or in two columns of rows."""
    if few:
        return Group(*units).arrange(RIGHT, buff=0.3, aligned_edge=UP)
    half = (len(units) + 1) // 2
    columns = [Group(*units[:half]), Group(*units[half:])]
    for column in columns:
        column.arrange(DOWN, buff=0.15, aligned_edge=RIGHT)
    return Group(*columns).arrange(RIGHT, buff=0.6, aligned_edge=UP)


def _legends(p: ConvElasticPlan, in_colours: MapColours, theme: Theme) -> Group:
    """The legends of the channels' maps (and of their kernels, when not written out):
    the intermediate maps' last."""
    half, width = p.mid_range / 2, LEGEND_WIDTH / LEGEND_ZOOM
    keys = [in_colours.legend(theme, width=width)]
    if not p.few:
        span = p.kernel_span / 2
        keys.append(
            Legend(
                theme.weight,
                -span,
                span,
                _("kernel weights"),
                theme.font,
                theme.text,
                width=width,
                mid=0.0,
            )
        )
    keys.append(
        Legend(
            theme.activation,
            -half,
            half,
            _("intermediate maps"),
            theme.font,
            theme.text,
            width=width,
            mid=0.0,
        )
    )
    return Group(*[key.scale(LEGEND_ZOOM) for key in keys])


def _sum_side(p: ConvElasticPlan, out_colours: MapColours, ctx: StepContext) -> Group:
    """The sum's label over the activation map and its legend (recorded)."""
    theme, rec = ctx.theme, ctx.recorder
    out_map = MapView(out_colours.rgb(p.output), OUT_MAP, theme.grid_line)
    rec.heatmap(
        p.layer, [p.neuron], p.output, (out_colours.lo, out_colours.hi), out_colours.scale.name
    )
    p.bias.record(rec)
    sum_label = number_text(p.sum_label, theme.font, LABEL, theme.text)
    out_label = text(p.out_label, theme, LABEL)
    out_key = out_colours.legend(theme, width=LEGEND_WIDTH / LEGEND_ZOOM).scale(LEGEND_ZOOM)
    return Group(sum_label, out_label, out_map, out_key).arrange(DOWN, buff=0.2)


def _count_line(line: str, theme: Theme, width: float) -> Mobject:
    """The count of kernels, in two lines where one is too wide."""
    one = number_text(line, theme.font, LABEL, theme.muted)
    if one.width <= width:
        return one
    lines = wrap_lines(line, theme, LABEL, width)
    return VGroup(*[number_text(part, theme.font, LABEL, theme.muted) for part in lines]).arrange(
        DOWN, buff=0.08
    )


def _place(
    frame: Frame,
    count_line: Mobject,
    block: Group,
    legends: Group,
    framed: Group,
    mids: list[Mobject],
    few: bool,
) -> tuple[list[Any], list[Mobject]] | None:
    """Lay the step out under the count line: the channels and the sum side by side in
    a wide frame, one over the other in a tall one. A square frame has room for the
    channels alone: they fill it, and what is returned brings their intermediate maps
    (and their legend) beside the sum for its turn: the animations, and the places
    the maps go to."""
    content = frame.content_box()
    count_line.move_to(np.array([0.0, content.top - count_line.height / 2, 0.0]))
    body = Box(content.left, content.bottom, content.right, content.top - count_line.height - 0.2)
    legends.arrange(RIGHT, buff=0.5)
    if frame.landscape:
        # Few channels stand tall: their legends go under the sum; many stand wide:
        # theirs go under them.
        if few:
            right = Group(framed, legends).arrange(DOWN, buff=0.35)
            fit(Group(block, right).arrange(RIGHT, buff=ARROW_GAP), body)
        else:
            left = Group(block, legends).arrange(DOWN, buff=0.35)
            fit(Group(left, framed).arrange(RIGHT, buff=ARROW_GAP), body)
        return None
    if legends.width > block.width:  # two legends a row
        legends.arrange_in_grid(cols=2, buff=(0.5, 0.3))
    if frame.portrait:
        # The legends one over the other beside the sum, under the channels.
        legends.arrange(DOWN, buff=0.3)
        under = Group(framed, legends).arrange(RIGHT, buff=0.4)
        fit(Group(block, under).arrange(DOWN, buff=ARROW_GAP), body)
        return None
    # For the sum, laid out first (at the pieces' own size): the intermediate maps
    # with their legend beside it.
    targets = Group(*[mid.copy() for mid in mids])
    if few:
        targets.arrange(DOWN, buff=0.15)
    else:
        targets.arrange_in_grid(cols=2, buff=0.15)
    key = legends[-1].copy()
    left = Group(targets, key).arrange(DOWN, buff=0.3)
    fit(Group(left, framed).arrange(RIGHT, buff=ARROW_GAP), body)
    # Until then the channels fill the frame.
    fit(Group(block, legends).arrange(DOWN, buff=0.35), body)
    moves: list[Any] = [
        mid.animate.scale(target.width / mid.width).move_to(target)
        for mid, target in zip(mids, targets, strict=True)
    ]
    moves.append(legends[-1].animate.scale(key.width / legends[-1].width).move_to(key))
    return moves, list(targets)


def _arrows(
    frame: Frame, mids: list[Mobject], block: Group, box: Mobject, few: bool, regrouped: bool
) -> VGroup:
    """Arrows into the sum: one from each intermediate map where they stand in a row
    over it (or in a column beside it), else one from the whole block."""
    down = frame.portrait
    if few and (down or regrouped):
        tails = mids
    else:
        tails = [block if not regrouped else Group(*mids)]
    arrows = VGroup()
    for tail in tails:
        if down:
            start = tail.get_bottom()
            x = float(np.clip(start[0], box.get_left()[0] + 0.3, box.get_right()[0] - 0.3))
            end = np.array([x, box.get_top()[1], 0.0])
        else:
            start = tail.get_right()
            y = float(np.clip(start[1], box.get_bottom()[1] + 0.3, box.get_top()[1] - 0.3))
            end = np.array([box.get_left()[0], y, 0.0])
        many = len(tails) > 1
        arrows.add(
            Arrow(
                start,
                end,
                buff=0.1,
                stroke_width=2 if many else 4,
                max_tip_length_to_length_ratio=0.15 if many else 0.25,
            )
        )
    return arrows


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
