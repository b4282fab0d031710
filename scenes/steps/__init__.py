"""Step types. Importing this package registers every built-in type."""

from __future__ import annotations

from . import (  # noqa: F401  (registration, in the order `cnnlesson steps` lists them)
    convolution,
    custom_convolution,
    hyperparameters,
    title,
)
from .registry import REGISTRY, StepType, get, names, register

__all__ = ["REGISTRY", "StepType", "get", "names", "register"]
