"""``filter_gallery``: classic image filters applied to the lesson's image.

The lesson's 64x64 input (its luminance, or one channel) is filtered with
named classic kernels (identity, three edge detectors, sharpen, box blur,
Gaussian blur, Sobel) or kernels written in the lesson, each slid over it as
a convolution layer does (:func:`cnn_model.filters.apply`, stride 1, the
step's padding). The results appear side by side, each as a map on the
diverging scale with its own range (±max|v|), its name and its kernel
written small as numbers (a blur as "1/16 ×" integers, as textbooks write
it). The gallery is tiled in the column count that suits the frame.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    ORIGIN,
    RIGHT,
    UP,
    FadeIn,
    FadeOut,
    Group,
    Mobject,
    Rectangle,
    VGroup,
)
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cnn_model import filters
from cnn_model.sums import extremes
from cnn_model.trace import Trace

from ...i18n import _, number
from ...visuals.colors import diverging_t, hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.image_panels import InlineLegend, arrange_grid, best_layout, tile_plan, tracks
from ...visuals.layout import Box, Frame, fit
from ...visuals.numbers import fmt
from ...visuals.text import LABEL, SMALL, text
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import describe_value, quoted
from ..kit.common import INPUT_CHANNELS, channel_name, title_for
from ..kit.registry import Numbered, Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid

MAP_HEIGHT = 1.7  # of each map before the layout sizes it
MIN_MAP = 1.3  # smaller maps than this: the gallery shows in pages
MAX_MAP = 3.2
KERNEL_CELL = 0.42
KERNEL_GAP = 0.25
GAP = 0.35  # between panels
KERNEL_WIDTH = 2.0  # a 5x5 or 7x7 kernel is drawn no wider than this


class FilterItem(BaseModel):
    """A named classic filter, or a kernel written in the lesson with its name."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(
        ...,
        min_length=1,
        max_length=32,
        description="A known filter, or the label shown for the kernel given here.",
    )
    kernel: list[list[float]] | None = Field(
        None,
        description="Rows of numbers: square, odd size, at most 7x7. Omit for a known filter.",
    )


def _item(value: Any) -> Any:
    """A bare name stands for {name: NAME}; anything else is checked as a mapping."""
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict):
        # Checked here so the message names this mapping's keys, not the step's.
        known = list(FilterItem.model_fields)
        for key in value:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(
                    f"unknown key {quoted(key)}{hint}; a filter mapping has name and kernel"
                )
        if "name" not in value:
            raise ValueError("expected a name in this filter mapping (and a kernel), got none")
        return value
    if isinstance(value, FilterItem):
        return value
    raise ValueError(
        f"expected a filter name or a mapping with name and kernel, got {describe_value(value)}"
    )


FilterEntry = Annotated[FilterItem, BeforeValidator(_item, json_schema_input_type=str | FilterItem)]


class FilterGallerySpec(StepSpec):
    type: Literal["filter_gallery"]
    filters: list[FilterEntry] = Field(
        list(filters.CLASSIC),
        min_length=1,
        max_length=9,
        validate_default=True,
        description="Filter names (" + ", ".join(filters.KERNELS) + ") or "
        "{name, kernel} mappings, shown in this order.",
    )
    source: Literal["luminance", "red", "green", "blue"] = Field(
        "luminance",
        description="What the filters are applied to: the image's luminance "
        "(0.299 R + 0.587 G + 0.114 B) or one of its channels.",
    )
    padding: int = Field(
        0, ge=0, le=3, description="Rings of zeros around the image (0: each result shrinks)."
    )


