"""``softmax``: logits → e^z → their sum → probabilities, then why it is a soft argmax.

The logits of the output layer are a column of cells coloured light to dark
(the theme's logit scale over [min, max] → [0.2, 1], as in CNN Explainer),
with a legend. Each gets its e^z (written with a power of ten when tiny or
huge), the e^z are summed, and each probability e^z / Σ is shown with 4
decimals; the probabilities add up to 1 and the predicted class is outlined.
One class's division is written out in full. Finally argmax (one-hot),
softmax and a plain linear normalisation of the logits stand side by side
as bar charts, labelled, to show what "softer argmax" means.

Probabilities are the trace's (the model's own softmax). e^z, the sums and
the linear normalisation are not computed by the model; the trace derives
them from its logits (``Trace.softmax_terms``, ``probability_of``,
``linear_share_of``), never this module. A model with more than ten classes
shows the nine largest logits (and the class asked for) and one row for the
others. :func:`plan` chooses and writes all of it; :func:`build` draws it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    Line,
    Mobject,
    Rectangle,
    VGroup,
    VMobject,
)
from pydantic import Field

from ...i18n import _, integer, ngettext
from ...visuals.bars import BarRows
from ...visuals.colors import hex_to_rgb, sequential_t
from ...visuals.glyphs import number_text
from ...visuals.layout import fit
from ...visuals.legend import Legend
from ...visuals.numbers import short_name
from ...visuals.text import BODY, LABEL, text
from ...visuals.vector_cells import CellColumn, fmt_wide, number_mobject, place, raised
from ..kit.base import Add, Beat, Hold, Item, Phase, StepContext, StepSpec
from ..kit.checks import ClassName, check_class_name, class_index
from ..kit.common import title_for
from ..kit.record import Recorder
from ..kit.registry import Optional, Phases, StepType, register

if TYPE_CHECKING:
    from cnn_model.trace import Trace

    from ...visuals.layout import Frame

MAX_ROWS = 10
PITCH = 0.44
CELL_W, CELL_H = 1.15, 0.36
# The table's gaps: names to logit cells, cells to e^z, e^z to p.
NAME_GAP, EXP_GAP, PROB_GAP = 0.25, 0.35, 0.45
# The smallest text drawn (legends, the charts' sub-headings): a layout that must
# shrink to fit the frame keeps it legible down to 90 %.
MIN_TEXT = 17
COMPARED = ("argmax", "softmax", "linear")  # the comparison's charts, left to right


class SoftmaxSpec(StepSpec):
    type: Literal["softmax"]
    class_name: ClassName = Field(
        None,
        description="Class whose probability is worked out in full (e^z / Σ e^z), by name "
        "or index; default: the predicted class.",
    )
    compare: bool = Field(
        True,
        description="End with argmax, softmax and a linear normalisation side by side.",
    )


def row_groups(logits: np.ndarray, focus: int, limit: int = MAX_ROWS) -> list[list[int]]:
    """The classes of each row: every class in order, or the largest and one 'others' row."""
    count = len(logits)
    if count <= limit:
        return [[k] for k in range(count)]
    ranked = [int(k) for k in np.argsort(-logits, kind="stable")]
    top = ranked[: limit - 1]
    if focus not in top:
        top = [*top[:-1], focus]
    top.sort(key=lambda k: ranked.index(k))
    others = sorted(k for k in range(count) if k not in top)
    return [[k] for k in top] + [others]


def _formula(
    parts: Sequence[str | tuple[str, str]], ctx: StepContext, size: float, colour: str | None = None
) -> VGroup:
    """A line of text pieces and raised powers ("e", "z") on one baseline."""
    theme = ctx.theme
    tint = colour or theme.text
    pieces = VGroup()
    cursor = 0.0
    for part in parts:
        if isinstance(part, tuple):
            piece = raised(part[0], part[1], theme.font, size, tint)
        else:
            piece = number_mobject(part, theme.font, size, tint)
        if len(piece.family_members_with_points()) == 0:
            continue
        # Glyph text is made with its baseline at y = 0: shift sideways only.
        piece.shift(RIGHT * (cursor - piece.get_left()[0]))
        cursor = piece.get_right()[0] + size * 0.006
        pieces.add(piece)
    return pieces


def _column_header(parts: Sequence[str | tuple[str, str]], ctx: StepContext) -> VGroup:
    return _formula(parts, ctx, LABEL, ctx.theme.muted)


@dataclass(frozen=True)
class Column:
    """One bar chart of the comparison: a way of turning logits into shares."""

    head: str  # which way: "argmax", "softmax" or "linear"
    title: str  # its name as written over the chart
    sub: str
    values: tuple[float, ...]  # each row's share
    texts: tuple[str, ...]  # as written beside the bars


@dataclass(frozen=True)
class SoftmaxPlan:
    """What the softmax step shows, chosen from the trace; no Mobject is made here."""

    rows: tuple[tuple[int, ...], ...]  # the classes of each row (one, or the others)
    names: tuple[str, ...]  # each row's label
    predicted: int
    predicted_row: int
    focus: int  # the class whose division is written out
    logit_range: tuple[float, float]  # min and max logit: the colour scale's ends
    row_logits: tuple[float | None, ...]  # each one-class row's logit (None: the others)
    logit_texts: tuple[str, ...]
    exp_texts: tuple[str, ...]  # e^z of each row (their sum for the others' row)
    probability_texts: tuple[str, ...]
    exp_total_text: str
    probability_total_text: str
    power: str  # the exponent as written: "z", or "z − max z" when e^z is shifted
    worked: tuple[str, ...]  # p(class) = e^z / Σ =
    worked_result: str  # the focus class's probability
    compare: tuple[Column, ...]  # argmax, softmax, linear; empty without the comparison
    compare_labels: tuple[str, ...] | None  # row labels under the first chart (tall frames)
    caption: tuple[str, ...]  # the comparison's lesson, line by line
    bar_length: float
    values: tuple[dict[str, Any], ...]  # every number shown, as the recorder keeps it
    facts: dict[str, Any]


def plan(spec: SoftmaxSpec, trace: Trace, frame: Frame) -> SoftmaxPlan:
    """Choose the rows and write every number; ``build`` animates the result."""
    shown = Recorder()
    logits = trace.logits.astype(np.float64)
    count = len(logits)
    focus = class_index(trace, spec.class_name)
    terms = trace.softmax_terms()  # e^(z − shift) and their sum, from the model package
    rows = row_groups(logits, focus)
    all_classes = list(range(count))
    row_logits = [float(logits[g[0]]) if len(g) == 1 else None for g in rows]
    logit_texts = [
        "…" if z is None else shown.number("output", g, z, 2, "activation")
        for g, z in zip(rows, row_logits, strict=True)
    ]
    exp_texts, probability_texts = [], []
    for group in rows:
        value = terms.exp_sum_of(group)
        kind = "exp" if len(group) == 1 else "exp_sum"
        exp_texts.append(shown.number("softmax", group, value, kind=kind, text=fmt_wide(value)))
        kind = "activation" if len(group) == 1 else "probability_sum"
        probability_texts.append(
            shown.number("softmax", group, trace.probability_of(group), 4, kind)
        )
    total = fmt_wide(terms.total)
    exp_total_text = shown.number("softmax", all_classes, terms.total, kind="exp_sum", text=total)
    probability_total_text = shown.number(
        "softmax", all_classes, trace.probability_of(all_classes), 4, "probability_sum"
    )
    focus_exp = float(terms.exps[focus])
    worked = (
        f"p({short_name(trace.classes[focus])}) =",
        shown.number("softmax", [focus], focus_exp, kind="exp", text=fmt_wide(focus_exp)),
        "/",
        shown.number("softmax", all_classes, terms.total, kind="exp_sum", text=total),
        "=",
    )
    worked_result = shown.number("softmax", [focus], trace.probability_of([focus]), 4)
    compare = _compare_columns(rows, trace, shown) if spec.compare else ()
    return SoftmaxPlan(
        rows=tuple(tuple(g) for g in rows),
        names=tuple(
            short_name(trace.classes[g[0]] if len(g) == 1 else _other_classes(len(g))) for g in rows
        ),
        predicted=trace.prediction,
        predicted_row=next(i for i, g in enumerate(rows) if trace.prediction in g),
        focus=focus,
        logit_range=(float(logits.min()), float(logits.max())),
        row_logits=tuple(row_logits),
        logit_texts=tuple(logit_texts),
        exp_texts=tuple(exp_texts),
        probability_texts=tuple(probability_texts),
        exp_total_text=exp_total_text,
        probability_total_text=probability_total_text,
        power="z" if terms.shift == 0 else "z − max z",
        worked=worked,
        worked_result=worked_result,
        compare=compare,
        compare_labels=None
        if frame.landscape
        else tuple(
            short_name(trace.classes[g[0]]) if len(g) == 1 else _others(len(g)) for g in rows
        ),
        caption=_caption(trace) if spec.compare else (),
        bar_length=0.9 if frame.landscape else 0.8,
        values=tuple(shown.values),
        facts={
            "rows": rows,
            "predicted": trace.prediction,
            "class": focus,
            "exp_shift": terms.shift,
            "classes": count,
        },
    )


def _other_classes(count: int) -> str:
    """The label of the row that gathers the classes not shown one by one."""
    label = ngettext("{count} other class", "{count} other classes", count)
    return label.format(count=integer(count))


def _others(count: int) -> str:
    """The same row's short label, under a chart of a tall frame."""
    return ngettext("{count} other", "{count} others", count).format(count=integer(count))


def _compared(spec: SoftmaxSpec) -> bool:
    """Whether the step compares softmax with argmax and a linear share."""
    return spec.compare


def _compare_columns(rows: list[list[int]], trace: Trace, shown: Recorder) -> tuple[Column, ...]:
    """Argmax (one-hot), the model's softmax and a linear normalisation, row by row."""
    ways = {
        "argmax": (_("argmax"), _("(one-hot)"), trace.argmax_share_of, 0),
        "softmax": (_("softmax"), _("(the model's)"), trace.probability_of, 4),
        "linear": (_("linear"), "(z − min z) / Σ", trace.linear_share_of, 4),
    }
    columns = []
    for head in COMPARED:
        title, sub, share_of, decimals = ways[head]
        values = [share_of(g) for g in rows]
        texts = []
        for group, value in zip(rows, values, strict=True):
            kind = head if head != "linear" else "linear_share"
            if head == "softmax":
                kind = "activation" if len(group) == 1 else "probability_sum"
            texts.append(shown.number("softmax", group, value, decimals, kind))
        columns.append(Column(head, title, sub, tuple(values), tuple(texts)))
    return tuple(columns)


def _caption(trace: Trace) -> tuple[str, ...]:
    """What the comparison shows for these logits."""
    predicted = [trace.prediction]
    if trace.probability_of(predicted) > trace.linear_share_of(predicted):
        # Translators: three lines under the charts; break the lines where they read well.
        caption = _(
            "Softmax is a softer argmax: exponentials stretch the gaps,\n"
            "so the top class takes far more than under a linear rescale,\n"
            "yet every class keeps a share above zero."
        )
    else:
        # Translators: three lines under the charts; break the lines where they read well.
        caption = _(
            "These logits are close, so softmax spreads probability\n"
            "about as evenly as a linear rescale; argmax would still\n"
            "give everything to one class."
        )
    return tuple(caption.split("\n"))


