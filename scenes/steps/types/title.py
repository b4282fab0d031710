"""``title``: a title card, with an optional subtitle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from manim import DOWN, FadeIn, Group, Write
from pydantic import Field

from cnn_model.trace import Trace

from ...visuals.layout import Box, Frame, fit
from ...visuals.text import HEADING, text
from ..kit.base import Beat, Hold, Item, Phase, StepContext, StepSpec
from ..kit.registry import Phases, StepType, register


class TitleSpec(StepSpec):
    type: Literal["title"]
    text: str = Field(..., min_length=1, max_length=200, description="The title shown large.")
    subtitle: str | None = Field(None, max_length=200, description="A line under the title.")


@dataclass(frozen=True)
class TitlePlan:
    """The card's lines and the box they are fitted in."""

    text: str
    subtitle: str | None
    box: Box


def plan(spec: TitleSpec, trace: Trace | None, frame: Frame) -> TitlePlan:
    return TitlePlan(spec.text, spec.subtitle or None, frame.box)


def build(spec: TitleSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.trace, ctx.frame)
    theme = ctx.theme
    title = text(p.text, theme, 48, weight="BOLD")
    parts = [title]
    if p.subtitle is not None:
        parts.append(text(p.subtitle, theme, HEADING, theme.muted))
    fit(Group(*parts).arrange(DOWN, buff=0.4), p.box)
    yield Phase("title")
    yield Beat([Write(title)], 1.2)
    if len(parts) > 1:
        yield Beat([FadeIn(parts[1], shift=0.2 * DOWN)], 0.6)
    yield Hold(1.0)


register(
    StepType(
        name="title",
        spec=TitleSpec,
        build=build,
        summary="A title card: large text with an optional subtitle.",
        needs_trace=False,
        phases=Phases(("title",)),
    )
)
