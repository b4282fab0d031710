"""``relu``: the graph of max(0, x), then ReLU applied to a real activation map.

First the ReLU graph with two real values of the chosen patch placed on it
(the most negative drops onto the axis, the most positive stays on the
line). Then the convolution map (before ReLU) and the ReLU map of the same
neuron are shown side by side with one legend (ReLU reuses its convolution's
colour range), a patch of each as numbers, and the negative values of the
patch visibly turning into 0 while the map is swept from before to after.
Every value comes from the trace; none is recomputed here.
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
    Create,
    Dot,
    FadeIn,
    FadeOut,
    Group,
    Square,
    Transform,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    linear,
)
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field

from cnn_model.tinyvgg import PREVIOUS

from ...visuals.glyphs import number_text
from ...visuals.layout import fit
from ...visuals.relu_graph import ReluGraph, nice_extent
from ...visuals.relu_pool_layout import (
    BeforeAfter,
    grid_cell,
    grid_panel,
    map_panel,
    operator_arrow,
    place_notes,
)
from ...visuals.text import BODY, HEADING, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.checks import channel_in, layer_of_kind
from ..kit.common import MapColours, chosen, lively_channel, title_for
from ..kit.record import Recorder
from ..kit.registry import StepType, register

MAX_PATCH = 5  # two patches side by side: at most 10 numbers per row, legible at 480p


class ReluSpec(StepSpec):
    type: Literal["relu"]
    layer: str = Field("relu_1_1", description="A ReLU layer of the lesson's model.")
    neuron: int | None = Field(
        None,
        ge=0,
        description="Channel (neuron) of the layer, from 0; default: the channel of the "
        "lesson's model whose map has the most values on both sides of zero.",
    )
    patch_row: int | None = Field(
        None,
        ge=0,
        description="Top row of the patch of numbers shown; when omitted, a patch with "
        "negative and positive values is chosen.",
    )
    patch_column: int | None = Field(
        None,
        ge=0,
        description="Left column of the patch of numbers shown; chosen like patch_row "
        "when omitted.",
    )
    patch_size: int = Field(
        4, ge=2, le=MAX_PATCH, description="Rows and columns of numbers in the patch."
    )


def check(spec: ReluSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """Cross-field rules: a ReLU layer, a neuron it has, a patch inside its map."""
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("relu",))
    if layer is None:
        return errors
    neurons, h, w = layer.shape
    if spec.neuron is not None:
        errors += channel_in(
            neurons, spec.neuron, "neuron", "a neuron", f"{spec.layer} has {neurons} neurons"
        )
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
    for field, value, extent in (
        ("patch_row", spec.patch_row, h),
        ("patch_column", spec.patch_column, w),
    ):
        if value is not None and value + size > extent:
            errors.append(
                (
                    (field,),
                    f"expected a {field} from 0 to {extent - size} (a {size}×{size} patch "
                    f"must fit in {spec.layer}'s {h}×{w} map), got {value}",
                )
            )
    return errors


def choose_patch(
    values: np.ndarray, size: int, row: int | None = None, column: int | None = None
) -> tuple[int, int]:
    """Top-left corner of a ``size``×``size`` patch worth showing.

    Given coordinates are kept; the others are chosen so the patch holds as
    many negative *and* positive values as possible (then the widest spread),
    so a learner sees both what ReLU zeroes and what it keeps.
    """
    windows = sliding_window_view(values, (size, size))
    neg = (windows < 0).sum(axis=(2, 3))
    pos = (windows > 0).sum(axis=(2, 3))
    mixed = np.minimum(neg, pos).astype(np.float64)
    spread = (windows.max(axis=(2, 3)) - windows.min(axis=(2, 3))).astype(np.float64)
    allowed = np.ones(mixed.shape, dtype=bool)
    if row is not None:
        allowed[:] = False
        allowed[row, :] = True
    if column is not None:
        keep = np.zeros(mixed.shape, dtype=bool)
        keep[:, column] = True
        allowed &= keep
    mixed[~allowed] = -1
    order = np.lexsort((-spread.ravel(), -mixed.ravel()))
    y, x = np.unravel_index(int(order[0]), mixed.shape)
    return int(y), int(x)


def _examples(patch: np.ndarray) -> list[tuple[int, int]]:
    """Patch cells placed on the graph: the lowest value, then the highest."""
    lo = divmod(int(np.argmin(patch)), patch.shape[1])
    hi = divmod(int(np.argmax(patch)), patch.shape[1])
    return [lo] if lo == hi else [lo, hi]


def _formula(
    rec: Recorder, conv: str, layer: str, index: tuple[int, int, int], before: float, after: float
) -> str:
    """'max(0, −0.71) = 0.00' with both numbers recorded."""
    x = rec.number(conv, index, before)
    y = rec.number(layer, index, after)
    return f"max(0, {x}) = {y}"


def build(spec: ReluSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    trace = ctx.need_trace()
    if spec.neuron is None:  # the channel whose conv map has the most on both sides of zero
        spec = spec.model_copy(
            update={"neuron": lively_channel(trace.activations[PREVIOUS[spec.layer]])}
        )
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    layer, neuron, size = spec.layer, chosen(spec.neuron), spec.patch_size
    conv = PREVIOUS[layer]
    before = trace.activations[conv][neuron]
    after = trace.activations[layer][neuron]
    h, w = after.shape
    colours = MapColours(trace, layer, theme, ctx.colour_range)  # the conv's range
    row, col = choose_patch(before, size, spec.patch_row, spec.patch_column)
    patch_before = before[row : row + size, col : col + size]
    patch_after = after[row : row + size, col : col + size]

    def at(i: int, j: int) -> tuple[int, int, int]:
        return (neuron, row + i, col + j)

    title = title_for(ctx, f"ReLU: {layer}, neuron {neuron}")
    content = frame.content_box()

    # --- The graph, with the patch's lowest and highest values on it.
    examples = _examples(patch_before)
    peak = max(abs(float(patch_before[i, j])) for i, j in examples)
    extent, step = nice_extent(peak)
    graph = ReluGraph(extent, step, theme)
    rules = VGroup(
        text("ReLU(x) = max(0, x)", theme, HEADING, theme.accent, weight="BOLD"),
        text("x < 0   →   0", theme, BODY),
        text("x ≥ 0   →   x (unchanged)", theme, BODY),
    ).arrange(DOWN, aligned_edge=LEFT, buff=0.25)
    # Square frames have no room beside the graph: the rules go under it.
    square = frame.width == frame.height
    graph_group = Group(graph, rules).arrange(
        DOWN if square else RIGHT, buff=0.4 if square else 0.6
    )

    # --- Maps and patches.
    map_height = 2.3 if square else 3.2  # square frames are cramped
    before_pixels = colours.rgb(before)
    after_pixels = colours.rgb(after)
    before_panel, before_map = map_panel(
        before_pixels, map_height, f"{conv} · neuron {neuron} ({h}×{w})", theme
    )
    # The ReLU map first shows its input; a sweep turns it into the ReLU map.
    after_panel, after_map = map_panel(
        before_pixels, map_height, f"{layer} · neuron {neuron} ({h}×{w})", theme
    )
    rec.heatmap(conv, [neuron], before, (colours.lo, colours.hi), colours.scale.name)
    rec.heatmap(layer, [neuron], after, (colours.lo, colours.hi), colours.scale.name)
    before_texts = rec.grid(conv, patch_before, at)
    after_texts = rec.grid(layer, patch_after, at)
    cell = grid_cell(before_texts + after_texts, theme.font, NUMBER, 0.72)
    before_grid_panel, before_grid, _, _ = grid_panel(
        before_texts, colours.rgb(patch_before), cell, f"{conv} (before)", theme
    )
    after_grid_panel, after_grid, after_border, after_caption = grid_panel(
        after_texts, colours.rgb(patch_after), cell, f"{layer} (after)", theme
    )
    legend = colours.legend(theme, width=2.6)
    parts = BeforeAfter(
        before_map=before_panel,
        before_grid=before_grid_panel,
        op=operator_arrow("max(0, x)", theme),
        after_grid=after_grid_panel,
        legend=legend,
        after_map=after_panel,
        op_maps=operator_arrow("ReLU", theme, length=0.8),
        top=graph_group if frame.portrait else None,
    )
    _, notes_box = parts.arrange(frame, content)
    if not frame.portrait:
        fit(graph_group, content, max_scale=1.4)
    before_rect = before_map.window(row, col, size, size, theme.highlight, stroke=2.5)
    after_rect = after_map.window(row, col, size, size, theme.highlight, stroke=2.5)

    rec.facts.update(
        {
            "layer": layer,
            "neuron": neuron,
            "conv_layer": conv,
            "patch": {"row": row, "column": col, "size": size},
            "colour_range": [colours.lo, colours.hi],
            "negatives_in_patch": int((patch_before < 0).sum()),
            "graph_ticks": graph.tick_values,
        }
    )

    yield Add([title])

    # 1. The graph.
    yield Beat([FadeIn(graph.axes), FadeIn(graph.x_name), FadeIn(graph.y_name)], 0.8)
    yield Beat([Create(graph.line)], 1.0)
    yield Beat([FadeIn(graph.identity), FadeIn(graph.identity_label), FadeIn(rules)], 0.8)
    for i, j in examples:
        x, y = float(patch_before[i, j]), float(patch_after[i, j])
        x_text = rec.number(conv, at(i, j), x)
        y_text = rec.number(layer, at(i, j), y)
        font_size = BODY * graph.scale_factor
        dot = Dot(graph.point(x, x), radius=0.09 * graph.scale_factor, color=theme.highlight)
        label = number_text(x_text, theme.font, font_size, theme.text)
        label.next_to(dot, RIGHT if x < 0 else UP + LEFT, buff=0.12)
        end = graph.point(x, y)
        final = number_text(f"{x_text} → {y_text}", theme.font, font_size, theme.text)
        if x < 0:
            # Above the flat part of the line, kept left of the y-axis.
            final.next_to(end, UP, buff=0.25)
            overlap = final.get_right()[0] - (graph.origin[0] - 0.15)
            if overlap > 0:
                final.shift(overlap * LEFT)
        else:
            final.next_to(end, UP + LEFT, buff=0.12)
        yield Beat([FadeIn(dot, scale=1.5), FadeIn(label)], 0.5)
        yield Beat([dot.animate.move_to(end), Transform(label, final)], 0.9 if x < 0 else 0.6)
        yield Hold(0.5)
        graph.add(dot, label)  # stays (or leaves) with the graph

    # 2. The real maps, side by side.
    if not frame.portrait:
        yield Beat([FadeOut(graph_group)], 0.6)
    shown_first = [before_panel, legend, before_rect]
    yield Beat([FadeIn(m) for m in shown_first], 0.8)
    yield Beat([FadeIn(before_grid_panel)], 0.7)
    arrows = [parts.op]
    if parts.op_maps is not None and not frame.landscape:
        arrows.append(parts.op_maps)
    moving = before_grid.copy()
    yield Beat(
        [FadeIn(a) for a in arrows]
        + [FadeIn(after_panel), FadeIn(after_rect), FadeIn(after_caption)]
        + [moving.animate.move_to(after_grid)],
        0.9,
    )
    negatives = [k for k, v in enumerate(patch_before.ravel()) if v < 0]
    outlines = VGroup(
        *[
            Square(moving.squares[k].width)
            .set_stroke(theme.highlight, 4)
            .move_to(moving.squares[k])
            for k in negatives
        ]
    )
    formulas = [
        _formula(rec, conv, layer, at(i, j), float(patch_before[i, j]), float(patch_after[i, j]))
        for i, j in examples
    ]
    note = number_text("     ".join(formulas), theme.font, BODY, theme.text)
    summary = text(
        "negative values become 0, positive values pass through unchanged"
        if negatives
        else "no negative values in this patch: ReLU keeps every value",
        theme,
        LABEL,
        theme.muted,
    )
    place_notes(VGroup(note, summary).arrange(DOWN, buff=0.15), notes_box)
    if negatives:
        yield Beat([FadeIn(outlines)], 0.5)
        yield Beat(
            [FadeOut(moving.labels[k], shift=0.15 * DOWN) for k in negatives]
            + [FadeIn(after_grid.labels[k], shift=0.15 * DOWN) for k in negatives]
            + [
                moving.squares[k].animate.set_fill(after_grid.squares[k].get_fill_color(), 1)
                for k in negatives
            ]
            + [FadeIn(note)],
            1.2,
        )
    else:
        yield Beat([FadeIn(note)], 0.6)
    yield Add([moving, outlines, *[after_grid.labels[k] for k in negatives]], remove=True)
    yield Add([after_grid, after_border])

    # The whole map, row by row.
    rows = ValueTracker(0)

    def paint(_: object) -> None:
        n = int(np.clip(np.floor(rows.get_value() + 1e-6), 0, h))
        rgb = before_pixels.copy()
        rgb[:n] = after_pixels[:n]
        after_map.set_pixels(rgb)

    yield Beat(
        [
            rows.animate(rate_func=linear).set_value(h),  # type: ignore[operator]
            UpdateFromFunc(after_map.image, paint),
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
    )
)
