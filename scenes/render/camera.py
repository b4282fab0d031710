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

import numpy as np
from manim import Camera
from manim.mobject.types.image_mobject import AbstractImageMobject
from PIL import Image

# Pixels high an image must be, across its longest side, to be drawn at all (as
# in Manim: a thinner one would give the perspective transform broken values).
_THINNEST = 0.5


class ImageBoxCamera(Camera):
    """Manim's Cairo camera, with images composited onto their own box only."""

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