# --- the table --------------------------------------------------------------


@dataclass
class _Table:
    """The table's pieces, placed row by row on one baseline each."""

    names: VGroup
    cells: CellColumn
    exps: VGroup
    probabilities: VGroup
    headers: list[VMobject]  # class, logit z, e^z, p
    rules: list[Line]  # under the e^z and p columns
    sums: list[VMobject]  # Σ, the e^z sum, the p sum
    legend: Legend
    outline: Rectangle
    tag: VMobject
    prob_right: float

    def group(self) -> Group:
        return Group(
            *self.headers,
            self.names,
            self.cells,
            self.exps,
            self.probabilities,
            *self.rules,
            *self.sums,
            self.legend,
            self.outline,
            self.tag,
        )


def _logit_cells(p: SoftmaxPlan, ctx: StepContext) -> CellColumn:
    """The logits as cells coloured light to dark over [min, max] → [0.2, 1]."""
    theme = ctx.theme
    z_lo, z_hi = p.logit_range
    empty = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
    rgb = [
        empty if z is None else theme.logit.rgb(sequential_t(z, z_lo, z_hi, 0.2))
        for z in p.row_logits
    ]
    return CellColumn(
        list(p.logit_texts),
        np.array(rgb, dtype=np.uint8),
        CELL_W,
        CELL_H,
        PITCH,
        theme.font,
        BODY,
        theme.grid_line,
    )


