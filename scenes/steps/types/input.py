"""``input``: the image, the 64x64 the network sees, its three channels, real pixels.

1. The original image (when the engine passes its path in
   ``ctx.original_image``) with the centre square that survives the
   crop outlined, and the 64x64 version the network reads.
2. The 64x64 image split into its red, green and blue channels, each drawn
   greyscale (0 black, 1 white) with a legend.
3. A zoom on a patch of one channel: its real pixel values as 0-255 integers
   and divided by 255 (2 decimals), the numbers the first convolution reads,
   and one pixel written out as its three channel values.

Every number comes from the trace (``trace.image`` and
``trace.activations["input"]``) and is recorded with its channel, row and
column: the /255 values as kind ``activation``, the integers as ``pixel``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Arrow,
    FadeIn,
    FadeOut,
    Group,
    Mobject,
    ReplacementTransform,
    VGroup,
)
from pydantic import Field

from cnn_model.errors import ImageError
from cnn_model.images import _to_rgb, fit_square, open_image
from cnn_model.tinyvgg import INPUT_SIZE

from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.image_panels import Picture, best_layout, largest_layout, zoom_lines
from ...visuals.layout import Box
from ...visuals.legend import Legend
from ...visuals.text import BODY, LABEL, NUMBER, SMALL, text
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, ModelInfo, StepContext, StepSpec
from ..kit.common import INPUT_CHANNELS, title_for
from ..kit.registry import StepType, register

MAX_PATCH = 8  # numbers per row of the zoom, legible at 480p


class InputSpec(StepSpec):
    type: Literal["input"]
    channel: int = Field(
        0, ge=0, le=2, description="Channel shown in the zoom: 0 red, 1 green, 2 blue."
    )
    patch_x: int | None = Field(
        None,
        ge=0,
        le=INPUT_SIZE - 2,
        description="Left column of the zoomed patch in the 64x64 image; "
        "default: where the patch's values vary most.",
    )
    patch_y: int | None = Field(
        None,
        ge=0,
        le=INPUT_SIZE - 2,
        description="Top row of the zoomed patch; default: where the values vary most.",
    )
    patch_size: int = Field(
        5, ge=2, le=MAX_PATCH, description="Rows and columns of pixels shown as numbers."
    )


def check(spec: InputSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """The patch must lie inside the 64x64 image."""
    errors: list[tuple[FieldParts, str]] = []
    last = INPUT_SIZE - spec.patch_size
    size = f"{spec.patch_size}×{spec.patch_size}"
    for name, what, value in (
        ("patch_x", "a column", spec.patch_x),
        ("patch_y", "a row", spec.patch_y),
    ):
        if value is not None and value > last:
            errors.append(
                (
                    (name,),
                    f"expected {what} from 0 to {last} so the {size} patch fits in the "
                    f"{INPUT_SIZE}×{INPUT_SIZE} input, got {value}",
                )
            )
    return errors


def choose_patch(values: np.ndarray, size: int, x: int | None, y: int | None) -> tuple[int, int]:
    """(y, x) of the patch to zoom on: as given, or where the values vary most.

    A patch on an edge shows dark and bright pixels side by side, which says
    more than a flat patch of 255s. Ties go to the first in reading order.
    """
    h, w = values.shape
    # Validation keeps a given corner inside the image; clamp anyway for direct callers.
    ys = [min(y, h - size)] if y is not None else list(range(h - size + 1))
    xs = [min(x, w - size)] if x is not None else list(range(w - size + 1))
    windows = np.lib.stride_tricks.sliding_window_view(values.astype(np.float64), (size, size))
    spread = windows.std(axis=(-1, -2))
    best = max((spread[yy, xx], -yy, -xx) for yy in ys for xx in xs)
    return -best[1], -best[2]


def crop_box(width: int, height: int) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the original that the 64x64 input shows.

    Mirrors :func:`cnn_model.images.fit_square`: the short side is resized to
    64 and the centre is cropped.
    """
    if (width, height) == (INPUT_SIZE, INPUT_SIZE):
        return 0.0, 0.0, float(width), float(height)
    scale = INPUT_SIZE / min(width, height)
    new_w, new_h = max(INPUT_SIZE, round(width * scale)), max(INPUT_SIZE, round(height * scale))
    left, top = (new_w - INPUT_SIZE) // 2, (new_h - INPUT_SIZE) // 2
    fx, fy = width / new_w, height / new_h
    return left * fx, top * fy, (left + INPUT_SIZE) * fx, (top + INPUT_SIZE) * fy


