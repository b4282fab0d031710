"""TinyVGG models, their data and their traces. Knows nothing about video."""

from __future__ import annotations

from .errors import ImageError, ModelError
from .store import available_models, load_model, resolve
from .tinyvgg import CONV_LAYERS, LAYER_NAMES, TinyVGG, layer_specs
from .trace import ChannelTerm, ConvExplanation, Trace, load_trace, save_trace, trace

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
