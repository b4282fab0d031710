"""A Manim camera that draws each image only where it lands in the frame.

Manim's Cairo camera composites every ImageMobject through an RGBA image as
large as the frame, so a small heat-map costs as much as the whole picture
(about 17 ms per map and frame at 1080p). :class:`ImageBoxCamera` places the
image exactly as Manim does and composites it onto the part of the frame it
covers, so its cost follows the image's own box. The frames are the same to
the bit: Pillow's ``alpha_composite`` leaves a pixel untouched where the source
is fully transparent, which is all Manim composites outside that box.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cairo
import numpy as np
from manim import Camera, Mobject, VMobject
from manim.mobject.types.image_mobject import AbstractImageMobject
from PIL import Image

# Pixels high an image must be, across its longest side, to be drawn at all (as
# in Manim: a thinner one would give the perspective transform broken values).
_THINNEST = 0.5


class ImageBoxCamera(Camera):
    """Manim's Cairo camera, with images composited onto their own box only, and
    shapes that are only filled, in one colour, filled together (see
    :meth:`display_multiple_non_background_colored_vmobjects`)."""

    def display_multiple_non_background_colored_vmobjects(
        self, vmobjects: Iterable[VMobject], pixel_array: np.ndarray
    ) -> None:
        """Draw ``vmobjects`` in order, each run of shapes that have no stroke and one
        fill colour, the same for the whole run, as one path filled once.

        Text is the case: a Text or a number is one shape per glyph, and most of
        a frame's shapes are glyphs. Manim builds each shape's path and fills it
        on its own. Filling the run together puts the same outlines on the same
        pixels. Anti-aliased edges may round differently: where two glyphs share
        a pixel their coverage adds up rather than composites, and Cairo's scan
        converter rounds a row of pixels by what else crosses it. That is a few
        levels of 255, on a few pixels in ten thousand (``tests/test_camera.py``).
        Any other shape (stroked, a gradient, points that are not whole cubic
        curves or not finite) ends the run and is drawn as Manim draws it.
        """
        ctx = self.get_cairo_context(pixel_array)
        run: list[VMobject] = []
        colour: tuple[float, ...] | None = None
        for vmobject in vmobjects:
            fill = _plain_fill(vmobject)
            if fill is not None and fill[3] == 0:
                continue  # filled with nothing, and no stroke: Manim's fill changes no pixel
            if fill is not None and fill == colour:
                run.append(vmobject)
                continue
            self._fill_together(ctx, run, colour)
            if fill is None:
                run, colour = [], None
                self.display_vectorized(vmobject, ctx)
            else:
                run, colour = [vmobject], fill
        self._fill_together(ctx, run, colour)

    def _fill_together(
        self, ctx: cairo.Context, run: list[VMobject], colour: tuple[float, ...] | None
    ) -> None:
        if not run or colour is None:
            return
        if len(run) == 1:
            self.display_vectorized(run[0], ctx)
            return
        points = np.concatenate([vmobject.points for vmobject in run])
        ctx.new_path()
        _add_curves(ctx, points, [len(vmobject.points) for vmobject in run])
        ctx.set_source_rgba(colour[2], colour[1], colour[0], colour[3])  # Cairo's order: BGR
        ctx.fill_preserve()

    def display_image_mobject(
        self, image_mobject: AbstractImageMobject, pixel_array: np.ndarray
    ) -> None:
        """Draw ``image_mobject`` onto ``pixel_array`` as Manim's camera would, touching
        only the pixels of its box that lie in the frame."""
        source = Image.fromarray(image_mobject.get_pixel_array(), mode="RGBA")
        corners = self.points_to_subpixel_coords(image_mobject, image_mobject.points)
        # Whole pixels as Manim counts them (truncated toward zero, not floored, for a
        # corner left of or above the frame): the same box, so the same arithmetic.
        whole = corners.astype(np.int64)
        origin = whole.min(axis=0)
        corners = corners - origin
        width, height = (int(v) for v in whole.max(axis=0) - origin)
        left, top = int(origin[0]), int(origin[1])

        frame_height, frame_width = pixel_array.shape[:2]
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + width, frame_width), min(top + height, frame_height)
        if x0 >= x1 or y0 >= y1 or _too_thin(corners):
            return  # nothing of it in the frame, or nothing a pixel could show
        coefficients = _perspective(corners, source.width, source.height)
        if coefficients is None:
            return
        placed = source.transform(
            size=(width, height),
            method=Image.Transform.PERSPECTIVE,
            data=coefficients,
            resample=image_mobject.resampling_algorithm,
        )
        region = pixel_array[y0:y1, x0:x1]
        below = Image.fromarray(np.ascontiguousarray(region), mode=self.image_mode)
        above = placed.crop((x0 - left, y0 - top, x1 - left, y1 - top))
        region[...] = np.asarray(Image.alpha_composite(below, above))


def _plain_fill(vmobject: VMobject) -> tuple[float, ...] | None:
    """The one colour (RGBA) ``vmobject`` is filled with, if it is only filled and its
    points are whole cubic curves, all finite, with Manim's usual tolerance for
    joining them; else None."""
    if vmobject.get_stroke_width() != 0 or vmobject.get_stroke_width(background=True) != 0:
        return None
    rgbas = vmobject.get_fill_rgbas()
    points = vmobject.points
    if (
        len(rgbas) != 1
        or len(points) < 4
        or len(points) % 4
        or vmobject.tolerance_for_point_equality != _JOIN_TOLERANCE
        or not np.isfinite(points).all()
    ):
        return None
    return tuple(rgbas[0].tolist())


_JOIN_TOLERANCE = VMobject().tolerance_for_point_equality
_JOIN_RTOL = 1.0e-5  # np.isclose's, as Manim uses it to join curves


def _add_curves(ctx: cairo.Context, points: np.ndarray, counts: list[int]) -> None:
    """Add the cubic curves of shapes (their ``points`` one after the other, ``counts``
    points each) to the path: a new subpath wherever a curve does not start where
    the one before ended (by Manim's test, on x and y), or a new shape begins.
    Subpaths are not closed: a fill closes them all alike."""
    xy = points[:, :2]
    curves = len(points) // 4
    ends, starts = xy[3:-1:4], xy[4::4]
    apart = (np.abs(ends - starts) > _JOIN_TOLERANCE + _JOIN_RTOL * np.abs(starts)).any(axis=1)
    first = np.ones(curves, dtype=bool)
    first[1:] = apart
    first[np.cumsum(counts)[:-1] // 4] = True
    bounds = [*np.flatnonzero(first).tolist(), curves]
    moves = xy[0::4][first].tolist()
    rest = xy.reshape(curves, 8)[:, 2:].tolist()  # each curve's two handles and its end
    move_to, curve_to = ctx.move_to, ctx.curve_to
    for (x, y), start, end in zip(moves, bounds[:-1], bounds[1:], strict=True):
        move_to(x, y)
        for curve in rest[start:end]:
            curve_to(*curve)


def _too_thin(corners: np.ndarray) -> bool:
    """Whether the quadrilateral (corners in Manim's order UL, UR, DL, DR) is less
    than half a pixel high over its longest side, or has no length at all.

    Manim measures the height against the side before the longest one only (it
    names that side twice); so does this, so that exactly the same images are
    skipped. For the parallelograms a flat camera makes the two are equal."""
    around = corners[[0, 1, 3, 2]]
    sides = np.roll(around, -1, axis=0) - around
    lengths = np.linalg.norm(sides, axis=1)
    longest = int(np.argmax(lengths))
    if lengths[longest] == 0:
        return True
    base, before = sides[longest], sides[(longest - 1) % 4]
    area = abs(base[0] * before[1] - base[1] * before[0])
    return bool(area / lengths[longest] < _THINNEST)


def _perspective(corners: np.ndarray, width: int, height: int) -> tuple[float, ...] | None:
    """The eight coefficients of Pillow's perspective transform that map the box's
    pixels back onto a ``width`` x ``height`` source image whose corners land on
    ``corners``; None when three corners lie on one line."""
    xs, ys = corners[:, 0], corners[:, 1]
    # The source's corners as integers, as Manim has them (the products below are
    # then the very numbers Manim solves with).
    source_x = np.array([0, width, 0, width])
    source_y = np.array([0, 0, height, height])
    equations = np.zeros((8, 8))
    equations[0::2, 0], equations[0::2, 1], equations[0::2, 2] = xs, ys, 1
    equations[0::2, 6], equations[0::2, 7] = -source_x * xs, -source_x * ys
    equations[1::2, 3], equations[1::2, 4], equations[1::2, 5] = xs, ys, 1
    equations[1::2, 6], equations[1::2, 7] = -source_y * xs, -source_y * ys
    targets = np.column_stack([source_x, source_y]).reshape(8).astype(np.float64)
    try:
        solved = np.linalg.solve(equations, targets)
    except np.linalg.LinAlgError:
        return None
    return tuple(float(c) for c in solved)


# A run of still shapes is drawn once into a layer only when it is long enough to
# pay for the layer's composite on every frame; at most this many layers a play.
MIN_RUN = 8
MAX_LAYERS = 6


def _looks(vmobject: VMobject) -> tuple[object, ...]:
    """Everything the camera reads to draw a shape: if none of it changes, the shape
    draws the same pixels again."""
    return (
        vmobject.points.tobytes(),
        vmobject.fill_rgbas.tobytes(),
        vmobject.stroke_rgbas.tobytes(),
        vmobject.background_stroke_rgbas.tobytes(),
        vmobject.stroke_width,
        vmobject.background_stroke_width,
        vmobject.sheen_factor,
        np.asarray(vmobject.sheen_direction).tobytes(),
        vmobject.joint_type,
        vmobject.cap_style,
        vmobject.shade_in_3d,
    )


@dataclass
class _Layer:
    members: list[VMobject]
    looks: list[tuple[object, ...]]
    pixels: np.ndarray
    box: tuple[int, int, int, int]  # x, y, width, height of what it covers (0 wide: nothing)


class StillLayers:
    """Drawing an animation's frames with its still shapes drawn once.

    Manim redraws, on every frame of an animation, everything drawn after the
    first moving mobject (to keep the drawing order), though most of it (a grid
    of numbers above a moving window, labels, a legend) does not change. Each
    long enough run of such still shapes, in drawing order, is drawn once into a
    transparent layer, and the layer is composited in its place on every frame.

    Still means: in no playing animation's family, without updaters, and (checked
    on every frame, as an animation's function may change anything) looking the
    same as when its layer was drawn; a run whose shape changed is drawn directly
    again. Compositing a layer instead of drawing its shapes one by one rounds
    differently at anti-aliased edges, by a level or two of 255.
    """

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.buffers: list[np.ndarray] = []  # kept alive: Manim caches contexts by array id
        self.layers: list[_Layer] = []
        self.run_of: dict[int, int] = {}  # a layered shape's id → its layer

    def clear(self) -> None:
        self.layers, self.run_of = [], {}

    def plan(self, order: list[Mobject], busy: set[int]) -> None:
        """Draw the layers for an animation whose frames draw ``order`` (the camera's
        drawing order), ``busy`` being the ids of the mobjects that may move."""
        self.clear()
        runs: list[list[VMobject]] = []
        current: list[VMobject] = []
        for mob in [*order, None]:
            still = (
                isinstance(mob, VMobject) and id(mob) not in busy and not mob.get_background_image()
            )
            if still:
                current.append(mob)  # type: ignore[arg-type]
                continue
            if len(current) >= MIN_RUN:
                runs.append(current)
            current = []
        for members in sorted(runs, key=len, reverse=True)[:MAX_LAYERS]:
            index = len(self.layers)
            if index == len(self.buffers):
                self.buffers.append(np.zeros_like(self.camera.pixel_array))
            pixels = self.buffers[index]
            pixels[...] = 0
            self.camera.display_multiple_vectorized_mobjects(members, pixels)
            self.layers.append(
                _Layer(members, [_looks(m) for m in members], pixels, _covered(pixels))
            )
            for member in members:
                self.run_of[id(member)] = index

    def draw(self, order: list[Mobject]) -> bool:
        """Draw ``order`` onto the camera's frame, the planned layers composited in
        place of their shapes; False (nothing drawn) if the plan no longer fits."""
        position = {id(mob): i for i, mob in enumerate(order)}
        for layer in self.layers:
            first = position.get(id(layer.members[0]))
            if first is None or any(
                position.get(id(m)) != first + i for i, m in enumerate(layer.members)
            ):
                return False  # the drawing order has changed: draw as Manim does
        stale = {
            i
            for i, layer in enumerate(self.layers)
            if any(_looks(m) != looks for m, looks in zip(layer.members, layer.looks, strict=True))
        }
        batch: list[Mobject] = []
        skip_to = -1
        for i, mob in enumerate(order):
            if i < skip_to:
                continue
            index = self.run_of.get(id(mob))
            if index is None or index in stale:
                batch.append(mob)
                continue
            self.camera.capture_mobjects(batch, include_submobjects=False)
            batch = []
            self._composite(self.layers[index])
            skip_to = i + len(self.layers[index].members)
        self.camera.capture_mobjects(batch, include_submobjects=False)
        return True

    def _composite(self, layer: _Layer) -> None:
        x, y, width, height = layer.box
        if not width:
            return
        ctx = self.camera.get_cairo_context(self.camera.pixel_array)
        source = self.camera.get_cairo_context(layer.pixels).get_target()
        ctx.save()
        ctx.identity_matrix()
        ctx.new_path()  # the last shape's path is still there: it must not join the clip
        ctx.rectangle(x, y, width, height)
        ctx.clip()
        ctx.set_source_surface(source, 0, 0)
        ctx.paint()
        ctx.restore()


def _covered(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """The box of a layer's pixels that are not fully transparent."""
    alpha = pixels[..., 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    if not len(rows):
        return 0, 0, 0, 0
    columns = np.flatnonzero(alpha.any(axis=0))
    return (
        int(columns[0]),
        int(rows[0]),
        int(columns[-1] - columns[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )
