"""``overview``: the whole network at once, as in CNN Explainer's first view.

Every activation map of the lesson's image, layer by layer (three input
channels, then ten maps per layer), with layer names and shapes, the colour
range of each layer, and the class scores at the end. The layers appear in
the order the image flows through them. ``focus`` then zooms into one layer
(its ten maps, larger) or one neuron of it.

Every text keeps its size (about 2 % of the frame's short side at least) and
the maps take the room the texts leave: a wide frame shows the two blocks as
two rows of layers, left to right, with the scores beside them; a tall one a
row of maps per layer, the scores under them; a square one the two blocks
side by side, the first block giving its place to the scores at the end.
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
    Animation,
    FadeIn,
    FadeOut,
    Group,
    Mobject,
    Rectangle,
    ReplacementTransform,
    VGroup,
)
from pydantic import Field

from cnn_model.sums import extremes
from cnn_model.tinyvgg import LAYER_NAMES, SOURCE_CONV
from cnn_model.trace import Trace

from ...i18n import _, ngettext
from ...visuals.glyphs import number_text
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, Frame, fit, largest_fitting
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
FIRST_BLOCK = MAP_LAYERS[1 : MAP_LAYERS.index("conv_2_1")]
MAP_SIZE = 0.5  # of each map before the layout sizes them
MAX_MAP = 1.0  # the largest a map of the whole network is drawn
MAP_GAP = 0.08
LABEL_SIZE = SMALL  # every text of the network: never drawn smaller
LINE_GAP = 0.05  # between a layer's name, shape and range
ROW_GAP = 0.1  # between layers one under the other
COLUMN_GAP = 0.25  # between layers side by side
BAND_GAP = 0.3  # between the two blocks of a wide frame
BLOCK_GAP = 0.4  # between the two blocks of a square frame
BAR_LENGTH = 1.4  # of a class score's bar
NARROW_BAR = 1.0  # where the scores share the frame's width with a block or legends
ROW_PITCH = 0.3  # between class rows
FOCUS_HEADING = 30
FOCUS_MAPS = 2.2  # the largest a map of the zoomed layer is drawn
FOCUS_MAP = 6.0  # the largest the zoomed neuron's map is drawn
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
    # "bands": the two blocks in two rows, layers left to right in each, the scores
    # beside them (a wide frame); "rows": every layer a row of maps, the scores under
    # them (a tall frame); "blocks": the two blocks side by side, layers as rows, the
    # scores taking the first block's place (a square frame).
    arrangement: Literal["bands", "rows", "blocks"]
    columns: tuple[LayerColumn, ...]
    classes: tuple[ClassRow, ...]
    out_label: str
    bar_length: float  # of a class score's bar
    body_box: Box  # the network, the scores and the two colour legends
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
    arrangement: Literal["bands", "rows", "blocks"] = (
        "bands" if frame.landscape else "rows" if frame.portrait else "blocks"
    )
    return OverviewPlan(
        title=_("The whole network, from image to prediction"),
        arrangement=arrangement,
        columns=tuple(_column(trace, layer, colour_range) for layer in MAP_LAYERS),
        classes=classes,
        out_label=ngettext(
            "output ({count} class)", "output ({count} classes)", len(trace.classes)
        ).format(count=len(trace.classes)),
        bar_length=BAR_LENGTH if arrangement == "bands" else NARROW_BAR,
        body_box=frame.content_box(),
        focus=_focus_plan(spec, trace, frame),
        facts={
            "layers": list(MAP_LAYERS),
            "prediction": trace.predicted_class,
            "classes_shown": [row.name for row in classes],
        },
    )


@dataclass
class LayerParts:
    """One layer as drawn: its name, shape and colour range, and its maps."""

    layer: str
    name: Mobject
    shape: Mobject
    note: Mobject
    views: list[MapView]

    @property
    def label(self) -> list[Mobject]:
        return [self.name, self.shape, self.note]

    def group(self) -> Group:
        return Group(*self.label, *self.views)


@dataclass
class Network:
    """The overview's mobjects, placed for the frame's arrangement."""

    layers: list[LayerParts]
    outputs: Group
    winner: Group
    legends: Group
    # "blocks": where the second block goes when the first leaves for the scores.
    block_shift: np.ndarray | None = None

    def everything(self) -> Group:
        return Group(*(layer.group() for layer in self.layers), self.outputs, self.legends)


def build(spec: OverviewSpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    theme, frame = ctx.theme, ctx.frame
    p = plan(spec, trace, frame, ctx.colour_range)
    title = title_for(ctx, p.title)
    yield Add([title])
    colours = {layer: MapColours(trace, layer, theme, ctx.colour_range) for layer in MAP_LAYERS}
    layers = [_layer_parts(column, colours[column.layer], ctx) for column in p.columns]
    outputs, winner = _class_block(p, theme, ctx.recorder)
    legends = Group(colours["input"].legend(theme), _activation_legend(colours, theme))
    net = Network(layers, outputs, winner, legends)
    _place(net, p)
    ctx.recorder.facts.update(p.facts)

    yield Phase("input")
    yield Beat([FadeIn(legends)], 0.6)
    # Layer after layer, as the image flows through the network. Appearing
    # without a fade keeps every frame in between a cheap still.
    for column, layer in zip(p.columns, layers, strict=True):
        if column.layer in BLOCK_STARTS:
            yield Phase(BLOCK_STARTS[column.layer])
        yield Add([layer.group()])
        yield Hold(0.4)
    yield Phase("scores")
    first_block = [layer for layer in layers if layer.layer in ("input", *FIRST_BLOCK)]
    if net.block_shift is None:
        direction = LEFT if p.arrangement == "bands" else UP
        yield Beat([FadeIn(outputs, shift=0.2 * direction)], 1.0)
    else:  # no room for the scores beside both blocks: the first one leaves
        second = Group(*(layer.group() for layer in layers if layer not in first_block))
        yield Beat([FadeOut(layer.group()) for layer in first_block], 0.2)
        yield Beat([second.animate.shift(net.block_shift)], 0.4)
        yield Beat([FadeIn(outputs)], 0.4)
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
    shown_layers = [
        layer for layer in layers if net.block_shift is None or layer not in first_block
    ]
    target = next((layer for layer in shown_layers if layer.layer == focus.layer), None)
    sources = []
    if target is not None:
        sources = target.views if focus.neuron is None else [target.views[focus.neuron]]
    leaving = [
        m
        for layer in shown_layers
        for m in [*layer.label, *(v for v in layer.views if v not in sources)]
    ]
    # Everything else leaves, then the layer's maps grow into the larger view.
    yield Beat([FadeOut(Group(*leaving, outputs, legends, ring)), FadeOut(title)], 0.6)
    detail = _focus_view(focus, colours[focus.layer], ctx)
    grow: list[Animation]
    if sources:
        grow = [
            ReplacementTransform(small, large)
            for small, large in zip(sources, detail.views, strict=True)
        ]
    else:
        grow = [FadeIn(view) for view in detail.views]
    yield Beat(grow, 0.9)
    yield Beat([FadeIn(m) for m in detail.texts], 1.0)
    yield Hold(2.0)


def _layer_parts(column: LayerColumn, col: MapColours, ctx: StepContext) -> LayerParts:
    """A layer's name, shape and colour range (each a line of its own) and its maps."""
    theme, rec = ctx.theme, ctx.recorder
    views = []
    for c, values in enumerate(column.values):
        views.append(MapView(col.rgb(values), MAP_SIZE, theme.grid_line, border_width=0.8))
        rec.heatmap(column.layer, [c], values, (col.lo, col.hi), col.scale.name)
    if column.range_shown is not None:
        column.range_shown.record(rec)
    return LayerParts(
        layer=column.layer,
        name=number_text(column.layer, theme.font, LABEL_SIZE, theme.text),
        shape=number_text(column.shape_text, theme.font, LABEL_SIZE, theme.muted),
        note=number_text(column.range_note, theme.font, LABEL_SIZE, theme.muted),
        views=views,
    )