def _table(p: SoftmaxPlan, ctx: StepContext) -> _Table:
    """Columns: names right-aligned at 0, then the cells, e^z and p right-aligned."""
    theme = ctx.theme
    rows = len(p.rows)
    names = VGroup(*[number_text(n, theme.font, BODY, theme.text) for n in p.names])
    exps = VGroup(*[number_mobject(t, theme.font, BODY, theme.text) for t in p.exp_texts])
    probs = VGroup(*[number_text(t, theme.font, BODY, theme.text) for t in p.probability_texts])
    cells = _logit_cells(p, ctx)
    for i, name in enumerate(names):
        place(name, 0.0, -i * PITCH, "r", theme.font, BODY)
    cells.move_to(np.array([NAME_GAP + CELL_W / 2, -(rows - 1) * PITCH / 2, 0.0]))
    exp_width = max(max(m.width for m in exps), 1.2)
    exp_right = cells.get_right()[0] + EXP_GAP + exp_width
    prob_width = max(max(m.width for m in probs), 1.1)
    prob_right = exp_right + PROB_GAP + prob_width
    for i, (e_mob, p_mob) in enumerate(zip(exps, probs, strict=True)):
        place(e_mob, exp_right, -i * PITCH, "r", theme.font, BODY)
        place(p_mob, prob_right, -i * PITCH, "r", theme.font, BODY)
    headers = _headers(p, ctx, cells.get_center()[0], exp_right, prob_right)
    bottom_y = -(rows - 1) * PITCH - PITCH * 0.6
    rules = [
        Line(
            np.array([right - width, bottom_y, 0.0]),
            np.array([right, bottom_y, 0.0]),
            color=theme.muted,
            stroke_width=1.5,
        )
        for right, width in ((exp_right, exp_width), (prob_right, prob_width))
    ]
    sums = _sums(p, ctx, bottom_y - PITCH * 0.55, exp_right - exp_width, exp_right, prob_right)
    z_lo, z_hi = p.logit_range
    legend = Legend(
        theme.logit,
        z_lo,
        z_hi,
        _("logit"),
        theme.font,
        theme.text,
        width=2.0,
        t_lo=0.2,
        t_hi=1.0,
        font_size=MIN_TEXT,
    )
    # Under the names and logits, where the sums' row has room.
    legend.move_to(np.array([0.0, bottom_y - 0.05, 0.0]), aligned_edge=UP)
    legend.align_to(cells, RIGHT)
    tag = text(_("predicted"), theme, LABEL, theme.accent)
    # The tag goes inside the outline, left of the predicted class's name, when the
    # names' column has room for it there; else outside, left of the outline.
    name = names[p.predicted_row]
    inside = tag.width + 0.15 <= name.get_left()[0] - names.get_left()[0]
    left = names.get_left()[0]
    outline = Rectangle(
        width=prob_right - left + 0.3,
        height=PITCH * 0.95,
        stroke_color=theme.accent,
        stroke_width=3,
    )
    outline.move_to(np.array([(left + prob_right) / 2, -p.predicted_row * PITCH, 0.0]))
    if inside:
        tag.move_to(np.array([left + tag.width / 2, name.get_center()[1], 0.0]))
    else:
        tag.next_to(outline, LEFT, buff=0.12)
    return _Table(names, cells, exps, probs, headers, rules, sums, legend, outline, tag, prob_right)


def _headers(
    p: SoftmaxPlan, ctx: StepContext, logit_x: float, exp_right: float, prob_right: float
) -> list[VMobject]:
    font, y = ctx.theme.font, PITCH * 1.1
    return [
        place(_column_header([_("class")], ctx), 0.0, y, "r", font, LABEL),
        place(_column_header([_("logit z")], ctx), logit_x, y, "c", font, LABEL),
        place(_column_header([("e", p.power)], ctx), exp_right, y, "r", font, LABEL),
        place(_column_header(["p = ", ("e", "z"), " / Σ"], ctx), prob_right, y, "r", font, LABEL),
    ]


