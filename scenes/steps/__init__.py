"""Step types, and the kit they are built with.

``types/`` holds the step types and nothing else: each module there defines
one type and registers it, so adding a step type is adding one module to
that folder (it is found and imported here). ``kit/`` holds what the types
share: their base fields and context, the registry, checks, recording and
the helpers for patches, panels and numbers.
"""

from __future__ import annotations

import importlib
import pkgutil

from . import types as _types
from .kit import registry
from .kit.registry import REGISTRY, StepType, get, names, register

for _module in sorted(m.name for m in pkgutil.iter_modules(_types.__path__)):
    importlib.import_module(f"{_types.__name__}.{_module}")

__all__ = ["REGISTRY", "StepType", "get", "names", "register", "registry"]