def _map_grid(views: list[MapView], size: float, cols: int, down_first: bool = False) -> Group:
    """The maps ``size`` tall in ``cols`` columns (filled row by row, or column by column)."""
    for view in views:
        view.scale_to_fit_height(size)
    cols = min(cols, len(views))
    rows = -(-len(views) // cols)
    return Group(*views).arrange_in_grid(
        rows=rows, cols=cols, buff=MAP_GAP, flow_order="dr" if down_first else "rd"
    )


def _label_beside(
    layers: list[LayerParts], size: float, cols: int, label_gap: float = 0.15
) -> Group:
    """Layers one under the other, each label right-aligned left of its maps."""
    rows = []
    y = 0.0
    for layer in layers:
        maps = _map_grid(layer.views, size, cols)
        label = Group(*layer.label).arrange(DOWN, buff=LINE_GAP, aligned_edge=RIGHT)
        height = max(label.height, maps.height)
        middle = y - height / 2
        maps.move_to(np.array([0.0, middle, 0.0]), aligned_edge=LEFT)
        label.move_to(np.array([-label_gap, middle, 0.0]), aligned_edge=RIGHT)
        rows.append(Group(label, maps))
        y -= height + ROW_GAP
    return Group(*rows)


def _label_above(layers: list[LayerParts], size: float) -> Group:
    """Layers side by side: name and shape above the maps (five rows of two), range under."""
    columns = [
        (layer, _map_grid(layer.views, size, 1 if len(layer.views) < 5 else 2, down_first=True))
        for layer in layers
    ]
    name_h = max(layer.name.height for layer in layers)
    shape_h = max(layer.shape.height for layer in layers)
    maps_top = -(name_h + shape_h + LINE_GAP + 0.1)
    x = 0.0
    placed = []
    for layer, maps in columns:
        width = max(layer.name.width, layer.shape.width, layer.note.width, maps.width)
        centre = x + width / 2
        layer.name.move_to(np.array([centre, 0.0, 0.0]), aligned_edge=UP)
        layer.shape.move_to(np.array([centre, -(name_h + LINE_GAP), 0.0]), aligned_edge=UP)
        maps.move_to(np.array([centre, maps_top, 0.0]), aligned_edge=UP)
        layer.note.next_to(maps, DOWN, buff=0.1)
        placed.append(layer.group())
        x += width + COLUMN_GAP
    return Group(*placed)


def _legends(legends: Group, width: float) -> Group:
    """The two legends side by side when that fits ``width``, else one under the other."""
    legends.arrange(RIGHT, buff=0.8, aligned_edge=UP)
    if legends.width > width:
        legends.arrange(DOWN, buff=0.25)
    return legends


def _place(net: Network, p: OverviewPlan) -> None:
    """Place everything with maps as large as the frame allows and texts at their size."""
    box = p.body_box
    first = [layer for layer in net.layers if layer.layer in ("input", *FIRST_BLOCK)]
    second = [layer for layer in net.layers if layer not in first]

    def bands(size: float) -> Group:
        rows = [_label_above(first, size), _label_above(second, size)]
        network = Group(*rows).arrange(DOWN, buff=BAND_GAP, aligned_edge=LEFT)
        side = Group(net.outputs, net.legends.arrange(DOWN, buff=0.3))
        side.arrange(DOWN, buff=0.4)
        side.next_to(network, RIGHT, buff=0.5)
        return Group(network, side)

    def rows(size: float) -> Group:
        network = _label_beside(net.layers, size, 10)
        # The scores with the legends beside them, or under them if they do not fit.
        legends = net.legends.arrange(DOWN, buff=0.3)
        end = Group(net.outputs, legends).arrange(RIGHT, buff=0.5)
        if end.width > box.width:
            end.arrange(DOWN, buff=0.35)
        end.next_to(network, DOWN, buff=0.35)
        return Group(network, end)

    def blocks(size: float) -> Group:
        left = _label_beside(first, size, 5)
        right = _label_beside(second, size, 5)
        right.next_to(left, RIGHT, buff=BLOCK_GAP, aligned_edge=UP)
        network = Group(left, right)
        _legends(net.legends, box.width).next_to(network, DOWN, buff=0.35)
        return Group(network, net.legends)

    placer = {"bands": bands, "rows": rows, "blocks": blocks}[p.arrangement]

    def fits(size: float) -> bool:
        group = placer(size)
        if p.arrangement == "blocks":  # the scores come in where the first block was
            width = _scores_width(second, net.outputs)
            return group.width <= box.width and group.height <= box.height and width <= box.width
        return group.width <= box.width and group.height <= box.height

    group = placer(largest_fitting(fits, 0.15, MAX_MAP, 14))
    fit(group, box, max_scale=1.0)
    if p.arrangement != "blocks":
        return
    # The scores need the first block's room: the second block moves left for them,
    # the pair centred where the network was.
    block = Group(*(layer.group() for layer in second))
    left = box.center[0] - _scores_width(second, net.outputs) / 2
    net.block_shift = np.array([left - block.get_left()[0], 0.0, 0.0])
    net.outputs.next_to(block, RIGHT, buff=BLOCK_GAP).shift(net.block_shift)
    net.outputs.set_y(block.get_center()[1])


def _scores_width(second: list[LayerParts], outputs: Group) -> float:
    """How wide the second block and the scores are side by side."""
    block = Group(*(layer.group() for layer in second))
    return float(block.width + BLOCK_GAP + outputs.width)


def _class_block(p: OverviewPlan, theme: Theme, rec: Recorder) -> tuple[Group, Group]:
    """The class scores as bars with their names and values; and the winner's row."""
    bar_length = p.bar_length
    rows = []
    for row_index, row in enumerate(p.classes):
        row.probability.record(rec)
        text_colour = theme.text if row.predicted else theme.muted
        colour = theme.accent if row.predicted else theme.muted
        # number_text puts the baseline at y = 0, so names line up with their bars.
        name = number_text(
            row.name,
            theme.font,
            LABEL_SIZE,
            text_colour,
            weight="BOLD" if row.predicted else "NORMAL",
        )
        number = number_text(row.probability.text, theme.font, LABEL_SIZE, colour)
        track = Rectangle(width=bar_length, height=0.16, stroke_width=0)
        track.set_fill(theme.empty_cell, 1)
        bar = Rectangle(
            width=max(bar_length * row.probability.value, 0.01), height=0.16, stroke_width=0
        )
        bar.set_fill(colour, 1).align_to(track, LEFT)
        rows.append((name, Group(track, bar), number, -row_index * ROW_PITCH))
    name_width = max(r[0].width for r in rows)
    class_rows = []
    for name, bars, number, y in rows:
        name.shift(np.array([-name.get_left()[0], y - 0.06, 0.0]))
        bars.move_to(np.array([name_width + 0.15 + bar_length / 2, y, 0.0]))
        number.shift(
            np.array([name_width + bar_length + 0.3 - number.get_left()[0], y - 0.06, 0.0])
        )
        class_rows.append(Group(name, bars, number))
    out_label = number_text(p.out_label, theme.font, LABEL_SIZE, theme.text)
    outputs = Group(out_label, Group(*class_rows)).arrange(DOWN, buff=0.15)
    return outputs, class_rows[p.winner]


def _activation_legend(colours: dict[str, MapColours], theme: Theme) -> Legend:
    """The diverging scale once, noting that each layer has its own range R."""
    sample = next(c for c in colours.values() if not c.is_input)
    # The note in brackets on a line of its own keeps the legend as narrow as its bar.
    title = _("activation (R per layer, shown with it)").replace(" (", "\n(", 1)
    return Legend(
        sample.scale,
        -1.0,
        1.0,
        title,
        theme.font,
        theme.text,
        mid=0.0,
        end_labels=("−R/2", "+R/2"),
    )


@dataclass
class Detail:
    """The layer (or neuron) zoomed into: its maps, larger, and the texts around them."""

    views: list[MapView]
    texts: list[Mobject]


def _heading(content: str, theme: Theme, width: float) -> Mobject:
    """The zoom's heading on one line, or broken at its dots when it is too wide."""
    line = number_text(content, theme.font, FOCUS_HEADING, theme.text)
    if line.width <= width or " · " not in content:
        return line
    first, rest = content.split(" · ", 1)
    lines = [number_text(part, theme.font, FOCUS_HEADING, theme.text) for part in (first, rest)]
    return VGroup(*lines).arrange(DOWN, buff=0.12)


def _focus_view(focus: FocusPlan, col: MapColours, ctx: StepContext) -> Detail:
    """The zoomed layer's maps (or neuron's map) as large as the frame allows."""
    theme, box = ctx.theme, ctx.frame.box
    values = focus.values
    heading = _heading(focus.heading, theme, box.width)
    legend = col.legend(theme)
    texts: list[Mobject]
    if focus.neuron is None:
        views = [MapView(col.rgb(values[c]), 1.6, theme.grid_line) for c in range(values.shape[0])]
        labels = [
            number_text(str(c), theme.font, LABEL, theme.muted) for c in range(values.shape[0])
        ]
        texts = [heading, *labels, legend]
        largest = FOCUS_MAPS

        def place(size: float) -> Group:
            cells = []
            for label, view in zip(labels, views, strict=True):
                view.scale_to_fit_height(size)
                cells.append(Group(label, view).arrange(DOWN, buff=0.08))
            body = Group(*cells).arrange_in_grid(cols=focus.per_row, buff=0.25)
            return Group(heading, body, legend).arrange(DOWN, buff=0.3)

    else:
        assert focus.low is not None and focus.high is not None and focus.note is not None
        views = [MapView(col.rgb(values[focus.neuron]), FOCUS_MAP, theme.grid_line)]
        focus.low.record(ctx.recorder)
        focus.high.record(ctx.recorder)
        note = number_text(focus.note, theme.font, LABEL, theme.muted)
        texts = [heading, note, legend]
        largest = FOCUS_MAP

        def place(size: float) -> Group:
            views[0].scale_to_fit_height(size)
            body = Group(views[0], note).arrange(DOWN, buff=0.15)
            return Group(heading, body, legend).arrange(DOWN, buff=0.3)

    def fits(size: float) -> bool:
        group = place(size)
        return group.width <= box.width and group.height <= box.height

    fit(place(largest_fitting(fits, 0.3, largest, 12)), box, max_scale=1.0)
    return Detail(views, texts)


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
