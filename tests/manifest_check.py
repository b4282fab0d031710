"""Checks that every number a step recorded equals what torch computes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import cnn_model
from cnn_model.tinyvgg import PREVIOUS
from torch_reference import parse_shown, reference_layers

# Float32 conv sums in a different order than torch's: agree to ~1e-6.
TOLERANCE = 1e-5


def expected_value(
    entry: dict[str, Any],
    model: cnn_model.TinyVGG,
    ref: dict[str, np.ndarray],
    facts: dict[str, Any],
) -> float:
    """The value an entry should have, computed from torch's layers and weights."""
    layer, index, kind = entry["layer"], tuple(entry["index"]), entry["kind"]
    if kind == "activation":
        return float(ref[layer][index])
    if kind == "pixel":  # an input value shown as 0-255
        return float(ref["input"][index]) * 255.0
    if kind == "probability":
        return float(ref["softmax"][index])
    if kind == "average_pool":  # a variant the lesson computes on the ReLU map a pool reads
        return float(F.avg_pool2d(torch.from_numpy(ref[layer])[None], 2, 2)[0][index])
    if kind == "global_average_pool":
        return float(ref[layer][index].mean())
    if kind == "colour_range":  # +R/2 with R = 2 * (0.1 + max |v| of the conv layer), 3 decimals
        return round(0.1 + float(np.abs(ref[layer]).max()), 3)
    module = getattr(model, layer)
    if kind == "weight":
        return float(module.weight.detach().numpy()[index])
    if kind == "bias":
        return float(module.bias.detach().numpy()[index])
    source = ref[PREVIOUS[layer]]
    weight = module.weight.detach().numpy().astype(np.float64)
    if kind == "product":
        o, c, y, x, i, j = index
        return float(source[c, y + i, x + j] * weight[o, c, i, j])
    if kind == "channel_sum":
        o, c, y, x = index
        k = weight.shape[-1]
        return float((source[c, y : y + k, x : x + k] * weight[o, c]).sum())
    if kind == "other_channels_sum":
        o, y, x = index
        k = weight.shape[-1]
        shown = facts["channel"]
        return float(
            sum(
                (source[c, y : y + k, x : x + k] * weight[o, c]).sum()
                for c in range(source.shape[0])
                if c != shown
            )
        )
    raise AssertionError(f"no reference for kind {kind!r}")


def check_values(
    values: list[dict[str, Any]],
    model: cnn_model.TinyVGG,
    pixels: np.ndarray,
    facts: dict[str, Any],
) -> int:
    """Assert every recorded value and its drawn text; returns how many were checked."""
    ref = reference_layers(model, pixels)
    for entry in values:
        expected = expected_value(entry, model, ref, facts)
        assert abs(entry["value"] - expected) <= TOLERANCE * max(1.0, abs(expected)), entry
        decimals = len(entry["text"].split(".")[1]) if "." in entry["text"] else 0
        assert abs(parse_shown(entry["text"]) - expected) <= 0.5 * 10**-decimals + 1e-6, entry
    return len(values)
