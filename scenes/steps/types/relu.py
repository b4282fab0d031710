"""``relu``: the graph of max(0, x), then ReLU applied to a real activation map.

First the ReLU graph with two real values of the chosen patch placed on it
(the most negative drops onto the axis, the most positive stays on the
line). Then the convolution map (before ReLU) and the ReLU map of the same
neuron are shown side by side with one legend (ReLU reuses its convolution's
colour range), a patch of each as numbers, and the negative values of the
patch visibly turning into 0 while the map is swept from before to after
(a square frame, short of room, shows one patch whose values change in place).
Every value comes from the trace; none is recomputed here.

:func:`plan` chooses everything from the trace (no Mobject, no scene);
:func:`build` draws and animates that plan.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Create,
    Dot,
    FadeIn,
    FadeOut,
    Group,
    Mobject,
    ReplacementTransform,
    Square,
    Text,
    Transform,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    VMobject,
    linear,
)
from pydantic import Field

from cnn_model.tinyvgg import PREVIOUS
from cnn_model.trace import Trace

from ...i18n import _
from ...visuals.glyphs import NumberText, number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, Frame, fit
from ...visuals.ranges import activation_range
from ...visuals.relu_graph import ReluGraph, nice_extent
from ...visuals.relu_pool_layout import (
    BeforeAfter,
    captioned_map,
    grid_cell,
    grid_panel,
    place_notes,
    wrapped,
)
from ...visuals.text import BODY, HEADING, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import layer_of_kind, neuron_of
from ..kit.common import MapColours, list_separator, lively_channel, map_panel, title_for
from ..kit.neuron import NeuronField
from ..kit.patches import PatchFields, choose_patch, patch_errors
from ..kit.registry import Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid

MAX_PATCH = 5  # two patches side by side: at most 10 numbers per row, legible at 480p


class ReluSpec(PatchFields, StepSpec):
    type: Literal["relu"]
    layer: str = Field("relu_1_1", description="A ReLU layer of the lesson's model.")
    neuron_field = NeuronField()

    neuron: int | None = Field(
        None,
        ge=0,
        description="Channel (neuron) of the layer, from 0; default: the lesson's focus, "
        "else the channel whose map has the most values on both sides of zero.",
    )
    patch_size: int = Field(
        4, ge=2, le=MAX_PATCH, description="Rows and columns of numbers in the patch."
    )


def check(spec: ReluSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """Cross-field rules: a ReLU layer, a neuron it has, a patch inside its map."""
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("relu",))
    errors += neuron_of(info, layer, spec.layer, ("relu",), spec.neuron)
    if layer is None:
        return errors
    h, w = layer.shape[1:]
    size = spec.patch_size
    if size > min(h, w):
        errors.append(
            (
                ("patch_size",),
                f"expected a patch_size from 2 to {min(h, w)} ({spec.layer} is {h}×{w}), "
                f"got {size}",
            )
        )
        return errors
    reason = f"a {size}×{size} patch must fit in {spec.layer}'s {h}×{w} map"
    return errors + patch_errors(spec, size, (h, w), reason)


# --- The plan: what is shown, chosen from the trace -------------------------------


@dataclass(frozen=True)
class ReluExample:
    """A cell of the patch placed on the graph: its value before and after ReLU."""

    cell: tuple[int, int]  # (row, column) within the patch
    before: Shown
    after: Shown


@dataclass(frozen=True)
class ReluPlan:
    layer: str
    conv: str  # the convolution layer ReLU reads
    neuron: int
    row: int  # top-left cell of the patch in the map
    column: int
    size: int
    before: np.ndarray  # (H, W) the conv map, from the trace
    after: np.ndarray  # (H, W) the ReLU map, from the trace
    colour_range: tuple[float, float]  # the conv layer's (ReLU reuses it)
    before_grid: ShownGrid  # the patch of ``before`` as numbers
    after_grid: ShownGrid
    examples: tuple[ReluExample, ...]  # the patch's lowest value, then its highest
    negatives: tuple[int, ...]  # patch cells below zero, in reading order
    graph_extent: float  # the graph's axes span ±extent, ticks every step
    graph_step: float
    map_height: float
    narrow: bool  # a tall or square frame: the rules go under the graph

    @property
    def patch_before(self) -> np.ndarray:
        return self.before[self.row : self.row + self.size, self.column : self.column + self.size]

    @property
    def patch_after(self) -> np.ndarray:
        return self.after[self.row : self.row + self.size, self.column : self.column + self.size]

    def facts(self, graph_ticks: list[float]) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "neuron": self.neuron,
            "conv_layer": self.conv,
            "patch": {"row": self.row, "column": self.column, "size": self.size},
            "colour_range": list(self.colour_range),
            "negatives_in_patch": len(self.negatives),
            "graph_ticks": graph_ticks,
        }


def _example_cells(patch: np.ndarray) -> list[tuple[int, int]]:
    """Patch cells placed on the graph: the lowest value, then the highest."""
    lo = divmod(int(np.argmin(patch)), patch.shape[1])
    hi = divmod(int(np.argmax(patch)), patch.shape[1])
    return [lo] if lo == hi else [lo, hi]


def plan(spec: ReluSpec, trace: Trace, frame: Frame, *, colour_range: str = "layer") -> ReluPlan:
    """What the step shows: the neuron, the patch, its numbers, the graph's range.

    ``colour_range`` is the lesson's scope of the diverging scale (layer, block
    or global). Builds no Mobject.
    """
    layer, conv, size = spec.layer, PREVIOUS[spec.layer], spec.patch_size
    # By default, the channel whose conv map has the most values on both sides of zero.
    neuron = lively_channel(trace.activations[conv]) if spec.neuron is None else spec.neuron
    before = trace.activations[conv][neuron]
    after = trace.activations[layer][neuron]
    row, col = choose_patch(before, size, spec.patch_row, spec.patch_column, worth="both_signs")
    patch_before = before[row : row + size, col : col + size]
    patch_after = after[row : row + size, col : col + size]

    def at(i: int, j: int) -> tuple[int, int, int]:
        return (neuron, row + i, col + j)

    cells = _example_cells(patch_before)
    examples = tuple(
        ReluExample(
            (i, j),
            shown(conv, at(i, j), patch_before[i, j]),
            shown(layer, at(i, j), patch_after[i, j]),
        )
        for i, j in cells
    )
    extent, step = nice_extent(max(abs(float(patch_before[i, j])) for i, j in cells))
    half = activation_range(trace.activations, layer, colour_range) / 2
    square = frame.width == frame.height
    return ReluPlan(
        layer=layer,
        conv=conv,
        neuron=neuron,
        row=row,
        column=col,
        size=size,
        before=before,
        after=after,
        colour_range=(-half, half),
        before_grid=shown_grid(conv, patch_before, at),
        after_grid=shown_grid(layer, patch_after, at),
        examples=examples,
        negatives=tuple(k for k, v in enumerate(patch_before.ravel()) if v < 0),
        graph_extent=extent,
        graph_step=step,
        # Square frames are cramped; a wide frame's row is longer with a bigger patch.
        map_height=1.6 if square else (2.2 if frame.landscape and size > 4 else 2.6),
        narrow=not frame.landscape,
    )


# --- The beats: the plan drawn and animated ---------------------------------------


@dataclass
class ReluParts:
    """The step's Mobjects, placed for the frame."""

    title: Text
    graph: ReluGraph
    rules: VGroup
    graph_group: Group
    before_panel: Group
    after_panel: Group
    before_map: MapView
    after_map: MapView
    before_rgb: np.ndarray
    after_rgb: np.ndarray
    before_grid_panel: Group
    before_grid: NumberGrid
    before_caption: Mobject
    after_grid_panel: Group
    after_grid: NumberGrid
    after_caption: Mobject
    legend: Mobject
    layout: BeforeAfter
    notes_box: Box
    before_rect: Mobject
    after_rect: Mobject


