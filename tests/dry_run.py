"""Build a step's scene without rendering frames, and read what it recorded.

Each call configures Manim for the requested aspect and runs the step's
builder with animations skipped: only end states are computed, no frame is
drawn or encoded. The record holds every value the step showed, the maps it
drew, its facts, its duration and anything that left the frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cnn_model
from cnn_model.trace import save_trace
from scenes.lesson.themes import load_theme_file
from scenes.render.job import Picture, StepJob, ThemeLook
from scenes.render.worker import run


def trace_file(
    model: cnn_model.TinyVGG,
    image: Path,
    folder: Path,
    parts: tuple[str, ...] = (),
    location: Any = None,
) -> tuple[cnn_model.Trace, Path]:
    """The trace of ``image`` saved in ``folder``; ``parts`` adds the training lessons'
    parts ("learning", "features:conv_1_1") from the model at ``location`` (default:
    the one its name resolves to)."""
    result = cnn_model.trace(model, image)
    if parts:
        from cnn_model.learning import add_parts

        add_parts(result, location or cnn_model.resolve(model.name), model, list(parts))
    tag = "-".join(p.replace(":", "_") for p in parts)
    path = folder / f"{model.name}-{image.stem}{'-' + tag if tag else ''}.npz"
    if not path.exists():
        save_trace(result, path)
    return result, path


def step_job(
    step: dict[str, Any],
    folder: Path,
    trace_path: Path | None = None,
    aspect: str = "16:9",
    theme: str = "cnn-explainer",  # a built-in theme, or a theme file's path
    narration: str = "",
    colour_range: str = "layer",
    mode: str = "dry_run",
    image_file: Path | None = None,
    phase_seconds: dict[str, float] | None = None,
    language: str = "en",
) -> StepJob:
    """A step's job as the render builds it (480p at 15 fps), with the model."""
    from scenes.steps import registry

    spec = registry.get(step["type"]).spec.model_validate(step)
    picture = Picture(
        step=spec.model_dump(mode="json"),
        narration=narration,
        phase_seconds=phase_seconds or {},
        language=language,
        theme=ThemeLook.of(load_theme_file(theme)),
        aspect=aspect,
        pixel_height=480,
        fps=15,
        colour_range=colour_range,
        mode=mode,
    )
    look = Path(theme).stem  # a built-in theme's name, or a theme file's
    name = f"{mode}-{step['type']}-{aspect.replace(':', 'x')}-{look}-{language}"
    return StepJob(
        picture=picture,
        code="tests",
        trace=trace_path,
        image_file=image_file,
        clip=None
        if mode == "dry_run"
        else folder / f"{name}.{'png' if mode == 'last_frame' else 'mp4'}",
        record=folder / f"{name}.json",
    )


def dry_run(step: dict[str, Any], folder: Path, *args: Any, **options: Any) -> dict[str, Any]:
    """Run a step's builder without drawing frames; returns its record. Takes
    :func:`step_job`'s arguments (but ``mode``)."""
    return run(step_job(step, folder, *args, **options))
