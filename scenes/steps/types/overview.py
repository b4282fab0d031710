"""``overview``: the whole network at once, as in CNN Explainer's first view.

Every activation map of the lesson's image, layer by layer (three input
channels, then ten maps per layer), with layer names and shapes, the colour
range of each layer, and the class scores at the end. The layers appear in
the order the image flows through them. ``focus`` then zooms into one layer
(its ten maps, larger) or one neuron of it.
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
    Rectangle,
    VGroup,
)
from pydantic import Field

from cnn_model.sums import extremes
from cnn_model.tinyvgg import LAYER_NAMES, SOURCE_CONV
from cnn_model.trace import Trace

from ...i18n import _, ngettext
from ...visuals.glyphs import number_text
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, Frame, fit
from ...visuals.legend import Legend
from ...visuals.ranges import activation_range
from ...visuals.text import LABEL, SMALL
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import channel_in, quoted
from ..kit.common import MapColours, channel_name, title_for
from ..kit.neuron import NeuronField
from ..kit.record import Recorder
from ..kit.registry import Optional, Phases, StepType, register
from ..kit.shown import Shown, shown

MAP_LAYERS = tuple(n for n in LAYER_NAMES if n not in ("flatten", "output"))
MAX_CLASSES_SHOWN = 10
MAP_SIZE = 0.5  # of each map before the layout scales the network
MAP_GAP = 0.08
BAR_LENGTH = 1.4  # of a class score's bar
ROW_PITCH = 0.3  # between class rows
LEGEND_HEIGHT = 0.75
# The phases of the layers' entrance: each block of the network starts one.
BLOCK_STARTS = {"conv_1_1": "first block", "conv_2_1": "second block"}


class OverviewSpec(StepSpec):
    type: Literal["overview"]
    # A neuron zoomed into becomes the lesson's focus; none given zooms into the layer.
    neuron_field = NeuronField("focus_neuron", "focus", takes_focus=False)

    focus: str | None = Field(
        None, description="After the overview, zoom into this layer (e.g. conv_1_1)."
    )
    focus_neuron: int | None = Field(
        None,
        ge=0,
        description="With focus: zoom further into this neuron (channel) of the layer; the "
        "steps after it follow this neuron.",
    )


def _zooms(spec: OverviewSpec) -> bool:
    """Whether the overview zooms into a layer: with a focus."""
    return spec.focus is not None


def check(spec: OverviewSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    if spec.focus is None:
        if spec.focus_neuron is not None:
            return [
                (
                    ("focus_neuron",),
                    f"expected no focus_neuron without a focus layer, got {spec.focus_neuron}",
                )
            ]
        return []
    if spec.focus not in MAP_LAYERS:
        return [
            (
                ("focus",),
                f"expected a layer with maps ({', '.join(MAP_LAYERS)}), got {quoted(spec.focus)}",
            )
        ]
    if spec.focus_neuron is not None and info is not None:
        channels = info.layers[spec.focus].shape[0]
        return channel_in(
            channels,
            spec.focus_neuron,
            "focus_neuron",
            "a neuron",
            f"{spec.focus} has {channels} channels",
        )
    return []


def _shape(values: np.ndarray) -> str:
    c, h, w = values.shape
    return f"{h}×{w}×{c}"


@dataclass(frozen=True)
class LayerColumn:
    """One layer of the overview: its maps and the notes under its name."""

    layer: str
    values: np.ndarray  # (C, H, W) every channel's map
    shape_text: str  # "62×62×10"
    range_note: str  # "0 to 1" or "±0.53"
    range_shown: Shown | None  # +R/2 of the layer's colour scale (not for the input)


@dataclass(frozen=True)
class ClassRow:
    """One class score at the end of the network."""

    index: int
    name: str
    probability: Shown
    predicted: bool


@dataclass(frozen=True)
class FocusPlan:
    """The zoom into one layer (its maps larger) or one neuron of it."""

    layer: str
    values: np.ndarray  # (C, H, W)
    heading: str
    per_row: int  # maps per row when the whole layer is shown
    neuron: int | None
    low: Shown | None  # the neuron's smallest and largest value, where they are
    high: Shown | None
    note: str | None


@dataclass(frozen=True)
class OverviewPlan:
    """What the ``overview`` step shows, chosen from the trace (no Mobjects)."""

    title: str
    wide: bool  # layers left to right (else top to bottom)
    columns: tuple[LayerColumn, ...]
    classes: tuple[ClassRow, ...]
    out_label: str
    body_box: Box  # the network
    legend_box: Box  # the two colour legends under it
    focus: FocusPlan | None
    facts: dict[str, Any]

    @property
    def winner(self) -> int:
        """The row of the predicted class."""
        return next(i for i, row in enumerate(self.classes) if row.predicted)


def _column(trace: Trace, layer: str, scope: str) -> LayerColumn:
    values = trace.activations[layer]
    if layer == "input":
        return LayerColumn(layer, values, _shape(values), _("0 to 1"), None)
    half = activation_range(trace.activations, layer, scope) / 2
    number = shown(SOURCE_CONV[layer], (), half, kind="colour_range")
    return LayerColumn(layer, values, _shape(values), f"±{number.text}", number)


def _class_rows(trace: Trace) -> tuple[ClassRow, ...]:
    """The model's probabilities (the top ten in order when there are more classes)."""
    order = np.argsort(-trace.probabilities, kind="stable")[:MAX_CLASSES_SHOWN]
    many = len(trace.classes) > MAX_CLASSES_SHOWN
    indices = [int(i) for i in order] if many else sorted(int(i) for i in order)
    return tuple(
        ClassRow(
            i,
            trace.classes[i],
            shown("output", (i,), float(trace.probabilities[i]), 4, "probability"),
            i == trace.prediction,
        )
        for i in indices
    )


