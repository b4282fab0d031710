"""``text``: an explanation card: heading, paragraph, formula and bullets.

The step's ``title`` is the heading. The paragraph and the bullets wrap to
the frame's width in every aspect; the formula is Unicode text on one line
(no LaTeX), framed. The layout picks the largest font size at which the
card fits: one column, or in a wide frame two (paragraph and formula on the
left, bullets on the right) when that allows larger text. Bullets appear one
by one, each held long enough to be read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from manim import DOWN, LEFT, RIGHT, UP, Create, VGroup, Write
from pydantic import Field

from cnn_model.trace import Trace

from ...visuals.cards import BulletList, FormulaBox, Paragraph, Reveal, block_height, wrap
from ...visuals.layout import Box, Frame
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.common import title_for
from ..kit.registry import Numbered, Phases, StepType, register

# Font sizes tried from the largest; the smallest is still legible at 480p.
SIZES = (28, 26, 24, 22, 20, 18)
FORMULA_GROWTH = 1.2  # the formula is drawn this much larger than the text
MAX_MEASURE = 11.0  # widest line (scene units) in one column: about 70 characters
COLUMN_GAP = 0.8
BLOCK_GAP = 0.4
BULLET_GAP = 0.22
SECONDS_PER_WORD = 0.2  # on-screen reading time per word before the next reveal

BulletText = Annotated[str, Field(min_length=1, max_length=120)]


class TextSpec(StepSpec):
    type: Literal["text"]
    text: str | None = Field(
        None,
        min_length=1,
        max_length=600,
        description="A paragraph; wraps to the frame. A blank line starts a new paragraph.",
    )
    bullets: list[BulletText] = Field(
        default_factory=list,
        max_length=6,
        description="Points shown one by one under the paragraph (at most 6).",
    )
    formula: str | None = Field(
        None,
        min_length=1,
        max_length=80,
        description="One line in Unicode, no LaTeX: e.g. output = (W − K + 2P) / S + 1.",
    )


def parts(spec: TextSpec) -> int:
    """The card's parts, each revealed in turn: the paragraph, the formula, every bullet."""
    return (spec.text is not None) + (spec.formula is not None) + len(spec.bullets)


