"""Render settings: the lesson's header (its keys, replaced by any overrides when it
was loaded) with the pixel size and frame rate of its quality's preset."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from ..lesson.load import Lesson
from ..lesson.spec import Aspect, ColourRange, quality_name
from ..visuals.theme import configs_dir


@dataclass(frozen=True)
class RenderSettings:
    quality: str
    pixel_height: int
    fps: int
    aspect: Aspect
    theme: str
    words_per_minute: int
    colour_range: ColourRange
    jobs: int
    language: str = "en"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_preset(quality: str) -> dict[str, Any]:
    path = configs_dir() / "presets" / f"{quality}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a preset must be a mapping")
    return data


def resolve(lesson: Lesson, jobs: int | None = None) -> RenderSettings:
    """The settings of a validated lesson; ``jobs`` steps render at once (default: cores)."""
    if jobs is not None and jobs < 1:  # 0 is not "all cores": that is None
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    header = lesson.header
    quality = quality_name(header.quality)
    preset = read_preset(quality)
    return RenderSettings(
        quality=quality,
        pixel_height=int(preset["pixel_height"]),
        fps=int(preset["fps"]),
        aspect=header.aspect,
        theme=header.theme,
        words_per_minute=header.words_per_minute,
        colour_range=header.colour_range,
        jobs=jobs if jobs is not None else max(1, os.cpu_count() or 1),
        language=header.language,
    )
