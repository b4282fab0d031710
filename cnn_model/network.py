"""TinyVGG as a torch module (imported only when a model is built or run)."""

from __future__ import annotations

import torch
from torch import nn

from .tinyvgg import CHANNELS, KERNEL, LAYER_NAMES, POOL, FlattenOrder


class TinyVGG(nn.Module):
    """TinyVGG with named submodules matching the article's layer names.

    ``flatten_order`` says how the 13x13x10 block of ``max_pool_2`` is laid out
    in the 1690-long vector the dense ``output`` layer reads: ``"chw"``
    (PyTorch's own order, index = c*169 + y*13 + x) or ``"hwc"`` (Keras'
    channels-last order, index = (y*13 + x)*10 + c).
    """

    def __init__(self, num_classes: int = 10, flatten_order: FlattenOrder = "chw") -> None:
        super().__init__()
        if flatten_order not in ("chw", "hwc"):
            raise ValueError(f"flatten_order must be 'chw' or 'hwc', got {flatten_order!r}")
        self.num_classes = num_classes
        self.flatten_order: FlattenOrder = flatten_order
        # Filled in by the loader: the model's name, class names, card, hash.
        self.name = "untrained"
        self.classes: list[str] = [f"class {i}" for i in range(num_classes)]
        self.card: dict[str, object] = {}
        self.sha256 = ""
        self.conv_1_1 = nn.Conv2d(3, CHANNELS, KERNEL)
        self.relu_1_1 = nn.ReLU()
        self.conv_1_2 = nn.Conv2d(CHANNELS, CHANNELS, KERNEL)
        self.relu_1_2 = nn.ReLU()
        self.max_pool_1 = nn.MaxPool2d(POOL, POOL)
        self.conv_2_1 = nn.Conv2d(CHANNELS, CHANNELS, KERNEL)
        self.relu_2_1 = nn.ReLU()
        self.conv_2_2 = nn.Conv2d(CHANNELS, CHANNELS, KERNEL)
        self.relu_2_2 = nn.ReLU()
        self.max_pool_2 = nn.MaxPool2d(POOL, POOL)
        self.output = nn.Linear(CHANNELS * 13 * 13, num_classes)

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten a (N, 10, 13, 13) batch in this model's order."""
        if self.flatten_order == "hwc":
            x = x.permute(0, 2, 3, 1)
        return x.reshape(x.shape[0], -1)

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network and return every named layer's output."""
        outputs: dict[str, torch.Tensor] = {"input": x}
        for name in LAYER_NAMES[1:]:
            layer = self.flatten if name == "flatten" else getattr(self, name)
            x = layer(x)
            outputs[name] = x
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in LAYER_NAMES[1:]:
            layer = self.flatten if name == "flatten" else getattr(self, name)
            x = layer(x)
        return x


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
