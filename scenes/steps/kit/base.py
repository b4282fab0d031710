"""What every step type shares: its fields, its context and its beats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from .neuron import NeuronField
from .record import Recorder

if TYPE_CHECKING:
    from manim import Mobject

    from cnn_model.store import ModelLocation
    from cnn_model.trace import Trace

    from ...visuals.layout import Frame
    from ...visuals.theme import Theme


MAX_CUES = 60  # cues of one step


class CueSpec(BaseModel):
    """One sentence of a step's narration, tied to a phase of its animation."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    say: str = Field(
        ...,
        min_length=1,
        max_length=2000,
        description="What is said (or read as a caption); may use placeholders like {prediction}.",
    )
    at: str | None = Field(
        None,
        min_length=1,
        max_length=80,
        description="The phase of the step this cue belongs to (`cnnlesson steps` lists each "
        "type's phases); default: the phase after the previous cue's.",
    )
    audio: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="A recording of the cue (WAV, FLAC, OGG, MP3 or M4A), relative to the "
        "lesson file; its length sets the phase's.",
    )


def _narration_kind(value: Any) -> str:
    """Which form a narration is written in: a list is cues, anything else text."""
    return "cues" if isinstance(value, list | tuple) else "text"


# Union tags pydantic puts into an error's location (``narration.cues[0]``):
# not part of the field's path as written.
NARRATION_FORMS = ("text", "cues")


class StepSpec(BaseModel):
    """Fields every step accepts. Step types add their own."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Old field names that still work, each with its new name: the loader renames
    # them before validation and warns, at the field, that the old name will go.
    renamed: ClassVar[dict[str, str]] = {}
    # The field naming the neuron the step shows, if it has one: the lesson's focus
    # fills it in when it is left out (see NeuronField).
    neuron_field: ClassVar[NeuronField | None] = None

    type: str
    title: str | None = Field(
        None, max_length=120, description="Heading shown at the top of the step."
    )
    chapter: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="The step's chapter name in the video, on its page and in the manifest; "
        "default: its title, else a name from what it shows, like 'Convolution: conv_1_1, "
        "neuron 3'.",
    )
    narration: Annotated[
        Annotated[str, Field(max_length=4000), Tag("text")]
        | Annotated[list[CueSpec], Field(min_length=1, max_length=MAX_CUES), Tag("cues")],
        Discriminator(_narration_kind),
    ] = Field(
        "",
        description="What a learner hears or reads as a caption: a text, whose sentences take "
        "the step's phases in order, or a list of cues (say, at, audio). It may use "
        "{prediction}, {probability} and other placeholders filled from the model's trace.",
    )

    def narration_text(self) -> str:
        """The whole narration as one text (a list's cues joined)."""
        if isinstance(self.narration, str):
            return self.narration
        return " ".join(cue.say for cue in self.narration)


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


@dataclass
class Phase:
    """The animation that follows is the phase ``name`` of the step, until the next.

    A step's cues start when their phase starts; the scene holds the end of a
    phase until its cues have been spoken or read.
    """

    name: str


Item = Beat | Hold | Add | Phase


@dataclass
class LayerInfo:
    name: str
    kind: str
    shape: tuple[int, ...]


@dataclass
class ModelInfo:
    """What validation needs to know about the lesson's model (and its image)."""

    name: str
    classes: list[str]
    layers: dict[str, LayerInfo]
    # Where the model lives (its card names its training history and data).
    location: ModelLocation | None = None
    # The lesson's image as written (a sample's name, or a file's path), if any.
    image: str | None = None


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
