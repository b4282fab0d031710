"""A ten-class image dataset the project draws itself, deterministically.

Every image is 64x64 RGB: a shape (circle, square, triangle, star, cross,
ring, heart) or a texture (stripes, checkerboard, dots) with a random colour,
size, position and rotation over a random gradient background, plus pixel
noise. Image ``i`` of a split depends only on ``(seed, split, i)``, so any
subset can be regenerated on its own and train and held-out images never
coincide.
"""

from __future__ import annotations

import colorsys
import math
import multiprocessing
import os

import numpy as np
from PIL import Image, ImageDraw

from .tinyvgg import INPUT_SIZE

GENERATOR_VERSION = "shapes-textures-1"
CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "heart",
    "stripes",
    "checkerboard",
    "dots",
)
# The class names in the other languages lessons are given in (their model card's
# ``labels``), in the order of CLASSES.
LABELS: dict[str, tuple[str, ...]] = {
    "de": (
        "Kreis",
        "Quadrat",
        "Dreieck",
        "Stern",
        "Kreuz",
        "Ring",
        "Herz",
        "Streifen",
        "Schachbrett",
        "Punkte",
    ),
    "fr": (
        "cercle",
        "carré",
        "triangle",
        "étoile",
        "croix",
        "anneau",
        "cœur",
        "rayures",
        "damier",
        "points",
    ),
}
SPLITS = {"train": 0, "heldout": 1, "sample": 2}
MIN_CONTRAST = 0.3  # minimum brightness difference, foreground to background
_SCALE = 2  # drawn at 2x and downsampled, for smooth edges
_CANVAS = INPUT_SIZE * _SCALE

_Rng = np.random.Generator


def _colour(rng: _Rng) -> np.ndarray:
    h = rng.random()
    s = rng.uniform(0.35, 1.0)
    v = rng.uniform(0.1, 1.0)
    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def _luma(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114])) / 255.0


def _distinct_colours(rng: _Rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two background colours and a foreground that stands out from both.

    The foreground differs from the background in brightness (lighter or
    darker), not only in hue, so the shape is clear in every channel too.
    """
    bg_a = _colour(rng)
    bg_b = np.clip(bg_a + rng.normal(0, 30, 3), 0, 255)
    lo, hi = sorted((_luma(bg_a), _luma(bg_b)))
    fg = _colour(rng)
    for _ in range(200):
        if _luma(fg) > hi + MIN_CONTRAST or _luma(fg) < lo - MIN_CONTRAST:
            break
        fg = _colour(rng)
    return bg_a, bg_b, fg


_COORDS = (np.arange(INPUT_SIZE) + 0.5) / INPUT_SIZE - 0.5


def _background(rng: _Rng, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A linear gradient from ``a`` to ``b`` at a random angle, at 64x64."""
    angle = rng.uniform(0, 2 * math.pi)
    coords = _COORDS
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    t = np.clip(0.5 + xx * math.cos(angle) + yy * math.sin(angle), 0, 1)[..., None]
    return a * (1 - t) + b * t


def _rotated(points: np.ndarray, angle: float, cx: float, cy: float) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    moved = points @ rot.T + np.array([cx, cy])
    return [(float(x), float(y)) for x, y in moved]


def _shape_mask(kind: str, rng: _Rng) -> np.ndarray:
    """A float mask in [0, 1] of one shape, size, place and rotation random."""
    r = rng.uniform(0.2, 0.36) * _CANVAS  # outer radius
    margin = r * 1.05
    cx = rng.uniform(margin, _CANVAS - margin)
    cy = rng.uniform(margin, _CANVAS - margin)
    angle = rng.uniform(0, 2 * math.pi)
    mask = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(mask)
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    elif kind == "ring":
        inner = r * rng.uniform(0.45, 0.65)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=0)
    elif kind == "square":
        h = r / math.sqrt(2) * 1.15
        pts = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    elif kind == "triangle":
        ts = np.array([-math.pi / 2, math.pi / 6, 5 * math.pi / 6])
        pts = np.stack([np.cos(ts), np.sin(ts)], axis=1) * r
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    elif kind == "star":
        ts = np.arange(10) * math.pi / 5 - math.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
        pts = np.stack([np.cos(ts) * radii, np.sin(ts) * radii], axis=1)
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    elif kind == "cross":
        w = r * rng.uniform(0.28, 0.4)
        pts = np.array(
            [
                [-w, -r],
                [w, -r],
                [w, -w],
                [r, -w],
                [r, w],
                [w, w],
                [w, r],
                [-w, r],
                [-w, w],
                [-r, w],
                [-r, -w],
                [-w, -w],
            ]
        )
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    elif kind == "heart":
        t = np.linspace(0, 2 * math.pi, 60, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        pts = np.stack([x, y + 2.5], axis=1) * (r / 17)
        angle = rng.uniform(-0.6, 0.6)  # hearts stay roughly upright
        draw.polygon(_rotated(pts, angle, cx, cy), fill=255)
    else:  # pragma: no cover - guarded by CLASSES
        raise ValueError(kind)
    return np.asarray(mask, dtype=np.float64) / 255.0


def _texture_mask(kind: str, rng: _Rng) -> np.ndarray:
    angle = rng.uniform(0, math.pi)
    yy, xx = _CANVAS_YY, _CANVAS_XX
    u = xx * math.cos(angle) + yy * math.sin(angle) + rng.uniform(0, 100)
    v = -xx * math.sin(angle) + yy * math.cos(angle) + rng.uniform(0, 100)
    if kind == "stripes":
        period = rng.uniform(7, 16) * _SCALE
        duty = rng.uniform(0.35, 0.6)
        return ((u / period) % 1.0 < duty).astype(np.float64)
    if kind == "checkerboard":
        cell = rng.uniform(5, 11) * _SCALE
        return ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float64)
    if kind == "dots":
        spacing = rng.uniform(9, 15) * _SCALE
        radius = spacing * rng.uniform(0.2, 0.32)
        du = (u % spacing) - spacing / 2
        dv = (v % spacing) - spacing / 2
        return (du**2 + dv**2 < radius**2).astype(np.float64)
    raise ValueError(kind)  # pragma: no cover - guarded by CLASSES