def build(spec: ReluSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.need_trace(), ctx.frame, colour_range=ctx.colour_range)
    parts = _parts(p, ctx)
    ctx.recorder.facts.update(p.facts(parts.graph.tick_values))
    yield Add([parts.title])
    yield from _graph_beats(p, parts, ctx)
    summary = yield from _patch_beats(p, parts, ctx)
    yield from _sweep_beats(p, parts, summary)


def _graph_group(p: ReluPlan, ctx: StepContext) -> tuple[ReluGraph, VGroup, Group]:
    theme = ctx.theme
    graph = ReluGraph(p.graph_extent, p.graph_step, theme)
    rules = VGroup(
        text("ReLU(x) = max(0, x)", theme, HEADING, theme.accent, weight="BOLD"),
        text("x < 0   →   0", theme, BODY),
        text(_("x ≥ 0   →   x (unchanged)"), theme, BODY),
    ).arrange(DOWN, aligned_edge=LEFT, buff=0.25)
    # Tall and square frames have no room beside the graph: the rules go under it.
    group = Group(graph, rules).arrange(DOWN if p.narrow else RIGHT, buff=0.4 if p.narrow else 0.6)
    return graph, rules, group


def _map_panels(
    p: ReluPlan, ctx: StepContext, colours: MapColours
) -> tuple[Group, MapView, Group, MapView]:
    """The conv map and the ReLU map (recorded, in this order), sharing one legend."""
    h, w = p.after.shape

    def panel(layer: str, values: np.ndarray, first: np.ndarray | None) -> tuple[Group, MapView]:
        label = _("{layer} · neuron {neuron} ({height}×{width})").format(
            layer=layer, neuron=p.neuron, height=h, width=w
        )
        _panel, view = map_panel(
            ctx.need_trace(),
            layer,
            p.neuron,
            colours,
            ctx.theme,
            ctx.recorder,
            p.map_height,
            values,
            label=label,
            legend=False,
            first=first,
        )
        # The caption on two lines, so the map panel is no wider than its map.
        return captioned_map(view, label, ctx.theme), view

    # The ReLU map first shows its input; a sweep turns it into the ReLU map.
    return *panel(p.conv, p.before, None), *panel(p.layer, p.after, colours.rgb(p.before))


