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

:func:`plan` chooses the data and writes every number (no Mobject, no
scene); :func:`build` lays it out and animates it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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
    ReplacementTransform,
    Transform,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    VMobject,
    linear,
)
from pydantic import Field

from ...i18n import _, integer, ngettext
from ...visuals.colors import diverging_t, hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, fit
from ...visuals.legend import Legend
from ...visuals.numbers import short_name, term
from ...visuals.ranges import kernel_range
from ...visuals.text import BODY, LABEL, text
from ...visuals.vector_cells import Table
from ...visuals.vector_strip import VectorStrip
from ..kit.base import Add, Beat, Hold, Item, Phase, StepContext, StepSpec
from ..kit.checks import ClassName, check_class_name, class_index
from ..kit.common import MapColours, channel_name, title_for
from ..kit.record import Recorder
from ..kit.registry import Numbered, Phases, StepType, register

if TYPE_CHECKING:
    from cnn_model.trace import LogitTerms, Trace

    from ...visuals.layout import Frame

SOURCE = "max_pool_2"


def order_name(order: str) -> str:
    """The flatten order in words, in the lesson's language."""
    names = {
        "chw": _("channels first (PyTorch's order)"),
        "hwc": _("channels last (Keras' order)"),
    }
    return names[order]


# Entries of the vector per row of the wrapped strip, for each aspect.
PER_ROW = {"16:9": 169, "9:16": 65, "1:1": 130}
# The smallest text drawn (map and row labels, legends). A layout shrinks to fit
# its frame by no less than MIN_FIT, so this text stays legible; the part with the
# dot product is shown in two stages where it would shrink more.
MIN_TEXT = 17
MIN_FIT = 0.9


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
        # Translators: c, y and x are the channel, row and column of a cell.
        return _("index = (y·{width} + x)·{channels} + c").format(width=width, channels=channels)
    # Translators: c, y and x are the channel, row and column of a cell.
    return _("index = c·{area} + y·{width} + x").format(area=height * width, width=width)


def reading_rule(order: str, channels: int) -> str:
    if order == "hwc":
        return _("Read position by position, across the {channels} channels").format(
            channels=channels
        )
    return _("Read channel by channel, row by row")


def picked_terms(products: np.ndarray, count: int, pick: str) -> list[int]:
    if count == 0:
        return []
    if pick == "first":
        return list(range(min(count, len(products))))
    order = np.argsort(-np.abs(products), kind="stable")
    return [int(i) for i in order[:count]]


@dataclass(frozen=True)
class ReadoutEntry:
    """One vector entry explained during the read-out."""

    index: int
    source: tuple[int, int, int]  # (c, y, x) in the pooled block
    line: str  # "x[i] = channel c, row y, column x = value"
    formula: str  # the index formula for that cell


@dataclass(frozen=True)
class FlattenPlan:
    """What the flatten step shows, chosen from the trace; no Mobject is made here."""

    order: str  # "chw" or "hwc"
    shape: tuple[int, int, int]  # the pooled block (channels, height, width)
    count: int  # entries of the vector
    sources: np.ndarray  # (count, 3): the cell each entry is read from
    class_index: int
    heading: str
    maps_caption: str
    rule: str  # how the block is read, in words
    order_name: str
    general_formula: str
    strip_caption: str
    readout: tuple[ReadoutEntry, ...]
    # The first ``first_entries`` of ``readout`` are the vector's first entries; the
    # one after them (if any) is where reading turns to the next channel or position.
    first_entries: int
    read: int  # entries read out one by one, before the quick sweep
    sweep_note: str
    x_caption: str
    w_caption: str
    dot_formula: str
    shown: tuple[int, ...]  # the entries whose products are written out
    table_header: tuple[str, ...]
    table_rows: tuple[tuple[str, ...], ...]
    sum_rows: tuple[tuple[str, str, str], ...]  # sign, number, what it is
    # Layout numbers (scene units) for the frame's aspect.
    per_row: int
    map_columns: int
    map_size: float
    cell_width: float
    row_height: float  # of the strip being filled
    dense_row_height: float  # of the two strips lined up for the dot product
    pitch: float  # of the tables' rows
    block_gap: float  # between the blocks of part one
    readout_width: float
    sweep_seconds: float  # of the quick read-out
    values: tuple[dict[str, Any], ...]  # every number shown, as the recorder keeps it
    facts: dict[str, Any]