_CANVAS_YY, _CANVAS_XX = np.meshgrid(
    np.arange(_CANVAS) + 0.5, np.arange(_CANVAS) + 0.5, indexing="ij"
)
_TEXTURES = {"stripes", "checkerboard", "dots"}


def render_image(label: int, rng: _Rng) -> np.ndarray:
    """Draw one image of class ``label``; returns uint8 (64, 64, 3)."""
    kind = CLASSES[label]
    bg_a, bg_b, fg = _distinct_colours(rng)
    background = _background(rng, bg_a, bg_b)
    mask = _texture_mask(kind, rng) if kind in _TEXTURES else _shape_mask(kind, rng)
    # Averaging the 2x mask down is the same as averaging the 2x composite.
    mask = mask.reshape(INPUT_SIZE, _SCALE, INPUT_SIZE, _SCALE).mean(axis=(1, 3))[..., None]
    small = background * (1 - mask) + fg * mask
    small += rng.normal(0, rng.uniform(0, 10), small.shape)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def image_rng(seed: int, split: str, index: int) -> _Rng:
    return np.random.default_rng([seed, SPLITS[split], index])


def label_of(index: int) -> int:
    """Classes are interleaved so every prefix of a split is balanced."""
    return index % len(CLASSES)


def _generate_range(args: tuple[int, int, str, int]) -> np.ndarray:
    start, stop, split, seed = args
    return np.stack(
        [render_image(label_of(i), image_rng(seed, split, i)) for i in range(start, stop)]
    )


def generate(
    count: int, split: str, seed: int = 0, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images of ``split`` as uint8 (N, 64, 64, 3) and int64 labels.

    Large requests are drawn by several processes; every image depends only
    on its own index, so the result is the same however it is split up.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    labels = np.array([label_of(i) for i in range(count)], dtype=np.int64)
    if count == 0:
        return np.empty((0, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8), labels
    workers = workers or min(os.cpu_count() or 1, 8)
    chunk = 500
    ranges = [(s, min(s + chunk, count), split, seed) for s in range(0, count, chunk)]
    if workers <= 1 or len(ranges) == 1:
        parts = [_generate_range(r) for r in ranges]
    else:
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers) as pool:
            parts = pool.map(_generate_range, ranges)
    return np.concatenate(parts), labels


def sample_image(class_name: str, number: int, seed: int = 0) -> Image.Image:
    """Sample ``number`` (1-based) of a class, from the split kept for samples."""
    label = CLASSES.index(class_name)
    rng = image_rng(seed, "sample", label * 1000 + number)
    return Image.fromarray(render_image(label, rng), "RGB")
