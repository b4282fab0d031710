"""``classify``: the lesson's image and the network's verdict as a bar chart.

The 64×64 image the network sees, and its most probable classes (``top``,
default 5, at most the model's classes) as bars with their probabilities
(4 decimals), most probable first; the predicted class is drawn in the
accent colour and outlined. When classes are left out, the probability
they share is stated, so the numbers on screen still add up to 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    FadeIn,
    Group,
    GrowFromEdge,
    Rectangle,
)
from pydantic import Field

from ...i18n import _, ngettext
from ...visuals.bars import BarRows
from ...visuals.glyphs import number_text
from ...visuals.heatmap import image_mobject
from ...visuals.layout import fit
from ...visuals.numbers import short_name
from ...visuals.text import BODY, LABEL, text
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.common import title_for
from ..kit.record import Recorder
from ..kit.registry import Phases, StepType, register

if TYPE_CHECKING:
    from cnn_model.trace import Trace

    from ...visuals.layout import Frame

MAX_TOP = 20
NAME_LIMIT = 18


class ClassifySpec(StepSpec):
    type: Literal["classify"]
    top: int = Field(
        5,
        ge=1,
        le=MAX_TOP,
        description="How many classes are shown, most probable first "
        "(the default 5 is capped at the model's classes).",
    )


def check(spec: ClassifySpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """An explicit ``top`` must not exceed the model's classes (the default is capped)."""
    if info is None or "top" not in spec.model_fields_set:
        return []
    count = len(info.classes)
    if spec.top > count:
        return [
            (
                ("top",),
                f"expected at most {count} classes (model '{info.name}' has {count} "
                f"classes), got {spec.top}",
            )
        ]
    return []


@dataclass(frozen=True)
class ClassifyPlan:
    """What the classify step shows, chosen from the trace; no Mobject is made here."""

    classes: tuple[int, ...]  # the classes shown, most probable first
    probabilities: tuple[float, ...]  # the model's, for each shown class
    texts: tuple[str, ...]  # as written beside the bars
    labels: tuple[str, ...]  # class names beside the bars
    predicted: int
    predicted_row: int  # the predicted class's row in the chart
    verdict_name: str
    verdict_text: str  # the predicted class's probability as written in the verdict
    others: tuple[int, ...]  # the classes left out
    others_probability: float  # the probability they share (0 when none is left out)
    others_line: str | None  # the line saying so, when classes are left out
    heading: str
    image_caption: str
    picture_size: float
    bar_length: float
    values: tuple[dict[str, Any], ...]  # every number shown, as the recorder keeps it
    facts: dict[str, Any]


def plan(spec: ClassifySpec, trace: Trace, frame: Frame) -> ClassifyPlan:
    """Choose the classes and write their numbers; ``build`` animates the result."""
    shown = Recorder()
    count = len(trace.classes)
    top = min(spec.top, count)
    order = trace.top_classes(top)
    predicted = trace.prediction
    others = sorted(set(range(count)) - set(order))
    probabilities = [trace.probability_of([k]) for k in order]
    texts = [
        shown.number("softmax", [k], p, 4, "activation")
        for k, p in zip(order, probabilities, strict=True)
    ]
    others_probability = trace.probability_of(others)
    others_line = None
    if others:
        rest_text = shown.number("softmax", others, others_probability, 4, "probability_sum")
        others_line = ngettext(
            "the other {count} class together: {probability}",
            "the other {count} classes together: {probability}",
            len(others),
        ).format(count=len(others), probability=rest_text)
    p_text = shown.number("softmax", [predicted], trace.probability_of([predicted]), 4)
    h, w = trace.image.shape[:2]
    if top < count:
        heading = _("top {k} of {n} classes").format(k=top, n=count)
    else:
        heading = _("all {n} classes").format(n=count)
    return ClassifyPlan(
        classes=tuple(order),
        probabilities=tuple(probabilities),
        texts=tuple(texts),
        labels=tuple(short_name(trace.classes[k], NAME_LIMIT) for k in order),
        predicted=predicted,
        predicted_row=order.index(predicted),
        verdict_name=short_name(trace.classes[predicted], NAME_LIMIT),
        verdict_text=p_text,
        others=tuple(others),
        others_probability=others_probability,
        others_line=others_line,
        heading=heading,
        image_caption=_("input image ({height}×{width})").format(height=h, width=w),
        picture_size=2.4 if frame.aspect == "1:1" else 3.4,
        bar_length=3.6 if frame.landscape else 3.2,
        values=tuple(shown.values),
        facts={"top": order, "predicted": predicted, "image_sha256": trace.image_sha256},
    )


def _image_block(p: ClassifyPlan, image: np.ndarray, ctx: StepContext) -> Group:
    """The image as the network sees it, framed and captioned."""
    theme = ctx.theme
    picture = image_mobject(image, p.picture_size)
    border = Rectangle(
        width=picture.width, height=picture.height, stroke_color=theme.grid_line, stroke_width=1.5
    ).move_to(picture)
    caption = text(p.image_caption, theme, LABEL)
    caption.next_to(picture, UP, buff=0.15)
    return Group(caption, picture, border)


def _chart(p: ClassifyPlan, ctx: StepContext) -> BarRows:
    theme = ctx.theme
    return BarRows(
        list(p.probabilities),
        list(p.texts),
        [theme.accent if k == p.predicted else theme.muted for k in p.classes],
        theme.font,
        theme.text,
        theme.empty_cell,
        length=p.bar_length,
        pitch=0.55,
        bar_height=0.34,
        font_size=BODY,
        labels=list(p.labels),
        axis=True,
        axis_colour=theme.muted,
    )


def _verdict(p: ClassifyPlan, ctx: StepContext) -> Group:
    theme = ctx.theme
    return Group(
        text(_("prediction:"), theme, BODY, theme.muted),
        text(p.verdict_name, theme, BODY, theme.accent, weight="BOLD"),
        number_text(
            _("probability {value}").format(value=p.verdict_text), theme.font, BODY, theme.text
        ),
    )


def _arrange(image_block: Group, chart_block: Group, verdict: Group, frame: Frame) -> None:
    """Image, chart and verdict side by side (wide), stacked (tall) or in two rows (square)."""
    if frame.landscape:
        verdict.arrange(RIGHT, buff=0.2)
        right = Group(chart_block, verdict).arrange(DOWN, buff=0.5, aligned_edge=LEFT)
        whole = Group(image_block, right).arrange(RIGHT, buff=1.0)
    elif frame.portrait:
        verdict.arrange(RIGHT, buff=0.2)
        whole = Group(image_block, verdict, chart_block).arrange(DOWN, buff=0.5)
    else:
        verdict.arrange(DOWN, buff=0.15, aligned_edge=LEFT)
        upper = Group(image_block, verdict).arrange(RIGHT, buff=0.5)
        whole = Group(upper, chart_block).arrange(DOWN, buff=0.45)
    fit(whole, frame.content_box())


def build(spec: ClassifySpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    theme, frame = ctx.theme, ctx.frame
    p = plan(spec, trace, frame)
    ctx.recorder.facts.update(p.facts)
    ctx.recorder.values.extend(dict(v) for v in p.values)

    image_block = _image_block(p, trace.image, ctx)
    chart = _chart(p, ctx)
    heading = text(p.heading, theme, LABEL, theme.muted)
    heading.next_to(chart, UP, buff=0.25).align_to(chart, LEFT)
    chart_parts = [heading, chart]
    rest = None
    if p.others_line is not None:
        rest = number_text(p.others_line, theme.font, LABEL, theme.muted)
        rest.next_to(chart, DOWN, buff=0.3).align_to(chart, LEFT)
        chart_parts.append(rest)
    outline = chart.row_box(p.predicted_row, theme.accent)
    chart_parts.append(outline)
    verdict = _verdict(p, ctx)
    _arrange(image_block, Group(*chart_parts), verdict, frame)

    title = title_for(ctx, _("Classification: what the network sees"))
    yield Add([title])
    yield Phase("image")
    yield Beat([FadeIn(image_block)], 0.8)
    yield Phase("scores")
    yield Beat(
        [FadeIn(heading), FadeIn(chart.labels), FadeIn(chart.tracks), FadeIn(chart.axis)], 0.8
    )
    yield Beat([GrowFromEdge(bar, LEFT) for bar in chart.bars], 1.5)
    yield Beat([FadeIn(chart.numbers, lag_ratio=0.1)], 0.8)
    if rest is not None:
        yield Beat([FadeIn(rest)], 0.6)
    yield Hold(0.5)
    yield Phase("verdict")
    yield Beat([FadeIn(outline), FadeIn(verdict, shift=0.1 * RIGHT)], 0.8)
    yield Hold(1.5)


register(
    StepType(
        name="classify",
        spec=ClassifySpec,
        build=build,
        check=check,
        summary="The lesson's image and its most probable classes as a bar chart.",
        phases=Phases(("image", "scores", "verdict")),
    )
)
