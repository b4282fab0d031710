"""One step's render job: what a worker draws, what it reads, and where it writes.

A job travels as JSON, from the render to a worker process on this machine or
on a Dask cluster, and is read back with the model's own validation. Its cache
key is a method of the job: a hash of the :class:`Picture` (every field that
can change the step's pixels, and nothing else) and the engine's code digest.
Paths are never part of the key: the content they name is, by its hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ..lesson.spec import Aspect, ColourRange

if TYPE_CHECKING:
    from ..steps.kit.base import StepSpec
    from ..visuals.theme import Theme

Mode = Literal["video", "last_frame", "dry_run", "audit"]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ThemeLook(BaseModel):
    """A theme's colours, font and colour scales: all of it changes pixels."""

    model_config = _FROZEN

    name: str
    background: str
    text: str
    muted: str
    accent: str
    highlight: str
    empty_cell: str
    grid_line: str
    font: str
    activation: str  # colour scale names
    weight: str
    logit: str
    input: str

    @classmethod
    def of(cls, theme: Theme) -> ThemeLook:
        return cls.model_validate(theme.as_dict())

    def theme(self) -> Theme:
        from ..visuals.theme import theme_from_values

        return theme_from_values(self.model_dump())


class ModelRef(BaseModel):
    """The model a step shows: its weights by hash, and the names on screen."""

    model_config = _FROZEN

    sha256: str
    name: str
    classes: tuple[str, ...]  # as shown: in the lesson's language, or as the lesson names them


class Picture(BaseModel):
    """Everything that can change a step's pixels (and its record)."""

    model_config = _FROZEN

    step: dict[str, JsonValue] = Field(description="The step's fields, as validated.")
    narration: str = Field("", description="The narration with its placeholders filled.")
    phase_seconds: dict[str, float] = Field(
        default_factory=dict,
        description="How long each phase lasts at least: its cues' speaking or reading time.",
    )
    language: str = Field("en", description="The language of every text on screen.")
    theme: ThemeLook
    aspect: Aspect = "16:9"
    pixel_height: int = Field(480, gt=0)
    fps: int = Field(15, gt=0)
    colour_range: ColourRange = "layer"
    mode: Mode = "video"
    # Labels come from the model card: a renamed class is a changed picture.
    model: ModelRef | None = None
    image_sha256: str | None = Field(None, description="The 64×64 input's pixels.")
    # The original file too: a step may show the image before resizing.
    image_file_sha256: str | None = None
    # What a training lesson's step reads beyond the image: the history, the data set.
    parts_sha256: str | None = None


def cache_key(picture: Picture, code: str) -> str:
    """The cache key of a job with this picture and code (see :meth:`StepJob.key`),
    known before the job is placed: its clip and record are named by it."""
    blob = json.dumps(
        {"picture": picture.model_dump(mode="json"), "code": code},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class PartRange(BaseModel):
    """A part of a step's animations, drawn by one worker: those starting at a frame
    in [first, end) (end None: to the step's end). Not part of the cache key: the
    parts of a step, joined, are its clip."""

    model_config = _FROZEN

    first: int = Field(0, ge=0)
    end: int | None = Field(None, gt=0)


class StepJob(BaseModel):
    """A step's render job. Build it with the model; workers read it with
    :meth:`read`. Only :attr:`picture` and :attr:`code` make the cache key."""

    model_config = _FROZEN

    picture: Picture
    code: str = Field(description="Digest of the engine's and model's source code.")
    # What the worker reads: the trace (by path here, by its hash anywhere) and
    # the original image file (its content's hash is in the picture).
    trace: Path | None = None
    trace_sha256: str | None = None
    image_file: Path | None = None
    # Where the worker writes: the clip (or PNG) and the record of what it showed.
    clip: Path | None = None
    record: Path
    part: PartRange | None = None  # only some of the step's animations (see PartRange)

    def key(self) -> str:
        """The step's cache key: the picture and the code, hashed."""
        return cache_key(self.picture, self.code)

    @property
    def type(self) -> str:
        return str(self.picture.step["type"])

    @property
    def mode(self) -> Mode:
        return self.picture.mode

    def spec(self) -> StepSpec:
        """The step's fields, validated by its step type."""
        from ..steps import registry

        spec: StepSpec = registry.get(self.type).spec.model_validate(self.picture.step)
        return spec

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def read(cls, text: str | bytes) -> StepJob:
        return cls.model_validate_json(text)

    def moved(self, **paths: Any) -> StepJob:
        """The same job reading or writing elsewhere (e.g. on another machine)."""
        return self.model_copy(update=paths)
