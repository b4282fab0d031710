"""``input``: the image, the 64x64 the network sees, its three channels, real pixels.

1. The original image (when the engine passes its path in
   ``ctx.original_image``) with the centre square that survives the
   crop outlined, and the 64x64 version the network reads.
2. The 64x64 image split into its red, green and blue channels, each drawn
   greyscale (0 black, 1 white) with a legend.
3. A zoom on a patch of one channel: its real pixel values as 0-255 integers
   and divided by 255 (2 decimals), the numbers the first convolution reads,
   and one pixel written out as its three channel values. The map and the
   0-255 grid stand in the middle of the frame until the /255 grid comes
   beside them (or under them, in a tall frame); where both grids do not fit,
   each integer turns into its value / 255 in its own cell.

Captions leave before a map moves and come once it has landed, so nothing
moves across a text.

Every number comes from the trace (``trace.image`` and
``trace.activations["input"]``) and is recorded with its channel, row and
column: the /255 values as kind ``activation``, the integers as ``pixel``.

:func:`plan` chooses everything from the trace (no Mobject, no scene);
:func:`build` draws and animates that plan.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

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
    Transform,
    VGroup,
)
from pydantic import Field

from cnn_model.errors import ImageError
from cnn_model.images import _to_rgb, fit_square, open_image
from cnn_model.tinyvgg import INPUT_SIZE
from cnn_model.trace import Trace

from ...i18n import _
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import MapView
from ...visuals.image_panels import Picture, best_layout, largest_layout, zoom_lines
from ...visuals.layout import Box, Frame
from ...visuals.legend import Legend
from ...visuals.text import BODY, LABEL, NUMBER, SMALL, text
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.common import INPUT_CHANNELS, channel_name, title_for
from ..kit.patches import PatchFields, choose_patch, patch_errors
from ..kit.registry import Phases, StepType, register
from ..kit.shown import Shown, ShownGrid, record_grid, shown, shown_grid

MAX_PATCH = 8  # numbers per row of the zoom, legible at 480p
WIDE_CELL = 0.78  # grid cells when the two grids are shown one after the other
# The smallest cell: its numbers (shrunk to fit it) still reach the legible size.
SMALLEST_CELL = 0.56


class InputSpec(PatchFields, StepSpec):
    # Until lessons move to the common names: patch_x is the column, patch_y the row.
    renamed: ClassVar[dict[str, str]] = {"patch_x": "patch_column", "patch_y": "patch_row"}

    type: Literal["input"]
    channel: int = Field(
        0, ge=0, le=2, description="Channel shown in the zoom: 0 red, 1 green, 2 blue."
    )
    patch_size: int = Field(
        5, ge=2, le=MAX_PATCH, description="Rows and columns of pixels shown as numbers."
    )


def check(spec: InputSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """The patch must lie inside the 64x64 image."""
    size = spec.patch_size
    reason = f"the {size}×{size} patch must fit in the {INPUT_SIZE}×{INPUT_SIZE} input"
    return patch_errors(spec, size, (INPUT_SIZE, INPUT_SIZE), reason)


# --- The plan: what is shown, chosen from the trace -------------------------------


@dataclass(frozen=True)
class Original:
    """The image file the trace was made from, shown when it is not 64×64 already."""

    pixels: np.ndarray  # (H, W, 3) uint8, as fit_square reads it
    crop: tuple[float, float, float, float]  # the part the 64×64 input shows

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def aspect(self) -> float:
        """Width over height, held between 0.6 and 1.7 (a very long side limits the view)."""
        width, height = self.size
        return min(max(width / height, 0.6), 1.7)


@dataclass(frozen=True)
class InputPlan:
    channel: int  # the channel zoomed on
    size: int  # pixels per side of the patch
    row: int  # top-left pixel of the patch
    column: int
    chosen: bool  # the step picked (part of) the corner
    image: np.ndarray  # (64, 64, 3) uint8: what the network reads, from the trace
    values: np.ndarray  # (3, 64, 64) the trace's input layer: image / 255
    ints: ShownGrid  # the patch as 0-255 levels (kind "pixel")
    fracs: ShownGrid  # the patch as the network reads it (/255)
    pixel: tuple[int, int]  # the patch's centre pixel, written out in all three channels
    pixel_values: tuple[Shown, ...]
    original: Original | None
    original_reason: str  # why no original is shown ("" when it is)
    cell: float  # grid cells when both grids are shown together
    zoom_layouts: tuple[str, ...]  # layouts tried for the zoom with both grids

    @property
    def zoom_caption(self) -> str:
        last_row, last_column = self.row + self.size - 1, self.column + self.size - 1
        where = _("rows {first_row}–{last_row}, columns {first_column}–{last_column}").format(
            first_row=self.row,
            last_row=last_row,
            first_column=self.column,
            last_column=last_column,
        )
        return f"{channel_name('input', self.channel)}\n{where}"

    @property
    def pixel_caption(self) -> str:
        red, green, blue = (v.text for v in self.pixel_values)
        return _(
            "pixel (row {row}, column {column}) = red {red}, green {green}, blue {blue}"
        ).format(row=self.pixel[0], column=self.pixel[1], red=red, green=green, blue=blue)

    def original_facts(self) -> dict[str, Any]:
        shown_original = None
        if self.original is not None:
            shown_original = {
                "size": list(self.original.size),
                "crop": [round(v, 3) for v in self.original.crop],
            }
        return {"original": shown_original, "original_reason": self.original_reason}

    def facts(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "patch": {"x": self.column, "y": self.row, "size": self.size},
            "patch_chosen": self.chosen,
            "pixel": list(self.pixel),
        }


def plan(
    spec: InputSpec, trace: Trace, frame: Frame, *, original_image: Path | None = None
) -> InputPlan:
    """What the step shows: the original (if ``original_image`` is the traced image),
    the patch zoomed on and its numbers. Builds no Mobject."""
    image, values = trace.image, trace.activations["input"]  # values: float32 image / 255
    channel, size = spec.channel, spec.patch_size
    # By default the patch whose values vary most: an edge says more than flat 255s.
    row, col = choose_patch(values[channel], size, spec.patch_row, spec.patch_column)

    def at(i: int, j: int) -> tuple[int, int, int]:
        return (channel, row + i, col + j)

    block = image[row : row + size, col : col + size, channel].astype(np.float64)
    cy, cx = row + size // 2, col + size // 2
    pixels, reason = read_original(original_image, image)
    original = None
    if pixels is not None and pixels.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
        original = Original(pixels, crop_box(pixels.shape[1], pixels.shape[0]))
    elif pixels is not None:
        reason = f"the original is already {INPUT_SIZE}×{INPUT_SIZE}"
    landscape, portrait = frame.landscape, frame.portrait
    return InputPlan(
        channel=channel,
        size=size,
        row=row,
        column=col,
        chosen=spec.patch_column is None or spec.patch_row is None,
        image=image,
        values=values,
        ints=shown_grid("input", block, at, 0, kind="pixel"),
        fracs=shown_grid("input", values[channel, row : row + size, col : col + size], at),
        pixel=(cy, cx),
        pixel_values=tuple(
            shown("input", (c, cy, cx), float(image[cy, cx, c]), 0, kind="pixel")
            for c in range(len(INPUT_CHANNELS))
        ),
        original=original,
        original_reason=reason,
        # A tall frame stacks the two grids; a square one shows them one after the other.
        cell=0.72 if portrait else 0.78,
        zoom_layouts=("row", "stacked") if landscape else ("column",) if portrait else ("stacked",),
    )


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


# --- The beats: the plan drawn and animated ---------------------------------------


def build(spec: InputSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.need_trace(), ctx.frame, original_image=ctx.original_image)
    content = ctx.frame.content_box()
    yield Add([title_for(ctx, _("The input: an image as numbers"))])
    yield Phase("image")
    small_view, leaving = yield from _original_and_input(p, ctx, content)
    channels = yield from _channels(p, ctx, content, small_view, leaving)
    yield from _zoom(p, ctx, content, channels)
    ctx.recorder.facts.update(p.facts())
    yield Hold(2.0)


def _original_and_input(
    p: InputPlan, ctx: StepContext, content: Box
) -> Generator[Add | Beat | Hold, None, tuple[MapView, list[Mobject]]]:
    """The original with its crop outlined, an arrow, the 64x64 input.

    Returns the 64x64 view (it moves on into the next phase) and what leaves.
    """
    ctx.recorder.heatmap("input", [], p.values, (0.0, 1.0), "rgb")
    small_view = MapView(p.image, 3.0, ctx.theme.grid_line)
    small_label = _label(
        _("what the network sees\n{width}×{height} pixels").format(
            width=INPUT_SIZE, height=INPUT_SIZE
        ),
        ctx.theme,
    )
    ctx.recorder.facts.update(p.original_facts())
    if p.original is not None:
        leaving = yield from _from_original(p.original, ctx, content, small_view, small_label)
    else:
        note = _label(_("each pixel mixes red, green and blue"), ctx.theme, SMALL, ctx.theme.muted)

        def place(h: float) -> Mobject:
            _size_view(small_view, h)
            small_label.next_to(small_view, UP, buff=0.15)
            note.next_to(small_view, DOWN, buff=0.15)
            return Group(small_label, small_view, note)

        largest_layout({"single": place}, content, 1.2, 6.0)
        yield Beat([FadeIn(small_label), FadeIn(small_view), FadeIn(note)], 1.0)
        leaving = [small_label, note]
    yield Hold(1.5)
    return small_view, leaving


def _from_original(
    original: Original, ctx: StepContext, content: Box, small_view: MapView, small_label: Mobject
) -> Generator[Beat, None, list[Mobject]]:
    """The original, its crop, and the 64x64 input growing out of it; returns what leaves."""
    theme = ctx.theme
    ow, oh = original.size
    picture = Picture(original.pixels, 3.0, theme.grid_line)
    orig_label = _label(_("original\n{width}×{height} pixels").format(width=ow, height=oh), theme)
    orig_note = _label(
        _("short side to {size},\ncentre cropped").format(size=INPUT_SIZE),
        theme,
        SMALL,
        theme.muted,
    )
    arrows = {"row": _arrow(theme, RIGHT), "column": _arrow(theme, DOWN)}

    def placer(kind: str) -> Callable[[float], Mobject]:
        def place(h: float) -> Mobject:
            _size_view(picture, h / max(original.aspect, 1.0) if ow >= oh else h)
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

    kind = largest_layout({"row": placer("row"), "column": placer("column")}, content, 1.2, 4.6)[0]
    arrow = arrows[kind]
    crop_rect = picture.region(*original.crop, theme.highlight)
    yield Beat([FadeIn(orig_label), FadeIn(picture), FadeIn(orig_note)], 1.0)
    yield Beat([FadeIn(crop_rect)], 0.6)
    grow = FadeIn(small_view, target_position=crop_rect, scale=crop_rect.height / small_view.height)
    yield Beat([FadeIn(arrow), FadeIn(small_label), grow], 1.2)
    return [orig_label, picture, orig_note, crop_rect, arrow, small_label]


@dataclass
class Channels:
    """The colour image and its three channel maps, as they stand before the zoom."""

    rgb_view: MapView
    rgb_label: Mobject
    views: list[MapView]
    labels: list[Mobject]
    panels: list[Group]
    legend: Legend
    arrow: Mobject


def _channels(
    p: InputPlan, ctx: StepContext, content: Box, small_view: MapView, leaving: list[Mobject]
) -> Generator[Beat | Hold | Phase, None, Channels]:
    """The 64x64 image split into its three channels (each recorded), with a legend."""
    theme = ctx.theme
    views, labels = [], []
    for c in range(len(INPUT_CHANNELS)):
        views.append(MapView(theme.input.rgb(p.values[c]), 2.4, theme.grid_line))
        ctx.recorder.heatmap("input", [c], p.values[c], (0.0, 1.0), theme.input.name)
        labels.append(_label(channel_name("input", c), theme))
    legend = Legend(
        theme.input,
        0.0,
        1.0,
        _("pixel value ÷ 255: 0 black, 1 white"),
        theme.font,
        theme.text,
        2.6,
    )
    ch = Channels(
        rgb_view=MapView(p.image, 3.0, theme.grid_line),
        rgb_label=_label(f"{INPUT_SIZE}×{INPUT_SIZE}×3", theme),
        views=views,
        labels=labels,
        panels=[Group(label, view) for label, view in zip(labels, views, strict=True)],
        legend=legend,
        arrow=_arrow(theme, RIGHT),
    )
    arrows = {"row": ch.arrow, "column": _arrow(theme, DOWN)}
    placers = {k: _channels_placer(ch, arrows, k) for k in ("row", "column", "side")}
    kind = largest_layout(placers, content, 1.0, 4.4)[0]
    ch.arrow = arrows["column" if kind == "column" else "row"]
    yield Phase("channels")
    # The captions leave before the image moves, and come after the maps have
    # landed, so nothing moves across a text.
    yield Beat([FadeOut(m) for m in leaving], 0.4)
    yield Beat([ReplacementTransform(small_view, ch.rgb_view)], 0.6)
    appear = [FadeIn(view, target_position=ch.rgb_view, scale=0.6) for view in ch.views]
    yield Beat([FadeIn(ch.rgb_label), FadeIn(ch.arrow), *appear], 0.8)
    yield Beat([FadeIn(label) for label in ch.labels], 0.4)
    yield Beat([FadeIn(ch.legend)], 0.6)
    yield Hold(1.8)
    return ch


def _channels_placer(
    ch: Channels, arrows: dict[str, Mobject], kind: str
) -> Callable[[float], Mobject]:
    """Kinds: "row" and "column" (image, arrow, channels), "side" (channels in a
    column beside the image)."""

    def place(h: float) -> Mobject:
        # Over a row of channels (a tall frame), the colour image may be larger.
        _size_view(ch.rgb_view, h * (1.5 if kind == "column" else 1.0))
        ch.rgb_label.next_to(ch.rgb_view, UP, buff=0.15)
        for label, view in zip(ch.labels, ch.views, strict=True):
            _size_view(view, h * 0.8)
            if kind == "side":
                label.next_to(view, LEFT, buff=0.15)
            else:
                label.next_to(view, UP, buff=0.12)
        if kind == "side":
            maps = Group(*ch.panels).arrange(DOWN, buff=0.2, aligned_edge=RIGHT)
        else:
            maps = Group(*ch.panels).arrange(RIGHT, buff=0.3, aligned_edge=DOWN)
        ch.legend.next_to(maps, DOWN, buff=0.3)
        arrow = arrows["column" if kind == "column" else "row"]
        parts = [Group(ch.rgb_label, ch.rgb_view), arrow, Group(maps, ch.legend)]
        return _arranged(parts, DOWN if kind == "column" else RIGHT, 0.3)

    return place


@dataclass
class Zoom:
    """The channel map zoomed on and the patch's two grids of numbers."""

    view: MapView
    label: Mobject
    grid_255: NumberGrid
    grid_01: NumberGrid
    label_255: Mobject
    label_01: Mobject
    divide: Mobject
    pixel_line: Mobject
    kind: str = "row"
    single: bool = False  # one grid at a time: the /255 grid replaces the 0-255 one
    captions: tuple[Mobject, ...] = ()  # the map's caption in fewer lines, then in more

    @property
    def map_part(self) -> Group:
        return Group(self.label, self.view)

    @property
    def grid_part(self) -> Group:
        return Group(self.label_255, self.grid_255)


