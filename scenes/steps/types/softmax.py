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
the linear normalisation are not computed by the model and are derived
here from the trace's logits. A model with more than ten classes shows the
nine largest logits (and the class asked for) and one row for the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    Line,
    Rectangle,
    VGroup,
    VMobject,
)
from pydantic import Field

from cnn_model import ops

from ...visuals.bars import BarRows
from ...visuals.colors import hex_to_rgb, sequential_t
from ...visuals.glyphs import number_text
from ...visuals.layout import fit
from ...visuals.legend import Legend
from ...visuals.numbers import short_name
from ...visuals.text import BODY, LABEL, text
from ...visuals.vector_cells import CellColumn, fmt_wide, number_mobject, place, raised
from ..kit.base import Add, Beat, Hold, StepContext, StepSpec
from ..kit.checks import ClassName, check_class_name, class_index
from ..kit.common import title_for
from ..kit.registry import StepType, register

MAX_ROWS = 10
PITCH = 0.46
CELL_W, CELL_H = 1.25, 0.38


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


def build(spec: SoftmaxSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    logits = trace.logits.astype(np.float64)
    probabilities = trace.probabilities
    count = len(logits)
    predicted = trace.prediction
    focus = class_index(trace, spec.class_name)
    terms = trace.softmax_terms()  # e^(z − shift), their sum: from the model package
    shift, exps, exp_total = terms.shift, terms.exps, terms.total
    groups = row_groups(logits, focus)
    all_classes = list(range(count))
    rec.facts.update(
        {
            "rows": groups,
            "predicted": predicted,
            "class": focus,
            "exp_shift": shift,
            "classes": count,
        }
    )

    # ---- the table: class | logit | e^z | p ----
    names = VGroup()
    for group in groups:
        label = trace.classes[group[0]] if len(group) == 1 else f"{len(group)} other classes"
        names.add(number_text(short_name(label), theme.font, BODY, theme.text))
    z_lo, z_hi = float(logits.min()), float(logits.max())
    rec.heatmap("output", [], logits, (z_lo, z_hi), theme.logit.name)
    logit_texts, logit_rgb = [], []
    empty = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
    for group in groups:
        if len(group) == 1:
            k = group[0]
            logit_texts.append(rec.number("output", [k], float(logits[k]), 2, "activation"))
            logit_rgb.append(theme.logit.rgb(sequential_t(logits[k], z_lo, z_hi, 0.2)))
        else:
            logit_texts.append("…")
            logit_rgb.append(empty)
    cells = CellColumn(
        logit_texts,
        np.array(logit_rgb, dtype=np.uint8),
        CELL_W,
        CELL_H,
        PITCH,
        theme.font,
        BODY,
        theme.grid_line,
    )
    exp_numbers = VGroup()
    prob_numbers = VGroup()
    for group in groups:
        value = terms.exp_sum_of(group)
        shown = rec.number(
            "softmax",
            group,
            value,
            kind="exp" if len(group) == 1 else "exp_sum",
            text=fmt_wide(value),
        )
        exp_numbers.add(number_mobject(shown, theme.font, BODY, theme.text))
        if len(group) == 1:
            p_text = rec.number("softmax", group, float(probabilities[group[0]]), 4, "activation")
        else:
            p_text = rec.number(
                "softmax",
                group,
                terms.probability_sum_of(group),
                4,
                "probability_sum",
            )
        prob_numbers.add(number_text(p_text, theme.font, BODY, theme.text))

    # Columns: names right-aligned at 0, then the cells, e^z and p right-aligned,
    # every row on one baseline.
    for i, name in enumerate(names):
        place(name, 0.0, -i * PITCH, "r", theme.font, BODY)
    cells.move_to(np.array([0.3 + CELL_W / 2, -(len(groups) - 1) * PITCH / 2, 0.0]))
    exp_width = max(m.width for m in exp_numbers)
    exp_right = cells.get_right()[0] + 0.45 + max(exp_width, 1.2)
    prob_width = max(m.width for m in prob_numbers)
    prob_right = exp_right + 0.55 + max(prob_width, 1.1)
    for i, (e_mob, p_mob) in enumerate(zip(exp_numbers, prob_numbers, strict=True)):
        place(e_mob, exp_right, -i * PITCH, "r", theme.font, BODY)
        place(p_mob, prob_right, -i * PITCH, "r", theme.font, BODY)
    header_y = PITCH * 1.1
    h_name = place(_column_header(["class"], ctx), 0.0, header_y, "r", theme.font, LABEL)
    h_logit = place(
        _column_header(["logit z"], ctx), cells.get_center()[0], header_y, "c", theme.font, LABEL
    )
    h_exp = place(
        _column_header([("e", "z")] if shift == 0 else [("e", "z − max z")], ctx),
        exp_right,
        header_y,
        "r",
        theme.font,
        LABEL,
    )
    h_prob = place(
        _column_header(["p = ", ("e", "z"), " / Σ"], ctx),
        prob_right,
        header_y,
        "r",
        theme.font,
        LABEL,
    )
    bottom_y = -(len(groups) - 1) * PITCH - PITCH * 0.6
    rule_exp = Line(
        np.array([exp_right - max(exp_width, 1.2), bottom_y, 0.0]),
        np.array([exp_right, bottom_y, 0.0]),
        color=theme.muted,
        stroke_width=1.5,
    )
    rule_prob = Line(
        np.array([prob_right - max(prob_width, 1.1), bottom_y, 0.0]),
        np.array([prob_right, bottom_y, 0.0]),
        color=theme.muted,
        stroke_width=1.5,
    )
    total_text = rec.number(
        "softmax", all_classes, exp_total, kind="exp_sum", text=fmt_wide(exp_total)
    )
    prob_total = terms.probability_sum_of(all_classes)
    total_p_text = rec.number("softmax", all_classes, prob_total, 4, "probability_sum")
    sum_y = bottom_y - PITCH * 0.55
    exp_sum = place(
        number_mobject(total_text, theme.font, BODY, theme.text),
        exp_right,
        sum_y,
        "r",
        theme.font,
        BODY,
    )
    sum_label = place(
        number_text("Σ", theme.font, BODY, theme.muted),
        min(exp_sum.get_left()[0], exp_right - max(exp_width, 1.2)) - 0.12,
        sum_y,
        "r",
        theme.font,
        BODY,
    )
    prob_sum = place(
        number_text(total_p_text, theme.font, BODY, theme.text),
        prob_right,
        sum_y,
        "r",
        theme.font,
        BODY,
    )
    legend = Legend(
        theme.logit, z_lo, z_hi, "logit", theme.font, theme.text, width=2.0, t_lo=0.2, t_hi=1.0
    )
    # Under the names and logits, where the sums' row has room.
    legend.move_to(np.array([0.0, bottom_y - 0.05, 0.0]), aligned_edge=UP)
    legend.align_to(cells, RIGHT)
    row_of = {k: i for i, g in enumerate(groups) for k in g}
    row_index = row_of[predicted]
    outline = Rectangle(
        width=prob_right - names.get_left()[0] + 0.3,
        height=PITCH * 0.95,
        stroke_color=theme.accent,
        stroke_width=3,
    )
    outline.move_to(np.array([(names.get_left()[0] + prob_right) / 2, -row_index * PITCH, 0.0]))
    tag = text("predicted", theme, LABEL, theme.accent)
    tag.next_to(outline, LEFT, buff=0.12)

    # One division written out: p(class) = e^z / Σ = value.
    f_exp = rec.number(
        "softmax", [focus], float(exps[focus]), kind="exp", text=fmt_wide(float(exps[focus]))
    )
    f_total = rec.number(
        "softmax", all_classes, exp_total, kind="exp_sum", text=fmt_wide(exp_total)
    )
    f_p = rec.number("softmax", [focus], float(probabilities[focus]), 4, "activation")
    worked = _formula(
        [f"p({short_name(trace.classes[focus])}) =", f_exp, "/", f_total, "="], ctx, BODY
    )
    p_mob = number_text(f_p, theme.font, BODY, theme.accent)
    p_mob.shift(RIGHT * (worked.get_right()[0] + BODY * 0.006 - p_mob.get_left()[0]))
    worked.add(p_mob)
    table = Group(
        h_name,
        h_logit,
        h_exp,
        h_prob,
        names,
        cells,
        exp_numbers,
        prob_numbers,
        rule_exp,
        rule_prob,
        sum_label,
        exp_sum,
        prob_sum,
        legend,
        outline,
        tag,
    )
    power = "z" if shift == 0 else "z − max z"
    formula = _formula(["softmax:   p =", ("e", power), "/ Σ", ("e", power)], ctx, BODY)

    # ---- the comparison: argmax, softmax, linear ----
    compare: Group | None = None
    caption: VGroup | None = None
    if spec.compare:
        shares = ops.linear_shares(logits)
        labelled = not frame.landscape
        columns = []
        charts: list[BarRows] = []
        specs = [
            ("argmax", "(one-hot)", "argmax"),
            ("softmax", "(the model's)", "activation"),
            ("linear", "(z − min z) / Σ", "linear_share"),
        ]
        bar_len = 1.1 if frame.landscape else 0.9
        for c, (head, sub, kind) in enumerate(specs):
            values, texts = [], []
            for group in groups:
                if kind == "argmax":
                    value = 1.0 if predicted in group else 0.0
                    shown = rec.number("softmax", group, value, 0, "argmax")
                elif kind == "activation":
                    value = terms.probability_sum_of(group)
                    shown = rec.number(
                        "softmax",
                        group,
                        value,
                        4,
                        "activation" if len(group) == 1 else "probability_sum",
                    )
                else:
                    value = ops.share_sum(shares, group)
                    shown = rec.number("softmax", group, value, 4, "linear_share")
                values.append(value)
                texts.append(shown)
            colours = [theme.accent if predicted in g else theme.muted for g in groups]
            bars = BarRows(
                values,
                texts,
                colours,
                theme.font,
                theme.text,
                theme.empty_cell,
                length=bar_len,
                pitch=PITCH,
                bar_height=CELL_H * 0.8,
                font_size=BODY,
                labels=[
                    short_name(trace.classes[g[0]]) if len(g) == 1 else f"{len(g)} others"
                    for g in groups
                ]
                if labelled and c == 0
                else None,
            )
            head_mob = VGroup(
                number_text(head, theme.font, LABEL, theme.text),
                number_text(sub, theme.font, LABEL * 0.85, theme.muted),
            ).arrange(DOWN, buff=0.06)
            head_mob.next_to(bars.tracks, UP, buff=0.18)
            head_mob.align_to(bars.tracks, LEFT)
            columns.append(Group(head_mob, bars))
            charts.append(bars)
        compare = Group(*columns).arrange(RIGHT, buff=0.35, aligned_edge=DOWN)
        top_prob = float(probabilities[predicted])
        top_share = float(shares[predicted])
        if top_prob > top_share:
            lines = [
                "Softmax is a softer argmax: exponentials stretch the gaps,",
                "so the top class takes far more than under a linear rescale,",
                "yet every class keeps a share above zero.",
            ]
        else:
            lines = [
                "These logits are close, so softmax spreads probability",
                "about as evenly as a linear rescale; argmax would still",
                "give everything to one class.",
            ]
        caption = VGroup(*[text(line, theme, LABEL, theme.muted) for line in lines]).arrange(
            DOWN, buff=0.08, aligned_edge=LEFT
        )

    # ---- layout for the aspect ----
    content = frame.content_box()
    title = title_for(ctx, "Softmax: from logits to probabilities")
    worked.next_to(table, DOWN, buff=0.3)
    worked.align_to(names, LEFT)
    table_block = Group(table, worked)
    if compare is not None and caption is not None and frame.landscape:
        # Bars beside the table, row for row; the caption under the bars.
        first_track = charts[0].tracks[0]
        compare.shift(
            np.array([prob_right + 1.3 - compare.get_left()[0], -first_track.get_center()[1], 0])
        )
        caption.next_to(compare, DOWN, buff=0.35).align_to(compare, LEFT)
        whole = Group(formula, Group(table_block, compare, caption))
        formula.next_to(whole[1], UP, buff=0.3)
        fit(whole, content)
        scene_parts: list[Group | VGroup | VMobject] = [whole]
    elif compare is not None and caption is not None and frame.portrait:
        lower = Group(compare, caption).arrange(DOWN, buff=0.3)
        whole = Group(formula, table_block, lower).arrange(DOWN, buff=0.4)
        fit(whole, content)
        scene_parts = [whole]
    else:
        upper = Group(formula, table_block).arrange(DOWN, buff=0.3)
        fit(upper, content)
        if compare is not None and caption is not None:
            lower = Group(compare, caption).arrange(DOWN, buff=0.35)
            fit(lower, content)
        scene_parts = [upper]

    # ---- the beats ----
    yield Add([title])
    yield Beat([FadeIn(formula)], 0.8)
    yield Beat([FadeIn(h_name), FadeIn(h_logit), FadeIn(names), FadeIn(cells), FadeIn(legend)], 1.0)
    yield Hold(0.8)
    yield Beat([FadeIn(h_exp), FadeIn(exp_numbers, lag_ratio=0.08)], 1.2)
    yield Beat([FadeIn(rule_exp), FadeIn(sum_label), FadeIn(exp_sum)], 0.8)
    yield Hold(0.6)
    yield Beat([FadeIn(h_prob), FadeIn(prob_numbers, lag_ratio=0.08)], 1.2)
    yield Beat([FadeIn(rule_prob), FadeIn(prob_sum)], 0.8)
    yield Hold(0.6)
    yield Beat([FadeIn(outline), FadeIn(tag)], 0.8)
    yield Beat([FadeIn(worked)], 0.8)
    yield Hold(1.2)
    if compare is not None and caption is not None:
        if not frame.landscape and not frame.portrait:
            yield Beat([FadeOut(m) for m in scene_parts], 0.6)
        for column in compare:
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
    )
)
