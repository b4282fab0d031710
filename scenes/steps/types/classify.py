"""``classify``: the lesson's image and the network's verdict as a bar chart.

The 64×64 image the network sees, and its most probable classes (``top``,
default 5, at most the model's classes) as bars with their probabilities
(4 decimals), most probable first; the predicted class is drawn in the
accent colour and outlined. When classes are left out, the probability
they share is stated, so the numbers on screen still add up to 1.
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
    Group,
    GrowFromEdge,
    Rectangle,
)
from pydantic import Field

from ...visuals.bars import BarRows
from ...visuals.glyphs import number_text
from ...visuals.heatmap import image_mobject
from ...visuals.layout import fit
from ...visuals.numbers import short_name
from ...visuals.text import BODY, LABEL, text
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.common import title_for
from ..kit.registry import StepType, register

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


def build(spec: ClassifySpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    probabilities = trace.probabilities
    count = len(probabilities)
    shown = min(spec.top, count)
    order = [int(k) for k in np.argsort(-probabilities, kind="stable")[:shown]]
    predicted = trace.prediction
    others = sorted(set(range(count)) - set(order))
    rec.facts.update({"top": order, "predicted": predicted, "image_sha256": trace.image_sha256})

    # The image as the network sees it.
    picture = image_mobject(trace.image, 2.4 if frame.aspect == "1:1" else 3.4)
    border = Rectangle(
        width=picture.width, height=picture.height, stroke_color=theme.grid_line, stroke_width=1.5
    ).move_to(picture)
    h, w = trace.image.shape[:2]
    caption = text(f"input image ({h}×{w})", theme, LABEL)
    caption.next_to(picture, UP, buff=0.15)
    image_block = Group(caption, picture, border)

    # The chart.
    texts = [rec.number("softmax", [k], float(probabilities[k]), 4, "activation") for k in order]
    colours = [theme.accent if k == predicted else theme.muted for k in order]
    chart = BarRows(
        [float(probabilities[k]) for k in order],
        texts,
        colours,
        theme.font,
        theme.text,
        theme.empty_cell,
        length=3.6 if frame.landscape else 3.2,
        pitch=0.55,
        bar_height=0.34,
        font_size=BODY,
        labels=[short_name(trace.classes[k], NAME_LIMIT) for k in order],
        axis=True,
        axis_colour=theme.muted,
    )
    heading = text(
        f"top {shown} of {count} classes" if shown < count else f"all {count} classes",
        theme,
        LABEL,
        theme.muted,
    )
    heading.next_to(chart, UP, buff=0.25).align_to(chart, LEFT)
    chart_parts = [heading, chart]
    rest = None
    if others:
        rest_value = float(probabilities[others].astype(np.float64).sum())
        rest_text = rec.number("softmax", others, rest_value, 4, "probability_sum")
        rest = number_text(
            f"the other {len(others)} classes together: {rest_text}",
            theme.font,
            LABEL,
            theme.muted,
        )
        rest.next_to(chart, DOWN, buff=0.3).align_to(chart, LEFT)
        chart_parts.append(rest)
    row = order.index(predicted)
    outline = chart.row_box(row, theme.accent)
    chart_parts.append(outline)
    chart_block = Group(*chart_parts)

    p_text = rec.number("softmax", [predicted], float(probabilities[predicted]), 4, "activation")
    verdict = Group(
        text("prediction:", theme, BODY, theme.muted),
        text(
            short_name(trace.classes[predicted], NAME_LIMIT),
            theme,
            BODY,
            theme.accent,
            weight="BOLD",
        ),
        number_text(f"probability {p_text}", theme.font, BODY, theme.text),
    )

    content = frame.content_box()
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
    fit(whole, content)

    title = title_for(ctx, "Classification: what the network sees")
    yield Add([title])
    yield Beat([FadeIn(image_block)], 0.8)
    yield Beat(
        [FadeIn(heading), FadeIn(chart.labels), FadeIn(chart.tracks), FadeIn(chart.axis)], 0.8
    )
    yield Beat([GrowFromEdge(bar, LEFT) for bar in chart.bars], 1.5)
    yield Beat([FadeIn(chart.numbers, lag_ratio=0.1)], 0.8)
    if rest is not None:
        yield Beat([FadeIn(rest)], 0.6)
    yield Hold(0.5)
    yield Beat([FadeIn(outline), FadeIn(verdict, shift=0.1 * RIGHT)], 0.8)
    yield Hold(1.5)


register(
    StepType(
        name="classify",
        spec=ClassifySpec,
        build=build,
        check=check,
        summary="The lesson's image and its most probable classes as a bar chart.",
    )
)
