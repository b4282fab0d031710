"""``flatten``: the 13×13×10 block of ``max_pool_2`` read out into one vector,
then one class's dense dot product giving its logit.

Part one shows the ten pooled maps and the 1690-long vector of ``flatten``
wrapped into rows like text. Cells are read out in the model's real order:
channel by channel and row by row for a channels-first ("chw", PyTorch)
model, position by position across the ten channels for a channels-last
("hwc", Keras, CNN Explainer's own) model. The first few entries are
explained with their index formula, then the rest are read out quickly.

Part two lines the vector up with the output layer's weights of one class
(by default the predicted one): a few products weight × value are written
out, then the sum of the other products, the bias, and the logit, exactly
the trace's. Every number is recorded with its layer and index.
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
    Rectangle,
    Transform,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    VMobject,
    linear,
)
from pydantic import Field

from ...visuals.colors import diverging_t, hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, fit
from ...visuals.legend import Legend
from ...visuals.numbers import short_name, term
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, SMALL, text
from ...visuals.vector_cells import Table
from ...visuals.vector_strip import VectorStrip
from ..kit.base import Add, Beat, Hold, StepContext, StepSpec
from ..kit.checks import ClassName, check_class_name, class_index
from ..kit.common import MapColours, title_for
from ..kit.registry import StepType, register

SOURCE = "max_pool_2"
ORDER_NAMES = {
    "chw": "channels first (PyTorch's order)",
    "hwc": "channels last (Keras' order)",
}
# Entries of the vector per row of the wrapped strip, for each aspect.
PER_ROW = {"16:9": 169, "9:16": 65, "1:1": 130}


class FlattenSpec(StepSpec):
    type: Literal["flatten"]
    class_name: ClassName = Field(
        None,
        description="Class whose logit is worked out, by name or index; "
        "default: the predicted class.",
    )
    terms: int = Field(
        4, ge=0, le=8, description="Products weight × value written out before the rest's sum."
    )
    pick: Literal["largest", "first"] = Field(
        "largest",
        description="Which products are written out: the largest in size, or the first "
        "entries of the vector.",
    )
    readout: int = Field(
        3, ge=0, le=6, description="Vector entries explained one by one before the quick read-out."
    )
    sweep_seconds: float = Field(
        3.0, ge=1.0, le=20.0, description="How long the quick read-out of the other entries takes."
    )


# --- the model's flatten order ---------------------------------------------


def index_formula(
    order: str, index: int, source: tuple[int, int, int], shape: tuple[int, ...]
) -> str:
    """'170 = 1·169 + 0·13 + 1' (chw) or '11 = (0·13 + 1)·10 + 1' (hwc)."""
    c, y, x = source
    channels, height, width = shape
    if order == "hwc":
        return f"{index} = ({y}·{width} + {x})·{channels} + {c}"
    return f"{index} = {c}·{height * width} + {y}·{width} + {x}"


def general_formula(order: str, shape: tuple[int, ...]) -> str:
    channels, height, width = shape
    if order == "hwc":
        return f"index = (y·{width} + x)·{channels} + c"
    return f"index = c·{height * width} + y·{width} + x"


def reading_rule(order: str, channels: int) -> str:
    if order == "hwc":
        return f"Read position by position, across the {channels} channels"
    return "Read channel by channel, row by row"


def sources_in_order(order: str, shape: tuple[int, int, int]) -> np.ndarray:
    """(N, 3) source cell of every vector entry, in the vector's order."""
    channels, height, width = shape
    c, y, x = np.meshgrid(np.arange(channels), np.arange(height), np.arange(width), indexing="ij")
    cells = np.stack([c, y, x], axis=-1)  # (C, H, W, 3)
    if order == "hwc":
        cells = cells.transpose(1, 2, 0, 3)
    return cells.reshape(-1, 3)


def picked_terms(products: np.ndarray, count: int, pick: str) -> list[int]:
    if count == 0:
        return []
    if pick == "first":
        return list(range(min(count, len(products))))
    order = np.argsort(-np.abs(products), kind="stable")
    return [int(i) for i in order[:count]]


