"""Every layer of TinyVGG computed directly with torch.nn.functional.

Tests compare what the project records and shows against these values,
which do not go through the project's trace code.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import cnn_model


def reference_layers(model: cnn_model.TinyVGG, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Layer outputs for uint8 (64, 64, 3) pixels, computed op by op."""
    x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    out: dict[str, torch.Tensor] = {"input": x}
    with torch.no_grad():
        for conv, relu in (("conv_1_1", "relu_1_1"), ("conv_1_2", "relu_1_2")):
            x = F.conv2d(x, getattr(model, conv).weight, getattr(model, conv).bias)
            out[conv] = x
            x = F.relu(x)
            out[relu] = x
        x = F.max_pool2d(x, 2, 2)
        out["max_pool_1"] = x
        for conv, relu in (("conv_2_1", "relu_2_1"), ("conv_2_2", "relu_2_2")):
            x = F.conv2d(x, getattr(model, conv).weight, getattr(model, conv).bias)
            out[conv] = x
            x = F.relu(x)
            out[relu] = x
        x = F.max_pool2d(x, 2, 2)
        out["max_pool_2"] = x
        flat = (
            x.permute(0, 2, 3, 1).reshape(1, -1)
            if model.flatten_order == "hwc"
            else x.reshape(1, -1)
        )
        out["flatten"] = flat
        logits = F.linear(flat, model.output.weight, model.output.bias)
        out["output"] = logits
        out["softmax"] = torch.softmax(logits, dim=1)
    return {k: v[0].numpy() for k, v in out.items()}


def parse_shown(text: str) -> float:
    """A number as drawn on screen (true minus sign) back to a float."""
    return float(text.replace("\u2212", "-").replace("+", "").strip())
