"""Step types by their YAML ``type:``. Adding one = one module + ``register``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Builder, Checker, StepSpec


@dataclass(frozen=True)
class Numbered:
    """A run of phases named ``stem 1``, ``stem 2``, ... whose length a step's fields set."""

    stem: str
    count: Callable[[Any], int]
    counted_by: str  # what sets the count, for the listing: "positions"


@dataclass(frozen=True)
class Optional:
    """A phase only some steps have: ``when`` says whether this one does."""

    name: str
    when: Callable[[Any], bool]
    set_by: str  # what brings it, for the listing: "focus"


def _counts(text: str) -> bool:
    """Whether ``text`` is a number a numbered phase can have: 1, 2, ... in ASCII digits."""
    return text.isascii() and text.isdigit() and text.strip("0") != ""


@dataclass(frozen=True)
class Phases:
    """A step type's phases in order: the stretches of its animation a cue can belong to."""

    parts: tuple[str | Numbered | Optional, ...]

    def names(self, spec: Any) -> list[str]:
        """The phases of one step, with every numbered run spelled out."""
        found: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                found.append(part)
            elif isinstance(part, Optional):
                found += [part.name] if part.when(spec) else []
            else:
                found += [f"{part.stem} {n}" for n in range(1, part.count(spec) + 1)]
        return found

    def could_name(self, name: str) -> bool:
        """Whether some step of the type has a phase ``name``, whatever its fields."""
        for part in self.parts:
            if isinstance(part, str):
                if part == name:
                    return True
            elif isinstance(part, Optional):
                if part.name == name:
                    return True
            else:
                number = name.removeprefix(f"{part.stem} ")
                if number != name and _counts(number):
                    return True
        return False

    def examples(self, near: str = "") -> list[str]:
        """A name for every part, to suggest from: a numbered run's with the number
        ``near`` ends with ("windw 2" -> "window 2"), else its first."""
        digits = near.rsplit(" ", 1)[-1]
        number = digits if _counts(digits) and len(digits) <= 6 else "1"
        found = []
        for part in self.parts:
            if isinstance(part, str):
                found.append(part)
            elif isinstance(part, Optional):
                found.append(part.name)
            else:
                found.append(f"{part.stem} {int(number)}")
        return found

    def describe(self) -> str:
        """The phases for a listing: ``intro, window 1 … window N (N: positions), sweep``."""
        shown = []
        for part in self.parts:
            if isinstance(part, str):
                shown.append(part)
            elif isinstance(part, Optional):
                shown.append(f"{part.name} (with {part.set_by})")
            else:
                shown.append(f"{part.stem} 1 … {part.stem} N (N: {part.counted_by})")
        return ", ".join(shown)


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
    # The stretches of the animation a narration cue can belong to, in the order
    # the builder yields their ``Phase`` markers.
    phases: Phases = Phases(("all",))
    # Parts of the trace beyond the image's pass that a step reads, by its fields:
    # "learning" (the training history on the image), "features:<conv layer>".
    trace_parts: Callable[[Any], tuple[str, ...]] | None = None
    # Placeholders its narration may use besides the lesson's, each with what it says,
    # and how they are filled: (spec, trace, class names as shown, language) -> texts.
    placeholders: dict[str, str] | None = None
    fill: Callable[[Any, Any, list[str], str], dict[str, str]] | None = None
    # Fields the lesson fills in when the step leaves them out, once its checks pass:
    # (spec, model info) -> the spec completed (a training step's class from the sample).
    complete: Callable[[Any, Any], Any] | None = None


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
