"""``max_pool``: 2×2 windows with stride 2 on a real map, the maximum of each kept.

The input is the ReLU map the pool reads, the output the pool's own map from
the trace. A patch of the input is written out as numbers: window by window
the maximum is outlined and carried to its output cell (along the lines
between cells, over no other number) while the three other values are
greyed out, still readable, so "75 % discarded" is visible; then the whole
output map fills in row by row, a band on each map showing the rows pooled.
Both maps keep the colours their legend gives throughout.

``mode: average`` and ``mode: global`` are variants on the same real map,
computed with :func:`cnn_model.ops.pool2d` and labelled as variants (TinyVGG
itself uses max pooling): the mean of each window, or the mean of the whole
map as one value.

:func:`plan` chooses everything from the trace (no Mobject, no scene);
:func:`build` draws and animates that plan.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from manim import (
    DOWN,
    FadeIn,
    FadeOut,
    Group,
    Mobject,
    MoveAlongPath,
    Rectangle,
    ReplacementTransform,
    Square,
    Text,
    UpdateFromAlphaFunc,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    VMobject,
    linear,
)
from pydantic import Field

from cnn_model import ops
from cnn_model.tinyvgg import PREVIOUS
from cnn_model.trace import Trace

from ...i18n import _, integer, percent
from ...visuals.colors import hex_to_rgb
from ...visuals.glyphs import NumberText, number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.layout import Box, Frame
from ...visuals.ranges import activation_range
from ...visuals.relu_pool_layout import (
    BeforeAfter,
    captioned_map,
    grid_cell,
    grid_panel,
    place_notes,
    wrapped,
)
from ...visuals.text import BODY, LABEL, NUMBER
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import layer_of_kind, neuron_of
from ..kit.common import (
    MapColours,
    layer_label,
    list_separator,
    lively_channel,
    map_panel,
    title_for,
)
from ..kit.neuron import NeuronField
from ..kit.patches import PatchFields, choose_patch, patch_errors
from ..kit.registry import Numbered, Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid

SIZE = STRIDE = 2  # TinyVGG's pools: 2×2 windows, stride 2
MAX_WINDOWS = 3  # 6 inputs + 3 outputs = 9 numbers per row: legible at 480p on every aspect
Mode = Literal["max", "average", "global"]
KIND = {"average": "average_pool", "global": "global_average_pool"}


def variant_note() -> str:
    """What the variants' note says (in the lesson's language)."""
    return _("A variant: TinyVGG itself uses max pooling.")


class MaxPoolSpec(PatchFields, StepSpec):
    type: Literal["max_pool"]
    layer: str = Field("max_pool_1", description="A max-pool layer of the lesson's model.")
    neuron_field = NeuronField()

    neuron: int | None = Field(
        None,
        ge=0,
        description="Channel (neuron) of the layer, from 0; default: the lesson's focus, "
        "else the channel whose map has the most values on both sides of zero.",
    )
    mode: Mode = Field(
        "max",
        description="max (what the model does), or the variants average (mean of each 2×2 "
        "window) and global (mean of the whole map), computed on the same real map.",
    )
    patch_windows: int = Field(
        3,
        ge=1,
        le=MAX_WINDOWS,
        description="Windows per side of the patch: 3 shows 6×6 input values and 3×3 outputs.",
    )
    explained: int = Field(
        2,
        ge=0,
        le=MAX_WINDOWS * MAX_WINDOWS,
        description="Windows of the patch explained slowly, with their numbers written out.",
    )


def explained_windows(spec: MaxPoolSpec) -> int:
    """The windows of the patch explained slowly (none in global mode: it has no windows)."""
    return 0 if spec.mode == "global" else min(spec.explained, spec.patch_windows**2)


def check(spec: MaxPoolSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """Cross-field rules: a max-pool layer, a neuron it has, a patch of whole windows inside."""
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("max_pool",))
    errors += neuron_of(info, layer, spec.layer, ("max_pool",), spec.neuron)
    if layer is None:
        return errors
    out_h, out_w = layer.shape[1:]
    source = PREVIOUS[spec.layer]
    in_h, in_w = info.layers[source].shape[1:]
    k = spec.patch_windows
    if k > min(out_h, out_w):
        errors.append(
            (
                ("patch_windows",),
                f"expected patch_windows from 1 to {min(out_h, out_w)} ({spec.layer} is "
                f"{out_h}×{out_w}), got {k}",
            )
        )
        return errors
    reason = (
        f"windows start every {STRIDE} cells and {k}×{k} windows must fit in "
        f"{source}'s {in_h}×{in_w} map"
    )
    errors += patch_errors(spec, SIZE * k, (in_h, in_w), reason, stride=STRIDE)
    if spec.mode != "global" and spec.explained > k * k:
        errors.append(
            (
                ("explained",),
                f"expected explained from 0 to {k * k} (the patch has {k}×{k} windows), "
                f"got {spec.explained}",
            )
        )
    return errors


def kept_cells(values: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """Boolean map of the input cells max pooling keeps: the first maximum of each window.

    ``pooled`` is the pool's output from the trace; a window's kept cell is
    the first (in reading order) whose value equals it.
    """
    out_h, out_w = pooled.shape
    cells = values[: out_h * SIZE, : out_w * SIZE].reshape(out_h, SIZE, out_w, SIZE)
    blocks = cells.transpose(0, 2, 1, 3).reshape(out_h, out_w, SIZE * SIZE)
    equal = blocks == pooled[..., None]
    first = np.where(equal.any(axis=-1), equal.argmax(axis=-1), blocks.argmax(axis=-1))
    keep = np.zeros((out_h, out_w, SIZE * SIZE), dtype=bool)
    np.put_along_axis(keep, first[..., None], True, axis=-1)
    mask = np.zeros(values.shape, dtype=bool)
    mask[: out_h * SIZE, : out_w * SIZE] = (
        keep.reshape(out_h, out_w, SIZE, SIZE).transpose(0, 2, 1, 3).reshape(out_h * SIZE, -1)
    )
    return mask


# --- The plan: what is shown, chosen from the trace -------------------------------


@dataclass(frozen=True)
class PoolWindow:
    """One window of the patch, in reading order."""

    row: int  # window row and column within the patch (0 to windows - 1)
    column: int
    inputs: tuple[Shown, ...]  # its 2×2 input values, in reading order
    result: Shown  # its output: the model's max, or the mean (a variant)
    kept: int | None  # which of ``inputs`` max pooling keeps; None for the average
    explained: bool  # shown slowly, its numbers written out as ``formula``
    formula: str


@dataclass(frozen=True)
class PoolPlan:
    """Max pooling (the model's) or its average variant, window by window."""

    layer: str
    neuron: int
    mode: str  # "max" or "average"
    source: str  # the layer the pool reads
    row: int  # top-left input cell of the patch
    column: int
    windows: int  # windows per side of the patch
    inputs: np.ndarray  # (H, W) the map pooled, from the trace
    outputs: np.ndarray  # (H/2, W/2) the model's max pool, or the average variant
    out_layer: str  # the layer and kind output numbers are recorded under
    out_kind: str
    map_layer: str  # the name the output map is recorded under
    colour_range: tuple[float, float]
    keep: np.ndarray | None  # (H, W) the input cells max pooling keeps; None for the average
    in_grid: ShownGrid  # the patch of inputs
    out_grid: ShownGrid  # its outputs
    window_plans: tuple[PoolWindow, ...]
    map_height: float
    out_caption: str  # the output map's caption
    summary: tuple[str, str]

    @property
    def out_corner(self) -> tuple[int, int]:
        return self.row // STRIDE, self.column // STRIDE

    @property
    def side(self) -> int:
        """Input cells per side of the patch."""
        return SIZE * self.windows

    @property
    def colour_layer(self) -> str:
        """The layer whose scale colours the maps (named in the legend)."""
        return self.layer if self.mode == "max" else self.source

    @property
    def in_patch(self) -> np.ndarray:
        return self.inputs[self.row : self.row + self.side, self.column : self.column + self.side]

    @property
    def out_patch(self) -> np.ndarray:
        oy, ox = self.out_corner
        return self.outputs[oy : oy + self.windows, ox : ox + self.windows]

    def facts(self) -> dict[str, Any]:
        facts = {
            "layer": self.layer,
            "neuron": self.neuron,
            "mode": self.mode,
            "input_layer": self.source,
            "patch": {"row": self.row, "column": self.column, "windows": self.windows},
            "window": SIZE,
            "stride": STRIDE,
            "input_shape": list(self.inputs.shape),
            "output_shape": list(self.outputs.shape),
            "colour_range": list(self.colour_range),
        }
        if self.mode == "max":
            facts["discarded_fraction"] = 1 - 1 / (SIZE * SIZE)
        return facts


@dataclass(frozen=True)
class GlobalPoolPlan:
    """Global average pooling (a variant): the whole map becomes its mean."""

    layer: str
    neuron: int
    source: str
    row: int  # top-left cell of the patch of inputs shown as numbers
    column: int
    windows: int
    inputs: np.ndarray  # (H, W) the map averaged, from the trace
    mean: Shown
    colour_range: tuple[float, float]
    in_grid: ShownGrid
    map_height: float

    @property
    def in_patch(self) -> np.ndarray:
        side = SIZE * self.windows
        return self.inputs[self.row : self.row + side, self.column : self.column + side]

    def facts(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "neuron": self.neuron,
            "mode": "global",
            "input_layer": self.source,
            "patch": {"row": self.row, "column": self.column, "windows": self.windows},
            "input_shape": list(self.inputs.shape),
            "output_shape": [1, 1],
            "colour_range": [self.colour_range[0], self.colour_range[1]],
        }


def plan(
    spec: MaxPoolSpec, trace: Trace, frame: Frame, *, colour_range: str = "layer"
) -> PoolPlan | GlobalPoolPlan:
    """What the step shows: the neuron, the patch, its windows and their numbers.

    ``colour_range`` is the lesson's scope of the diverging scale (layer, block
    or global). Builds no Mobject.
    """
    layer, k = spec.layer, spec.patch_windows
    source = PREVIOUS[layer]
    # By default, the channel of the conv before whose map is most alive.
    neuron = spec.neuron
    if neuron is None:
        neuron = lively_channel(trace.activations[PREVIOUS[source]])
    inputs = trace.activations[source][neuron]
    row, col = choose_patch(
        inputs, SIZE * k, spec.patch_row, spec.patch_column, worth="nonzero", stride=STRIDE
    )
    colour_layer = layer if spec.mode == "max" else source
    half = activation_range(trace.activations, colour_layer, colour_range) / 2
    square = frame.width == frame.height
    if spec.mode == "global":
        mean = float(ops.pool2d(inputs, mode="global")[0, 0])
        return GlobalPoolPlan(
            layer=layer,
            neuron=neuron,
            source=source,
            row=row,
            column=col,
            windows=k,
            inputs=inputs,
            mean=shown(source, (neuron,), mean, kind=KIND["global"]),
            colour_range=(-half, half),
            in_grid=_patch_grid(source, neuron, inputs, row, col, SIZE * k),
            map_height=1.4 if square else (3.6 if frame.portrait else 3.2),  # a row of its own
        )
    # Square frames are cramped: small maps, so the patches keep a readable size.
    return _windows_plan(
        spec,
        trace,
        neuron,
        (row, col),
        (-half, half),
        1.3 if square else (2.9 if frame.portrait else 2.6),
    )


def _patch_grid(
    layer: str, neuron: int, values: np.ndarray, row: int, col: int, side: int
) -> ShownGrid:
    patch = values[row : row + side, col : col + side]
    return shown_grid(layer, patch, lambda i, j: (neuron, row + i, col + j))


def _windows_plan(
    spec: MaxPoolSpec,
    trace: Trace,
    neuron: int,
    corner: tuple[int, int],
    colour_range: tuple[float, float],
    map_height: float,
) -> PoolPlan:
    layer, mode, k = spec.layer, spec.mode, spec.patch_windows
    source = PREVIOUS[layer]
    inputs = trace.activations[source][neuron]
    if mode == "max":
        outputs = trace.activations[layer][neuron]  # the model's own output
        out_layer, out_kind, map_layer = layer, "activation", layer
        out_caption = layer_label(layer, neuron, outputs.shape)
        keep: np.ndarray | None = kept_cells(inputs, outputs)
    else:
        outputs = ops.pool2d(inputs, SIZE, STRIDE, "average")
        out_layer, out_kind, map_layer = source, KIND[mode], f"{source}.{KIND[mode]}"
        out_h, out_w = outputs.shape
        out_caption = _("average pool (variant) · channel {channel} ({height}×{width})").format(
            channel=neuron, height=out_h, width=out_w
        )
        keep = None
    row, col = corner
    oy, ox = row // STRIDE, col // STRIDE
    out_patch = outputs[oy : oy + k, ox : ox + k]
    out_grid = shown_grid(
        out_layer, out_patch, lambda i, j: (neuron, oy + i, ox + j), kind=out_kind
    )
    return PoolPlan(
        layer=layer,
        neuron=neuron,
        mode=mode,
        source=source,
        row=row,
        column=col,
        windows=k,
        inputs=inputs,
        outputs=outputs,
        out_layer=out_layer,
        out_kind=out_kind,
        map_layer=map_layer,
        colour_range=colour_range,
        keep=keep,
        in_grid=_patch_grid(source, neuron, inputs, row, col, SIZE * k),
        out_grid=out_grid,
        window_plans=tuple(
            _window(source, neuron, inputs, corner, out_grid, keep, index, spec)
            for index in range(k * k)
        ),
        map_height=map_height,
        out_caption=out_caption,
        summary=_summary(mode, inputs.shape, outputs.shape),
    )


def _window(
    source: str,
    neuron: int,
    inputs: np.ndarray,
    corner: tuple[int, int],
    out_grid: ShownGrid,
    keep: np.ndarray | None,
    index: int,
    spec: MaxPoolSpec,
) -> PoolWindow:
    """The ``index``-th window of the patch (reading order)."""
    wy, wx = divmod(index, spec.patch_windows)
    top, left = corner[0] + SIZE * wy, corner[1] + SIZE * wx
    cells = [(top + i, left + j) for i in range(SIZE) for j in range(SIZE)]
    values = tuple(shown(source, (neuron, y, x), inputs[y, x]) for y, x in cells)
    result = out_grid[wy][wx]
    texts = [v.text for v in values]
    if keep is None:
        formula = f"({' + '.join(texts)}) / 4 = {result.text}"
        kept = None
    else:
        formula = f"max({list_separator().join(texts)}) = {result.text}"
        kept = next(t for t, (y, x) in enumerate(cells) if keep[y, x])
    explained = index < spec.explained
    return PoolWindow(wy, wx, values, result, kept, explained, formula)


def _summary(mode: str, shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[str, str]:
    (in_h, in_w), (out_h, out_w) = shape, out_shape
    sizes = _("{in_h}×{in_w} = {inputs} values → {out_h}×{out_w} = {outputs} values").format(
        in_h=in_h,
        in_w=in_w,
        inputs=integer(in_h * in_w),
        out_h=out_h,
        out_w=out_w,
        outputs=integer(out_h * out_w),
    )
    if mode == "max":
        discarded = percent(1 - 1 / (SIZE * SIZE))
        return (
            _("{percent} discarded: only the maximum of each 2×2 window is kept").format(
                percent=discarded
            ),
            sizes,
        )
    return _("every value counts: each output is the mean of its 2×2 window"), sizes


# --- The beats: the plan drawn and animated ---------------------------------------


def build(spec: MaxPoolSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.need_trace(), ctx.frame, colour_range=ctx.colour_range)
    if isinstance(p, GlobalPoolPlan):
        yield from _build_global(p, ctx)
    else:
        yield from _build_windows(p, ctx)


def _title(p: PoolPlan | GlobalPoolPlan) -> str:
    if isinstance(p, GlobalPoolPlan):
        return _("Global average pooling (a variant)")
    if p.mode == "max":
        return _("Max pooling: {layer}, neuron {neuron}").format(layer=p.layer, neuron=p.neuron)
    # The variants' layer and neuron are in the map captions: keep the title short.
    return _("Average pooling (a variant)")


class OutputMap:
    """The output map filled in cell by cell over empty cells."""

    def __init__(self, view: MapView, rgb: np.ndarray, theme: Theme) -> None:
        self.view = view
        self.rgb = rgb
        self.blank = np.empty_like(rgb)
        self.blank[:] = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
        self.shown = np.zeros(rgb.shape[:2], dtype=bool)

    def paint(self) -> None:
        self.view.set_pixels(np.where(self.shown[..., None], self.rgb, self.blank))

    def reveal(self, y: int, x: int) -> Callable[[Mobject, float], None]:
        """An updater that paints cell (y, x) half-way through its animation."""

        def update(_mob: Mobject, alpha: float) -> None:
            if alpha >= 0.5 and not self.shown[y, x]:
                self.shown[y, x] = True
                self.paint()

        return update

    def rows(self, count: int) -> None:
        """Paint the first ``count`` rows."""
        self.shown[:count] = True
        self.paint()


@dataclass
class PoolParts:
    """The windows view's Mobjects, placed for the frame."""

    title: Text
    colours: MapColours
    before_panel: Group
    after_panel: Group
    in_map: MapView
    out_map: OutputMap
    in_panel: Group
    in_grid: NumberGrid
    out_grid: NumberGrid
    out_fills: list[Any]
    out_border: Mobject
    out_label: Mobject
    legend: Mobject
    layout: BeforeAfter
    notes_box: Box
    in_rect: Mobject
    out_rect: Mobject
    narrow: bool  # a tall or square frame: notes in smaller type, so they fit its width
    square: bool  # a square frame: short of height


def _build_windows(p: PoolPlan, ctx: StepContext) -> Iterator[Item]:
    parts = _window_parts(p, ctx)
    ctx.recorder.facts.update(p.facts())
    yield Add([parts.title])
    yield Phase("intro")
    note = yield from _window_intro(p, parts, ctx)
    window = Rectangle(
        width=SIZE * parts.in_grid.squares[0].width,
        height=SIZE * parts.in_grid.squares[0].width,
        stroke_color=ctx.theme.highlight,
        stroke_width=5,
    )
    target = Square(
        parts.out_grid.squares[0].width, stroke_color=ctx.theme.highlight, stroke_width=5
    )
    # Each window explained slowly is a phase; the rest of the patch starts the map's.
    explained = sum(w.explained for w in p.window_plans)
    for index, w in enumerate(p.window_plans):
        if index < explained:
            yield Phase(f"window {index + 1}")
        elif index == explained:
            yield Phase("map")
        note = yield from _window_beats(p, parts, ctx, w, (window, target), note)
    if explained == len(p.window_plans):  # every window was explained
        yield Phase("map")
    yield Beat([FadeOut(window), FadeOut(target)], 0.4)
    yield from _window_sweep(p, parts, ctx, note)


def _window_parts(p: PoolPlan, ctx: StepContext) -> PoolParts:
    """Draw and place the plan; records both maps and both patches."""
    theme, rec, frame, trace = ctx.theme, ctx.recorder, ctx.frame, ctx.need_trace()
    # The conv's range; the legend names the model's layer, or the input map for a variant.
    colours = MapColours(trace, p.colour_layer, theme, ctx.colour_range)
    _panel, in_map = map_panel(
        trace, p.source, p.neuron, colours, theme, rec, p.map_height, p.inputs, legend=False
    )
    before_panel = captioned_map(in_map, layer_label(p.source, p.neuron, p.inputs.shape), theme)
    _panel, out_map = map_panel(
        trace,
        p.map_layer,
        p.neuron,
        colours,
        theme,
        rec,
        p.map_height,
        p.outputs,
        blank=True,
        label=p.out_caption,
        legend=False,
    )
    after_panel = captioned_map(out_map, p.out_caption, theme)
    in_texts, out_texts = record_grid(rec, p.in_grid), record_grid(rec, p.out_grid)
    k, cell = p.windows, grid_cell(in_texts + out_texts, theme.font, NUMBER, 0.7)
    in_caption = _("{layer} ({size}×{size} patch)").format(layer=p.source, size=p.side)
    in_panel, in_grid, _border, _caption = grid_panel(
        in_texts, colours.rgb(p.in_patch), cell, in_caption, theme
    )
    if p.mode == "max":
        out_caption = f"{p.layer} ({k}×{k})"
    else:
        out_caption = _("output ({height}×{width})").format(height=k, width=k)
    out_panel, out_grid, out_border, out_label = grid_panel(
        out_texts, colours.rgb(p.out_patch), cell, out_caption, theme
    )
    out_fills = [sq.get_fill_color() for sq in out_grid.squares]
    for sq in out_grid.squares:
        sq.set_fill(theme.empty_cell, 1)
    square = frame.width == frame.height  # the legend goes between small maps
    legend = colours.legend(theme, width=2.2 if square else 2.6, font_size=LABEL, narrow=square)
    layout = BeforeAfter(
        theme=theme,
        before_map=before_panel,
        before_grid=in_panel,
        op_label=_("max of 2×2") if p.mode == "max" else _("mean of 2×2"),
        after_grid=out_panel,
        legend=legend,
        after_map=after_panel,
        maps_label=_("{size}×{size}, stride {stride}").format(size=SIZE, stride=STRIDE),
    )
    notes_box = layout.arrange(frame, frame.content_box())
    oy, ox = p.out_corner
    return PoolParts(
        title=title_for(ctx, _title(p)),
        colours=colours,
        before_panel=before_panel,
        after_panel=after_panel,
        in_map=in_map,
        out_map=OutputMap(out_map, colours.rgb(p.outputs), theme),
        in_panel=in_panel,
        in_grid=in_grid,
        out_grid=out_grid,
        out_fills=out_fills,
        out_border=out_border,
        out_label=out_label,
        legend=legend,
        layout=layout,
        notes_box=notes_box,
        in_rect=in_map.window(p.row, p.column, p.side, p.side, theme.highlight, stroke=2.5),
        out_rect=out_map.window(oy, ox, k, k, theme.highlight, stroke=2.5),
        narrow=not frame.landscape,
        square=frame.width == frame.height,
    )


def _window_intro(
    p: PoolPlan, parts: PoolParts, ctx: StepContext
) -> Generator[Beat, None, Mobject | None]:
    """The input map and its patch, then the empty output; returns the note shown."""
    intro_note: Mobject | None = None
    if p.mode != "max":
        intro_note = place_notes(_note_lines(variant_note(), parts, ctx), parts.notes_box)
    yield Beat(
        [FadeIn(parts.before_panel), FadeIn(parts.legend), FadeIn(parts.in_rect)]
        + ([FadeIn(intro_note)] if intro_note is not None else []),
        0.8,
    )
    arrows: list[Mobject] = [parts.layout.op]
    if parts.layout.op_maps is not None:
        arrows.append(parts.layout.op_maps)
    out_grid = parts.out_grid
    yield Beat(
        [FadeIn(parts.in_panel), FadeIn(parts.after_panel), FadeIn(parts.out_rect)]
        + [FadeIn(parts.out_label), FadeIn(out_grid.squares), FadeIn(parts.out_border)]
        + [FadeIn(a) for a in arrows],
        0.9,
    )
    return intro_note


def _note_lines(
    content: str, parts: PoolParts, ctx: StepContext, colour: str | None = None
) -> VGroup:
    """A note in the notes strip, broken into lines that fit its width (in a tall or
    square frame, in the labels' type: the strip is narrow)."""
    size = LABEL if parts.narrow else BODY
    return wrapped(content, ctx.theme, size, colour or ctx.theme.muted, parts.notes_box.width)


def _swap_notes(old: Mobject | None, new: Mobject, seconds: float) -> Iterator[Beat]:
    """``old`` gives way to ``new`` in the notes strip: one formula turns into the next;
    other notes go before the next comes, so two never show in one place."""
    if old is None:
        yield Beat([FadeIn(new)], seconds)
    elif isinstance(old, NumberText) and isinstance(new, NumberText):
        yield Beat([ReplacementTransform(old, new)], seconds)
    else:
        yield Beat([FadeOut(old)], seconds * 0.4)
        yield Beat([FadeIn(new)], seconds * 0.6)


def _window_beats(
    p: PoolPlan,
    parts: PoolParts,
    ctx: StepContext,
    w: PoolWindow,
    frames: tuple[Mobject, Mobject],
    note: Mobject | None,
) -> Generator[Item, None, Mobject | None]:
    """One window: outlined, its formula (if explained), its value carried to its output.

    ``frames`` outline the window and its output cell; returns the note now shown.
    """
    in_grid, out_grid, slow = parts.in_grid, parts.out_grid, w.explained
    window, target = frames
    side = p.side
    cells = [
        (SIZE * w.row + i) * side + SIZE * w.column + j for i in range(SIZE) for j in range(SIZE)
    ]
    window_at = (
        in_grid.squares[cells[0]].get_center() + in_grid.squares[cells[-1]].get_center()
    ) / 2
    out_index = w.row * p.windows + w.column
    target_at = out_grid.squares[out_index].get_center()
    if out_index == 0:
        window.move_to(window_at)
        target.move_to(target_at)
        yield Beat([FadeIn(window), FadeIn(target)], 0.5 if slow else 0.25)
    else:
        yield Beat(
            [window.animate.move_to(window_at), target.animate.move_to(target_at)],
            0.5 if slow else 0.2,
        )
    if slow:
        for value in (*w.inputs, w.result):
            value.record(ctx.recorder)
        formula = number_text(w.formula, ctx.theme.font, BODY, ctx.theme.text)
        place_notes(formula, parts.notes_box)
        yield from _swap_notes(note, formula, 0.6)
        note = formula
    animations, source_label = _carry(p, parts, ctx, w, cells, window_at)
    yield Beat(animations, 0.9 if slow else 0.35)
    yield Add([source_label], remove=True)
    yield Add([out_grid.labels[out_index]])
    if slow:
        yield Hold(0.5)
    return note


def _carry(
    p: PoolPlan,
    parts: PoolParts,
    ctx: StepContext,
    w: PoolWindow,
    cells: list[int],
    window_at: np.ndarray,
) -> tuple[list[Any], Mobject]:
    """The window's value moving to its output cell (the kept one marked, the rest
    greyed out as discarded, still readable)."""
    theme = ctx.theme
    in_grid, out_grid = parts.in_grid, parts.out_grid
    out_index = w.row * p.windows + w.column
    animations: list[Any] = []
    if w.kept is not None:
        kept = cells[w.kept]
        mark = Square(in_grid.squares[kept].width, stroke_color=theme.accent, stroke_width=5)
        mark.move_to(in_grid.squares[kept])
        animations.append(FadeIn(mark))
        for c in cells:
            if c != kept:
                animations.append(in_grid.squares[c].animate.set_fill(theme.empty_cell, 1))
                animations.append(in_grid.labels[c].animate.set_color(theme.muted))
        source_label = in_grid.labels[kept].copy()
        start = in_grid.squares[kept].get_center()
    else:
        start = window_at
        source_label = out_grid.labels[out_index].copy().move_to(start)
    path = VMobject().set_points_as_corners(_route(p, parts, w, start))
    oy, ox = p.out_corner
    animations += [
        MoveAlongPath(source_label, path),
        out_grid.squares[out_index].animate.set_fill(parts.out_fills[out_index], 1),
        UpdateFromAlphaFunc(
            parts.out_map.view.image, parts.out_map.reveal(oy + w.row, ox + w.column)
        ),
    ]
    return animations, source_label


def _route(p: PoolPlan, parts: PoolParts, w: PoolWindow, start: np.ndarray) -> list[np.ndarray]:
    """Corners of a path from ``start`` (a kept cell's centre, or the window's middle)
    to the window's output cell that passes over no other number or label.

    Numbers sit in the middle of their cells, so the path runs along the lines
    between rows: half a cell up or down from its cell onto a line, out of the
    patch along it, across the gap between the patches (past the operator's
    label, never over it), and into the output patch along a line of the
    output cell's row.
    """
    in_grid, out_grid = parts.in_grid, parts.out_grid
    cell = in_grid.squares[0].width
    side = p.side
    out_index = w.row * p.windows + w.column
    target = out_grid.squares[out_index].get_center()
    top_row = SIZE * w.row
    middle = in_grid.squares[top_row * side].get_center()[1] - cell / 2
    starts = [middle]
    if w.kept is not None:  # the line on the kept cell's other side leads out as well
        starts.append(middle + (cell if w.kept < SIZE else -cell))
    ends = [target[1] + cell / 2, target[1] - cell / 2]
    gap_x = (in_grid.get_right()[0] + out_grid.get_left()[0]) / 2
    label = parts.in_grid.labels[0]
    half_w, half_h = label.width / 2 + 0.05, label.height / 2 + 0.05
    caption = parts.layout.op[1]
    c_left, c_bottom, c_right, c_top = (
        caption.get_left()[0],
        caption.get_bottom()[1],
        caption.get_right()[0],
        caption.get_top()[1],
    )

    def clear(y_from: float, y_to: float) -> bool:
        """Whether the crossing (along y_from, down or up at gap_x, along y_to)
        keeps the moving number off the operator's label."""
        lo, hi = min(y_from, y_to) - half_h, max(y_from, y_to) + half_h
        crosses_x = gap_x + half_w > c_left and gap_x - half_w < c_right
        along = [y_from, y_to]
        meets_rows = any(y - half_h < c_top and y + half_h > c_bottom for y in along)
        meets_column = crosses_x and lo < c_top and hi > c_bottom
        return not (meets_rows or meets_column)

    options = sorted(
        ((abs(a - start[1]) + abs(a - b), a, b) for a in starts for b in ends),
        key=lambda option: (not clear(option[1], option[2]), option[0]),
    )
    _length, y_in, y_out = options[0]
    return [
        start,
        np.array([start[0], y_in, 0.0]),
        np.array([gap_x, y_in, 0.0]),
        np.array([gap_x, y_out, 0.0]),
        np.array([target[0], y_out, 0.0]),
        target,
    ]


def _window_sweep(
    p: PoolPlan, parts: PoolParts, ctx: StepContext, note: Mobject | None
) -> Iterator[Beat | Hold]:
    """The rest of the output map, row by row; a band on each map shows the rows
    being pooled (the maps keep the colours their legend gives)."""
    theme = ctx.theme
    first, second = p.summary
    summary = VGroup(
        _note_lines(first, parts, ctx, theme.accent if p.mode == "max" else theme.text)
    )
    if not parts.square:  # (a square frame's map captions give the sizes)
        summary.add(_note_lines(second, parts, ctx))
    summary.arrange(DOWN, buff=0.12)
    place_notes(summary, parts.notes_box)
    yield from _swap_notes(note, summary, 0.7)

    out_h = p.outputs.shape[0]
    rows = ValueTracker(0)
    in_map, out_view = parts.in_map, parts.out_map.view
    band_in = in_map.window(0, 0, SIZE, p.inputs.shape[1], theme.highlight, stroke=3)
    band_out = out_view.window(0, 0, 1, p.outputs.shape[1], theme.highlight, stroke=3)

    def done() -> int:
        return int(np.clip(np.floor(rows.get_value() + 1e-6), 0, out_h))

    def follow(_mob: object) -> None:
        row = min(done(), out_h - 1)
        in_map.place_window(band_in, SIZE * row, 0, SIZE, p.inputs.shape[1])
        out_view.place_window(band_out, row, 0, 1, p.outputs.shape[1])

    yield Beat([FadeIn(band_in), FadeIn(band_out)], 0.3)
    yield Beat(
        [
            rows.animate(rate_func=linear).set_value(out_h),  # type: ignore[operator]
            UpdateFromFunc(parts.out_map.view.image, lambda _mob: parts.out_map.rows(done())),
            UpdateFromFunc(band_in, follow),
        ],
        2.0,
    )
    yield Beat([FadeOut(band_in), FadeOut(band_out)], 0.3)
    yield Hold(0.4)


def _build_global(p: GlobalPoolPlan, ctx: StepContext) -> Iterator[Item]:
    """Global average pooling: the whole map becomes its mean, one value."""
    theme, rec, frame, trace = ctx.theme, ctx.recorder, ctx.frame, ctx.need_trace()
    colours = MapColours(trace, p.source, theme, ctx.colour_range)
    _panel, in_map = map_panel(
        trace, p.source, p.neuron, colours, theme, rec, p.map_height, p.inputs, legend=False
    )
    before_panel = captioned_map(in_map, layer_label(p.source, p.neuron, p.inputs.shape), theme)
    in_texts = record_grid(rec, p.in_grid)
    mean_text = p.mean.record(rec)
    cell = grid_cell(in_texts, theme.font, NUMBER, 0.7)
    in_panel, _grid, _border, _caption = grid_panel(
        in_texts,
        colours.rgb(p.in_patch),
        cell,
        _("{layer} (a few of its values)").format(layer=p.source),
        theme,
    )
    out_rgb = colours.rgb(np.array([[p.mean.value]]))
    out_panel, out_grid, out_border, out_label = grid_panel(
        [[mean_text]],
        out_rgb,
        cell * 1.8,
        _("global average (1×1)").rsplit(" ", 1),
        theme,
        font_size=NUMBER * 1.4,
    )
    out_fill = out_grid.squares[0].get_fill_color()
    out_grid.squares[0].set_fill(theme.empty_cell, 1)
    square = frame.width == frame.height  # the legend goes beside the map
    legend = colours.legend(theme, width=2.6, font_size=LABEL, narrow=square)
    layout = BeforeAfter(
        theme=theme,
        before_map=before_panel,
        before_grid=in_panel,
        op_label=_("mean of all"),
        after_grid=out_panel,
        legend=legend,
    )
    notes_box = layout.arrange(frame, frame.content_box())
    side = SIZE * p.windows
    in_rect = in_map.window(p.row, p.column, side, side, theme.highlight, stroke=2.5)
    in_h, in_w = p.inputs.shape
    whole = in_map.window(0, 0, in_h, in_w, theme.accent, stroke=5)
    rec.facts.update(p.facts())
    size = BODY if frame.landscape else LABEL

    variant = place_notes(
        wrapped(variant_note(), theme, size, theme.muted, notes_box.width), notes_box
    )
    yield Add([title_for(ctx, _title(p))])
    yield Phase("intro")
    yield Beat([FadeIn(before_panel), FadeIn(legend), FadeIn(variant)], 0.8)
    yield Beat([FadeIn(in_rect), FadeIn(in_panel)], 0.8)
    yield Phase("map")  # no window: the whole map at once
    yield Beat(
        [FadeIn(m) for m in (whole, layout.op, out_label, out_grid.squares, out_border)],
        0.8,
    )
    formula = place_notes(
        number_text(
            _("mean of all {height}×{width} = {count} values = {mean}").format(
                height=in_h, width=in_w, count=integer(in_h * in_w), mean=mean_text
            ),
            theme.font,
            BODY,
            theme.text,
        ),
        notes_box,
    )
    shrink = in_map.image.copy()
    yield Beat(
        [
            shrink.animate.move_to(out_grid.squares[0])
            .scale(out_grid.squares[0].width / in_map.image.width)
            .set_opacity(0.0),
            FadeOut(variant),
        ],
        0.8,
    )
    yield Add([shrink], remove=True)
    yield Beat([FadeIn(formula)], 0.6)
    yield Beat([out_grid.squares[0].animate.set_fill(out_fill, 1), FadeIn(out_grid.labels)], 0.7)
    caption = wrapped(
        _("one number per channel, however large the map"),
        theme,
        LABEL,
        theme.muted,
        notes_box.width,
    )
    summary = Group(formula.copy(), caption).arrange(DOWN, buff=0.12)
    place_notes(summary, notes_box)
    # The formula moves up to make room, then the caption comes under it.
    yield Beat([ReplacementTransform(formula, summary[0])], 0.3)
    yield Beat([FadeIn(caption)], 0.3)
    yield Hold(1.0)


register(
    StepType(
        name="max_pool",
        spec=MaxPoolSpec,
        build=build,
        check=check,
        summary="2×2 max pooling on a real map, the maximum of each window kept; "
        "average and global variants.",
        phases=Phases(
            (
                "intro",
                Numbered(
                    "window",
                    count=explained_windows,
                    counted_by="explained, none in global mode",
                ),
                "map",
            )
        ),
    )
)