def _focus_plan(spec: OverviewSpec, trace: Trace, frame: Frame) -> FocusPlan | None:
    if spec.focus is None:
        return None
    layer, c = spec.focus, spec.focus_neuron
    values = trace.activations[layer]
    heading = f"{layer} · {_shape(values)}"
    if c is not None:
        heading = f"{heading} · {channel_name(layer, c)}"
    per_row = 5 if frame.landscape else (2 if frame.portrait else 4)
    if c is None:
        return FocusPlan(layer, values, heading, per_row, None, None, None, None)
    ends = extremes(values[c])
    low = shown(layer, (c, *ends.low_at), ends.low)
    high = shown(layer, (c, *ends.high_at), ends.high)
    note = _("min {low} · max {high}").format(low=low.text, high=high.text)
    return FocusPlan(layer, values, heading, per_row, c, low, high, note)


def plan(
    spec: OverviewSpec, trace: Trace, frame: Frame, colour_range: str = "layer"
) -> OverviewPlan:
    """Every map, colour range and class score the overview shows; builds no Mobject.

    ``colour_range`` is the lesson's choice of colour scale per layer, block or network.
    """
    classes = _class_rows(trace)
    content = frame.content_box()
    return OverviewPlan(
        title=_("The whole network, from image to prediction"),
        wide=frame.landscape,
        columns=tuple(_column(trace, layer, colour_range) for layer in MAP_LAYERS),
        classes=classes,
        out_label=ngettext(
            "output ({count} class)", "output ({count} classes)", len(trace.classes)
        ).format(count=len(trace.classes)),
        body_box=Box(
            content.left, content.bottom + LEGEND_HEIGHT + 0.1, content.right, content.top
        ),
        legend_box=Box(content.left, content.bottom, content.right, content.bottom + LEGEND_HEIGHT),
        focus=_focus_plan(spec, trace, frame),
        facts={
            "layers": list(MAP_LAYERS),
            "prediction": trace.predicted_class,
            "classes_shown": [row.name for row in classes],
        },
    )


