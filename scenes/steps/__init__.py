"""Step types. Importing this package registers every built-in type."""

from __future__ import annotations

from . import convolution, title  # noqa: F401  (registration)
from .registry import REGISTRY, StepType, get, names, register

__all__ = ["REGISTRY", "StepType", "get", "names", "register"]