def _parts(p: ReluPlan, ctx: StepContext) -> ReluParts:
    """Draw and place the plan; records both maps and both patches."""
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    trace = ctx.need_trace()
    title = title_for(
        ctx, _("ReLU: {layer}, neuron {neuron}").format(layer=p.layer, neuron=p.neuron)
    )
    graph, rules, graph_group = _graph_group(p, ctx)
    colours = MapColours(trace, p.layer, theme, ctx.colour_range)  # the conv's range
    before_panel, before_map, after_panel, after_map = _map_panels(p, ctx, colours)
    before_texts = record_grid(rec, p.before_grid)
    after_texts = record_grid(rec, p.after_grid)
    cell = grid_cell(before_texts + after_texts, theme.font, NUMBER, 0.72)
    before_caption = _("{layer} (before)").format(layer=p.conv)
    before_grid_panel, before_grid, _border, before_label = grid_panel(
        before_texts, colours.rgb(p.patch_before), cell, before_caption, theme
    )
    after_grid_panel, after_grid, _after_border, after_label = grid_panel(
        after_texts,
        colours.rgb(p.patch_after),
        cell,
        _("{layer} (after)").format(layer=p.layer),
        theme,
    )
    legend = colours.legend(theme, width=2.6, font_size=LABEL)
    layout = BeforeAfter(
        theme=theme,
        before_map=before_panel,
        before_grid=before_grid_panel,
        op_label="max(0, x)",
        after_grid=after_grid_panel,
        legend=legend,
        after_map=after_panel,
        maps_label="ReLU",
        stack_tall=True,
        one_grid_square=True,
    )
    content = frame.content_box()
    notes_box = layout.arrange(frame, content)
    fit(graph_group, content, max_scale=1.4)
    corner = (p.row, p.column, p.size, p.size)
    return ReluParts(
        title=title,
        graph=graph,
        rules=rules,
        graph_group=graph_group,
        before_panel=before_panel,
        after_panel=after_panel,
        before_map=before_map,
        after_map=after_map,
        before_rgb=colours.rgb(p.before),
        after_rgb=colours.rgb(p.after),
        before_grid_panel=before_grid_panel,
        before_grid=before_grid,
        before_caption=before_label,
        after_grid_panel=after_grid_panel,
        after_grid=after_grid,
        after_caption=after_label,
        legend=legend,
        layout=layout,
        notes_box=notes_box,
        before_rect=before_map.window(*corner, theme.highlight, stroke=2.5),
        after_rect=after_map.window(*corner, theme.highlight, stroke=2.5),
    )


