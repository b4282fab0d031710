"""Themes: colours, font and colour scales, read from ``configs/themes`` or an author's file.

A theme file is described once, by :class:`ThemeFile`: the built-in themes and
an author's own (``theme: ./my-theme.yaml`` in a lesson) are validated by it,
and the JSON Schema of theme files (``configs/theme.schema.json``) is made from
it. Reading an author's file with every error located is the lesson loader's
job (:mod:`scenes.lesson.themes`); this module reads the built-in themes by name.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from cnn_model.safeio import FileRefused, read_text

from .colors import SCALES, ColourScale


def configs_dir() -> Path:
    """The ``configs/`` folder (``CNNLESSON_CONFIGS`` overrides it)."""
    override = os.environ.get("CNNLESSON_CONFIGS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "configs"


def themes_dir() -> Path:
    return configs_dir() / "themes"


def theme_names() -> list[str]:
    return sorted(p.stem for p in themes_dir().glob("*.yaml"))


SCALE_ROLES = ("activation", "weight", "logit", "input")
COLOUR_KEYS = ("background", "text", "muted", "accent", "highlight", "empty_cell", "grid_line")
DEFAULT_THEME = "cnn-explainer"
MAX_THEME_BYTES = 64 * 1024
THEME_SCHEMA_ID = "https://cnnlesson.invalid/theme.schema.json"

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
COLOUR_PATTERN = f"^{_HEX.pattern}$"


def _colour(value: Any) -> Any:
    """A colour as written: "#1a2b3c" or "#abc" (a message for anything else)."""
    if value is None:
        # `background: #1a2b3c` without quotes: YAML reads the # as a comment.
        raise PydanticCustomError(
            "colour",
            'expected a colour in quotes like "#1a2b3c" (without them, YAML reads # as the '
            "start of a comment)",
        )
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise PydanticCustomError("colour", 'expected a colour like "#1a2b3c" or "#abc"')
    return value


def _font(value: Any) -> Any:
    if isinstance(value, str) and (
        value != value.strip() or not value.isprintable() or any(c in value for c in ',;"\\{}<>')
    ):
        raise PydanticCustomError(
            "font", "expected a font's family name, like DejaVu Sans (letters, digits, spaces)"
        )
    return value


# (The validator after the constraint runs first: its message is the one an author reads.)
Colour = Annotated[str, Field(pattern=COLOUR_PATTERN), BeforeValidator(_colour)]
FontName = Annotated[str, Field(min_length=1, max_length=100), BeforeValidator(_font)]
ScaleName = Literal["RdBu", "BrBG", "PuOr", "PiYG", "Oranges", "Purples", "Greys"]
assert set(get_args(ScaleName)) == set(SCALES), "ScaleName must list every colour scale"

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class ThemeScales(BaseModel):
    """Which colour scale draws which kind of value."""

    model_config = _STRICT

    activation: ScaleName = Field(
        description="Activation maps (convolution, ReLU, pooling): a diverging scale, "
        "negative at one end, zero in the middle, positive at the other (RdBu, PuOr, PiYG)."
    )
    weight: ScaleName = Field(
        description="Kernels' weights and biases: a diverging scale (BrBG, PiYG, PuOr)."
    )
    logit: ScaleName = Field(
        description="Class scores (logits), low to high: a sequential scale (Oranges, Purples)."
    )
    input: ScaleName = Field(
        description="Each input channel, 0 to 1: Greys shows 0 black and 1 white."
    )


class ThemeFile(BaseModel):
    """A theme file: the colours, font and colour scales of every frame and of the page."""

    model_config = _STRICT

    name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The theme's name (default: the file's name without .yaml).",
    )
    description: str | None = Field(None, max_length=300, description="A sentence about it.")
    background: Colour = Field(
        description="Behind everything: the frame's background, and the lesson page's."
    )
    text: Colour = Field(description="Titles, labels and numbers; the page's text.")
    muted: Colour = Field(
        description="Secondary text and lines: captions, axes and their numbers, the other "
        "classes' bars; on the page, times and notes."
    )
    accent: Colour = Field(
        description="What the eye should follow: the ReLU line, bullets and formulas, the "
        "predicted class, the value a pooling window keeps; on the page, focus rings and the "
        "current chapter."
    )
    highlight: Colour = Field(
        description="The window being computed, on the map it reads and on the cell it fills."
    )
    empty_cell: Colour = Field(
        description="Cells without a value yet, and padding; the page's buttons."
    )
    grid_line: Colour = Field(
        description="Borders of maps and lines between grid cells; the page's dividing lines."
    )
    font: FontName = Field(
        description="The font family of every text, installed on the machine that renders "
        "(DejaVu Sans ships with the set-up)."
    )
    scales: ThemeScales = Field(description="Colour scales for the values a map shows.")


def full_hex(colour: str) -> str:
    """ "#AbC" → "#aabbcc"; a six-digit colour in lower case."""
    digits = colour.lstrip("#").lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    text: str
    muted: str
    accent: str
    highlight: str
    empty_cell: str
    grid_line: str
    font: str
    activation: ColourScale
    weight: ColourScale
    logit: ColourScale
    input: ColourScale

    def as_dict(self) -> dict[str, Any]:
        """Everything that changes pixels, for cache keys."""
        data: dict[str, Any] = {key: getattr(self, key) for key in ("name", *COLOUR_KEYS, "font")}
        for role in SCALE_ROLES:
            data[role] = getattr(self, role).name
        return data


class ThemeError(ValueError):
    pass


def theme_of(spec: ThemeFile, name: str) -> Theme:
    """The theme a validated file describes (colours as "#rrggbb"); ``name`` when it names none."""
    values: dict[str, Any] = {key: full_hex(getattr(spec, key)) for key in COLOUR_KEYS}
    values.update(name=spec.name or name, font=spec.font)
    values.update({role: getattr(spec.scales, role) for role in SCALE_ROLES})
    return theme_from_values(values)


def load_theme(name: str) -> Theme:
    """A built-in theme by name (an author's theme file is read by the lesson loader)."""
    if name not in theme_names():  # a name, never a path
        raise ThemeError(f"unknown theme {name!r}; known themes: {', '.join(theme_names())}")
    path = themes_dir() / f"{name}.yaml"
    try:
        data = yaml.safe_load(read_text(path, MAX_THEME_BYTES))
    except (FileRefused, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ThemeError(f"{path}: cannot read the theme ({exc})") from None
    try:
        spec = ThemeFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the theme'}: {e['msg']}" for e in exc.errors()
        )
        raise ThemeError(f"{path}: {problems}") from None
    return theme_of(spec, name)


def theme_from_values(values: dict[str, Any]) -> Theme:
    """A theme from what :meth:`Theme.as_dict` gives (colour scales by name)."""
    fields: dict[str, Any] = {key: str(values[key]) for key in ("name", *COLOUR_KEYS, "font")}
    fields.update({role: ColourScale(str(values[role])) for role in SCALE_ROLES})
    return Theme(**fields)


def theme_schema() -> dict[str, Any]:
    """The JSON Schema of theme files, from :class:`ThemeFile`."""
    schema = ThemeFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = THEME_SCHEMA_ID
    schema["title"] = "cnnlesson theme"
    schema["description"] = (
        "A cnnlesson theme: the colours, font and colour scales of a lesson's frames and "
        "of its page. A lesson uses it with `theme: ./my-theme.yaml`."
    )
    return schema


def theme_schema_text() -> str:
    return json.dumps(theme_schema(), indent=2, ensure_ascii=False) + "\n"
