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
from scenes.render.worker import run


def trace_file(model: cnn_model.TinyVGG, image: Path, folder: Path) -> tuple[cnn_model.Trace, Path]:
    result = cnn_model.trace(model, image)
    path = folder / f"{model.name}-{image.stem}.npz"
    if not path.exists():
        save_trace(result, path)
    return result, path


def dry_run(
    step: dict[str, Any],
    folder: Path,
    trace_path: Path | None = None,
    aspect: str = "16:9",
    theme: str = "cnn-explainer",
    narration: str = "",
    colour_range: str = "layer",
) -> dict[str, Any]:
    from scenes.steps import registry

    spec = registry.get(step["type"]).spec.model_validate(step)
    job = {
        "step": spec.model_dump(mode="json"),
        "narration": narration,
        "min_seconds": 0.0,
        "theme": theme,
        "aspect": aspect,
        "pixel_height": 480,
        "fps": 15,
        "colour_scope": colour_range,
        "trace": str(trace_path) if trace_path else None,
        "clip": None,
        "meta": str(folder / f"dry-{step['type']}-{aspect.replace(':', 'x')}.json"),
        "mode": "dry_run",
    }
    return run(job)
