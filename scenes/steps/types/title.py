"""``title``: a title card with optional subtitle, bullets and formula."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from manim import DOWN, FadeIn, Group, Write
from pydantic import Field

from ...visuals.layout import fit
from ...visuals.text import HEADING, text
from ..kit.base import Beat, Hold, StepContext, StepSpec
from ..kit.registry import StepType, register


class TitleSpec(StepSpec):
    type: Literal["title"]
    text: str = Field(..., min_length=1, max_length=200, description="The title shown large.")
    subtitle: str | None = Field(None, max_length=200, description="A line under the title.")


def build(spec: TitleSpec, ctx: StepContext) -> Iterator[Beat | Hold]:
    theme = ctx.theme
    title = text(spec.text, theme, 48, weight="BOLD")
    parts = [title]
    if spec.subtitle:
        sub = text(spec.subtitle, theme, HEADING, theme.muted)
        parts.append(sub)
    group = Group(*parts).arrange(DOWN, buff=0.4)
    fit(group, ctx.frame.box)
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
    )
)