def _zoom_placer(z: Zoom, kind: str) -> Callable[[float], Mobject]:
    """Kinds: "row", "stacked" (map over the grids), "column" (all in a column);
    "single" and "single_stacked" show one grid place, the /255 grid turning
    into the 0-255 one, beside or under the map."""
    single = kind.startswith("single")
    beside = kind in ("row", "single")

    def place(h: float) -> Mobject:
        _size_view(z.view, h)
        if beside:  # the caption no wider than the map, if it can be
            z.label = next((c for c in z.captions if c.width <= h + 0.3), z.captions[-1])
        z.label.next_to(z.view, UP, buff=0.15)
        # Captions go under the grids when the zoom lines come from above.
        side = UP if beside else DOWN
        z.label_255.next_to(z.grid_255, side, buff=0.15)
        z.label_01.next_to(z.grid_01, side, buff=0.15)
        p255, p01 = Group(z.label_255, z.grid_255), Group(z.label_01, z.grid_01)
        if single:
            numbers = p255
        elif kind == "column":
            numbers = Group(p255, z.divide, p01).arrange(DOWN, buff=0.2)
        else:
            edge = DOWN if beside else UP
            numbers = Group(p255, z.divide, p01).arrange(RIGHT, buff=0.35, aligned_edge=edge)
            z.divide.match_y(z.grid_255)
        body = Group(Group(z.label, z.view), numbers)
        body.arrange(RIGHT if beside else DOWN, buff=0.6 if beside else 0.45)
        if beside:  # level tops keep the zoom lines off the captions
            body[0].shift((z.grid_255.get_top()[1] - z.view.get_top()[1]) * UP)
        parts: list[Mobject] = [body]
        if single:
            # The /255 grid takes the 0-255 one's place; "÷ 255" and its caption
            # take the caption's, on the same side of the grid.
            z.grid_01.move_to(z.grid_255)
            # "÷ 255" before the caption on its line, or on a line of its own away
            # from the grid, so the old caption turns into the new one without
            # passing over it.
            caption = Group(z.divide, z.label_01).arrange(RIGHT, buff=0.2)
            if caption.width > max(z.grid_01.width, z.label_01.width):
                caption.arrange(DOWN, buff=0.1)
                if not beside:
                    caption = Group(z.label_01, z.divide).arrange(DOWN, buff=0.1)
            caption.next_to(z.grid_01, side, buff=0.15)
            parts += [z.grid_01, caption]
        z.pixel_line.next_to(Group(*parts), DOWN, buff=0.35)
        return Group(*parts, z.pixel_line)

    return place