def plan(spec: FlattenSpec, trace: Trace, frame: Frame) -> FlattenPlan:
    """Choose the class, the products and the explained entries, and write their numbers;
    ``build`` animates the result."""
    pool, flat = trace.activations[SOURCE], trace.activations["flatten"]
    shape = (int(pool.shape[0]), int(pool.shape[1]), int(pool.shape[2]))
    count, order = len(flat), trace.flatten_order
    sources = trace.flatten_sources()
    if not np.array_equal(flat, pool[sources[:, 0], sources[:, 1], sources[:, 2]]):
        raise RuntimeError(
            f"the trace's flatten does not follow its order {order!r}; the step would mislead"
        )
    cls = class_index(trace, spec.class_name)
    name = short_name(trace.classes[cls], 18)
    shown = picked_terms(trace.explain_dense(cls).products, spec.terms, spec.pick)
    terms = trace.logit_terms(cls, shown)
    record = Recorder()
    table_rows, sum_rows = _dot_product_rows(terms, sources, name, record)
    readout = _readout(spec, trace, sources, record)
    read = readout[-1].index + 1 if readout else 0
    per_row = min(PER_ROW.get(frame.aspect, 130), count)
    channels, height, width = shape
    square = frame.aspect == "1:1"
    return FlattenPlan(
        order=order,
        shape=shape,
        count=count,
        sources=sources,
        class_index=cls,
        heading=_("Flatten: {height}×{width}×{channels} → {count}").format(
            height=height, width=width, channels=channels, count=count
        ),
        maps_caption=_("{layer}: {channels} maps of {height}×{width}").format(
            layer=SOURCE, channels=channels, height=height, width=width
        ),
        rule=reading_rule(order, channels),
        order_name=order_name(order),
        general_formula=general_formula(order, shape),
        strip_caption=_("flatten: a vector of {count} values").format(count=integer(count)),
        readout=readout,
        first_entries=min(spec.readout, count),
        read=read,
        sweep_note=_sweep_note(count - read),
        x_caption=_("x = flatten ({count} values)").format(count=integer(count)),
        w_caption=_("w = the output layer's weights for '{name}' (row {row})").format(
            name=name, row=cls
        ),
        dot_formula=f"z[{cls}] = Σ w[{cls}, i] · x[i] + b[{cls}]   (i = 0 … {count - 1})",
        shown=tuple(shown),
        table_header=("i", _("from (c, y, x)"), f"w[{cls}, i]", "x[i]", "w · x"),
        table_rows=table_rows,
        sum_rows=sum_rows,
        per_row=per_row,
        map_columns=channels if frame.landscape else int(np.ceil(channels / 2)),
        map_size=0.7 if square else 1.0,
        cell_width=(12.6 if frame.landscape else 6.5) / per_row,
        row_height=0.07 if square else 0.16,
        dense_row_height={"16:9": 0.08, "9:16": 0.09}.get(frame.aspect, 0.06),
        pitch=0.38 if square else 0.42,
        block_gap=0.15 if square else 0.22,
        readout_width=min(frame.content_box().width, 9.0),
        sweep_seconds=spec.sweep_seconds,
        values=tuple(record.values),
        facts={
            "order": order,
            "class": cls,
            "class_name": name,
            "per_row": per_row,
            "source_shape": list(shape),
            "terms": shown,
            "term_sources": [[int(v) for v in sources[i]] for i in shown],
            "pick": spec.pick,
            **(
                {"readout": [{"index": e.index, "source": list(e.source)} for e in readout]}
                if readout
                else {}
            ),
        },
    )


def _sweep_note(rest: int) -> str:
    """The note over the quick read-out of the entries not explained one by one."""
    if rest <= 0:
        return _("every value read, in the model's order")
    note = ngettext(
        "… and the other {count} value, in the same order",
        "… and the other {count} values, in the same order",
        rest,
    )
    return note.format(count=integer(rest))