def read_original(path: Any, pixels: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The original image as RGB, if ``path`` names the image the trace was made from.

    Returns (None, reason) when there is no path, the file cannot be read, or
    its 64x64 version differs from ``pixels`` (it is not this lesson's image).
    """
    if not path:
        return None, "the job names no image file"
    try:
        image = open_image(Path(str(path)))
        square = np.asarray(fit_square(image), dtype=np.uint8)
    except ImageError as exc:
        return None, str(exc)
    if square.shape != pixels.shape or not np.array_equal(square, pixels):
        return None, "the image file does not give the trace's 64×64 input"
    # The conversion fit_square makes: transparency over white, greyscale as RGB.
    return np.asarray(_to_rgb(image), dtype=np.uint8), ""


def _label(content: str, theme: Theme, size: float = LABEL, colour: str | None = None) -> Mobject:
    """A caption; each line of ``content`` centred under the one before."""
    lines = [text(line, theme, size, colour) for line in content.split("\n")]
    return VGroup(*lines).arrange(DOWN, buff=0.08) if len(lines) > 1 else lines[0]


def _arrow(theme: Theme, direction: np.ndarray, length: float = 0.9) -> Arrow:
    return Arrow(
        -direction * length / 2,
        direction * length / 2,
        buff=0,
        stroke_width=4,
        color=theme.muted,
        max_tip_length_to_length_ratio=0.3,
    )


def _arranged(parts: list[Mobject], direction: np.ndarray, gap: float) -> Group:
    return Group(*parts).arrange(direction, buff=gap)


def _size_view(view: Mobject, height: float) -> None:
    view.scale_to_fit_height(height)


def build(spec: InputSpec, ctx: StepContext) -> Iterator[Add | Beat | Hold]:
    values = ctx.need_trace().activations["input"]  # float32 (3, 64, 64) = pixels / 255
    corner = choose_patch(values[spec.channel], spec.patch_size, spec.patch_x, spec.patch_y)
    content = ctx.frame.content_box()
    yield Add([title_for(ctx, "The input: an image as numbers")])
    small_view, leaving = yield from _original_and_input(ctx, content)
    yield from _channels_and_zoom(spec, ctx, content, small_view, leaving, corner)


def _original_and_input(
    ctx: StepContext, content: Box
) -> Generator[Add | Beat | Hold, None, tuple[MapView, list[Mobject]]]:
    """The original with its crop outlined, an arrow, the 64x64 input.

    Returns the 64x64 view (it moves on into the next phase) and what leaves.
    """
    theme, rec = ctx.theme, ctx.recorder
    trace = ctx.need_trace()
    pixels = trace.image
    rec.heatmap("input", [], trace.activations["input"], (0.0, 1.0), "rgb")
    original, reason = read_original(ctx.original_image, pixels)
    small_view = MapView(pixels, 3.0, theme.grid_line)
    small_label = _label(f"what the network sees\n{INPUT_SIZE}×{INPUT_SIZE} pixels", theme)
    if original is not None and original.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
        oh, ow = original.shape[:2]
        picture = Picture(original, 3.0, theme.grid_line)
        crop = crop_box(ow, oh)
        orig_label = _label(f"original\n{ow}×{oh} pixels", theme)
        orig_note = _label("short side to 64,\ncentre cropped", theme, SMALL, theme.muted)
        arrows = {"row": _arrow(theme, RIGHT), "column": _arrow(theme, DOWN)}
        # A very wide or tall original is limited by its long side.
        aspect = min(max(ow / oh, 0.6), 1.7)

        def placer(kind: str) -> Callable[[float], Mobject]:
            def place(h: float) -> Mobject:
                _size_view(picture, h / max(aspect, 1.0) if ow >= oh else h)
                _size_view(small_view, h * 0.85)
                orig_label.next_to(picture, UP, buff=0.15)
                orig_note.next_to(picture, DOWN, buff=0.15)
                small_label.next_to(small_view, UP, buff=0.15)
                panels = [
                    Group(orig_label, picture, orig_note),
                    arrows[kind],
                    Group(small_label, small_view),
                ]
                return _arranged(panels, RIGHT if kind == "row" else DOWN, 0.4)

            return place

        kind = largest_layout(
            {"row": placer("row"), "column": placer("column")}, content, 1.2, 4.6
        )[0]
        arrow = arrows[kind]
        crop_rect = picture.region(*crop, theme.highlight)
        rec.facts["original"] = {"size": [ow, oh], "crop": [round(v, 3) for v in crop]}
        rec.facts["original_reason"] = reason
        yield Beat([FadeIn(orig_label), FadeIn(picture), FadeIn(orig_note)], 1.0)
        yield Beat([FadeIn(crop_rect)], 0.6)
        yield Beat(
            [
                FadeIn(arrow),
                FadeIn(small_label),
                FadeIn(
                    small_view,
                    target_position=crop_rect,
                    scale=crop_rect.height / small_view.height,
                ),
            ],
            1.2,
        )
        leaving: list[Mobject] = [orig_label, picture, orig_note, crop_rect, arrow, small_label]
    else:
        if original is not None:
            reason = f"the original is already {INPUT_SIZE}×{INPUT_SIZE}"
        small_note = _label("each pixel mixes red, green and blue", theme, SMALL, theme.muted)

        def place(h: float) -> Mobject:
            _size_view(small_view, h)
            small_label.next_to(small_view, UP, buff=0.15)
            small_note.next_to(small_view, DOWN, buff=0.15)
            return Group(small_label, small_view, small_note)

        largest_layout({"single": place}, content, 1.2, 4.6)
        rec.facts["original"] = None
        rec.facts["original_reason"] = reason
        yield Beat([FadeIn(small_label), FadeIn(small_view), FadeIn(small_note)], 1.0)
        leaving = [small_label, small_note]
    yield Hold(1.5)
    return small_view, leaving


def _channels_and_zoom(
    spec: InputSpec,
    ctx: StepContext,
    content: Box,
    small_view: MapView,
    leaving: list[Mobject],
    corner: tuple[int, int],
) -> Iterator[Add | Beat | Hold]:
    theme, rec = ctx.theme, ctx.recorder
    trace = ctx.need_trace()
    pixels = trace.image
    values = trace.activations["input"]
    size, channel = spec.patch_size, spec.channel
    py, px = corner

    # --- 2. Three channels -------------------------------------------------------
    rgb_view = MapView(pixels, 3.0, theme.grid_line)
    rgb_label = _label(f"{INPUT_SIZE}×{INPUT_SIZE}×3", theme)
    channel_views, channel_labels = [], []
    for c, name in enumerate(INPUT_CHANNELS):
        channel_views.append(MapView(theme.input.rgb(values[c]), 2.4, theme.grid_line))
        rec.heatmap("input", [c], values[c], (0.0, 1.0), theme.input.name)
        channel_labels.append(_label(f"{name} channel", theme))
    legend = Legend(
        theme.input, 0.0, 1.0, "pixel value ÷ 255: 0 black, 1 white", theme.font, theme.text, 2.6
    )
    arrows = {"row": _arrow(theme, RIGHT), "column": _arrow(theme, DOWN)}
    channel_panels = [
        Group(label, view) for label, view in zip(channel_labels, channel_views, strict=True)
    ]

    def split_placer(kind: str) -> Callable[[float], Mobject]:
        def place(h: float) -> Mobject:
            _size_view(rgb_view, h)
            rgb_label.next_to(rgb_view, UP, buff=0.15)
            for label, view in zip(channel_labels, channel_views, strict=True):
                _size_view(view, h * 0.8)
                if kind == "side":
                    label.next_to(view, LEFT, buff=0.15)
                else:
                    label.next_to(view, UP, buff=0.12)
            if kind == "side":  # channels in a column beside the image
                maps = Group(*channel_panels).arrange(DOWN, buff=0.2, aligned_edge=RIGHT)
            else:
                maps = Group(*channel_panels).arrange(RIGHT, buff=0.3, aligned_edge=DOWN)
            legend.next_to(maps, DOWN, buff=0.3)
            channels = Group(maps, legend)
            arrow = arrows["column" if kind == "column" else "row"]
            parts = [Group(rgb_label, rgb_view), arrow, channels]
            return _arranged(parts, DOWN if kind == "column" else RIGHT, 0.3)

        return place

    kind = largest_layout(
        {k: split_placer(k) for k in ("row", "column", "side")}, content, 1.0, 4.4
    )[0]
    arrow = arrows["column" if kind == "column" else "row"]
    yield Beat(
        [
            *[FadeOut(m) for m in leaving],
            ReplacementTransform(small_view, rgb_view),
            FadeIn(rgb_label),
        ],
        1.0,
    )
    yield Beat(
        [FadeIn(arrow), *[FadeIn(p, target_position=rgb_view, scale=0.6) for p in channel_panels]],
        1.2,
    )
    yield Beat([FadeIn(legend)], 0.6)
    yield Hold(1.8)

    # --- 3. Zoom on real pixel values --------------------------------------------
    block = pixels[py : py + size, px : px + size, channel].astype(np.float64)
    scaled = values[channel, py : py + size, px : px + size]
    ints = rec.grid("input", block, lambda i, j: (channel, py + i, px + j), 0, kind="pixel")
    fracs = rec.grid("input", scaled, lambda i, j: (channel, py + i, px + j), 2)
    colours = theme.input.rgb(scaled)
    # A tall frame stacks the two grids; a square one shows them one after the other.
    cell = 0.66 if ctx.frame.portrait else 0.78
    grid_255 = NumberGrid(ints, colours, cell, theme.font, NUMBER, theme.grid_line)
    grid_01 = NumberGrid(fracs, colours, cell, theme.font, NUMBER, theme.grid_line)
    wide_cell = 0.78  # one grid at a time leaves room for roomier cells
    name = INPUT_CHANNELS[channel]
    label_255 = _label("pixel values (0 to 255)", theme)
    label_01 = _label("what the network reads\n(0 to 1)", theme)
    divide = number_text("÷ 255", theme.font, BODY, theme.accent)
    zoom_view = MapView(theme.input.rgb(values[channel]), 3.4, theme.grid_line)
    last_row, last_col = py + size - 1, px + size - 1
    zoom_label = _label(f"{name} channel\nrows {py}–{last_row}, columns {px}–{last_col}", theme)
    # One pixel of the patch (its centre) written as its three channel values.
    cy, cx = py + size // 2, px + size // 2
    parts = []
    for c, cname in enumerate(INPUT_CHANNELS):
        shown = rec.number("input", [c, cy, cx], float(pixels[cy, cx, c]), 0, kind="pixel")
        parts.append(f"{cname} {shown}")
    pixel_line = number_text(
        f"pixel (row {cy}, column {cx}) = " + ", ".join(parts), theme.font, LABEL, theme.text
    )

    def zoom_placer(kind: str) -> Callable[[float], Mobject]:
        """Kinds: "row", "stacked" (map over the grids), "column" (all in a column);
        "single" and "single_stacked" show one grid place, the /255 grid replacing
        the 0-255 one, beside or under the map."""
        single = kind.startswith("single")
        beside = kind in ("row", "single")

        def place(h: float) -> Mobject:
            _size_view(zoom_view, h)
            zoom_label.next_to(zoom_view, UP, buff=0.15)
            # Captions go under the grids when the zoom lines come from above.
            side = UP if beside else DOWN
            label_255.next_to(grid_255, side, buff=0.15)
            label_01.next_to(grid_01, side, buff=0.15)
            p255, p01 = Group(label_255, grid_255), Group(label_01, grid_01)
            if single:
                numbers = p255
            elif kind == "column":
                numbers = Group(p255, divide, p01).arrange(DOWN, buff=0.3)
            else:
                edge = DOWN if beside else UP
                numbers = Group(p255, divide, p01).arrange(RIGHT, buff=0.35, aligned_edge=edge)
                divide.match_y(grid_255)
            body = Group(Group(zoom_label, zoom_view), numbers)
            body.arrange(RIGHT if beside else DOWN, buff=0.6)
            if beside:  # level tops keep the zoom lines off the captions
                body[0].shift((grid_255.get_top()[1] - zoom_view.get_top()[1]) * UP)
            if single:
                grid_01.move_to(grid_255)
                Group(divide, label_01).arrange(RIGHT, buff=0.2).move_to(label_255)
            pixel_line.next_to(body, DOWN, buff=0.35)
            return Group(body, pixel_line)

        return place

    frame = ctx.frame
    both = ["row", "stacked"] if frame.landscape else ["column"] if frame.portrait else ["stacked"]
    kind, _, scale = best_layout({k: zoom_placer(k) for k in both}, content, 1.6, 4.4)
    if scale < 0.97:  # both grids only fit shrunk: show them one after the other
        if cell < wide_cell:
            grid_255 = NumberGrid(ints, colours, wide_cell, theme.font, NUMBER, theme.grid_line)
            grid_01 = NumberGrid(fracs, colours, wide_cell, theme.font, NUMBER, theme.grid_line)
        kinds = ("single", "single_stacked")
        kind = largest_layout({k: zoom_placer(k) for k in kinds}, content, 1.6, 4.4)[0]
    else:
        largest_layout({kind: zoom_placer(kind)}, content, 1.6, 4.4)
    single = kind.startswith("single")
    patch = zoom_view.window(py, px, size, size, theme.highlight, stroke=3)
    middle = (size // 2) * size + size // 2
    marks = [
        grid.squares[middle].copy().set_fill(opacity=0).set_stroke(theme.highlight, 4)
        for grid in ((grid_01,) if single else (grid_255, grid_01))
    ]
    links = zoom_lines(patch, grid_255, theme.muted)

    selected = channel_views[channel]
    others = [p for i, p in enumerate(channel_panels) if i != channel]
    fading = [*others, channel_labels[channel], legend, rgb_view, rgb_label, arrow]
    yield Beat(
        [
            *[FadeOut(m) for m in fading],
            ReplacementTransform(selected, zoom_view),
            FadeIn(zoom_label),
        ],
        1.0,
    )
    yield Beat([FadeIn(patch)], 0.5)
    yield Beat(
        [
            FadeIn(links),
            FadeIn(label_255),
            FadeIn(grid_255, target_position=patch, scale=patch.width / grid_255.width),
        ],
        1.2,
    )
    yield Hold(1.5)
    if single:
        yield Beat(
            [
                FadeOut(label_255),
                FadeOut(grid_255),
                FadeIn(divide),
                FadeIn(label_01),
                FadeIn(grid_01),
            ],
            1.0,
        )
    else:
        yield Beat([FadeIn(divide, shift=0.2 * RIGHT), FadeIn(label_01), FadeIn(grid_01)], 1.0)
    yield Hold(1.5)
    yield Beat([*[FadeIn(m) for m in marks], FadeIn(pixel_line)], 0.8)
    rec.facts.update(
        {
            "channel": channel,
            "patch": {"x": px, "y": py, "size": size},
            "patch_chosen": spec.patch_x is None or spec.patch_y is None,
            "pixel": [cy, cx],
        }
    )
    yield Hold(2.0)


register(
    StepType(
        name="input",
        spec=InputSpec,
        build=build,
        check=check,
        summary="The image, its 64×64 version, its red, green and blue channels "
        "and real pixel values.",
    )
)
