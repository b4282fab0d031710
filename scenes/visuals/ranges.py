"""Colour ranges of activation maps, as CNN Explainer computes them.

R = 2 * (0.1 + max |v|), rounded to 3 decimals, taken over one conv layer
("layer"), over the conv layers of its block ("block") or over every conv
layer ("global"). A ReLU or pool reuses the range of its convolution, so a
value keeps its colour as it flows through.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cnn_model.tinyvgg import CONV_LAYERS, SOURCE_CONV

SCOPES = ("layer", "block", "global")
BLOCK = {"conv_1_1": 1, "conv_1_2": 1, "conv_2_1": 2, "conv_2_2": 2}


def activation_range(
    activations: Mapping[str, np.ndarray], layer: str, scope: str = "layer"
) -> float:
    """The full width R of the diverging scale for ``layer`` (values span ±R/2)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    conv = SOURCE_CONV[layer]
    if scope == "layer":
        convs = [conv]
    elif scope == "block":
        convs = [c for c in CONV_LAYERS if BLOCK[c] == BLOCK[conv]]
    else:
        convs = list(CONV_LAYERS)
    peak = max(float(np.abs(activations[c]).max()) for c in convs)
    return 2 * round(0.1 + peak, 3)


def kernel_range(kernel: np.ndarray) -> float:
    """Weights span ±max|w| of the kernel shown; returns that full width."""
    peak = float(np.abs(kernel).max())
    return 2 * peak if peak > 0 else 1.0
