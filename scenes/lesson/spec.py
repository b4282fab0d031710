"""The lesson-level keys of a lesson file (steps are validated per type).

Every setting is declared here once, with its type, default and meaning. The
ones marked :data:`OVERRIDE` may also be given for one render: as a
command-line flag derived from the name (``words_per_minute`` is
``--words-per-minute``) or as a keyword of ``render_lesson``. Either way the
value replaces the lesson's own before validation, so it is checked, and its
errors are reported, exactly like the key written in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from ..quoting import describe_value

QUALITIES = ("draft", "low", "medium", "high", "production")
QUALITY_FLAGS = {"d": "draft", "l": "low", "m": "medium", "h": "high", "k": "production"}
Quality = Literal["draft", "low", "medium", "high", "production", "d", "l", "m", "h", "k"]
Aspect = Literal["16:9", "9:16", "1:1"]
ColourRange = Literal["layer", "block", "global"]


@dataclass(frozen=True)
class Override:
    """Marks a lesson key that one render may replace (see the module's text)."""

    short: str | None = None  # a one-letter flag besides the long one, e.g. -q
    # What differs when the value comes from the command line rather than the file.
    note: str = ""

    def flags(self, name: str) -> list[str]:
        long = "--" + name.replace("_", "-")
        return [self.short, long] if self.short else [long]


OVERRIDE = Override()
# A path given for one render is read from the working folder, not the lesson's.
PATH_OVERRIDE = Override(note="A path given here is read from the working folder.")
MAX_STEPS = 300  # in one render: a lesson, or a course's lessons together
MAX_LESSONS = 100  # files a course lists
MAX_PATH_CHARS = 1024
MAX_TRANSLATIONS = 10


class Focus(BaseModel):
    """The neuron (channel) a lesson's steps follow, e.g. {neuron: 3}."""

    # Written into the steps' own fields when the lesson loads (scenes/lesson/focus.py).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    neuron: int = Field(
        ...,
        ge=0,
        description="The channel that convolution, ReLU and pooling steps show when they "
        "name no neuron of their own; a step that names one is followed from there on.",
    )

    @field_validator("neuron", mode="before")
    @classmethod
    def _not_negative(cls, value: Any) -> Any:
        # Nested in the header, pydantic's own message would not say what is expected.
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"expected a neuron ≥ 0, got {value}")
        return value


class LessonHeader(BaseModel):
    """Everything in a lesson file but the steps' own fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    title: str = Field(..., min_length=1, max_length=200, description="The lesson's title.")
    description: str | None = Field(
        None, max_length=2000, description="A sentence about the lesson, for pages and players."
    )
    model: Annotated[str, PATH_OVERRIDE] = Field(
        "default",
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="default, cnn-explainer, the name of a trained model, or a path to weights.",
    )
    image: Annotated[str | None, PATH_OVERRIDE] = Field(
        None,
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="A sample name (e.g. star_1) or an image path relative to the lesson file; "
        "defaults to the model's own sample.",
    )
    theme: Annotated[str, PATH_OVERRIDE] = Field(
        "cnn-explainer",
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="A built-in theme (cnn-explainer, dark, colorblind) or the path of a theme "
        "file, relative to the lesson file (e.g. ./my-theme.yaml; `cnnlesson theme new` writes "
        "one): the colours, font and colour scales of the frames and of the lesson page.",
    )
    aspect: Annotated[Aspect, OVERRIDE] = Field("16:9", description="Shape of the video.")

    @field_validator("aspect", mode="before")
    @classmethod
    def _aspect_in_quotes(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 16:9 as a base-60 number (16 * 60 + 9 = 969).
        if isinstance(value, int) and not isinstance(value, bool) and value >= 60:
            ratio = "{}:{}".format(*divmod(value, 60))
            raise ValueError(
                f'expected "16:9", "9:16" or "1:1" in quotes, got the number {value} '
                f'(YAML reads an unquoted {ratio} as a number: write aspect: "{ratio}")'
            )
        return value

    quality: Annotated[Quality, Override(short="-q")] = Field(
        "low",
        description="Render quality: d(raft) 240p at 5 fps, l(ow) 480p15, m(edium) 720p30, "
        "h(igh) 1080p60, k (production) 2160p60.",
    )
    words_per_minute: Annotated[int, OVERRIDE] = Field(
        150, ge=60, le=400, description="Reading speed that paces each step's narration."
    )
    colour_range: Annotated[ColourRange, OVERRIDE] = Field(
        "layer",
        description="Colour range of activation maps: per conv layer, per block, or one for all.",
    )
    language: Annotated[str, OVERRIDE] = Field(
        "en",
        min_length=2,
        max_length=20,
        description="The language of the labels, number format, page and captions: en, de or fr.",
    )
    voice: Annotated[str | None, OVERRIDE] = Field(
        None,
        max_length=100,
        description="Speak the cues that have no recording with espeak-ng in this voice (e.g. "
        "en, en-gb, de, fr); without it they are captions only.",
    )
    labels: (
        dict[
            Annotated[str, Field(min_length=1, max_length=100)],
            Annotated[str, Field(min_length=1, max_length=40)],
        ]
        | None
    ) = Field(
        None,
        max_length=1000,
        description="Names to show for the model's classes, e.g. {espresso: Espresso}; "
        "by default the model card's names in the lesson's language.",
    )
    translations: list[Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS)]] | None = (
        Field(
            None,
            min_length=1,
            max_length=MAX_TRANSLATIONS,
            description="Lesson files (relative to this one) with the same steps in other "
            "languages: their narration becomes further caption tracks of this video, with a "
            "language switch on its page.",
        )
    )
    focus: Focus | None = Field(
        None,
        description="The neuron (channel) the steps follow, e.g. {neuron: 3}: the default of "
        "every step that shows one; a step's own neuron wins and is followed from there on. "
        "In a course, a lesson's own focus wins over the one carried into it.",
    )

    @field_validator("focus", mode="before")
    @classmethod
    def _focus_is_a_mapping(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            got = describe_value(value)
            raise ValueError(f"expected a mapping such as {{neuron: 3}}, got {got}")
        return value

    poster: int | None = Field(
        None, ge=1, description="Step (from 1) whose frame becomes the poster image."
    )
    poster_at: float = Field(
        1.0, ge=0.0, le=1.0, description="Where in that step the poster frame is: 0 start, 1 end."
    )
    steps: list[Any] | None = Field(
        None, min_length=1, description="The steps, in order (or give `lessons` instead)."
    )
    lessons: list[Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS)]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_LESSONS,
        description="A course: lesson files (relative to this one) whose steps play in order, "
        "one chapter each, with this file's model, image, theme and aspect.",
    )


def overridable() -> dict[str, FieldInfo]:
    """The settings one render may replace, by name, in the order they are declared."""
    return {
        name: info
        for name, info in LessonHeader.model_fields.items()
        if any(isinstance(meta, Override) for meta in info.metadata)
    }


def override_of(info: FieldInfo) -> Override:
    return next(meta for meta in info.metadata if isinstance(meta, Override))


def quality_name(value: str) -> str:
    """``h`` → ``high``; a full name stays as it is."""
    return QUALITY_FLAGS.get(value, value)