def _sums(
    p: SoftmaxPlan,
    ctx: StepContext,
    y: float,
    exp_left: float,
    exp_right: float,
    prob_right: float,
) -> list[VMobject]:
    """The row of sums: Σ e^z, and the probabilities' sum (1)."""
    theme = ctx.theme
    exp_sum = number_mobject(p.exp_total_text, theme.font, BODY, theme.text)
    place(exp_sum, exp_right, y, "r", theme.font, BODY)
    sigma = number_text("Σ", theme.font, BODY, theme.muted)
    place(sigma, min(exp_sum.get_left()[0], exp_left) - 0.12, y, "r", theme.font, BODY)
    prob_sum = number_text(p.probability_total_text, theme.font, BODY, theme.text)
    place(prob_sum, prob_right, y, "r", theme.font, BODY)
    return [sigma, exp_sum, prob_sum]


def _worked(p: SoftmaxPlan, ctx: StepContext) -> VGroup:
    """One division written out: p(class) = e^z / Σ = value."""
    worked = _formula(list(p.worked), ctx, BODY)
    result = number_text(p.worked_result, ctx.theme.font, BODY, ctx.theme.accent)
    result.shift(RIGHT * (worked.get_right()[0] + BODY * 0.006 - result.get_left()[0]))
    worked.add(result)
    return worked


# --- the comparison ---------------------------------------------------------


def _charts(p: SoftmaxPlan, ctx: StepContext) -> tuple[Group, list[BarRows], VGroup]:
    """The comparison's bar charts side by side, and its caption."""
    theme = ctx.theme
    colours = [theme.accent if p.predicted in g else theme.muted for g in p.rows]
    columns, charts = [], []
    for c, column in enumerate(p.compare):
        bars = BarRows(
            list(column.values),
            list(column.texts),
            colours,
            theme.font,
            theme.text,
            theme.empty_cell,
            length=p.bar_length,
            pitch=PITCH,
            bar_height=CELL_H * 0.8,
            font_size=BODY,
            labels=list(p.compare_labels) if p.compare_labels is not None and c == 0 else None,
        )
        head = VGroup(
            number_text(column.title, theme.font, LABEL, theme.text),
            number_text(column.sub, theme.font, MIN_TEXT, theme.muted),
        ).arrange(DOWN, buff=0.06)
        head.next_to(bars.tracks, UP, buff=0.18)
        head.align_to(bars.tracks, LEFT)
        columns.append(Group(head, bars))
        charts.append(bars)
    compare = Group(*columns).arrange(RIGHT, buff=0.3, aligned_edge=DOWN)
    caption = VGroup(*[text(line, theme, LABEL, theme.muted) for line in p.caption]).arrange(
        DOWN, buff=0.08, aligned_edge=LEFT
    )
    return compare, charts, caption


def _arrange(
    formula: VGroup,
    table: _Table,
    worked: VGroup,
    comparison: tuple[Group, list[BarRows], VGroup] | None,
    frame: Frame,
) -> list[Group]:
    """Lay the step out for the aspect; returns what a square frame clears before the
    comparison.

    A wide frame writes the formula and, later, the worked division on one line
    above the table, with the bars beside the table, row for row. Tall and square
    frames put the worked division under the table; a tall one stacks the
    comparison under it all, a square one shows it alone, in the same place.
    """
    content = frame.content_box()
    table_group = table.group()
    if frame.landscape:
        # Both are made with their baseline at y = 0: a shift sideways keeps one line.
        worked.shift(RIGHT * (formula.get_right()[0] + 0.8 - worked.get_left()[0]))
        top = Group(formula, worked)
        parts: list[Mobject] = [table_group]
        if comparison is not None:
            # The caption under the bars, right-aligned with them and below the
            # table's sums, left of which it may reach.
            compare, charts, caption = comparison
            first_track = charts[0].tracks[0]
            compare.shift(
                np.array(
                    [
                        table.prob_right + 0.5 - compare.get_left()[0],
                        -first_track.get_center()[1],
                        0,
                    ]
                )
            )
            caption.next_to(compare, DOWN, buff=0.35).align_to(compare, RIGHT)
            below_sums = min(m.get_bottom()[1] for m in table.sums) - 0.15
            caption.shift(DOWN * max(caption.get_top()[1] - below_sums, 0.0))
            parts += [compare, caption]
        body = Group(*parts)
        top.next_to(body, UP, buff=0.25)
        top.align_to(table.names, LEFT)
        whole = Group(top, body)
        fit(whole, content)
        return [whole]
    worked.next_to(table_group, DOWN, buff=0.3)
    worked.align_to(table.names, LEFT)
    table_block = Group(table_group, worked)
    if comparison is not None and frame.portrait:
        compare, _charts_shown, caption = comparison
        lower = Group(compare, caption).arrange(DOWN, buff=0.3)
        whole = Group(formula, table_block, lower).arrange(DOWN, buff=0.4)
        fit(whole, content)
        return [whole]
    upper = Group(formula, table_block).arrange(DOWN, buff=0.3)
    fit(upper, content)
    if comparison is not None:
        compare, _charts_shown, caption = comparison
        lower = Group(compare, caption).arrange(DOWN, buff=0.35)
        fit(lower, content)
    return [upper]


