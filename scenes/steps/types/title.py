"""``title``: a title card, with an optional subtitle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from manim import DOWN, FadeIn, Group, VGroup, Write
from pydantic import Field

from cnn_model.trace import Trace

from ...visuals.cards import wrap
from ...visuals.layout import Box, Frame, fit
from ...visuals.text import HEADING, text
from ...visuals.theme import Theme
from ..kit.base import Beat, Hold, Item, Phase, StepContext, StepSpec
from ..kit.registry import Phases, StepType, register

TITLE_SIZE = 48
LINE_GAP = 0.2  # between the lines of a wrapped title, at 48 pt


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


def centred_lines(
    content: str, theme: Theme, size: float, colour: str, width: float, weight: str = "NORMAL"
) -> VGroup:
    """``content`` wrapped to ``width`` at ``size``, each line centred under the one before."""
    target = width
    for _ in range(4):
        lines = wrap(content, theme.font, size, target) or [content]
        block = VGroup(*(text(line, theme, size, colour, weight) for line in lines))
        block.arrange(DOWN, buff=LINE_GAP * size / 48)
        if block.width <= width:  # bold glyphs are wider than the measured regular ones
            break
        target *= width / block.width * 0.98
    return block


def build(spec: TitleSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.trace, ctx.frame)
    theme = ctx.theme
    # A long title wraps rather than shrinking to fit the frame's width.
    title = centred_lines(p.text, theme, TITLE_SIZE, theme.text, p.box.width, weight="BOLD")
    parts = [title]
    if p.subtitle is not None:
        parts.append(centred_lines(p.subtitle, theme, HEADING, theme.muted, p.box.width))
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
