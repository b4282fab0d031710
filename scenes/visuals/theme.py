"""Themes: colours, font and colour scales, read from ``configs/themes``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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


MAX_THEME_BYTES = 64 * 1024


def load_theme(name: str) -> Theme:
    if name not in theme_names():  # a name, never a path
        raise ThemeError(f"unknown theme {name!r}; known themes: {', '.join(theme_names())}")
    path = themes_dir() / f"{name}.yaml"
    try:
        data = yaml.safe_load(read_text(path, MAX_THEME_BYTES))
    except (FileRefused, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ThemeError(f"{path}: cannot read the theme ({exc})") from None
    if not isinstance(data, dict):
        raise ThemeError(f"{path}: a theme must be a mapping")
    missing = [k for k in (*COLOUR_KEYS, "font", "scales") if k not in data]
    if missing:
        raise ThemeError(f"{path}: missing keys {', '.join(missing)}")
    scales = data["scales"]
    for role in SCALE_ROLES:
        if scales.get(role) not in SCALES:
            raise ThemeError(
                f"{path}: scales.{role} must be one of {', '.join(sorted(SCALES))}, "
                f"got {scales.get(role)!r}"
            )
    values: dict[str, Any] = {k: str(data[k]) for k in COLOUR_KEYS}
    values.update(name=name, font=str(data["font"]), **{r: scales[r] for r in SCALE_ROLES})
    return theme_from_values(values)


def theme_from_values(values: dict[str, Any]) -> Theme:
    """A theme from what :meth:`Theme.as_dict` gives (colour scales by name)."""
    fields: dict[str, Any] = {key: str(values[key]) for key in ("name", *COLOUR_KEYS, "font")}
    fields.update({role: ColourScale(str(values[role])) for role in SCALE_ROLES})
    return Theme(**fields)