def check(spec: FilterGallerySpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """Known names; literal kernels non-empty, square, of odd size, at most 7x7."""
    errors: list[tuple[FieldParts, str]] = []
    known = filters.kernel_names()
    for i, item in enumerate(spec.filters):
        if item.kernel is None:
            if item.name not in known:
                close = difflib.get_close_matches(item.name, known, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                errors.append(
                    (
                        ("filters", i),
                        f"unknown filter {quoted(item.name)}{hint}; known filters: "
                        f"{', '.join(known)}; or give a kernel: {{name: ..., kernel: [[...]]}}",
                    )
                )
            continue
        for where, message in filters.kernel_errors(item.kernel):
            errors.append((("filters", i, "kernel", *where), message))
    return errors


@dataclass(frozen=True)
class Filter:
    name: str
    label: str
    kernel: np.ndarray  # float64 (k, k)
    numerators: np.ndarray | None  # integers over ``divisor`` when the kernel is a fraction
    divisor: int


def resolve(item: FilterItem) -> Filter:
    if item.kernel is None:
        named = filters.KERNELS[item.name]
        numerators = np.array(named.numerators, dtype=np.int64)
        return Filter(item.name, named.label, named.kernel, numerators, named.divisor)
    kernel = np.array(item.kernel, dtype=np.float64)
    fraction = filters.as_fraction(kernel)
    exact_decimals = bool(np.allclose(kernel, np.round(kernel, 2), rtol=0, atol=1e-12))
    if fraction is None or (fraction[1] > 1 and exact_decimals):
        # Decimals that 2 places show exactly (0.25, 0.1) read better as they are.
        return Filter(item.name, item.name, kernel, None, 1)
    return Filter(item.name, item.name, kernel, fraction[0], fraction[1])


def known_label(name: str) -> str:
    """How a known filter is called on screen, in the lesson's language."""
    labels = {
        "identity": _("identity"),
        "edge_detection_1": _("edge detection 1"),
        "edge_detection_2": _("edge detection 2"),
        "edge_detection_3": _("edge detection 3"),
        "sharpen": _("sharpen"),
        "box_blur": _("box blur"),
        "gaussian_blur": _("Gaussian blur"),
        "sobel_x": _("Sobel x (vertical edges)"),
        "sobel_y": _("Sobel y (horizontal edges)"),
    }
    if name in labels:
        return labels[name]
    # An unknown name (a lesson still being checked) is shown as written.
    return filters.KERNELS[name].label if name in filters.KERNELS else name


def _source_label(source: str, shape: tuple[int, ...]) -> tuple[str, str]:
    size = "×".join(str(s) for s in shape)
    if source == "luminance":
        r, g, b = (number(weight, 3) for weight in filters.LUMA_WEIGHTS)
        # Translators: the luminance formula; R, G and B are the red, green and blue channels.
        formula = _("{r}R + {g}G + {b}B").format(r=r, g=g, b=b)
        return _("luminance {size}").format(size=size), formula
    name = channel_name("input", INPUT_CHANNELS.index(source))
    return f"{name} {size}", _("0 black, 1 white")


def _caption(name: str, detail: str, theme: Theme) -> Mobject:
    """A panel's name with a smaller muted line under it."""
    return VGroup(text(name, theme, LABEL), text(detail, theme, SMALL, theme.muted)).arrange(
        DOWN, buff=0.06
    )


@dataclass
class Panel:
    """The parts of one gallery panel, placed by :func:`arrange_panel`."""

    label: Mobject
    view: MapView
    legend: Mobject
    kernel: Mobject | None

    def group(self) -> Group:
        parts = [self.label, self.view, self.legend]
        return Group(*parts, *([self.kernel] if self.kernel is not None else []))


def arrange_panel(panel: Panel, kernel_beside: bool, height: float) -> Group:
    """Label, map ``height`` tall, its legend under it; the kernel beside the map
    or under the legend. Sizes are set absolutely, so this can be called again."""
    panel.view.scale_to_fit_height(height)
    span = height
    above: Mobject = panel.view  # what the legend goes under
    if panel.kernel is not None and kernel_beside:
        taller = panel.kernel.height > height
        panel.kernel.next_to(
            panel.view, RIGHT, buff=KERNEL_GAP, aligned_edge=UP if taller else ORIGIN
        )
        span = height + KERNEL_GAP + panel.kernel.width
        above = Group(panel.view, panel.kernel)
    assert isinstance(panel.legend, InlineLegend)
    panel.legend.set_span(span)
    panel.legend.next_to(above, DOWN, buff=0.12)
    panel.legend.align_to(panel.view, LEFT)
    if panel.kernel is not None and not kernel_beside:
        panel.kernel.next_to(panel.legend, DOWN, buff=0.2)
    body = Group(*[m for m in (panel.view, panel.legend, panel.kernel) if m is not None])
    panel.label.next_to(body, UP, buff=0.12)
    return panel.group()


@dataclass(frozen=True)
class GalleryLayout:
    per_page: int  # results shown at once beside the source
    kernel_beside: bool
    height: float  # of each map
    scale: float  # applied to the whole page (1: texts keep their size)
    columns: int


def plan_gallery(panels: list[Panel], box: Box) -> GalleryLayout:
    """How many results fit on one page, legibly, and how a page is laid out.

    Texts keep their size and maps take the room left; when the maps would
    be smaller than ``MIN_MAP``, fewer results share a page (the gallery then
    shows in pages). Kernels go beside the maps or under them, whichever
    leaves the maps larger. Leaves the first page placed.
    """
    source, results = panels[0], panels[1:]
    chosen: GalleryLayout | None = None
    for per_page in range(len(results), 0, -1):
        page = [source, *results[:per_page]]
        options = {
            str(beside): _page_placer(page, results, beside, box) for beside in (True, False)
        }
        name, height, scale = best_layout(options, box, 0.8, MAX_MAP)
        beside = name == "True"
        columns = _columns(page, results, beside, height, box)
        chosen = GalleryLayout(per_page, beside, height, scale, columns)
        if scale >= 0.95 and height >= MIN_MAP:
            break
    assert chosen is not None
    return chosen


def _columns(page: list[Panel], results: list[Panel], beside: bool, height: float, box: Box) -> int:
    return tile_plan(_cell_sizes(page, results, beside, height), box, GAP)[0]


def _cell_sizes(
    page: list[Panel], results: list[Panel], beside: bool, height: float
) -> list[tuple[float, float]]:
    """(width, height) of the source's cell and of every result's cell: each as large
    as the largest result of any page, so later pages fit the same cells. Leaves
    the page's panels arranged (not yet placed)."""
    groups = [arrange_panel(p, beside, height) for p in page]
    others = [arrange_panel(p, beside, height) for p in results if p not in page]
    cell = (
        max(g.width for g in [*groups[1:], *others]),
        max(g.height for g in [*groups[1:], *others]),
    )
    return [(groups[0].width, groups[0].height)] + [cell] * (len(groups) - 1)


def _page_placer(
    page: list[Panel], results: list[Panel], beside: bool, box: Box
) -> Callable[[float], Mobject]:
    """Places one page: the source, then results in cells as large as the largest
    result of any page. The group it returns also holds an invisible frame around
    all the cells, so a page is sized and fitted with the room later pages need."""

    def place(height: float) -> Mobject:
        sizes = _cell_sizes(page, results, beside, height)
        columns = tile_plan(sizes, box, GAP)[0]
        grid = arrange_grid([p.group() for p in page], columns, GAP, sizes)
        widths, heights = tracks(sizes, columns)
        width = sum(widths) + GAP * (len(widths) - 1)
        tall = sum(heights) + GAP * (len(heights) - 1)
        frame = Rectangle(width=width, height=tall, stroke_opacity=0, fill_opacity=0)
        frame.move_to(np.array([width / 2, -tall / 2, 0.0]))
        return Group(*grid, frame)

    return place


@dataclass(frozen=True)
class FilterPlan:
    """One filter of the gallery: its result, its legend's ends and its kernel as written."""

    index: int
    filter: Filter
    result: np.ndarray  # (H, W) the source filtered
    colour_range: tuple[float, float]  # ±max|v| of the result (±0.5 when it is all zero)
    ends: tuple[Shown, Shown]  # the legend's two ends, as written
    kernel_texts: ShownGrid  # the kernel's numbers, or its numerators over ``factor``
    factor: Shown | None  # "1/16" in front of a fraction
    label: str
    size_text: str  # "62×62"
    fact: dict[str, Any]


@dataclass(frozen=True)
class FilterGalleryPlan:
    """What the ``filter_gallery`` step shows (no Mobjects): the source and every result."""

    title: str
    source: np.ndarray  # (64, 64) what the filters read, in [0, 1]
    source_label: tuple[str, str]
    filters: tuple[FilterPlan, ...]
    box: Box  # where the gallery is laid out
    facts: dict[str, Any]


def _kernel_texts(flt: Filter, index: int) -> tuple[ShownGrid, Shown | None]:
    """The kernel's numbers as written: with "1/d ×" in front of a fraction."""
    layer = "filter.kernel"
    if flt.numerators is not None and flt.divisor > 1:
        texts = shown_grid(
            layer,
            flt.numerators.astype(np.float64),
            lambda i, j: (index, i, j),
            0,
            kind="kernel_numerator",
        )
        factor = Shown(layer, (index,), 1.0 / flt.divisor, f"1/{flt.divisor}", "kernel_factor")
        return texts, factor
    decimals = 0 if flt.numerators is not None else 2
    return shown_grid(layer, flt.kernel, lambda i, j: (index, i, j), decimals, kind="kernel"), None


def plan_filter(index: int, item: FilterItem, source: np.ndarray, padding: int) -> FilterPlan:
    flt = resolve(item)
    result = filters.apply(source, flt.kernel, padding)
    peak = extremes(result).peak
    half = peak if peak > 0 else 0.5
    ends = (
        shown("filter.output", (index,), -half, kind="range_low"),
        shown("filter.output", (index,), half, kind="range_high"),
    )
    kernel_texts, factor = _kernel_texts(flt, index)
    h, w = result.shape
    # A known filter is named in the lesson's language; the author's own keeps its name.
    label = known_label(flt.name) if item.kernel is None else flt.label
    return FilterPlan(
        index=index,
        filter=flt,
        result=result,
        colour_range=(-half, half),
        ends=ends,
        kernel_texts=kernel_texts,
        factor=factor,
        label=label,
        size_text=f"{h}×{w}",
        fact={
            "name": flt.name,
            "label": flt.label,
            "kernel": flt.kernel.tolist(),
            "divisor": flt.divisor,
            "shape": [h, w],
            "min": float(result.min()),
            "max": float(result.max()),
        },
    )


def plan(spec: FilterGallerySpec, trace: Trace, frame: Frame) -> FilterGalleryPlan:
    """The source the filters read and every filter's result; builds no Mobject."""
    source = filters.source_values(trace.activations["input"], spec.source)
    planned = tuple(
        plan_filter(index, item, source, spec.padding) for index, item in enumerate(spec.filters)
    )
    return FilterGalleryPlan(
        title=_("Classic filters: one kernel, one picture"),
        source=source,
        source_label=_source_label(spec.source, source.shape),
        filters=planned,
        box=frame.content_box(),
        facts={
            "source": spec.source,
            "padding": spec.padding,
            "filters": [f.fact for f in planned],
        },
    )


def kernel_block(fp: FilterPlan, ctx: StepContext) -> tuple[Mobject, float]:
    """The kernel's numbers (recorded), with "1/d ×" in front of a fraction."""
    theme, rec = ctx.theme, ctx.recorder
    k = fp.filter.kernel.shape[0]
    texts = record_grid(rec, fp.kernel_texts)
    factor = fp.factor.record(rec) if fp.factor is not None else None
    # Wide enough for the widest number (decimals need more room than digits).
    widest = max(number_text(t, theme.font, SMALL, theme.text).width for row in texts for t in row)
    cell = min(max(KERNEL_CELL, widest / 0.8), max(KERNEL_WIDTH / k, KERNEL_CELL * 0.7))
    neutral = np.empty((k, k, 3), dtype=np.uint8)
    neutral[:] = hex_to_rgb(theme.empty_cell)
    grid = NumberGrid(texts, neutral, cell, theme.font, SMALL, theme.grid_line)
    if factor is None:
        return grid, cell
    prefix = number_text(f"{factor} ×", theme.font, SMALL, theme.text)
    prefix.next_to(grid, UP, buff=0.08)  # above, so the kernel stays narrow
    return VGroup(prefix, grid), cell


def _source_panel(p: FilterGalleryPlan, ctx: StepContext) -> Panel:
    """The image the filters read, greyscale like the input channels."""
    theme = ctx.theme
    view = MapView(theme.input.rgb(p.source), MAP_HEIGHT, theme.grid_line)
    ctx.recorder.heatmap("filter.source", [], p.source, (0.0, 1.0), theme.input.name)
    ends = (fmt(0.0), fmt(1.0))
    legend = InlineLegend(theme.input, ends, theme.font, theme.text, MAP_HEIGHT)
    return Panel(_caption(*p.source_label, theme), view, legend, None)


def _filter_panel(fp: FilterPlan, ctx: StepContext) -> Panel:
    theme, rec = ctx.theme, ctx.recorder
    low, high = fp.colour_range
    rgb = theme.activation.rgb(diverging_t(fp.result, high - low))
    view = MapView(rgb, MAP_HEIGHT, theme.grid_line)
    rec.heatmap("filter.output", [fp.index], fp.result, fp.colour_range, theme.activation.name)
    ends = (fp.ends[0].record(rec), fp.ends[1].record(rec))
    legend = InlineLegend(theme.activation, ends, theme.font, theme.text, MAP_HEIGHT)
    kernel, _cell = kernel_block(fp, ctx)
    return Panel(_caption(fp.label, fp.size_text, theme), view, legend, kernel)


def _pages(panels: list[Panel], box: Box) -> tuple[GalleryLayout, list[list[Panel]], float]:
    """Lay the gallery out in ``box``: its layout, its pages of results, and the
    scale the first page was fitted at (every page is placed at it)."""
    layout = plan_gallery(panels, box)
    first = _page_placer(panels[: layout.per_page + 1], panels[1:], layout.kernel_beside, box)(
        layout.height
    )
    natural_width = first.width
    fit(first, box, max_scale=1.0)
    factor = first.width / natural_width
    # Every page puts its results in the cells of the first page.
    cells = [
        np.array([g.get_center()[0], g.get_top()[1], 0.0])
        for g in (p.group() for p in panels[1 : layout.per_page + 1])
    ]
    results = panels[1:]
    # Pages as even as possible: 7 results three to a page make 3, 2 and 2.
    count = -(-len(results) // layout.per_page)
    bounds = [round(i * len(results) / count) for i in range(count + 1)]
    pages = [results[a:b] for a, b in itertools.pairwise(bounds)]
    for page in pages[1:]:
        for panel, cell in zip(page, cells, strict=False):
            group = arrange_panel(panel, layout.kernel_beside, layout.height)
            group.scale(factor)
            group.move_to(cell, aligned_edge=UP)
    return layout, pages, factor


def build(spec: FilterGallerySpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.need_trace(), ctx.frame)
    title = title_for(ctx, p.title)
    source_panel = _source_panel(p, ctx)
    panels = [source_panel, *(_filter_panel(fp, ctx) for fp in p.filters)]
    layout, pages, factor = _pages(panels, p.box)
    ctx.recorder.facts.update(
        {
            **p.facts,
            "columns": layout.columns,
            "per_page": layout.per_page,
            "pages": len(pages),
            "kernel_beside_map": layout.kernel_beside,
            "map_height": layout.height * factor,
            "text_scale": factor,
        }
    )
    yield Add([title])
    yield Phase("source")
    yield Beat([FadeIn(source_panel.group())], 1.0)
    yield Hold(0.8)
    # Each filter is a phase; a new page is turned at the start of its first filter's.
    phases = (Phase(f"filter {n}") for n in itertools.count(1))
    for page_number, page in enumerate(pages):
        for n, panel in enumerate(page):
            assert panel.kernel is not None
            yield next(phases)
            if page_number and n == 0:
                yield Beat([FadeOut(old.group()) for old in pages[page_number - 1]], 0.6)
            yield Beat([FadeIn(panel.label), FadeIn(panel.kernel)], 0.5)
            yield Beat(
                [
                    FadeIn(panel.view, target_position=source_panel.view, scale=0.8),
                    FadeIn(panel.legend),
                ],
                0.8,
            )
            yield Hold(0.6)
        yield Hold(1.5)


register(
    StepType(
        name="filter_gallery",
        spec=FilterGallerySpec,
        build=build,
        check=check,
        summary="Classic image filters (edges, sharpen, blur, or your own kernels) "
        "applied to the lesson's image, side by side.",
        phases=Phases(
            (
                "source",
                Numbered("filter", count=lambda spec: len(spec.filters), counted_by="filters"),
            )
        ),
    )
)