def build(spec: OverviewSpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    theme, frame = ctx.theme, ctx.frame
    p = plan(spec, trace, frame, ctx.colour_range)
    title = title_for(ctx, p.title)
    yield Add([title])
    colours = {layer: MapColours(trace, layer, theme, ctx.colour_range) for layer in MAP_LAYERS}
    # One group per layer: its label and its maps.
    layers: list[Group] = []
    map_views: dict[str, list[MapView]] = {}
    for column in p.columns:
        group, map_views[column.layer] = _layer_group(column, colours[column.layer], p.wide, ctx)
        layers.append(group)
    outputs, winner = _class_block(p, theme, ctx.recorder)
    network = Group(*layers, outputs)
    if p.wide:
        network.arrange(RIGHT, buff=0.22, aligned_edge=UP)
    else:
        network.arrange(DOWN, buff=0.18, aligned_edge=RIGHT)
        outputs.align_to(network, LEFT)
    fit(network, p.body_box, max_scale=1.5)
    legends = Group(
        colours["input"].legend(theme),
        _activation_legend(colours, theme),
    ).arrange(RIGHT, buff=0.8)
    fit(legends, p.legend_box)
    ctx.recorder.facts.update(p.facts)

    yield Phase("input")
    yield Beat([FadeIn(legends)], 0.6)
    # Layer after layer, as the image flows through the network. Appearing
    # without a fade keeps every frame in between a cheap still.
    for column, group in zip(p.columns, layers, strict=True):
        if column.layer in BLOCK_STARTS:
            yield Phase(BLOCK_STARTS[column.layer])
        yield Add([group])
        yield Hold(0.4)
    yield Phase("scores")
    yield Beat([FadeIn(outputs, shift=0.2 * (LEFT if p.wide else UP))], 1.0)
    ring = Rectangle(
        width=winner.width + 0.15,
        height=winner.height + 0.1,
        stroke_color=theme.highlight,
        stroke_width=3,
    ).move_to(winner)
    yield Beat([FadeIn(ring)], 0.6)
    yield Hold(1.5)

    if p.focus is None:
        return
    focus = p.focus
    yield Phase("zoom")
    focus_group = layers[MAP_LAYERS.index(focus.layer)]
    target = focus_group if focus.neuron is None else map_views[focus.layer][focus.neuron]
    yield _zoom_into(Group(network, ring, legends), target, title, frame)
    detail = _focus_view(focus, colours[focus.layer], ctx)
    yield Beat([FadeIn(detail)], 1.0)
    yield Hold(2.0)


def _layer_group(
    column: LayerColumn, col: MapColours, wide: bool, ctx: StepContext
) -> tuple[Group, list[MapView]]:
    """A layer's name, shape and colour range beside (or above) its maps."""
    theme, rec = ctx.theme, ctx.recorder
    views = []
    for c, values in enumerate(column.values):
        views.append(MapView(col.rgb(values), MAP_SIZE, theme.grid_line, border_width=0.8))
        rec.heatmap(column.layer, [c], values, (col.lo, col.hi), col.scale.name)
    maps = Group(*views).arrange(DOWN if wide else RIGHT, buff=MAP_GAP)
    name = number_text(column.layer, theme.font, SMALL, theme.text)
    shape = number_text(column.shape_text, theme.font, SMALL - 3, theme.muted)
    if column.range_shown is not None:
        column.range_shown.record(rec)
    scale_note = number_text(column.range_note, theme.font, SMALL - 3, theme.muted)
    if wide:
        label = VGroup(name, shape).arrange(DOWN, buff=0.06)
        return Group(label, maps, scale_note).arrange(DOWN, buff=0.12), views
    label = VGroup(name, shape, scale_note).arrange(DOWN, buff=0.04, aligned_edge=RIGHT)
    return Group(label, maps).arrange(RIGHT, buff=0.2), views


def _class_block(p: OverviewPlan, theme: Theme, rec: Recorder) -> tuple[Group, Group]:
    """The class scores as bars with their names and values; and the winner's row."""
    rows = []
    for row_index, row in enumerate(p.classes):
        row.probability.record(rec)
        text_colour = theme.text if row.predicted else theme.muted
        colour = theme.accent if row.predicted else theme.muted
        # number_text puts the baseline at y = 0, so names line up with their bars.
        name = number_text(
            row.name, theme.font, SMALL, text_colour, weight="BOLD" if row.predicted else "NORMAL"
        )
        number = number_text(row.probability.text, theme.font, SMALL - 2, colour)
        track = Rectangle(width=BAR_LENGTH, height=0.16, stroke_width=0)
        track.set_fill(theme.empty_cell, 1)
        bar = Rectangle(
            width=max(BAR_LENGTH * row.probability.value, 0.01), height=0.16, stroke_width=0
        )
        bar.set_fill(colour, 1).align_to(track, LEFT)
        rows.append((name, Group(track, bar), number, -row_index * ROW_PITCH))
    name_width = max(r[0].width for r in rows)
    class_rows = []
    for name, bars, number, y in rows:
        name.shift(np.array([-name.get_left()[0], y - 0.06, 0.0]))
        bars.move_to(np.array([name_width + 0.15 + BAR_LENGTH / 2, y, 0.0]))
        number.shift(
            np.array([name_width + BAR_LENGTH + 0.3 - number.get_left()[0], y - 0.05, 0.0])
        )
        class_rows.append(Group(name, bars, number))
    out_label = number_text(p.out_label, theme.font, SMALL, theme.text)
    outputs = Group(out_label, Group(*class_rows)).arrange(DOWN, buff=0.15)
    return outputs, class_rows[p.winner]


def _zoom_into(everything: Group, target: Mobject, title: Mobject, frame: Frame) -> Beat:
    """Zoom about ``target`` (it ends at the centre) while everything fades.

    x -> zoom * (x - P). FadeOut scales about the group's own centre c, so it
    needs the shift zoom * (c - P) - c; it also removes the group.
    """
    zoom = min(frame.width / max(target.width, 1e-6), frame.height / max(target.height, 1e-6)) * 0.6
    focus_point = target.get_center()
    centre = everything.get_center()
    return Beat(
        [
            FadeOut(everything, scale=zoom, shift=zoom * (centre - focus_point) - centre),
            FadeOut(title),
        ],
        1.5,
    )


def _activation_legend(colours: dict[str, MapColours], theme: Theme) -> Legend:
    """The diverging scale once, noting that each layer has its own range R."""
    sample = next(c for c in colours.values() if not c.is_input)
    return Legend(
        sample.scale,
        -1.0,
        1.0,
        _("activation (R per layer, under each)"),
        theme.font,
        theme.text,
        mid=0.0,
        end_labels=("−R/2", "+R/2"),
    )


def _focus_view(focus: FocusPlan, col: MapColours, ctx: StepContext) -> Group:
    theme, frame = ctx.theme, ctx.frame
    values = focus.values
    heading = number_text(focus.heading, theme.font, 30, theme.text)
    if focus.neuron is None:
        views = [MapView(col.rgb(values[c]), 1.6, theme.grid_line) for c in range(values.shape[0])]
        labels = [
            number_text(str(c), theme.font, LABEL, theme.muted) for c in range(values.shape[0])
        ]
        cells = [
            Group(lab, v).arrange(DOWN, buff=0.08) for lab, v in zip(labels, views, strict=True)
        ]
        body: Mobject = Group(*cells).arrange_in_grid(cols=focus.per_row, buff=0.25)
    else:
        assert focus.low is not None and focus.high is not None and focus.note is not None
        view = MapView(col.rgb(values[focus.neuron]), 4.5, theme.grid_line)
        focus.low.record(ctx.recorder)
        focus.high.record(ctx.recorder)
        note = number_text(focus.note, theme.font, LABEL, theme.muted)
        body = Group(view, note).arrange(DOWN, buff=0.15)
    view_group = Group(heading, body, col.legend(theme)).arrange(DOWN, buff=0.3)
    fit(view_group, frame.box, max_scale=1.0)
    return view_group


register(
    StepType(
        name="overview",
        spec=OverviewSpec,
        build=build,
        check=check,
        summary="Every activation map of the network for the lesson's image, and the class scores.",
        phases=Phases(
            (
                "input",
                "first block",
                "second block",
                "scores",
                Optional("zoom", when=_zooms, set_by="focus"),
            )
        ),
    )
)