def _pixel_line(p: InputPlan, theme: Theme, width: float) -> Mobject:
    """The pixel's three values on one line, or on two when one is too wide."""
    line = number_text(p.pixel_caption, theme.font, LABEL, theme.text)
    if line.width <= width or " = " not in p.pixel_caption:
        return line
    where, values = p.pixel_caption.split(" = ", 1)
    lines = [number_text(part, theme.font, LABEL, theme.text) for part in (where, f"= {values}")]
    return VGroup(*lines).arrange(DOWN, buff=0.12)


def _zoom_parts(p: InputPlan, ctx: StepContext, content: Box) -> Zoom:
    """The zoom's Mobjects placed in the layout that fits best; records the patch."""
    theme = ctx.theme
    ints, fracs = record_grid(ctx.recorder, p.ints), record_grid(ctx.recorder, p.fracs)
    for value in p.pixel_values:
        value.record(ctx.recorder)
    channel = p.values[p.channel]
    colours = theme.input.rgb(channel[p.row : p.row + p.size, p.column : p.column + p.size])

    def grids(cell: float) -> tuple[NumberGrid, NumberGrid]:
        return (
            NumberGrid(ints, colours, cell, theme.font, NUMBER, theme.grid_line),
            NumberGrid(fracs, colours, cell, theme.font, NUMBER, theme.grid_line),
        )

    grid_255, grid_01 = grids(p.cell)
    # In a column every line counts: the captions take one line each.
    one_line = "column" in p.zoom_layouts
    caption_01 = _("what the network reads\n(0 to 1)")
    captions = [p.zoom_caption]
    if one_line:
        captions = [p.zoom_caption.replace("\n", ", ")]
        caption_01 = caption_01.replace("\n", " ")
    elif ", " in p.zoom_caption:  # beside a small map: rows and columns on lines of their own
        captions.append(p.zoom_caption.replace(", ", ",\n"))
    z = Zoom(
        view=MapView(theme.input.rgb(channel), 3.4, theme.grid_line),
        label=_label(captions[0], theme),
        captions=tuple(_label(c, theme) for c in captions),
        grid_255=grid_255,
        grid_01=grid_01,
        label_255=_label(_("pixel values (0 to 255)"), theme),
        label_01=_label(caption_01, theme),
        divide=number_text("÷ 255", theme.font, BODY, theme.accent),
        pixel_line=_pixel_line(p, theme, content.width),
    )
    options = {k: _zoom_placer(z, k) for k in p.zoom_layouts}
    kind, _height, scale = best_layout(options, content, 1.6, 4.4)
    if scale < 0.97:  # both grids only fit shrunk: show them one after the other
        singles = {k: _zoom_placer(z, k) for k in ("single", "single_stacked")}
        # One grid at a time leaves room for roomier cells; a large patch takes
        # smaller ones rather than shrinking every text with them.
        cell = WIDE_CELL
        while True:
            z.grid_255, z.grid_01 = grids(cell)
            if cell <= SMALLEST_CELL or best_layout(singles, content, 1.6, 4.4)[2] >= 0.97:
                break
            cell = max(cell - 0.04, SMALLEST_CELL)
        kind = largest_layout(singles, content, 1.6, 4.4)[0]
        z.single = True
    else:
        largest_layout({kind: options[kind]}, content, 1.6, 4.4)
    z.kind = kind
    return z


