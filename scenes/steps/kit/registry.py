"""Step types by their YAML ``type:``. Adding one = one module + ``register``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Builder, Checker, StepSpec


@dataclass(frozen=True)
class StepType:
    name: str
    spec: type[StepSpec]
    build: Builder
    summary: str
    check: Checker | None = None
    needs_trace: bool = True
    # At least how many seconds of animation a step's fields ask for (window
    # positions, settings to compare), so that validation can bound a lesson's
    # length before anything renders. None: the step's length is fixed.
    planned_seconds: Callable[[Any], float] | None = None


REGISTRY: dict[str, StepType] = {}


def register(step_type: StepType) -> StepType:
    if step_type.name in REGISTRY:
        raise ValueError(f"step type {step_type.name!r} is registered twice")
    REGISTRY[step_type.name] = step_type
    return step_type


def get(name: str) -> StepType:
    return REGISTRY[name]


def names() -> list[str]:
    """Registered type names, alphabetically (the order they are listed in)."""
    return sorted(REGISTRY)