def _dot_product_rows(
    terms: LogitTerms, sources: np.ndarray, name: str, record: Recorder
) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, str, str], ...]]:
    """The table of written-out products, and the sums that give the logit."""
    cls, shown = terms.class_index, terms.shown
    table_rows = []
    for n, i in enumerate(shown):
        c, y, x = (int(v) for v in sources[i])
        table_rows.append(
            (
                str(i),
                f"({c}, {y}, {x})",
                record.number("output", [cls, i], float(terms.weights[n]), 4, "weight"),
                record.number("flatten", [i], float(terms.inputs[n]), 4, "activation"),
                record.number("output", [cls, i], float(terms.products[n]), 4, "product"),
            )
        )
    sum_rows: list[tuple[str, str, str]] = []
    if shown:
        partial = record.number("output", [cls, *shown], terms.shown_sum, 4, "partial_sum")
        rest = record.number("output", [cls, *shown], terms.others_sum, 4, "rest_sum")
        above = ngettext("the product above", "the {count} products above", len(shown))
        others = ngettext("the other {count} product", "the other {count} products", terms.others)
        sum_rows.append(("", partial, above.format(count=integer(len(shown)))))
        sum_rows.append((*term(rest), others.format(count=integer(terms.others))))
    else:
        rest = record.number("output", [cls], terms.others_sum, 4, "rest_sum")
        every = ngettext("the only product", "all {count} products", terms.others)
        sum_rows.append(("", rest, every.format(count=integer(terms.others))))
    bias = record.number("output", [cls], terms.bias, 4, "bias")
    logit = record.number("output", [cls], terms.logit, 4, "activation")
    sum_rows.append((*term(bias), _("bias b[{row}]").format(row=cls)))
    sum_rows.append(("=", logit, _("logit of '{name}'").format(name=name)))
    return tuple(table_rows), tuple(sum_rows)


def _readout(
    spec: FlattenSpec, trace: Trace, sources: np.ndarray, record: Recorder
) -> tuple[ReadoutEntry, ...]:
    """The entries explained one by one: the first few, and the first of the next
    channel (chw) or position (hwc) to show where reading turns."""
    flat, order = trace.activations["flatten"], trace.flatten_order
    channels, height, width = trace.activations[SOURCE].shape
    count = len(flat)
    turn = height * width if order == "chw" else channels
    explained = list(range(min(spec.readout, count)))
    if spec.readout and turn < count and turn not in explained:
        explained.append(turn)
    entries = []
    for index in explained:
        c, y, x = (int(v) for v in sources[index])
        value = record.number("flatten", [index], float(flat[index]), 2, "activation")
        entries.append(
            ReadoutEntry(
                index,
                (c, y, x),
                _("x[{index}] = channel {c}, row {y}, column {x} = {value}").format(
                    index=index, c=c, y=y, x=x, value=value
                ),
                index_formula(order, index, (c, y, x), (channels, height, width)),
            )
        )
    return tuple(entries)


# --- layout helpers --------------------------------------------------------


def _maps_block(
    p: FlattenPlan, pool: np.ndarray, colours: MapColours, ctx: StepContext
) -> tuple[Group, list[MapView]]:
    """The pooled maps in a grid (one row when wide), each labelled with its channel."""
    theme = ctx.theme
    views, cells = [], []
    for c in range(p.shape[0]):
        view = MapView(colours.rgb(pool[c]), p.map_size, theme.grid_line, border_width=1.0)
        ctx.recorder.heatmap(SOURCE, [c], pool[c], (colours.lo, colours.hi), colours.scale.name)
        label = number_text(channel_name(SOURCE, c), theme.font, MIN_TEXT, theme.muted)
        label.next_to(view, DOWN, buff=0.08)
        views.append(view)
        cells.append(Group(view, label))
    grid = Group(*cells).arrange_in_grid(cols=p.map_columns, buff=(0.22, 0.18))
    caption = text(p.maps_caption, theme, LABEL)
    caption.next_to(grid, UP, buff=0.15)
    return Group(caption, grid), views


def _strip_caption(what: str, legend: Legend, ctx: StepContext) -> Group:
    """A strip's label with its colour legend beside it, or, where the frame is too
    narrow for both, the legend under the label's right end."""
    label = text(what, ctx.theme, LABEL)
    if label.width + 0.5 + legend.width <= ctx.frame.content_box().width:
        return Group(label, legend).arrange(RIGHT, buff=0.5, aligned_edge=DOWN)
    caption = Group(label, legend).arrange(DOWN, buff=0.1)
    legend.align_to(label, RIGHT)
    return caption