# --- the step ---------------------------------------------------------------


def build(spec: SoftmaxSpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    p = plan(spec, trace, frame)
    rec.facts.update(p.facts)
    rec.heatmap("output", [], trace.logits.astype(np.float64), p.logit_range, theme.logit.name)
    rec.values.extend(dict(v) for v in p.values)

    table = _table(p, ctx)
    worked = _worked(p, ctx)
    formula = _formula(["softmax:   p =", ("e", p.power), "/ Σ", ("e", p.power)], ctx, BODY)
    comparison = _charts(p, ctx) if p.compare else None
    scene_parts = _arrange(formula, table, worked, comparison, frame)

    h_name, h_logit, h_exp, h_prob = table.headers
    rule_exp, rule_prob = table.rules
    sigma, exp_sum, prob_sum = table.sums
    yield Add([title_for(ctx, _("Softmax: from logits to probabilities"))])
    yield Phase("logits")
    yield Beat([FadeIn(formula)], 0.8)
    yield Beat(
        [
            FadeIn(h_name),
            FadeIn(h_logit),
            FadeIn(table.names),
            FadeIn(table.cells),
            FadeIn(table.legend),
        ],
        1.0,
    )
    yield Hold(0.8)
    yield Phase("exp")
    yield Beat([FadeIn(h_exp), FadeIn(table.exps, lag_ratio=0.08)], 1.2)
    yield Beat([FadeIn(rule_exp), FadeIn(sigma), FadeIn(exp_sum)], 0.8)
    yield Hold(0.6)
    yield Phase("divide")
    yield Beat([FadeIn(h_prob), FadeIn(table.probabilities, lag_ratio=0.08)], 1.2)
    yield Beat([FadeIn(rule_prob), FadeIn(prob_sum)], 0.8)
    yield Hold(0.6)
    yield Phase("prediction")
    yield Beat([FadeIn(table.outline), FadeIn(table.tag)], 0.8)
    yield Beat([FadeIn(worked)], 0.8)
    yield Hold(1.2)
    if comparison is not None:
        compare, _charts_shown, caption = comparison
        # One phase per chart: argmax, softmax, linear; the first clears a square frame.
        yield Phase(f"{COMPARED[0]} chart")
        if not frame.landscape and not frame.portrait:
            yield Beat([FadeOut(m) for m in scene_parts], 0.6)
        for n, column in enumerate(compare):
            if n:
                yield Phase(f"{COMPARED[n]} chart")
            yield Beat([FadeIn(column)], 0.8)
            yield Hold(0.4)
        yield Beat([FadeIn(caption)], 0.8)
        yield Hold(1.5)


register(
    StepType(
        name="softmax",
        spec=SoftmaxSpec,
        build=build,
        check=check_class_name,
        summary="The logits as oranges, e^z, their sum and the probabilities; then argmax, "
        "softmax and a linear normalisation side by side.",
        phases=Phases(
            (
                "logits",
                "exp",
                "divide",
                "prediction",
                *(Optional(f"{way} chart", when=_compared, set_by="compare") for way in COMPARED),
            )
        ),
    )
)
