"""TinyVGG models, their data and their traces. Knows nothing about video.

Importing this package is cheap: torch is imported only when a model is
loaded, trained or run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ImageError, ModelError
from .store import available_models, load_model, resolve
from .tinyvgg import CONV_LAYERS, LAYER_NAMES, layer_specs
from .trace import ChannelTerm, ConvExplanation, Trace, load_trace, save_trace, trace

if TYPE_CHECKING:
    from .network import TinyVGG

__all__ = [
    "CONV_LAYERS",
    "LAYER_NAMES",
    "ChannelTerm",
    "ConvExplanation",
    "ImageError",
    "ModelError",
    "TinyVGG",
    "Trace",
    "available_models",
    "layer_specs",
    "load_model",
    "load_trace",
    "resolve",
    "save_trace",
    "trace",
]


def __getattr__(name: str) -> Any:
    if name == "TinyVGG":
        from .network import TinyVGG

        return TinyVGG
    raise AttributeError(name)
