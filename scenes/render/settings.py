"""Render settings, merged in one order: defaults → preset → lesson → command line."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from ..lesson.load import Lesson
from ..lesson.spec import QUALITIES, QUALITY_FLAGS
from ..visuals.theme import configs_dir

DEFAULTS: dict[str, Any] = {
    "quality": "low",
    "aspect": "16:9",
    "theme": "cnn-explainer",
    "words_per_minute": 150,
    "colour_range": "layer",
    "jobs": os.cpu_count() or 1,
}


@dataclass(frozen=True)
class RenderSettings:
    quality: str
    pixel_height: int
    fps: int
    aspect: str
    theme: str
    words_per_minute: int
    colour_range: str
    jobs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise_quality(value: str) -> str:
    quality = QUALITY_FLAGS.get(value, value)
    if quality not in QUALITIES:
        raise ValueError(
            f"quality must be one of d, l, m, h, k or {', '.join(QUALITIES)}; got {value!r}"
        )
    return quality


def read_preset(quality: str) -> dict[str, Any]:
    path = configs_dir() / "presets" / f"{quality}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a preset must be a mapping")
    return data


def resolve(lesson: Lesson, cli: dict[str, Any]) -> RenderSettings:
    """Merge the layers; ``cli`` holds only the flags the user gave (None = not given)."""
    merged: dict[str, Any] = dict(DEFAULTS)
    header = lesson.header
    lesson_values = {name: getattr(header, name) for name in header.model_fields_set}
    quality = cli.get("quality") or lesson_values.get("quality") or merged["quality"]
    merged.update(read_preset(normalise_quality(quality)))
    for key in ("aspect", "theme", "words_per_minute", "colour_range"):
        if key in lesson_values:
            merged[key] = lesson_values[key]
    for key, value in cli.items():
        if value is not None:
            merged[key] = value
    merged["quality"] = normalise_quality(quality)
    return RenderSettings(
        quality=merged["quality"],
        pixel_height=int(merged["pixel_height"]),
        fps=int(merged["fps"]),
        aspect=str(merged["aspect"]),
        theme=str(merged["theme"]),
        words_per_minute=int(merged["words_per_minute"]),
        colour_range=str(merged["colour_range"]),
        jobs=max(1, int(merged["jobs"])),
    )
