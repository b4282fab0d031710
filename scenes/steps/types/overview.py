"""``overview``: the whole network at once, as in CNN Explainer's first view.

Every activation map of the lesson's image, layer by layer (three input
channels, then ten maps per layer), with layer names and shapes, the colour
range of each layer, and the class scores at the end. The layers appear in
the order the image flows through them. ``focus`` then zooms into one layer
(its ten maps, larger) or one neuron of it.
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
    Mobject,
    Rectangle,
    VGroup,
)
from pydantic import Field

from cnn_model.tinyvgg import LAYER_NAMES

from ...visuals.glyphs import number_text
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, fit
from ...visuals.legend import Legend
from ...visuals.numbers import fmt
from ...visuals.text import LABEL, SMALL
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.checks import channel_in, quoted
from ..kit.common import MapColours, title_for
from ..kit.registry import StepType, register

MAP_LAYERS = tuple(n for n in LAYER_NAMES if n not in ("flatten", "output"))
MAX_CLASSES_SHOWN = 10


class OverviewSpec(StepSpec):
    type: Literal["overview"]
    focus: str | None = Field(
        None, description="After the overview, zoom into this layer (e.g. conv_1_1)."
    )
    focus_neuron: int | None = Field(
        None, ge=0, description="With focus: zoom further into this neuron (channel) of the layer."
    )


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


def build(spec: OverviewSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    title = title_for(ctx, "The whole network, from image to prediction")
    yield Add([title])
    wide = frame.landscape
    content = frame.content_box()
    colours = {layer: MapColours(trace, layer, theme, ctx.colour_range) for layer in MAP_LAYERS}

    # One group per layer: its label and its maps.
    layers: list[Group] = []
    map_views: dict[str, list[MapView]] = {}
    size = 0.5
    gap = 0.08
    for layer in MAP_LAYERS:
        values = trace.activations[layer]
        col = colours[layer]
        views = []
        for c in range(values.shape[0]):
            view = MapView(col.rgb(values[c]), size, theme.grid_line, border_width=0.8)
            rec.heatmap(layer, [c], values[c], (col.lo, col.hi), col.scale.name)
            views.append(view)
        map_views[layer] = views
        maps = Group(*views).arrange(DOWN if wide else RIGHT, buff=gap)
        name = number_text(layer, theme.font, SMALL, theme.text)
        shape = number_text(_shape(values), theme.font, SMALL - 3, theme.muted)
        if col.is_input:
            span = "0 to 1"
        else:
            shown = rec.number(
                col.source_conv or layer, [], col.hi, kind="colour_range", text=fmt(col.hi, 2)
            )
            span = f"±{shown}"
        scale_note = number_text(span, theme.font, SMALL - 3, theme.muted)
        if wide:
            label = VGroup(name, shape).arrange(DOWN, buff=0.06)
            group = Group(label, maps, scale_note).arrange(DOWN, buff=0.12)
        else:
            label = VGroup(name, shape, scale_note).arrange(DOWN, buff=0.04, aligned_edge=RIGHT)
            group = Group(label, maps).arrange(RIGHT, buff=0.2)
        layers.append(group)

    # Class scores: the model's probabilities as bars (the top ten when there are more).
    order = np.argsort(-trace.probabilities, kind="stable")[:MAX_CLASSES_SHOWN]
    many = len(trace.classes) > MAX_CLASSES_SHOWN
    shown_classes = [int(i) for i in order] if many else sorted(int(i) for i in order)
    rows = []
    bar_len, pitch = 1.4, 0.3
    for row_index, i in enumerate(shown_classes):
        p = float(trace.probabilities[i])
        value = rec.number("output", [i], p, decimals=4, kind="probability")
        predicted = i == trace.prediction
        colour = theme.accent if predicted else theme.muted
        # number_text puts the baseline at y = 0, so names line up with their bars.
        name = number_text(
            trace.classes[i],
            theme.font,
            SMALL,
            theme.text if predicted else theme.muted,
            weight="BOLD" if predicted else "NORMAL",
        )
        number = number_text(value, theme.font, SMALL - 2, colour)
        track = Rectangle(width=bar_len, height=0.16, stroke_width=0).set_fill(theme.empty_cell, 1)
        bar = Rectangle(width=max(bar_len * p, 0.01), height=0.16, stroke_width=0)
        bar.set_fill(colour, 1).align_to(track, LEFT)
        rows.append((name, Group(track, bar), number, -row_index * pitch))
    name_width = max(r[0].width for r in rows)
    class_rows = []
    for name, bars, number, y in rows:
        name.shift(np.array([-name.get_left()[0], y - 0.06, 0.0]))
        bars.move_to(np.array([name_width + 0.15 + bar_len / 2, y, 0.0]))
        number.shift(np.array([name_width + bar_len + 0.3 - number.get_left()[0], y - 0.05, 0.0]))
        class_rows.append(Group(name, bars, number))
    class_block = Group(*class_rows)
    winner = class_rows[shown_classes.index(trace.prediction)]
    out_label = number_text(f"output ({len(trace.classes)} classes)", theme.font, SMALL, theme.text)
    outputs = Group(out_label, class_block).arrange(DOWN, buff=0.15)

    network = Group(*layers, outputs)
    if wide:
        network.arrange(RIGHT, buff=0.22, aligned_edge=UP)
    else:
        network.arrange(DOWN, buff=0.18, aligned_edge=RIGHT)
        outputs.align_to(network, LEFT)
    legend_h = 0.75
    body = Box(content.left, content.bottom + legend_h + 0.1, content.right, content.top)
    legend_box = Box(content.left, content.bottom, content.right, content.bottom + legend_h)
    fit(network, body, max_scale=1.5)
    legends = Group(
        colours["input"].legend(theme),
        _activation_legend(colours, theme),
    ).arrange(RIGHT, buff=0.8)
    fit(legends, legend_box)

    rec.facts.update(
        {
            "layers": list(MAP_LAYERS),
            "prediction": trace.predicted_class,
            "classes_shown": [trace.classes[i] for i in shown_classes],
        }
    )

    yield Beat([FadeIn(legends)], 0.6)
    # Layer after layer, as the image flows through the network. Appearing
    # without a fade keeps every frame in between a cheap still.
    for group in layers:
        yield Add([group])
        yield Hold(0.4)
    yield Beat([FadeIn(outputs, shift=0.2 * (LEFT if wide else UP))], 1.0)
    ring = Rectangle(
        width=winner.width + 0.15,
        height=winner.height + 0.1,
        stroke_color=theme.highlight,
        stroke_width=3,
    ).move_to(winner)
    yield Beat([FadeIn(ring)], 0.6)
    yield Hold(1.5)

    if spec.focus is None:
        return
    focus_group = layers[MAP_LAYERS.index(spec.focus)]
    everything = Group(network, ring, legends)
    target = focus_group if spec.focus_neuron is None else map_views[spec.focus][spec.focus_neuron]
    zoom = min(frame.width / max(target.width, 1e-6), frame.height / max(target.height, 1e-6)) * 0.6
    # Zoom about the focused layer (it ends at the centre) while everything
    # fades: x -> zoom * (x - P). FadeOut scales about the group's own centre
    # c, so it needs the shift zoom * (c - P) - c; it also removes the group.
    focus_point = target.get_center()
    centre = everything.get_center()
    yield Beat(
        [
            FadeOut(everything, scale=zoom, shift=zoom * (centre - focus_point) - centre),
            FadeOut(title),
        ],
        1.5,
    )
    detail = _focus_view(spec, ctx, colours)
    yield Beat([FadeIn(detail)], 1.0)
    yield Hold(2.0)


def _activation_legend(colours: dict[str, MapColours], theme: Theme) -> Legend:
    """The diverging scale once, noting that each layer has its own range R."""
    sample = next(c for c in colours.values() if not c.is_input)
    return Legend(
        sample.scale,
        -1.0,
        1.0,
        "activation (R per layer, under each)",
        theme.font,
        theme.text,
        mid=0.0,
        end_labels=("−R/2", "+R/2"),
    )


def _focus_view(spec: OverviewSpec, ctx: StepContext, colours: dict[str, MapColours]) -> Group:
    trace = ctx.need_trace()
    theme, frame, rec = ctx.theme, ctx.frame, ctx.recorder
    layer = spec.focus
    assert layer is not None
    values = trace.activations[layer]
    col = colours[layer]
    heading = number_text(
        f"{layer} · {_shape(values)}"
        + ("" if spec.focus_neuron is None else f" · channel {spec.focus_neuron}"),
        theme.font,
        30,
        theme.text,
    )
    if spec.focus_neuron is None:
        views = [MapView(col.rgb(values[c]), 1.6, theme.grid_line) for c in range(values.shape[0])]
        labels = [
            number_text(str(c), theme.font, LABEL, theme.muted) for c in range(values.shape[0])
        ]
        cells = [
            Group(lab, v).arrange(DOWN, buff=0.08) for lab, v in zip(labels, views, strict=True)
        ]
        per_row = 5 if frame.landscape else (2 if frame.portrait else 4)
        grid = Group(*cells).arrange_in_grid(cols=per_row, buff=0.25)
        body: Mobject = grid
    else:
        c = spec.focus_neuron
        view = MapView(col.rgb(values[c]), 4.5, theme.grid_line)
        lo = rec.number(
            layer,
            [c, *(int(i) for i in np.unravel_index(int(np.argmin(values[c])), values[c].shape))],
            float(values[c].min()),
            kind="activation",
        )
        hi = rec.number(
            layer,
            [c, *(int(i) for i in np.unravel_index(int(np.argmax(values[c])), values[c].shape))],
            float(values[c].max()),
            kind="activation",
        )
        note = number_text(f"min {lo} · max {hi}", theme.font, LABEL, theme.muted)
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
    )
)
