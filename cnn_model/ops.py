"""The network's operations on small literal arrays, in plain NumPy.

Lessons use these for what no model computes: a convolution of matrices an
author typed in, classic image filters, average and global pooling on a real
map. They are tested against ``torch.nn.functional``. Cross-correlation as in
every deep-learning framework: the kernel is not flipped.
"""

from __future__ import annotations

import numpy as np


def output_size(size: int, kernel: int, padding: int, stride: int) -> float:
    """(W - K + 2P) / S + 1; not a whole number when the kernel cannot slide evenly."""
    return (size - kernel + 2 * padding) / stride + 1


def pad(values: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the last two axes by ``padding`` on every side."""
    if padding == 0:
        return values
    widths = [(0, 0)] * (values.ndim - 2) + [(padding, padding), (padding, padding)]
    return np.pad(values, widths)


def conv2d(values: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Single-channel cross-correlation of (H, W) ``values`` with (kh, kw) ``kernel``.

    Positions where the kernel would overhang the padded input are dropped
    (floor division), as frameworks do.
    """
    padded = pad(np.asarray(values, dtype=np.float64), padding)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    out_h = (padded.shape[0] - kh) // stride + 1
    out_w = (padded.shape[1] - kw) // stride + 1
    out = np.empty((out_h, out_w))
    for y in range(out_h):
        for x in range(out_w):
            window = padded[y * stride : y * stride + kh, x * stride : x * stride + kw]
            out[y, x] = float((window * kernel).sum())
    return out


def pool2d(values: np.ndarray, size: int = 2, stride: int = 2, mode: str = "max") -> np.ndarray:
    """Max or average pooling of an (H, W) map; ``mode="global"`` averages everything."""
    values = np.asarray(values, dtype=np.float64)
    if mode == "global":
        return np.array([[values.mean()]])
    out_h = (values.shape[0] - size) // stride + 1
    out_w = (values.shape[1] - size) // stride + 1
    out = np.empty((out_h, out_w))
    reduce = np.max if mode == "max" else np.mean
    for y in range(out_h):
        for x in range(out_w):
            out[y, x] = reduce(
                values[y * stride : y * stride + size, x * stride : x * stride + size]
            )
    return out


def relu(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(values, dtype=np.float64), 0.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def linear_shares(logits: np.ndarray) -> np.ndarray:
    """Logits shifted to be non-negative, divided by their sum: a plain normalisation.

    Not what the network does; lessons set it beside softmax to show why
    softmax is a "softer argmax".
    """
    shifted = np.asarray(logits, dtype=np.float64) - float(np.min(logits))
    total = float(shifted.sum())
    if total <= 0:
        return np.full(len(shifted), 1.0 / len(shifted))
    return shifted / total


def share_sum(shares: np.ndarray, indices: list[int]) -> float:
    """The sum of some shares (the classes a lesson groups together)."""
    return float(np.asarray(shares, dtype=np.float64)[indices].sum()) if indices else 0.0