def _graph_beats(p: ReluPlan, parts: ReluParts, ctx: StepContext) -> Iterator[Item]:
    """The graph, then the patch's lowest and highest values placed on it.

    Each value is written where its result will be read (above the flat part
    of the line for a negative value, beside the line for a positive one);
    the dot moves onto the line and the value grows into "x → y" in place, so
    no number travels across the axes' labels.
    """
    theme, rec, graph = ctx.theme, ctx.recorder, parts.graph
    yield Phase("graph")
    yield Beat([FadeIn(graph.axes), FadeIn(graph.x_name), FadeIn(graph.y_name)], 0.8)
    yield Beat([Create(graph.line)], 1.0)
    yield Beat([FadeIn(graph.identity), FadeIn(graph.identity_label), FadeIn(parts.rules)], 0.8)
    yield Phase("examples")
    for example in p.examples:
        x, y = example.before.value, example.after.value
        x_text, y_text = example.before.record(rec), example.after.record(rec)
        font_size = BODY * graph.scale_factor
        dot = Dot(graph.point(x, x), radius=0.09 * graph.scale_factor, color=theme.highlight)
        end = graph.point(x, y)
        final = number_text(f"{x_text} → {y_text}", theme.font, font_size, theme.text)
        if x < 0:
            # Above the flat part of the line, kept left of the y-axis.
            final.next_to(end, UP, buff=0.25)
            overlap = final.get_right()[0] - (graph.origin[0] - 0.15)
            if overlap > 0:
                final.shift(overlap * LEFT)
        else:
            _beside_line(final, end, graph, parts.rules, ctx.frame.content_box())
        label = number_text(x_text, theme.font, font_size, theme.text)
        label.move_to(final[: len(label)])  # where x_text starts the final "x → y"
        yield Beat([FadeIn(dot, scale=1.5), FadeIn(label)], 0.5)
        yield Beat([dot.animate.move_to(end), Transform(label, final)], 0.9 if x < 0 else 0.6)
        yield Hold(0.5)
        graph.add(dot, label)  # stays (or leaves) with the graph


def _beside_line(
    label: Mobject, point: np.ndarray, graph: ReluGraph, rules: Mobject, box: Box
) -> None:
    """Place ``label`` beside ``point`` on the rising part of the line: above it to
    the left, or under the line to the right, or level with it on the left,
    whichever first keeps clear of the axes' labels, the rules and the frame."""
    texts = [*graph.tick_labels, graph.x_name, graph.y_name, graph.identity_label]
    texts += [m for m in graph.submobjects if isinstance(m, NumberText)]  # earlier examples
    texts += list(rules)

    def clear() -> bool:
        left, bottom = label.get_left()[0], label.get_bottom()[1]
        right, top = label.get_right()[0], label.get_top()[1]
        inside = box.left <= left and right <= box.right and box.bottom <= bottom and top <= box.top
        return inside and not any(
            left < t.get_right()[0] + 0.05
            and t.get_left()[0] - 0.05 < right
            and bottom < t.get_top()[1] + 0.05
            and t.get_bottom()[1] - 0.05 < top
            for t in texts
        )

    for direction, buff in ((UP + LEFT, 0.12), (DOWN + RIGHT, 0.12), (LEFT, 0.3)):
        label.next_to(point, direction, buff=buff)
        if clear():
            return
    label.next_to(point, UP + LEFT, buff=0.12)


def _notes(p: ReluPlan, parts: ReluParts, ctx: StepContext) -> tuple[Mobject, Mobject]:
    """The examples as formulas (recorded again) and the summary, in the notes strip."""
    theme, rec = ctx.theme, ctx.recorder
    comma = list_separator()
    formulas = [f"max(0{comma}{e.before.record(rec)}) = {e.after.record(rec)}" for e in p.examples]
    box = parts.notes_box
    if number_text("     ".join(formulas), theme.font, BODY, theme.text).width <= box.width:
        note: VMobject = number_text("     ".join(formulas), theme.font, BODY, theme.text)
    else:  # one formula a line
        note = VGroup(*[number_text(f, theme.font, BODY, theme.text) for f in formulas]).arrange(
            DOWN, buff=0.12
        )
    summary = wrapped(
        _("negative values become 0, positive values pass through unchanged")
        if p.negatives
        else _("no negative values in this patch: ReLU keeps every value"),
        theme,
        LABEL,
        theme.muted,
        box.width,
    )
    place_notes(VGroup(note, summary).arrange(DOWN, buff=0.15), box)
    return note, summary


