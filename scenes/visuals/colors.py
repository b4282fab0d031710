"""Colour scales that turn values into colours, as in CNN Explainer.

The stops are ColorBrewer's (Cynthia Brewer, colorbrewer2.org): RdBu for
activations, BrBG for weights, Oranges for logits, plus a few others the
themes can choose. Values between stops are interpolated linearly in RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALES: dict[str, tuple[str, ...]] = {
    "RdBu": (
        "#67001f",
        "#b2182b",
        "#d6604d",
        "#f4a582",
        "#fddbc7",
        "#f7f7f7",
        "#d1e5f0",
        "#92c5de",
        "#4393c3",
        "#2166ac",
        "#053061",
    ),
    "BrBG": (
        "#543005",
        "#8c510a",
        "#bf812d",
        "#dfc27d",
        "#f6e8c3",
        "#f5f5f5",
        "#c7eae5",
        "#80cdc1",
        "#35978f",
        "#01665e",
        "#003c30",
    ),
    "PuOr": (
        "#7f3b08",
        "#b35806",
        "#e08214",
        "#fdb863",
        "#fee0b6",
        "#f7f7f7",
        "#d8daeb",
        "#b2abd2",
        "#8073ac",
        "#542788",
        "#2d004b",
    ),
    "PiYG": (
        "#8e0152",
        "#c51b7d",
        "#de77ae",
        "#f1b6da",
        "#fde0ef",
        "#f7f7f7",
        "#e6f5d0",
        "#b8e186",
        "#7fbc41",
        "#4d9221",
        "#276419",
    ),
    "Oranges": (
        "#fff5eb",
        "#fee6ce",
        "#fdd0a2",
        "#fdae6b",
        "#fd8d3c",
        "#f16913",
        "#d94801",
        "#a63603",
        "#7f2704",
    ),
    "Purples": (
        "#fcfbfd",
        "#efedf5",
        "#dadaeb",
        "#bcbddc",
        "#9e9ac8",
        "#807dba",
        "#6a51a3",
        "#54278f",
        "#3f007d",
    ),
    "Greys": ("#000000", "#ffffff"),
}


def rgb_to_hex(rgb: np.ndarray | tuple[int, int, int] | list[int]) -> str:
    """ "#rrggbb" for an RGB triple of 0-255 values."""
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


@dataclass(frozen=True)
class ColourScale:
    """Maps t in [0, 1] to an RGB colour along the named ColorBrewer stops."""

    name: str
    reverse: bool = False

    def stops(self) -> np.ndarray:
        try:
            names = SCALES[self.name]
        except KeyError:
            raise ValueError(
                f"unknown colour scale {self.name!r}; known: {sorted(SCALES)}"
            ) from None
        rgb = np.array([hex_to_rgb(c) for c in names], dtype=np.float64)
        return rgb[::-1] if self.reverse else rgb

    def rgb(self, t: np.ndarray | float) -> np.ndarray:
        """uint8 RGB for every t (clipped to [0, 1]); shape t.shape + (3,)."""
        stops = self.stops()
        t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
        pos = t * (len(stops) - 1)
        lo = np.minimum(np.floor(pos).astype(int), len(stops) - 2)
        frac = (pos - lo)[..., None]
        out = stops[lo] * (1 - frac) + stops[lo + 1] * frac
        return np.rint(out).astype(np.uint8)

    def hex(self, t: float) -> str:
        return rgb_to_hex(self.rgb(t))


def diverging_t(values: np.ndarray | float, full_range: float) -> np.ndarray:
    """CNN Explainer's mapping of a value onto a diverging scale: (v + R/2) / R."""
    if full_range <= 0:
        raise ValueError("the colour range must be positive")
    return (np.asarray(values, dtype=np.float64) + full_range / 2) / full_range


def sequential_t(
    values: np.ndarray | float, lo: float, hi: float, start: float = 0.0
) -> np.ndarray:
    """Map [lo, hi] onto [start, 1] (logits use start=0.2 as in the article)."""
    values = np.asarray(values, dtype=np.float64)
    if hi <= lo:
        return np.full(values.shape, 1.0)
    return start + (values - lo) / (hi - lo) * (1 - start)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance, to choose black or white text over a cell."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722
