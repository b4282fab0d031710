"""Step types. Importing this package registers every built-in type.

Each module in this package defines one step type and registers it, so adding
a step type is adding one module: it is found and imported here.
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import REGISTRY, StepType, get, names, register

_INFRASTRUCTURE = {"base", "registry", "record", "common", "checks"}

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in _INFRASTRUCTURE and not _module.startswith("_"):
        importlib.import_module(f"{__name__}.{_module}")

__all__ = ["REGISTRY", "StepType", "get", "names", "register"]