def _row_labels(strip: VectorStrip, ctx: StepContext) -> VGroup:
    """The index of the first entry of each row, left of the strip (thinned if crowded)."""
    labels = VGroup()
    sample = number_text("0", ctx.theme.font, MIN_TEXT, ctx.theme.muted)
    every = max(1, int(np.ceil(sample.height * 1.6 / strip.row_pitch)))
    for row in range(0, strip.rows, every):
        label = number_text(str(row * strip.per_row), ctx.theme.font, MIN_TEXT, ctx.theme.muted)
        label.next_to(strip.row_left(row), LEFT, buff=0.1)
        labels.add(label)
    return labels


def _rule(p: FlattenPlan, ctx: StepContext) -> VGroup:
    """How the block is read, in words and as the index formula."""
    theme = ctx.theme
    formula = number_text(p.general_formula, theme.font, BODY, theme.accent)
    if ctx.frame.landscape:
        words = text(_("{rule}: {order}").format(rule=p.rule, order=p.order_name), theme, LABEL)
        return VGroup(words, formula).arrange(DOWN, buff=0.12)
    words = text(p.rule, theme, LABEL)
    name = text(p.order_name, theme, LABEL, theme.muted)
    return VGroup(words, name, formula).arrange(DOWN, buff=0.1)


def _legend(colours: MapColours, ctx: StepContext) -> Legend:
    """The activations' legend, for the strips."""
    return colours.legend(ctx.theme, width=2.2, font_size=MIN_TEXT)


def _placeholder(width: float, height: float) -> Rectangle:
    return Rectangle(width=width, height=height, stroke_width=0, fill_opacity=0)


def _fit_into(mob: VMobject | Group, box: Box, scale: float) -> None:
    """Scale ``mob`` by the layout's scale (smaller if needed) and centre it in ``box``."""
    mob.scale(scale)
    fit(mob, box, max_scale=1.0)


def _box_of(mob: VMobject) -> Box:
    return Box(mob.get_left()[0], mob.get_bottom()[1], mob.get_right()[0], mob.get_top()[1])


# --- part one: the block becomes the vector --------------------------------


@dataclass
class _PartOne:
    maps_block: Group
    views: list[MapView]
    rule: VGroup
    readout_area: Rectangle
    strip: VectorStrip  # filled entry by entry as the vector is read
    row_labels: VGroup
    strip_block: Group  # caption (with legend) above the labelled strip
    scale: float  # how much the layout shrank to fit the frame


def _part_one(p: FlattenPlan, pool: np.ndarray, colours: MapColours, ctx: StepContext) -> _PartOne:
    theme = ctx.theme
    maps_block, views = _maps_block(p, pool, colours, ctx)
    rule = _rule(p, ctx)
    readout_area = _placeholder(p.readout_width, 0.7)
    empty_rgb = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
    strip = VectorStrip(np.tile(empty_rgb, (p.count, 1)), p.per_row, p.cell_width, p.row_height)
    row_labels = _row_labels(strip, ctx)
    caption = _strip_caption(p.strip_caption, _legend(colours, ctx), ctx)
    strip_body = Group(row_labels, strip)
    caption.next_to(strip_body, UP, buff=0.15)
    strip_block = Group(caption, strip_body)
    whole = Group(maps_block, rule, readout_area, strip_block).arrange(DOWN, buff=p.block_gap)
    before = strip.width
    fit(whole, ctx.frame.content_box())
    scale = strip.width / before
    return _PartOne(maps_block, views, rule, readout_area, strip, row_labels, strip_block, scale)


