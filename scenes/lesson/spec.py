"""The lesson-level keys of a lesson file (steps are validated per type)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

QUALITIES = ("draft", "low", "medium", "high", "production")
QUALITY_FLAGS = {"d": "draft", "l": "low", "m": "medium", "h": "high", "k": "production"}
Quality = Literal["draft", "low", "medium", "high", "production", "d", "l", "m", "h", "k"]
MAX_STEPS = 300  # in one render: a lesson, or a course's lessons together
MAX_LESSONS = 100  # files a course lists
MAX_PATH_CHARS = 1024


class LessonHeader(BaseModel):
    """Everything in a lesson file but the steps' own fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    title: str = Field(..., min_length=1, max_length=200, description="The lesson's title.")
    description: str | None = Field(
        None, max_length=2000, description="A sentence about the lesson, for pages and players."
    )
    model: str = Field(
        "default",
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="default, cnn-explainer, the name of a trained model, or a path to weights.",
    )
    image: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="A sample name (e.g. star_1) or an image path relative to the lesson file; "
        "defaults to the model's own sample.",
    )
    theme: str = Field("cnn-explainer", max_length=100, description="A theme in configs/themes.")
    aspect: Literal["16:9", "9:16", "1:1"] = Field("16:9", description="Shape of the video.")

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

    quality: Quality | None = Field(
        None, description="Default render quality; the command line wins."
    )
    words_per_minute: int = Field(
        150, ge=60, le=400, description="Reading speed that paces each step's narration."
    )
    colour_range: Literal["layer", "block", "global"] = Field(
        "layer",
        description="Colour range of activation maps: per conv layer, per block, or one for all.",
    )
    voice: str | None = Field(
        None,
        max_length=100,
        description="Narrate the steps aloud with espeak-ng in this voice (e.g. en, en-us, "
        "en-gb); without it the video is silent.",
    )
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