def _patch_beats(p: ReluPlan, parts: ReluParts, ctx: StepContext) -> Generator[Item, None, Mobject]:
    """The maps side by side; the patch copied across, its negatives turning to 0.

    The copy appears where the "after" patch goes (in a square frame, the
    patch itself changes in place) and each negative value turns into its 0:
    no number slides over another. Returns the summary line, shown once the
    whole map has turned.
    """
    theme = ctx.theme
    layout = parts.layout
    one_grid = ctx.frame.width == ctx.frame.height
    yield Phase("maps")
    yield Beat([FadeOut(parts.graph_group)], 0.6)
    yield Beat([FadeIn(m) for m in (parts.before_panel, parts.legend, parts.before_rect)], 0.8)
    yield Beat([FadeIn(parts.before_grid_panel)], 0.7)
    # Between the maps where they are not at the ends of one row.
    arrows: list[Mobject] = [] if layout.op_maps is None else [layout.op_maps]
    after_grid = parts.after_grid
    if one_grid:
        # The patch itself becomes the ReLU patch: its numbers, then its caption change.
        moving = parts.before_grid
        yield Beat(
            [FadeIn(a) for a in arrows] + [FadeIn(parts.after_panel), FadeIn(parts.after_rect)],
            0.9,
        )
    else:
        moving = parts.before_grid.copy().move_to(after_grid)
        arrows.append(layout.op)
        yield Beat(
            [FadeIn(a) for a in arrows]
            + [FadeIn(parts.after_panel), FadeIn(parts.after_rect), FadeIn(parts.after_caption)]
            + [FadeIn(moving)],
            0.9,
        )
    outlines = VGroup(
        *[
            Square(moving.squares[k].width)
            .set_stroke(theme.highlight, 4)
            .move_to(moving.squares[k])
            for k in p.negatives
        ]
    )
    note, summary = _notes(p, parts, ctx)
    yield Phase("zeros")
    turns: list[Any] = []
    if one_grid:
        turns.append(ReplacementTransform(parts.before_caption, parts.after_caption))
    if p.negatives:
        yield Beat([FadeIn(outlines)], 0.5)
        yield Beat(
            turns
            + [ReplacementTransform(moving.labels[k], after_grid.labels[k]) for k in p.negatives]
            + [
                moving.squares[k].animate.set_fill(after_grid.squares[k].get_fill_color(), 1)
                for k in p.negatives
            ]
            + [FadeIn(note)],
            1.2,
        )
    else:
        yield Beat([*turns, FadeIn(note)], 0.6)
    # The patch's parts leave the scene one by one (a transform split them up).
    leaving = [moving, *moving.squares, *moving.labels, outlines]
    leaving += [*after_grid.labels, parts.after_caption]
    if one_grid:
        leaving += [parts.before_grid_panel, *parts.before_grid_panel, parts.after_caption]
    yield Add(leaving, remove=True)
    yield Add([parts.after_grid_panel])
    return summary  # shown after the sweep


def _sweep_beats(p: ReluPlan, parts: ReluParts, summary: Mobject) -> Iterator[Item]:
    """The whole ReLU map, row by row, then the summary."""
    h = p.after.shape[0]
    rows = ValueTracker(0)

    def paint(_mob: object) -> None:
        n = int(np.clip(np.floor(rows.get_value() + 1e-6), 0, h))
        rgb = parts.before_rgb.copy()
        rgb[:n] = parts.after_rgb[:n]
        parts.after_map.set_pixels(rgb)

    yield Phase("sweep")
    yield Beat(
        [
            rows.animate(rate_func=linear).set_value(h),  # type: ignore[operator]
            UpdateFromFunc(parts.after_map.image, paint),
        ],
        1.6,
    )
    yield Beat([FadeIn(summary)], 0.6)
    yield Hold(1.0)


register(
    StepType(
        name="relu",
        spec=ReluSpec,
        build=build,
        check=check,
        summary="ReLU, max(0, x): its graph, then a real map before and after, negatives to 0.",
        phases=Phases(("graph", "examples", "maps", "zeros", "sweep")),
    )
)
