"""Classic image filters (named 3x3 kernels) and applying them to an image.

The named kernels are the table of Wikipedia's "Kernel (image processing)"
article (the one the classic CNN tutorials reproduce): identity, three edge
detectors, sharpen, the normalised box blur and the 3x3 approximation of a
Gaussian blur; Sobel's two gradient kernels are added because they show
vertical and horizontal edges apart. Every kernel is applied as the network
applies its own: cross-correlation (not flipped) with :func:`ops.conv2d`.

No Manim here: the lesson engine reads what these functions return.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import ops

# ITU-R BT.601 luma weights, the ones Pillow's convert("L") uses.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
SOURCES = ("luminance", "red", "green", "blue")
MAX_KERNEL = 7


@dataclass(frozen=True)
class NamedKernel:
    name: str
    label: str  # how the filter is called on screen
    numerators: tuple[tuple[int, ...], ...]
    divisor: int = 1  # the kernel is numerators / divisor

    @property
    def kernel(self) -> np.ndarray:
        return np.array(self.numerators, dtype=np.float64) / self.divisor


KERNELS: dict[str, NamedKernel] = {
    k.name: k
    for k in (
        # Wikipedia, "Kernel (image processing)", table of example kernels.
        NamedKernel("identity", "identity", ((0, 0, 0), (0, 1, 0), (0, 0, 0))),
        NamedKernel("edge_detection_1", "edge detection 1", ((1, 0, -1), (0, 0, 0), (-1, 0, 1))),
        NamedKernel("edge_detection_2", "edge detection 2", ((0, 1, 0), (1, -4, 1), (0, 1, 0))),
        NamedKernel(
            "edge_detection_3", "edge detection 3", ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1))
        ),
        NamedKernel("sharpen", "sharpen", ((0, -1, 0), (-1, 5, -1), (0, -1, 0))),
        NamedKernel("box_blur", "box blur", ((1, 1, 1), (1, 1, 1), (1, 1, 1)), 9),
        NamedKernel("gaussian_blur", "Gaussian blur", ((1, 2, 1), (2, 4, 2), (1, 2, 1)), 16),
        # Sobel-Feldman operator (Sobel & Feldman, 1968), as cross-correlation:
        # positive where the image gets brighter to the right / downwards.
        NamedKernel("sobel_x", "Sobel x (vertical edges)", ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))),
        NamedKernel("sobel_y", "Sobel y (horizontal edges)", ((-1, -2, -1), (0, 0, 0), (1, 2, 1))),
    )
}
CLASSIC = (
    "identity",
    "edge_detection_1",
    "edge_detection_2",
    "edge_detection_3",
    "sharpen",
    "box_blur",
    "gaussian_blur",
)


def kernel_names() -> list[str]:
    return list(KERNELS)


def source_values(channels: np.ndarray, source: str) -> np.ndarray:
    """The (H, W) map a filter is applied to, from (3, H, W) input values in [0, 1].

    ``luminance`` is 0.299 R + 0.587 G + 0.114 B; the others pick one channel.
    """
    values = np.asarray(channels, dtype=np.float64)
    if source == "luminance":
        r, g, b = LUMA_WEIGHTS
        return r * values[0] + g * values[1] + b * values[2]
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    return values[SOURCES.index(source) - 1].copy()


def apply(values: np.ndarray, kernel: np.ndarray, padding: int = 0) -> np.ndarray:
    """``kernel`` slid over ``values`` with stride 1 (as a conv layer does it)."""
    return ops.conv2d(values, kernel, stride=1, padding=padding)


def as_fraction(kernel: np.ndarray, max_divisor: int = 1000) -> tuple[np.ndarray, int] | None:
    """(integer numerators, divisor) when ``kernel`` is integers over a common divisor.

    Used to write a blur as "1/16 x [[1, 2, 1], ...]" rather than as decimals.
    Returns None when no divisor up to ``max_divisor`` gives small integers.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.size == 0 or not np.isfinite(kernel).all():
        return None
    divisor = 1
    for value in kernel.ravel():
        fraction = Fraction(float(value)).limit_denominator(max_divisor)
        if abs(float(fraction) - value) > 1e-9:
            return None
        divisor = divisor * fraction.denominator // np.gcd(divisor, fraction.denominator)
        if divisor > max_divisor:
            return None
    numerators = np.rint(kernel * divisor)
    if np.abs(numerators).max() > 999 or not np.allclose(numerators / divisor, kernel, atol=1e-9):
        return None
    return numerators.astype(np.int64), int(divisor)


def kernel_errors(kernel: list[list[float]]) -> list[tuple[tuple[int, ...], str]]:
    """What is wrong with a literal kernel, as (index within it, message); empty if fine.

    A kernel must be non-empty, square, of odd size (so it has a centre) and
    at most 7x7, with finite numbers within ±1e6.
    """
    if not kernel or not kernel[0]:
        return [((), "expected a square kernel of odd size (3x3, 5x5 or 7x7), got an empty one")]
    rows, width = len(kernel), len(kernel[0])
    errors: list[tuple[tuple[int, ...], str]] = []
    for i, row in enumerate(kernel):
        if len(row) != width:
            errors.append(
                (
                    (i,),
                    f"expected {width} numbers like row 0 (rows must be equally long), "
                    f"got {len(row)}",
                )
            )
    if errors:
        return errors
    if rows != width:
        return [((), f"expected a square kernel (as many rows as columns), got {rows}x{width}")]
    if rows % 2 == 0:
        return [((), f"expected a kernel of odd size (3x3, 5x5 or 7x7), got {rows}x{width}")]
    if rows > MAX_KERNEL:
        return [((), f"expected a kernel of at most {MAX_KERNEL}x{MAX_KERNEL}, got {rows}x{width}")]
    for i, row in enumerate(kernel):
        for j, value in enumerate(row):
            if not np.isfinite(value) or abs(value) > 1e6:
                errors.append(((i, j), f"expected a finite number within ±1e6, got {value}"))
    return errors