def check(spec: TextSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    if spec.text is None and not spec.bullets and spec.formula is None:
        return [((), "expected at least one of text, bullets or formula, got none")]
    return []


@dataclass(frozen=True)
class CardLayout:
    size: float
    columns: int  # 2: bullets beside the paragraph
    pages: int  # 2: the paragraph and formula first, then the bullets in their place
    width: float  # of one column
    height: float  # estimated


def _formula_height(size: float, font: str) -> float:
    return block_height(1, font, size * FORMULA_GROWTH) + 0.5


def _heights(spec: TextSpec, font: str, size: float, width: float) -> tuple[float, float]:
    """Estimated heights of (paragraph and formula, bullets) at ``size`` in ``width``."""
    text_h = block_height(len(wrap(spec.text, font, size, width)), font, size) if spec.text else 0.0
    formula_h = _formula_height(size, font) if spec.formula else 0.0
    bullet_width = width - 0.5 * size / 24
    bullet_hs = [
        block_height(len(wrap(b, font, size, bullet_width)), font, size) for b in spec.bullets
    ]
    first = [h for h in (text_h, formula_h) if h]
    return (
        sum(first) + BLOCK_GAP * max(len(first) - 1, 0),
        sum(bullet_hs) + BULLET_GAP * max(len(bullet_hs) - 1, 0),
    )


def _estimate(
    spec: TextSpec, font: str, size: float, width: float, columns: int, pages: int
) -> float:
    """Height of the card (of its taller column or page) at ``size``."""
    first, bullets = _heights(spec, font, size, width)
    if columns == 2 or pages == 2:
        return max(first, bullets)
    return first + bullets + (BLOCK_GAP if first and bullets else 0.0)


def choose_layout(spec: TextSpec, font: str, box: Box, landscape: bool) -> CardLayout:
    """The largest font size that fits, preferring everything on one page.

    One column first; two columns (in a wide frame) where they allow larger
    text; two pages (paragraph, then bullets) only when one page would need
    text smaller than 22. Below 18 the card is scaled down as a whole.
    """
    single = min(box.width, MAX_MEASURE)
    one_page = [(1, 1, single)]
    both = spec.bullets and (spec.text or spec.formula)
    if landscape and both:
        one_page.append((2, 1, (box.width - COLUMN_GAP) / 2))
    two_pages = [(1, 2, single)] if both else []
    large = [s for s in SIZES if s >= 22]
    small = [s for s in SIZES if s < 22]
    candidates = [
        *[(s, o) for s in large for o in one_page],
        *[(s, o) for s in large for o in two_pages],
        *[(s, o) for s in small for o in one_page],
        *[(s, o) for s in small for o in two_pages],
    ]
    for size, (columns, pages, width) in candidates:
        height = _estimate(spec, font, size, width, columns, pages)
        if height <= box.height:
            return CardLayout(size, columns, pages, width, height)
    size, (columns, pages, width) = candidates[-1]
    return CardLayout(
        size, columns, pages, width, _estimate(spec, font, size, width, columns, pages)
    )


def _fit_in(card: VGroup, box: Box) -> float:
    """Centre ``card`` in ``box``, scaled down only if it must be; returns the scale."""
    scale = 1.0
    if card.height > box.height or card.width > box.width:
        scale = min(box.height / card.height, box.width / card.width)
        card.scale(scale)
    card.move_to(box.center)
    return scale


@dataclass(frozen=True)
class TextPlan:
    """What the card says and where it goes (the font decides its size and lines)."""

    heading: str | None  # the step's title, shown at the top
    text: str | None
    formula: str | None
    bullets: tuple[str, ...]
    box: Box  # where the card goes: the frame, or under the heading
    landscape: bool  # wide enough for two columns

    def reading_seconds(self, content: str) -> float:
        """How long ``content`` stays before the next reveal."""
        return min(max(len(content.split()) * SECONDS_PER_WORD, 0.6), 4.0)


def plan(spec: TextSpec, trace: Trace | None, frame: Frame) -> TextPlan:
    """The card's texts and its box; builds no Mobject."""
    return TextPlan(
        heading=spec.title or None,
        text=spec.text,
        formula=spec.formula,
        bullets=tuple(spec.bullets),
        box=frame.content_box() if spec.title else frame.box,
        landscape=frame.landscape,
    )


@dataclass
class _Card:
    """The card's blocks, laid out in the box."""

    paragraph: Paragraph | None
    formula: FormulaBox | None
    bullets: BulletList | None
    first_page: VGroup | None  # paragraph and formula, when the bullets take their place
    scale: float  # the card was scaled down by this to fit


def _card(p: TextPlan, layout: CardLayout, ctx: StepContext) -> _Card:
    theme = ctx.theme
    size, width = layout.size, layout.width
    paragraph = (
        Paragraph(p.text, theme.font, size, theme.text, width) if p.text is not None else None
    )
    formula = (
        FormulaBox(p.formula, theme.font, size * FORMULA_GROWTH, theme.text, theme.accent, width)
        if p.formula is not None
        else None
    )
    bullets = (
        BulletList(list(p.bullets), theme.font, size, theme.text, theme.accent, width, BULLET_GAP)
        if p.bullets
        else None
    )
    left = [m for m in (paragraph, formula) if m is not None]
    if layout.pages == 2 and bullets is not None:
        first_page = VGroup(*left).arrange(DOWN, aligned_edge=LEFT, buff=BLOCK_GAP)
        if formula is not None:
            formula.set_x(first_page.get_center()[0])
        scale = min(_fit_in(first_page, p.box), _fit_in(bullets, p.box))
        return _Card(paragraph, formula, bullets, first_page, scale)
    if layout.columns == 2 and bullets is not None:
        left_column = VGroup(*left).arrange(DOWN, aligned_edge=LEFT, buff=BLOCK_GAP)
        card = VGroup(left_column, bullets).arrange(RIGHT, aligned_edge=UP, buff=COLUMN_GAP)
    else:
        blocks = [*left, *([bullets] if bullets is not None else [])]
        card = VGroup(*blocks).arrange(DOWN, aligned_edge=LEFT, buff=BLOCK_GAP)
        if formula is not None:
            formula.set_x(card.get_center()[0])  # a formula reads best centred
    return _Card(paragraph, formula, bullets, None, _fit_in(card, p.box))


def build(spec: TextSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.trace, ctx.frame)
    heading = title_for(ctx, p.heading) if p.heading else None
    layout = choose_layout(spec, ctx.theme.font, p.box, p.landscape)
    card = _card(p, layout, ctx)
    paragraph, formula, bullets = card.paragraph, card.formula, card.bullets
    ctx.recorder.facts.update(
        {
            "font_size": layout.size,
            "columns": layout.columns,
            "pages": layout.pages,
            "column_width": layout.width,
            "text_lines": paragraph.lines if paragraph is not None else [],
            "bullet_lines": [b.lines for b in bullets.paragraphs] if bullets is not None else [],
            "formula": p.formula,
            "formula_scale": float(formula.scale_factor) if formula is not None else None,
            "card_scale": float(card.scale),
        }
    )
    if heading is not None:
        yield Add([heading])
    # Each part of the card is a phase: the paragraph, the formula, every bullet.
    phases = (Phase(f"part {n}") for n in itertools.count(1))
    if paragraph is not None and p.text is not None:
        yield next(phases)
        yield Beat([Reveal(paragraph, shift=0.15 * UP)], 0.8)
        yield Hold(p.reading_seconds(p.text))
    if formula is not None:
        yield next(phases)
        yield Beat([Create(formula.frame), Write(formula.body)], 1.2)
        yield Hold(1.0)
    if bullets is not None:
        for n, (item, content) in enumerate(zip(bullets, p.bullets, strict=True)):
            yield next(phases)
            if n == 0 and card.first_page is not None:  # the bullets take the first page's place
                yield Beat([Reveal(card.first_page, shift=0.15 * UP, vanish=True)], 0.6)
            yield Beat([Reveal(item, shift=0.2 * RIGHT)], 0.5)
            yield Hold(p.reading_seconds(content))
    yield Hold(1.0)


register(
    StepType(
        name="text",
        spec=TextSpec,
        build=build,
        check=check,
        summary="An explanation card: heading, paragraph, optional formula and bullets.",
        needs_trace=False,
        phases=Phases((Numbered("part", count=parts, counted_by="text, formula and bullets"),)),
    )
)
