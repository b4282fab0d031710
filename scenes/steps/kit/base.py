"""What every step type shares: its fields, its context and its beats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .record import Recorder

if TYPE_CHECKING:
    from manim import Mobject

    from cnn_model.trace import Trace

    from ...visuals.layout import Frame
    from ...visuals.theme import Theme


class StepSpec(BaseModel):
    """Fields every step accepts. Step types add their own."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Old field names that still work, each with its new name: the loader renames
    # them before validation and warns, at the field, that the old name will go.
    renamed: ClassVar[dict[str, str]] = {}

    type: str
    title: str | None = Field(
        None, max_length=120, description="Heading shown at the top of the step."
    )
    narration: str = Field(
        "",
        max_length=4000,
        description="What a learner hears or reads as a caption; may use {prediction}, "
        "{probability} and other placeholders filled from the model's trace.",
    )


@dataclass
class Beat:
    """Animations played together for ``run_time`` seconds.

    Anything ``Scene.play`` accepts: animations or ``mobject.animate`` builders.
    """

    animations: list[Any]
    run_time: float = 1.0


@dataclass
class Hold:
    """Nothing moves for ``seconds``."""

    seconds: float


@dataclass
class Add:
    """Mobjects appear (or disappear, with ``remove``) without animation."""

    mobjects: list[Mobject]
    remove: bool = False


Item = Beat | Hold | Add


@dataclass
class LayerInfo:
    name: str
    kind: str
    shape: tuple[int, ...]


@dataclass
class ModelInfo:
    """What validation needs to know about the lesson's model."""

    name: str
    classes: list[str]
    layers: dict[str, LayerInfo]


@dataclass
class StepContext:
    """Everything a builder reads: the trace, the look and the frame."""

    trace: Trace | None
    theme: Theme
    frame: Frame
    narration: str
    recorder: Recorder = field(default_factory=Recorder)
    colour_range: str = "layer"
    # The step's own heading (its ``title:``), shown instead of the type's default.
    title: str | None = None
    # The image file the trace was made from: a step may show it before resizing.
    original_image: Path | None = None

    def need_trace(self) -> Trace:
        if self.trace is None:
            raise RuntimeError("this step needs a model trace")
        return self.trace


Builder = Callable[[Any, StepContext], Iterator[Item]]
# A checker returns (field path within the step, message) for each problem.
FieldParts = tuple[str | int, ...]
Checker = Callable[[Any, "ModelInfo | None"], list[tuple[FieldParts, str]]]