class _Pointer:
    """The marks that follow the read-out: the cell on its map (in channels-last order,
    the same position on every map) and the entry on the strip, which fills as it goes."""

    def __init__(self, p: FlattenPlan, one: _PartOne, flat_rgb: np.ndarray, ctx: StepContext):
        theme = ctx.theme
        self.p, self.one, self.flat_rgb = p, one, flat_rgb
        self.empty_rgb = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
        self.active = one.views[0].window(0, 0, 1, 1, theme.highlight, stroke=3)
        self.active.set_stroke(theme.background, width=6, background=True)
        self.position_marks = [v.window(0, 0, 1, 1, theme.accent, stroke=1.5) for v in one.views]
        marks = VGroup(*self.position_marks) if p.order == "hwc" else VGroup()
        self.cursor = one.strip.marker(0, theme.highlight, halo=theme.background)
        self.mobject = VGroup(marks, self.active, self.cursor)
        self.done = ValueTracker(0)

    def point_at(self, index: int) -> None:
        index = min(index, self.p.count - 1)
        c, y, x = (int(v) for v in self.p.sources[index])
        self.one.views[c].place_window(self.active, y, x, 1, 1)
        if self.p.order == "hwc":
            for view, mark in zip(self.one.views, self.position_marks, strict=True):
                view.place_window(mark, y, x, 1, 1)
        self.one.strip.place_marker(self.cursor, index)

    def paint(self, _mob: object) -> None:
        n = int(np.clip(np.floor(self.done.get_value() + 1e-6), 0, self.p.count))
        rgb = np.empty_like(self.flat_rgb)
        rgb[:] = self.empty_rgb
        rgb[:n] = self.flat_rgb[:n]
        self.one.strip.set_colours(rgb)

    def follow(self, _mob: object) -> None:
        self.point_at(int(np.clip(np.floor(self.done.get_value()), 0, self.p.count - 1)))

    def sweep_to(self, index: int, seconds: float, fade: list[Any]) -> Beat:
        """The quick read-out up to ``index``, strip filling and marks following."""
        return Beat(
            [
                *fade,
                self.done.animate(rate_func=linear).set_value(index),  # type: ignore[operator]
                UpdateFromFunc(self.one.strip, self.paint),
                UpdateFromFunc(self.mobject, self.follow),
            ],
            seconds,
        )


def _read_out(
    p: FlattenPlan, one: _PartOne, flat_rgb: np.ndarray, ctx: StepContext
) -> Generator[Item, None, list[VMobject]]:
    """The explained entries one by one, then the rest quickly, in the model's order;
    returns what is still on screen of it (the closing note and the pointer).

    Each of the first entries is a phase; the sweep's starts with the entry where
    reading turns (it is reached by a quick read-out too) or with the rest.
    """
    theme, area = ctx.theme, _box_of(one.readout_area)
    pointer = _Pointer(p, one, flat_rgb, ctx)
    lines: VGroup | None = None
    pointer.point_at(0)
    yield Beat([FadeIn(pointer.mobject)], 0.4)
    for n, entry in enumerate(p.readout):
        yield Phase(f"entry {n + 1}" if n < p.first_entries else "sweep")
        done = pointer.done.get_value()
        if entry.index > done:
            fade = [FadeOut(lines)] if lines is not None else []
            lines = None
            yield pointer.sweep_to(
                entry.index, float(np.clip((entry.index - done) * 0.02, 0.6, 2.0)), fade
            )
        pointer.point_at(entry.index)
        new_lines = VGroup(
            number_text(entry.line, theme.font, BODY, theme.text),
            number_text(entry.formula, theme.font, BODY, theme.muted),
        ).arrange(DOWN, buff=0.12)
        _fit_into(new_lines, area, one.scale)
        # The next entry's lines grow out of the last one's, glyph by glyph: only what
        # differs (its index, column, value) changes, and never two texts at once.
        shown = [FadeIn(new_lines)] if lines is None else [ReplacementTransform(lines, new_lines)]
        yield Beat(
            [
                *shown,
                pointer.done.animate.set_value(entry.index + 1),
                UpdateFromFunc(one.strip, pointer.paint),
            ],
            0.8,
        )
        lines = new_lines
        yield Hold(1.0 if entry is p.readout[0] else 0.6)
    if len(p.readout) == p.first_entries:  # no turn was explained
        yield Phase("sweep")
    if lines is not None:
        yield Beat([FadeOut(lines)], 0.3)
    note = text(p.sweep_note, theme, BODY, theme.muted)
    _fit_into(note, area, one.scale)
    yield Beat([FadeIn(note)], 0.3)
    if p.read < p.count:
        yield pointer.sweep_to(p.count, p.sweep_seconds, [])
    one.strip.set_colours(flat_rgb)
    yield Hold(1.0)
    return [note, pointer.mobject]