# --- layout helpers --------------------------------------------------------


def _maps_block(
    pool: np.ndarray, colours: MapColours, ctx: StepContext
) -> tuple[Group, list[MapView]]:
    """The pooled maps in a grid (one row when wide), each labelled with its channel."""
    theme, frame = ctx.theme, ctx.frame
    channels = pool.shape[0]
    cols = channels if frame.landscape else int(np.ceil(channels / 2))
    size = 0.85 if frame.aspect == "1:1" else 1.0
    views, cells = [], []
    for c in range(channels):
        view = MapView(colours.rgb(pool[c]), size, theme.grid_line, border_width=1.0)
        ctx.recorder.heatmap(SOURCE, [c], pool[c], (colours.lo, colours.hi), colours.scale.name)
        label = number_text(f"channel {c}", theme.font, SMALL, theme.muted)
        label.next_to(view, DOWN, buff=0.08)
        views.append(view)
        cells.append(Group(view, label))
    grid = Group(*cells).arrange_in_grid(cols=cols, buff=(0.22, 0.18))
    h, w = pool.shape[1:]
    caption = text(f"{SOURCE}: {channels} maps of {h}×{w}", theme, LABEL)
    caption.next_to(grid, UP, buff=0.15)
    return Group(caption, grid), views


def _strip_caption(what: str, legend: Legend, ctx: StepContext) -> Group:
    """A strip's label with its colour legend beside it."""
    label = text(what, ctx.theme, LABEL)
    return Group(label, legend).arrange(RIGHT, buff=0.5, aligned_edge=DOWN)


def _row_labels(strip: VectorStrip, ctx: StepContext) -> VGroup:
    """The index of the first entry of each row, left of the strip (thinned if crowded)."""
    labels = VGroup()
    sample = number_text("0", ctx.theme.font, SMALL, ctx.theme.muted)
    every = max(1, int(np.ceil(sample.height * 1.6 / strip.row_pitch)))
    for row in range(0, strip.rows, every):
        label = number_text(str(row * strip.per_row), ctx.theme.font, SMALL, ctx.theme.muted)
        label.next_to(strip.row_left(row), LEFT, buff=0.1)
        labels.add(label)
    return labels


def _rule(order: str, shape: tuple[int, int, int], ctx: StepContext) -> VGroup:
    """How the block is read, in words and as the index formula."""
    theme = ctx.theme
    rule = reading_rule(order, shape[0])
    formula = number_text(general_formula(order, shape), theme.font, BODY, theme.accent)
    if ctx.frame.landscape:
        words = text(f"{rule}: {ORDER_NAMES[order]}", theme, LABEL)
        return VGroup(words, formula).arrange(DOWN, buff=0.12)
    words = text(rule, theme, LABEL)
    name = text(ORDER_NAMES[order], theme, LABEL, theme.muted)
    return VGroup(words, name, formula).arrange(DOWN, buff=0.1)


def _placeholder(width: float, height: float) -> Rectangle:
    return Rectangle(width=width, height=height, stroke_width=0, fill_opacity=0)


def _fit_into(mob: VMobject | Group, box: Box, scale: float) -> None:
    """Scale ``mob`` by the layout's scale (smaller if needed) and centre it in ``box``."""
    mob.scale(scale)
    fit(mob, box, max_scale=1.0)


# --- the step --------------------------------------------------------------