def _early_shifts(z: Zoom, content: Box) -> tuple[np.ndarray, np.ndarray]:
    """Where the map and the 0-255 grid stand before the /255 grid comes (as shifts
    from their final places): the two centred in the frame, not crowded to one side."""
    none = np.zeros(3)
    if z.single:
        return none, none
    shown = Group(z.map_part, z.grid_part)
    if z.kind == "row":
        shift = (content.center[0] - shown.get_center()[0]) * RIGHT
        return shift, shift
    if z.kind == "column":
        shift = (content.center[1] - shown.get_center()[1]) * UP
        return shift, shift
    # Stacked: the grid under the map until the second grid comes beside it.
    return none, (z.view.get_center()[0] - z.grid_part.get_center()[0]) * RIGHT


def _zoom(p: InputPlan, ctx: StepContext, content: Box, ch: Channels) -> Iterator[Item]:
    """The chosen channel zoomed, its patch outlined and written out as numbers."""
    theme = ctx.theme
    z = _zoom_parts(p, ctx, content)
    to_map, to_grid = _early_shifts(z, content)
    patch = z.view.window(p.row, p.column, p.size, p.size, theme.highlight, stroke=3)
    final_links = zoom_lines(patch, z.grid_255, theme.muted)
    z.map_part.shift(to_map)
    patch.shift(to_map)
    z.grid_part.shift(to_grid)
    links = zoom_lines(patch, z.grid_255, theme.muted)
    middle = (p.size // 2) * p.size + p.size // 2
    others = [panel for c, panel in enumerate(ch.panels) if c != p.channel]
    fading = [*others, ch.labels[p.channel], ch.legend, ch.rgb_view, ch.rgb_label, ch.arrow]
    yield Phase("zoom")
    # The texts leave first; the map moves into place; its caption comes once it is there.
    yield Beat([FadeOut(m) for m in fading], 0.4)
    yield Beat([ReplacementTransform(ch.views[p.channel], z.view)], 0.6)
    yield Beat([FadeIn(z.label), FadeIn(patch)], 0.5)
    grow = FadeIn(z.grid_255, target_position=patch, scale=patch.width / z.grid_255.width)
    yield Beat([FadeIn(links), grow], 0.8)
    yield Beat([FadeIn(z.label_255)], 0.4)
    yield Hold(1.5)
    yield Phase("divide")
    if z.single:
        # Each number turns into its value / 255 in its own cell.
        yield Beat(
            [
                ReplacementTransform(z.grid_255, z.grid_01),
                ReplacementTransform(z.label_255, z.label_01),
                FadeIn(z.divide),
            ],
            1.0,
        )
    else:
        if np.any(to_map) or np.any(to_grid):  # make room for the second grid
            yield Beat(
                [
                    Group(z.map_part, patch).animate.shift(-to_map),
                    z.grid_part.animate.shift(-to_grid),
                    Transform(links, final_links),
                ],
                0.4,
            )
            arrive = 0.6
        else:
            arrive = 1.0
        shift = FadeIn(z.divide, shift=0.2 * RIGHT)
        yield Beat([shift, FadeIn(z.label_01), FadeIn(z.grid_01)], arrive)
    yield Hold(1.5)
    yield Phase("pixel")
    marks = [
        grid.squares[middle].copy().set_fill(opacity=0).set_stroke(theme.highlight, 4)
        for grid in ((z.grid_01,) if z.single else (z.grid_255, z.grid_01))
    ]
    yield Beat([*[FadeIn(m) for m in marks], FadeIn(z.pixel_line)], 0.8)


register(
    StepType(
        name="input",
        spec=InputSpec,
        build=build,
        check=check,
        summary="The image, its 64×64 version, its red, green and blue channels "
        "and real pixel values.",
        phases=Phases(("image", "channels", "zoom", "divide", "pixel")),
    )
)
