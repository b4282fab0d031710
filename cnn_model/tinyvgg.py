"""TinyVGG, the network of the CNN Explainer article: its layers and shapes.

Input 64x64x3 -> conv_1_1 -> relu_1_1 -> conv_1_2 -> relu_1_2 -> max_pool_1
-> conv_2_1 -> relu_2_1 -> conv_2_2 -> relu_2_2 -> max_pool_2 -> flatten
-> output. Every convolution has 10 filters of 3x3, stride 1, no padding;
both pools are 2x2 with stride 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

INPUT_SIZE = 64
CHANNELS = 10
KERNEL = 3
POOL = 2  # max-pool window and stride

FlattenOrder = Literal["chw", "hwc"]


@dataclass(frozen=True)
class LayerSpec:
    """One named layer of TinyVGG and the shape of its output."""

    name: str
    kind: Literal["input", "conv", "relu", "max_pool", "flatten", "output"]
    output_shape: tuple[int, ...]


def layer_specs(num_classes: int = 10) -> list[LayerSpec]:
    """The layers in order with their output shapes (channels first)."""
    return [
        LayerSpec("input", "input", (3, 64, 64)),
        LayerSpec("conv_1_1", "conv", (10, 62, 62)),
        LayerSpec("relu_1_1", "relu", (10, 62, 62)),
        LayerSpec("conv_1_2", "conv", (10, 60, 60)),
        LayerSpec("relu_1_2", "relu", (10, 60, 60)),
        LayerSpec("max_pool_1", "max_pool", (10, 30, 30)),
        LayerSpec("conv_2_1", "conv", (10, 28, 28)),
        LayerSpec("relu_2_1", "relu", (10, 28, 28)),
        LayerSpec("conv_2_2", "conv", (10, 26, 26)),
        LayerSpec("relu_2_2", "relu", (10, 26, 26)),
        LayerSpec("max_pool_2", "max_pool", (10, 13, 13)),
        LayerSpec("flatten", "flatten", (1690,)),
        LayerSpec("output", "output", (num_classes,)),
    ]


LAYER_NAMES: tuple[str, ...] = tuple(spec.name for spec in layer_specs())
CONV_LAYERS: tuple[str, ...] = ("conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2")
# The convolution each ReLU and pool belongs to (they share its colour range).
SOURCE_CONV: dict[str, str] = {
    "conv_1_1": "conv_1_1",
    "relu_1_1": "conv_1_1",
    "conv_1_2": "conv_1_2",
    "relu_1_2": "conv_1_2",
    "max_pool_1": "conv_1_2",
    "conv_2_1": "conv_2_1",
    "relu_2_1": "conv_2_1",
    "conv_2_2": "conv_2_2",
    "relu_2_2": "conv_2_2",
    "max_pool_2": "conv_2_2",
}
# The layer whose output each layer reads.
PREVIOUS: dict[str, str] = {name: LAYER_NAMES[i - 1] for i, name in enumerate(LAYER_NAMES) if i > 0}