def build(spec: FlattenSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    pool = trace.activations[SOURCE]
    flat = trace.activations["flatten"]
    shape = (int(pool.shape[0]), int(pool.shape[1]), int(pool.shape[2]))
    count = len(flat)
    order = trace.flatten_order
    sources = sources_in_order(order, shape)
    if not np.array_equal(flat, pool[sources[:, 0], sources[:, 1], sources[:, 2]]):
        raise RuntimeError(
            f"the trace's flatten does not follow its order {order!r}; the step would mislead"
        )
    cls = class_index(trace, spec.class_name)
    name = short_name(trace.classes[cls], 18)
    weights = trace.weights["output"][cls]
    bias = float(trace.biases["output"][cls])
    logit = float(trace.logits[cls])

    colours = MapColours(trace, SOURCE, theme, ctx.colour_range)
    flat_rgb = colours.rgb(flat)
    empty_rgb = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
    per_row = min(PER_ROW.get(frame.aspect, 130), count)
    content = frame.content_box()

    rec.heatmap("flatten", [], flat, (colours.lo, colours.hi), colours.scale.name)
    rec.facts.update(
        {
            "order": order,
            "class": cls,
            "class_name": name,
            "per_row": per_row,
            "source_shape": list(shape),
        }
    )

    # ---- part one: the block becomes the vector ----
    title = title_for(ctx, f"Flatten: {shape[1]}×{shape[2]}×{shape[0]} → {count}")
    maps_block, views = _maps_block(pool, colours, ctx)
    rule = _rule(order, shape, ctx)
    readout_area = _placeholder(min(content.width, 9.0), 0.75)
    natural_width = 12.6 if frame.landscape else 7.0
    cell_width = natural_width / per_row
    row_h1 = 0.11 if frame.aspect == "1:1" else 0.16
    strip = VectorStrip(np.tile(empty_rgb, (count, 1)), per_row, cell_width, row_h1)
    row_labels = _row_labels(strip, ctx)
    legend1 = colours.legend(theme, width=2.2)
    caption1 = _strip_caption(f"flatten: a vector of {count:,} values", legend1, ctx)
    strip_body = Group(row_labels, strip)
    caption1.next_to(strip_body, UP, buff=0.15)
    strip_block = Group(caption1, strip_body)
    part1 = Group(maps_block, rule, readout_area, strip_block).arrange(DOWN, buff=0.22)
    before = strip.width
    fit(part1, content)
    scale1 = strip.width / before

    # ---- part two: one class's dot product (laid out now, shown later) ----
    dense = trace.explain_dense(cls)  # w · x for each entry, the bias and the logit
    products = dense.products
    shown = picked_terms(products, spec.terms, spec.pick)
    picked = set(shown)
    rest = [i for i in range(count) if i not in picked]
    w_range = kernel_range(weights)
    w_rgb = theme.weight.rgb(diverging_t(weights, w_range))
    rec.heatmap("output", [cls], weights, (-w_range / 2, w_range / 2), theme.weight.name)
    row_h2 = 0.12 if frame.aspect != "1:1" else 0.075
    strip2 = VectorStrip(flat_rgb, per_row, cell_width, row_h2)
    legend2 = colours.legend(theme, width=2.2)
    caption2 = _strip_caption(f"x = flatten ({count:,} values)", legend2, ctx)
    caption2.next_to(strip2, UP, buff=0.12)
    wstrip = VectorStrip(w_rgb, per_row, strip2.cell_width, row_h2)
    w_legend = Legend(
        theme.weight,
        -w_range / 2,
        w_range / 2,
        "weight",
        theme.font,
        theme.text,
        width=2.2,
        mid=0.0,
    )
    w_caption = _strip_caption(
        f"w = the output layer's weights for '{name}' (row {cls})", w_legend, ctx
    )
    w_caption.next_to(wstrip, UP, buff=0.12)

    formula = number_text(
        f"z[{cls}] = Σ w[{cls}, i] · x[i] + b[{cls}]   (i = 0 … {count - 1})",
        theme.font,
        BODY,
        theme.text,
    )
    pitch = 0.38 if frame.aspect == "1:1" else 0.42
    table_rows = []
    for i in shown:
        c, y, x = (int(v) for v in sources[i])
        table_rows.append(
            [
                str(i),
                f"({c}, {y}, {x})",
                rec.number("output", [cls, i], float(weights[i]), 4, "weight"),
                rec.number("flatten", [i], float(flat[i]), 4, "activation"),
                rec.number("output", [cls, i], float(products[i]), 4, "product"),
            ]
        )
    table = (
        Table(
            table_rows,
            theme.font,
            BODY,
            theme.text,
            pitch,
            header=["i", "from (c, y, x)", f"w[{cls}, i]", "x[i]", "w · x"],
            header_colour=theme.muted,
        )
        if table_rows
        else None
    )
    partial = dense.sum_of(shown)
    rest_sum = dense.sum_of(rest)
    sum_rows: list[list[str]] = []
    if shown:
        partial_text = rec.number("output", [cls, *shown], partial, 4, "partial_sum")
        rest_text = rec.number("output", [cls, *shown], rest_sum, 4, "rest_sum")
        sum_rows.append(["", partial_text, f"the {len(shown)} products above"])
        sum_rows.append([*term(rest_text), f"the other {len(rest):,} products"])
    else:
        rest_text = rec.number("output", [cls], rest_sum, 4, "rest_sum")
        sum_rows.append(["", rest_text, f"all {count:,} products"])
    bias_text = rec.number("output", [cls], bias, 4, "bias")
    logit_text = rec.number("output", [cls], logit, 4, "activation")
    sum_rows.append([*term(bias_text), f"bias b[{cls}]"])
    sum_rows.append(["=", logit_text, f"logit of '{name}'"])
    sums = Table(sum_rows, theme.font, BODY, theme.text, pitch, align="lrl", gap=0.2)
    sums.row_groups[-1].set_color(theme.accent)
    if table is not None:
        if frame.landscape:
            lower = Group(table, sums).arrange(RIGHT, buff=0.8, aligned_edge=UP)
        else:
            lower = Group(table, sums).arrange(DOWN, buff=0.3)
    else:
        lower = Group(sums)
    bottom = Group(formula, lower).arrange(DOWN, buff=0.25)
    part2 = Group(Group(caption2, strip2), Group(w_caption, wstrip), bottom).arrange(
        DOWN, buff=0.28
    )
    fit(part2, content)

    rec.facts.update(
        {
            "terms": shown,
            "term_sources": [[int(v) for v in sources[i]] for i in shown],
            "pick": spec.pick,
        }
    )

    # ---- the pointer that follows the read-out ----
    active = views[0].window(0, 0, 1, 1, theme.highlight, stroke=3)
    active.set_stroke(theme.background, width=6, background=True)
    # In channels-last order every channel's cell at the current position is marked.
    position_marks = [v.window(0, 0, 1, 1, theme.accent, stroke=1.5) for v in views]
    marks = VGroup(*position_marks) if order == "hwc" else VGroup()
    cursor = strip.marker(0, theme.highlight, halo=theme.background)
    pointer = VGroup(marks, active, cursor)

    def point_at(index: int) -> None:
        c, y, x = (int(v) for v in sources[min(index, count - 1)])
        views[c].place_window(active, y, x, 1, 1)
        if order == "hwc":
            for view, mark in zip(views, position_marks, strict=True):
                view.place_window(mark, y, x, 1, 1)
        strip.place_marker(cursor, min(index, count - 1))

    done = ValueTracker(0)

    def paint(_: object) -> None:
        n = int(np.clip(np.floor(done.get_value() + 1e-6), 0, count))
        rgb = np.empty_like(flat_rgb)
        rgb[:] = empty_rgb
        rgb[:n] = flat_rgb[:n]
        strip.set_colours(rgb)

    def follow(_: object) -> None:
        point_at(int(np.clip(np.floor(done.get_value()), 0, count - 1)))

    def readout_lines(index: int) -> VGroup:
        c, y, x = (int(v) for v in sources[index])
        source = (c, y, x)
        value = rec.number("flatten", [index], float(flat[index]), 2, "activation")
        rec.facts.setdefault("readout", []).append({"index": index, "source": list(source)})
        lines = VGroup(
            number_text(
                f"x[{index}] = channel {c}, row {y}, column {x} = {value}",
                theme.font,
                BODY,
                theme.text,
            ),
            number_text(index_formula(order, index, source, shape), theme.font, BODY, theme.muted),
        ).arrange(DOWN, buff=0.12)
        _fit_into(lines, _box_of(readout_area), scale1)
        return lines

    # The explained entries: the first few, and the first of the next
    # channel (chw) or position (hwc) to show where reading turns.
    step = shape[1] * shape[2] if order == "chw" else shape[0]
    explained = list(range(min(spec.readout, count)))
    if spec.readout and step < count and step not in explained:
        explained.append(step)

    yield Add([title])
    yield Beat([FadeIn(maps_block), FadeIn(rule)], 1.0)
    yield Beat([FadeIn(strip_block)], 0.8)
    lines: VGroup | None = None
    point_at(0)
    yield Beat([FadeIn(pointer)], 0.4)
    for index in explained:
        if index > done.get_value():
            gap = index - done.get_value()
            fade = [FadeOut(lines)] if lines is not None else []
            lines = None
            yield Beat(
                [
                    *fade,
                    done.animate(rate_func=linear).set_value(index),  # type: ignore[operator]
                    UpdateFromFunc(strip, paint),
                    UpdateFromFunc(pointer, follow),
                ],
                float(np.clip(gap * 0.02, 0.6, 2.0)),
            )
        point_at(index)
        new_lines = readout_lines(index)
        fade = [FadeOut(lines)] if lines is not None else []
        yield Beat(
            [
                *fade,
                FadeIn(new_lines),
                done.animate.set_value(index + 1),
                UpdateFromFunc(strip, paint),
            ],
            0.8,
        )
        lines = new_lines
        yield Hold(1.0 if index == explained[0] else 0.6)
    if lines is not None:
        yield Beat([FadeOut(lines)], 0.3)
        lines = None
    note = text(
        f"… and the other {count - int(done.get_value()):,} values, in the same order",
        theme,
        BODY,
        theme.muted,
    )
    _fit_into(note, _box_of(readout_area), scale1)
    if done.get_value() < count:
        yield Beat([FadeIn(note)], 0.3)
        yield Beat(
            [
                done.animate(rate_func=linear).set_value(count),  # type: ignore[operator]
                UpdateFromFunc(strip, paint),
                UpdateFromFunc(pointer, follow),
            ],
            spec.sweep_seconds,
        )
    else:
        note = text("every value read, in the model's order", theme, BODY, theme.muted)
        _fit_into(note, _box_of(readout_area), scale1)
        yield Beat([FadeIn(note)], 0.3)
    strip.set_colours(flat_rgb)
    yield Hold(1.0)

    # ---- part two ----
    yield Beat(
        [
            FadeOut(maps_block),
            FadeOut(rule),
            FadeOut(note),
            FadeOut(pointer),
            FadeOut(strip_block[0]),
            FadeOut(row_labels),
            Transform(strip, strip2),
        ],
        1.0,
    )
    yield Beat([FadeIn(caption2), FadeIn(w_caption), FadeIn(wstrip)], 1.0)
    yield Beat([FadeIn(formula)], 0.8)
    yield Hold(0.6)
    if table is not None and table.header is not None:
        yield Beat([FadeIn(table.header)], 0.4)
        # Adjacent entries share one outline on each strip, grown as terms appear.
        run_marks: VGroup | None = None
        run_start = -1
        for n, (row, i) in enumerate(zip(table.body, shown, strict=True)):
            previous = shown[n - 1] if n else -2
            same_run = i == previous + 1 and i // per_row == previous // per_row
            start = run_start if same_run else i
            marks = VGroup(
                *[
                    s.marker(start, theme.highlight, 2.5, halo=theme.background, last=i)
                    for s in (strip, wstrip)
                ]
            )
            anims = [FadeIn(row), FadeIn(marks)]
            if same_run and run_marks is not None:
                yield Add([run_marks], remove=True)
            run_marks, run_start = marks, start
            yield Beat(anims, 0.8)
            yield Hold(0.4)
    for k, row in enumerate(sums.row_groups):
        yield Beat([FadeIn(row)], 0.8 if k == len(sums.row_groups) - 1 else 0.6)
        yield Hold(0.3)
    yield Hold(1.5)


def _box_of(mob: VMobject) -> Box:
    return Box(mob.get_left()[0], mob.get_bottom()[1], mob.get_right()[0], mob.get_top()[1])


register(
    StepType(
        name="flatten",
        spec=FlattenSpec,
        build=build,
        check=check_class_name,
        summary="The 13×13×10 pooled block read out into the 1690-long vector in the model's "
        "order, then one class's dot product giving its logit.",
    )
)
