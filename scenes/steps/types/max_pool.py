"""``max_pool``: 2×2 windows with stride 2 on a real map, the maximum of each kept.

The input is the ReLU map the pool reads, the output the pool's own map from
the trace. A patch of the input is written out as numbers: window by window
the maximum is outlined and carried to its output cell while the three other
values dim out, so "75 % discarded" is visible; then the whole output map
fills in and the discarded cells of the whole input map dim.

``mode: average`` and ``mode: global`` are variants on the same real map,
computed with :func:`cnn_model.ops.pool2d` and labelled as variants (TinyVGG
itself uses max pooling): the mean of each window, or the mean of the whole
map as one value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
from manim import (
    DOWN,
    FadeIn,
    FadeOut,
    Group,
    Mobject,
    Rectangle,
    Square,
    UpdateFromAlphaFunc,
    UpdateFromFunc,
    ValueTracker,
    VGroup,
    linear,
)
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field

from cnn_model import ops
from cnn_model.tinyvgg import PREVIOUS

from ...visuals.colors import hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.relu_pool_layout import (
    BeforeAfter,
    grid_cell,
    grid_panel,
    map_panel,
    operator_arrow,
    place_notes,
)
from ...visuals.text import BODY, LABEL, NUMBER, text
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.checks import channel_in, layer_of_kind
from ..kit.common import MapColours, chosen, layer_label, lively_channel, title_for
from ..kit.registry import StepType, register

SIZE = STRIDE = 2  # TinyVGG's pools: 2×2 windows, stride 2
MAX_WINDOWS = 3  # 6 inputs + 3 outputs = 9 numbers per row: legible at 480p on every aspect
DIM = 0.22  # opacity of a discarded value in the patch
MAP_DIM = 0.6  # how far discarded cells of the whole map fade towards the background
Mode = Literal["max", "average", "global"]
KIND = {"average": "average_pool", "global": "global_average_pool"}


class MaxPoolSpec(StepSpec):
    type: Literal["max_pool"]
    layer: str = Field("max_pool_1", description="A max-pool layer of the lesson's model.")
    neuron: int | None = Field(
        None,
        ge=0,
        description="Channel (neuron) of the layer, from 0; default: the channel of the "
        "lesson's model whose map has the most values on both sides of zero.",
    )
    mode: Mode = Field(
        "max",
        description="max (what the model does), or the variants average (mean of each 2×2 "
        "window) and global (mean of the whole map), computed on the same real map.",
    )
    patch_row: int | None = Field(
        None,
        ge=0,
        description="Top row, in the input map, of the patch of numbers (even: windows start "
        "every 2 rows); chosen automatically when omitted.",
    )
    patch_column: int | None = Field(
        None,
        ge=0,
        description="Left column, in the input map, of the patch of numbers (even); chosen "
        "automatically when omitted.",
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


def check(spec: MaxPoolSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """Cross-field rules: a max-pool layer, a neuron it has, a patch of whole windows inside."""
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("max_pool",))
    if layer is None:
        return errors
    neurons, out_h, out_w = layer.shape
    source = PREVIOUS[spec.layer]
    in_h, in_w = info.layers[source].shape[1:]
    if spec.neuron is not None:
        errors += channel_in(
            neurons, spec.neuron, "neuron", "a neuron", f"{spec.layer} has {neurons} neurons"
        )
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
    for field, value, out_size in (
        ("patch_row", spec.patch_row, out_h),
        ("patch_column", spec.patch_column, out_w),
    ):
        last = STRIDE * (out_size - k)
        if value is not None and (value % STRIDE or value > last):
            errors.append(
                (
                    (field,),
                    f"expected an even {field} from 0 to {last} (windows start every "
                    f"{STRIDE} cells and {k}×{k} windows must fit in {source}'s {in_h}×{in_w} "
                    f"map), got {value}",
                )
            )
    if spec.mode != "global" and spec.explained > k * k:
        errors.append(
            (
                ("explained",),
                f"expected explained from 0 to {k * k} (the patch has {k}×{k} windows), "
                f"got {spec.explained}",
            )
        )
    return errors


def choose_patch(
    values: np.ndarray, windows: int, row: int | None = None, column: int | None = None
) -> tuple[int, int]:
    """Top-left input cell of a patch of ``windows``×``windows`` pooling windows.

    Given coordinates are kept; the others are chosen where the patch has the
    most non-zero values (then the widest spread), so the windows have a
    maximum worth picking out.
    """
    side = SIZE * windows
    blocks = sliding_window_view(values, (side, side))[::STRIDE, ::STRIDE]
    out_h = (values.shape[0] - SIZE) // STRIDE + 1
    out_w = (values.shape[1] - SIZE) // STRIDE + 1
    blocks = blocks[: out_h - windows + 1, : out_w - windows + 1]
    busy = (blocks != 0).sum(axis=(2, 3)).astype(np.float64)
    spread = (blocks.max(axis=(2, 3)) - blocks.min(axis=(2, 3))).astype(np.float64)
    allowed = np.ones(busy.shape, dtype=bool)
    if row is not None:
        allowed &= (np.arange(busy.shape[0]) == row // STRIDE)[:, None]
    if column is not None:
        allowed &= (np.arange(busy.shape[1]) == column // STRIDE)[None, :]
    busy[~allowed] = -1
    order = np.lexsort((-spread.ravel(), -busy.ravel()))
    y, x = np.unravel_index(int(order[0]), busy.shape)
    return int(y) * STRIDE, int(x) * STRIDE


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


def _blend(rgb: np.ndarray, background: str, amount: float) -> np.ndarray:
    """``rgb`` faded towards the background by ``amount`` (0 = unchanged)."""
    bg = np.array(hex_to_rgb(background), dtype=np.float64)
    return np.rint(rgb * (1 - amount) + bg * amount).astype(np.uint8)


def build(spec: MaxPoolSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    if spec.neuron is None:  # the channel of the conv before whose map is most alive
        trace = ctx.need_trace()
        conv = PREVIOUS[PREVIOUS[spec.layer]]
        spec = spec.model_copy(update={"neuron": lively_channel(trace.activations[conv])})
    if spec.mode == "global":
        yield from _build_global(spec, ctx)
    else:
        yield from _build_windows(spec, ctx)


def _title(spec: MaxPoolSpec) -> str:
    if spec.mode == "max":
        return f"Max pooling: {spec.layer}, neuron {spec.neuron}"
    # The variants' layer and neuron are in the map captions: keep the title short.
    if spec.mode == "average":
        return "Average pooling (a variant)"
    return "Global average pooling (a variant)"


def _build_windows(spec: MaxPoolSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    """Max pooling (the model's) or its average variant, window by window."""
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    layer, neuron, k, mode = spec.layer, chosen(spec.neuron), spec.patch_windows, spec.mode
    source = PREVIOUS[layer]
    inp = trace.activations[source][neuron]
    in_h, in_w = inp.shape
    if mode == "max":
        out = trace.activations[layer][neuron]  # the model's own output
        out_layer, out_kind, map_layer = layer, "activation", layer
    else:
        out = ops.pool2d(inp, SIZE, STRIDE, "average")
        out_layer, out_kind, map_layer = source, KIND[mode], f"{source}.{KIND[mode]}"
    out_h, out_w = out.shape
    # The conv's range; the legend names the model's layer, or the input map for a variant.
    colours = MapColours(trace, layer if mode == "max" else source, theme, ctx.colour_range)
    row, col = choose_patch(inp, k, spec.patch_row, spec.patch_column)
    oy, ox = row // STRIDE, col // STRIDE
    in_patch = inp[row : row + SIZE * k, col : col + SIZE * k]
    out_patch = out[oy : oy + k, ox : ox + k]
    keep = kept_cells(inp, trace.activations[layer][neuron]) if mode == "max" else None

    title = title_for(ctx, _title(spec))
    square = frame.width == frame.height
    map_height = 2.3 if square else 3.2

    in_rgb = colours.rgb(inp)
    out_rgb = colours.rgb(out)
    empty = np.array(hex_to_rgb(theme.empty_cell), dtype=np.uint8)
    before_panel, in_map = map_panel(
        in_rgb, map_height, layer_label(source, neuron, inp.shape), theme
    )
    if mode == "max":
        out_caption = layer_label(layer, neuron, out.shape)
    else:
        out_caption = f"average pool (variant) · channel {neuron} ({out_h}×{out_w})"
    blank = np.empty_like(out_rgb)
    blank[:] = empty
    after_panel, out_map = map_panel(blank, map_height, out_caption, theme)
    rec.heatmap(source, [neuron], inp, (colours.lo, colours.hi), colours.scale.name)
    rec.heatmap(map_layer, [neuron], out, (colours.lo, colours.hi), colours.scale.name)

    in_texts = rec.grid(source, in_patch, lambda i, j: (neuron, row + i, col + j))
    out_texts = [
        [
            rec.number(out_layer, (neuron, oy + i, ox + j), float(out_patch[i, j]), kind=out_kind)
            for j in range(k)
        ]
        for i in range(k)
    ]
    cell = grid_cell(in_texts + out_texts, theme.font, NUMBER, 0.7)
    in_panel, in_grid, _, _ = grid_panel(
        in_texts, colours.rgb(in_patch), cell, f"{source} ({SIZE * k}×{SIZE * k} patch)", theme
    )
    out_panel, out_grid, out_border, out_label = grid_panel(
        out_texts,
        colours.rgb(out_patch),
        cell,
        f"{layer if mode == 'max' else 'output'} ({k}×{k})",
        theme,
    )
    out_fills = [sq.get_fill_color() for sq in out_grid.squares]
    for sq in out_grid.squares:
        sq.set_fill(theme.empty_cell, 1)
    legend = colours.legend(theme, width=2.6)
    op_word = "max" if mode == "max" else "mean"
    parts = BeforeAfter(
        before_map=before_panel,
        before_grid=in_panel,
        op=operator_arrow(f"{op_word} of 2×2", theme),
        after_grid=out_panel,
        legend=legend,
        after_map=after_panel,
        op_maps=operator_arrow("2×2, stride 2", theme, length=0.8),
    )
    _, notes_box = parts.arrange(frame, frame.content_box())
    in_rect = in_map.window(row, col, SIZE * k, SIZE * k, theme.highlight, stroke=2.5)
    out_rect = out_map.window(oy, ox, k, k, theme.highlight, stroke=2.5)

    rec.facts.update(
        {
            "layer": layer,
            "neuron": neuron,
            "mode": mode,
            "input_layer": source,
            "patch": {"row": row, "column": col, "windows": k},
            "window": SIZE,
            "stride": STRIDE,
            "input_shape": [in_h, in_w],
            "output_shape": [out_h, out_w],
            "colour_range": [colours.lo, colours.hi],
        }
    )
    if mode == "max":
        rec.facts["discarded_fraction"] = 1 - 1 / (SIZE * SIZE)

    yield Add([title])
    intro_note: Mobject | None = None
    if mode != "max":
        intro_note = place_notes(
            text("A variant: TinyVGG itself uses max pooling.", theme, BODY, theme.muted), notes_box
        )
    yield Beat(
        [FadeIn(before_panel), FadeIn(legend), FadeIn(in_rect)]
        + ([FadeIn(intro_note)] if intro_note is not None else []),
        0.8,
    )
    arrows: list[Mobject] = [parts.op]
    if not frame.landscape and parts.op_maps is not None:
        arrows.append(parts.op_maps)
    yield Beat(
        [FadeIn(in_panel), FadeIn(after_panel), FadeIn(out_rect), FadeIn(out_label)]
        + [FadeIn(out_grid.squares), FadeIn(out_border)]
        + [FadeIn(a) for a in arrows],
        0.9,
    )

    # Window by window through the patch.
    shown = np.zeros((out_h, out_w), dtype=bool)

    def paint_out(_: object = None) -> None:
        out_map.set_pixels(np.where(shown[..., None], out_rgb, blank))

    side = SIZE * k
    window = Rectangle(
        width=SIZE * in_grid.squares[0].width,
        height=SIZE * in_grid.squares[0].width,
        stroke_color=theme.highlight,
        stroke_width=5,
    )
    target = Square(out_grid.squares[0].width, stroke_color=theme.highlight, stroke_width=5)
    note: Mobject | None = intro_note
    kept_marks = VGroup()
    for index in range(k * k):
        wy, wx = divmod(index, k)
        slow = index < spec.explained
        cells = [(SIZE * wy + i) * side + SIZE * wx + j for i in range(SIZE) for j in range(SIZE)]
        squares = [in_grid.squares[c] for c in cells]
        window_at = (squares[0].get_center() + squares[-1].get_center()) / 2
        out_index = wy * k + wx
        target_at = out_grid.squares[out_index].get_center()
        values = in_patch[SIZE * wy : SIZE * wy + SIZE, SIZE * wx : SIZE * wx + SIZE]
        if index == 0:
            window.move_to(window_at)
            target.move_to(target_at)
            yield Beat([FadeIn(window), FadeIn(target)], 0.5 if slow else 0.25)
        else:
            yield Beat(
                [window.animate.move_to(window_at), target.animate.move_to(target_at)],
                0.5 if slow else 0.2,
            )
        formula: Mobject | None = None
        if slow:
            shown_values = [
                rec.number(source, (neuron, row + SIZE * wy + i, col + SIZE * wx + j), float(v))
                for (i, j), v in np.ndenumerate(values)
            ]
            result = rec.number(
                out_layer, (neuron, oy + wy, ox + wx), float(out_patch[wy, wx]), kind=out_kind
            )
            written = (
                f"max({', '.join(shown_values)}) = {result}"
                if mode == "max"
                else f"({' + '.join(shown_values)}) / 4 = {result}"
            )
            formula = place_notes(number_text(written, theme.font, BODY, theme.text), notes_box)
            fades: list[object] = [FadeIn(formula)]
            if note is not None:
                fades.append(FadeOut(note))
            yield Beat(fades, 0.6)
            note = formula

        animations: list[object] = []
        if keep is not None:
            offsets = [(i, j) for i in range(SIZE) for j in range(SIZE)]
            kept = next(
                c
                for c, (i, j) in zip(cells, offsets, strict=True)
                if keep[row + SIZE * wy + i, col + SIZE * wx + j]
            )
            mark = Square(in_grid.squares[kept].width, stroke_color=theme.accent, stroke_width=5)
            mark.move_to(in_grid.squares[kept])
            kept_marks.add(mark)
            animations.append(FadeIn(mark))
            for c in cells:
                if c != kept:
                    animations.append(in_grid.squares[c].animate.set_fill(opacity=DIM))
                    animations.append(in_grid.labels[c].animate.set_opacity(DIM))
            source_label = in_grid.labels[kept].copy()
        else:
            source_label = out_grid.labels[out_index].copy().move_to(window_at)
        out_square = out_grid.squares[out_index]
        animations += [
            source_label.animate.move_to(out_grid.labels[out_index]),
            out_square.animate.set_fill(out_fills[out_index], 1),
        ]

        def reveal(_: Mobject, alpha: float, y: int = oy + wy, x: int = ox + wx) -> None:
            if alpha >= 0.5 and not shown[y, x]:
                shown[y, x] = True
                paint_out()

        animations.append(UpdateFromAlphaFunc(out_map.image, reveal))
        yield Beat(animations, 0.9 if slow else 0.35)
        yield Add([source_label], remove=True)
        yield Add([out_grid.labels[out_index]])
        if slow:
            yield Hold(0.5)

    yield Beat([FadeOut(window), FadeOut(target)], 0.4)

    # The rest of the map, and what was discarded.
    if mode == "max":
        lines = [
            "75 % discarded: only the maximum of each 2×2 window is kept",
            f"{in_h}×{in_w} = {in_h * in_w:,} values → {out_h}×{out_w} = {out_h * out_w:,} values",
        ]
    else:
        lines = [
            "every value counts: each output is the mean of its 2×2 window",
            f"{in_h}×{in_w} = {in_h * in_w:,} values → {out_h}×{out_w} = {out_h * out_w:,} values",
        ]
    summary = VGroup(
        text(lines[0], theme, BODY, theme.accent if mode == "max" else theme.text),
        text(lines[1], theme, LABEL, theme.muted),
    ).arrange(DOWN, buff=0.12)
    place_notes(summary, notes_box)
    yield Beat(([FadeOut(note)] if note is not None else []) + [FadeIn(summary)], 0.7)

    rows = ValueTracker(0)
    dimmed = _blend(in_rgb, theme.background, MAP_DIM) if keep is not None else in_rgb

    def sweep_out(_: object) -> None:
        n = int(np.clip(np.floor(rows.get_value() + 1e-6), 0, out_h))
        shown[:n] = True
        paint_out()

    def sweep_in(_: object) -> None:
        if keep is None:
            return
        n = int(np.clip(np.floor(rows.get_value() + 1e-6), 0, out_h)) * SIZE
        rgb = in_rgb.copy()
        rows_done = np.zeros(in_rgb.shape[:2], dtype=bool)
        rows_done[:n] = True
        discard = rows_done & ~keep
        rgb[discard] = dimmed[discard]
        in_map.set_pixels(rgb)

    sweeps: list[object] = [
        rows.animate(rate_func=linear).set_value(out_h),  # type: ignore[operator]
        UpdateFromFunc(out_map.image, sweep_out),
    ]
    if keep is not None:
        sweeps.append(UpdateFromFunc(in_map.image, sweep_in))
    yield Beat(sweeps, 2.0)
    yield Hold(1.0)


def _build_global(spec: MaxPoolSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    """Global average pooling: the whole map becomes its mean, one value."""
    trace = ctx.need_trace()
    theme, rec, frame = ctx.theme, ctx.recorder, ctx.frame
    layer, neuron, k = spec.layer, chosen(spec.neuron), spec.patch_windows
    source = PREVIOUS[layer]
    inp = trace.activations[source][neuron]
    in_h, in_w = inp.shape
    mean = float(ops.pool2d(inp, mode="global")[0, 0])
    colours = MapColours(trace, source, theme, ctx.colour_range)
    row, col = choose_patch(inp, k, spec.patch_row, spec.patch_column)
    in_patch = inp[row : row + SIZE * k, col : col + SIZE * k]

    title = title_for(ctx, _title(spec))
    square = frame.width == frame.height
    map_height = 2.6 if square else (4.2 if frame.portrait else 3.2)  # a row of its own
    in_rgb = colours.rgb(inp)
    before_panel, in_map = map_panel(
        in_rgb, map_height, layer_label(source, neuron, inp.shape), theme
    )
    rec.heatmap(source, [neuron], inp, (colours.lo, colours.hi), colours.scale.name)
    in_texts = rec.grid(source, in_patch, lambda i, j: (neuron, row + i, col + j))
    mean_text = rec.number(source, (neuron,), mean, kind=KIND["global"])
    cell = grid_cell(in_texts, theme.font, NUMBER, 0.7)
    in_panel, _, _, _ = grid_panel(
        in_texts, colours.rgb(in_patch), cell, f"{source} (a few of its values)", theme
    )
    out_rgb = colours.rgb(np.array([[mean]]))
    out_panel, out_grid, out_border, out_label = grid_panel(
        [[mean_text]], out_rgb, cell * 1.8, "global average (1×1)", theme, font_size=NUMBER * 1.4
    )
    out_fill = out_grid.squares[0].get_fill_color()
    out_grid.squares[0].set_fill(theme.empty_cell, 1)
    legend = colours.legend(theme, width=2.6)
    parts = BeforeAfter(
        before_map=before_panel,
        before_grid=in_panel,
        op=operator_arrow("mean of all", theme),
        after_grid=out_panel,
        legend=legend,
    )
    _, notes_box = parts.arrange(frame, frame.content_box())
    in_rect = in_map.window(row, col, SIZE * k, SIZE * k, theme.highlight, stroke=2.5)
    whole = in_map.window(0, 0, in_h, in_w, theme.accent, stroke=5)

    rec.facts.update(
        {
            "layer": layer,
            "neuron": neuron,
            "mode": "global",
            "input_layer": source,
            "patch": {"row": row, "column": col, "windows": k},
            "input_shape": [in_h, in_w],
            "output_shape": [1, 1],
            "colour_range": [colours.lo, colours.hi],
        }
    )

    variant = place_notes(
        text("A variant: TinyVGG itself uses max pooling.", theme, BODY, theme.muted), notes_box
    )
    yield Add([title])
    yield Beat([FadeIn(before_panel), FadeIn(legend), FadeIn(variant)], 0.8)
    yield Beat([FadeIn(in_rect), FadeIn(in_panel)], 0.8)
    yield Beat(
        [
            FadeIn(whole),
            FadeIn(parts.op),
            FadeIn(out_label),
            FadeIn(out_grid.squares),
            FadeIn(out_border),
        ],
        0.8,
    )
    formula = place_notes(
        number_text(
            f"mean of all {in_h}×{in_w} = {in_h * in_w:,} values = {mean_text}",
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
            FadeIn(formula),
        ],
        1.4,
    )
    yield Add([shrink], remove=True)
    yield Beat([out_grid.squares[0].animate.set_fill(out_fill, 1), FadeIn(out_grid.labels)], 0.7)
    summary = Group(
        formula.copy(),
        text(
            "one number per channel, however large the map",
            theme,
            LABEL,
            theme.muted,
        ),
    ).arrange(DOWN, buff=0.12)
    place_notes(summary, notes_box)
    yield Beat([FadeOut(formula), FadeIn(summary)], 0.6)
    yield Hold(1.0)


register(
    StepType(
        name="max_pool",
        spec=MaxPoolSpec,
        build=build,
        check=check,
        summary="2×2 max pooling on a real map, the maximum of each window kept; "
        "average and global variants.",
    )
)