# --- part two: one class's dot product -------------------------------------


@dataclass
class _PartTwo:
    x_caption: Group
    x_strip: VectorStrip  # the filled strip of part one becomes this one
    w_caption: Group
    w_strip: VectorStrip
    formula: VMobject
    table: Table | None  # the written-out products (none when no term is asked for)
    sums: Table
    # Where the formula and the products go when the strips are cleared for the sums,
    # in a frame too small for all of it at once (None: all of it fits).
    later: tuple[VMobject, Table] | None = None


def _weight_legend(w_range: float, ctx: StepContext) -> Legend:
    theme = ctx.theme
    return Legend(
        theme.weight,
        -w_range / 2,
        w_range / 2,
        _("weight"),
        theme.font,
        theme.text,
        width=2.2,
        mid=0.0,
        font_size=MIN_TEXT,
    )


def _part_two(
    p: FlattenPlan,
    flat_rgb: np.ndarray,
    w_rgb: np.ndarray,
    w_legend: Legend,
    colours: MapColours,
    ctx: StepContext,
) -> _PartTwo:
    """The vector and the class's weights lined up, the products, the sums and the logit."""
    theme, frame = ctx.theme, ctx.frame
    x_strip = VectorStrip(flat_rgb, p.per_row, p.cell_width, p.dense_row_height)
    x_caption = _strip_caption(p.x_caption, _legend(colours, ctx), ctx)
    x_caption.next_to(x_strip, UP, buff=0.12)
    w_strip = VectorStrip(w_rgb, p.per_row, x_strip.cell_width, p.dense_row_height)
    w_caption = _strip_caption(p.w_caption, w_legend, ctx)
    w_caption.next_to(w_strip, UP, buff=0.12)
    formula = number_text(p.dot_formula, theme.font, BODY, theme.text)
    table = None
    if p.table_rows:
        rows = [list(r) for r in p.table_rows]
        table = Table(
            rows,
            theme.font,
            BODY,
            theme.text,
            p.pitch,
            header=list(p.table_header),
            header_colour=theme.muted,
        )
    sum_rows = [list(r) for r in p.sum_rows]
    sums = Table(sum_rows, theme.font, BODY, theme.text, p.pitch, align="lrl", gap=0.2)
    sums.row_groups[-1].set_color(theme.accent)

    def under_formula(*lower: VMobject, scale: float = 1.0) -> Group:
        if len(lower) == 2 and frame.landscape:
            rows = Group(*lower).arrange(RIGHT, buff=0.8 * scale, aligned_edge=UP)
        else:
            rows = Group(*lower).arrange(DOWN, buff=0.3 * scale)
        return Group(lower_formula, rows).arrange(DOWN, buff=0.25 * scale)

    box = frame.content_box()
    strips = [Group(x_caption, x_strip), Group(w_caption, w_strip)]
    lower_formula = formula
    products = [sums] if table is None else [table, sums]
    whole = Group(*strips, under_formula(*products)).arrange(DOWN, buff=0.28)
    if table is None or min(box.width / whole.width, box.height / whole.height) >= MIN_FIT:
        fit(whole, box)
        return _PartTwo(x_caption, x_strip, w_caption, w_strip, formula, table, sums)
    # Two stages: the strips over the formula and the products; then the strips are
    # cleared, the formula and the products move up, and the sums come under them.
    first = Group(*strips, under_formula(table)).arrange(DOWN, buff=0.28)
    before = formula.height
    fit(first, box)
    scale = formula.height / before
    sums.scale(scale)
    lower_formula = formula.copy()
    table_to = table.copy()
    second = under_formula(table_to, sums, scale=scale)
    second.move_to(box.center)
    return _PartTwo(
        x_caption, x_strip, w_caption, w_strip, formula, table, sums, (lower_formula, table_to)
    )


def _dot_product(
    p: FlattenPlan, strip: VectorStrip, two: _PartTwo, ctx: StepContext
) -> Iterator[Item]:
    """The strips, the formula, the written-out products and the sums, in turn.

    (The weights' phase has started with the move from part one.)
    """
    theme = ctx.theme
    yield Beat([FadeIn(two.x_caption), FadeIn(two.w_caption), FadeIn(two.w_strip)], 1.0)
    yield Beat([FadeIn(two.formula)], 0.8)
    yield Hold(0.6)
    yield Phase("products")
    if two.table is not None and two.table.header is not None:
        yield Beat([FadeIn(two.table.header)], 0.4)
        # Adjacent entries share one outline on each strip, grown as terms appear.
        run_marks: VGroup | None = None
        run_start = -1
        shown_marks: list[VGroup] = []
        for n, (row, i) in enumerate(zip(two.table.body, p.shown, strict=True)):
            previous = p.shown[n - 1] if n else -2
            same_run = i == previous + 1 and i // p.per_row == previous // p.per_row
            start = run_start if same_run else i
            marks = VGroup(
                *[
                    s.marker(start, theme.highlight, 2.5, halo=theme.background, last=i)
                    for s in (strip, two.w_strip)
                ]
            )
            if same_run and run_marks is not None:
                yield Add([run_marks], remove=True)
                shown_marks.remove(run_marks)
            run_marks, run_start = marks, start
            shown_marks.append(marks)
            yield Beat([FadeIn(row), FadeIn(marks)], 0.8)
            if two.later is None or n < len(p.shown) - 1:
                yield Hold(0.4)
        if two.later is not None:
            # The frame is too small for the sums as well: the strips make room.
            cleared = [two.x_caption, strip, two.w_caption, two.w_strip, *shown_marks]
            yield Beat([FadeOut(m) for m in cleared], 0.4)
            formula_to, table_to = two.later
            yield Beat([Transform(two.formula, formula_to), Transform(two.table, table_to)], 0.5)
    # The sums end with the bias and the logit: the logit's phase.
    logit_rows = len(two.sums.row_groups) - 2
    for k, row in enumerate(two.sums.row_groups):
        if k == logit_rows:
            yield Phase("logit")
        yield Beat([FadeIn(row)], 0.8 if k == len(two.sums.row_groups) - 1 else 0.6)
        yield Hold(0.3)
    yield Hold(1.5)


# --- the step --------------------------------------------------------------


def build(spec: FlattenSpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    theme, rec = ctx.theme, ctx.recorder
    p = plan(spec, trace, ctx.frame)
    pool, flat = trace.activations[SOURCE], trace.activations["flatten"]
    weights = trace.weights["output"][p.class_index]
    colours = MapColours(trace, SOURCE, theme, ctx.colour_range)
    flat_rgb = colours.rgb(flat)
    rec.heatmap("flatten", [], flat, (colours.lo, colours.hi), colours.scale.name)
    rec.facts.update(p.facts)
    one = _part_one(p, pool, colours, ctx)
    w_range = kernel_range(weights)
    w_rgb = theme.weight.rgb(diverging_t(weights, w_range))
    rec.heatmap("output", [p.class_index], weights, (-w_range / 2, w_range / 2), theme.weight.name)
    two = _part_two(p, flat_rgb, w_rgb, _weight_legend(w_range, ctx), colours, ctx)
    rec.values.extend(dict(v) for v in p.values)

    yield Add([title_for(ctx, p.heading)])
    yield Phase("maps")
    yield Beat([FadeIn(one.maps_block), FadeIn(one.rule)], 1.0)
    yield Beat([FadeIn(one.strip_block)], 0.8)
    leftover = yield from _read_out(p, one, flat_rgb, ctx)
    yield Phase("weights")
    # Everything but the strip goes before the strip moves, so it passes over nothing.
    yield Beat(
        [
            FadeOut(one.maps_block),
            FadeOut(one.rule),
            *[FadeOut(m) for m in leftover],
            FadeOut(one.strip_block[0]),
            FadeOut(one.row_labels),
        ],
        0.4,
    )
    yield Beat([Transform(one.strip, two.x_strip)], 0.6)
    yield from _dot_product(p, one.strip, two, ctx)


register(
    StepType(
        name="flatten",
        spec=FlattenSpec,
        build=build,
        check=check_class_name,
        summary="The 13×13×10 pooled block read out into the 1690-long vector in the model's "
        "order, then one class's dot product giving its logit.",
        phases=Phases(
            (
                "maps",
                Numbered("entry", count=lambda spec: spec.readout, counted_by="readout"),
                "sweep",
                "weights",
                "products",
                "logit",
            )
        ),
    )
)
