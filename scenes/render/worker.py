"""Render one step in a process of its own: ``python -m scenes.render.worker JOB.json``.

A fresh process per step keeps Manim's global configuration from leaking
between steps and lets steps render in parallel. The job file says what to
render; the clip and a JSON record of what the step showed are written to
temporary names and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def configure_manim(job: dict[str, Any], media_dir: Path) -> None:
    from manim import config

    from ..visuals.layout import Frame

    frame = Frame.for_aspect(job["aspect"])
    height = int(job["pixel_height"])
    short = height
    if frame.landscape:
        width, height = round(short * frame.width / frame.height), short
    elif frame.portrait:
        width, height = short, round(short * frame.height / frame.width)
    else:
        width = height = short
    width += width % 2  # H.264 with yuv420p needs even sizes
    height += height % 2
    config.pixel_width = width
    config.pixel_height = height
    config.frame_width = frame.width
    config.frame_height = frame.height
    config.frame_rate = float(job["fps"])
    config.media_dir = str(media_dir)
    config.disable_caching = True
    config.verbosity = "ERROR"
    config.progress_bar = "none"
    config.output_file = "step"
    mode = job.get("mode", "video")
    config.format = {"video": "mp4", "last_frame": "png", "dry_run": "none"}[mode]
    config.dry_run = mode == "dry_run"


def build_scene(job: dict[str, Any]) -> Any:
    """Construct the step's scene (Manim must already be configured)."""
    from cnn_model.trace import load_trace

    from ..steps import registry
    from ..steps.base import StepContext
    from ..visuals.layout import Frame
    from ..visuals.theme import load_theme
    from .scene import StepScene

    step_type = registry.get(job["step"]["type"])
    spec = step_type.spec.model_validate(job["step"])
    trace = load_trace(job["trace"]) if job.get("trace") else None
    ctx = StepContext(
        trace=trace,
        theme=load_theme(job["theme"]),
        frame=Frame.for_aspect(job["aspect"]),
        narration=job.get("narration", ""),
        colour_scope=job.get("colour_scope", "layer"),
        settings={"title": spec.title, **job.get("settings", {})},
    )
    return StepScene(step_type, spec, ctx, min_seconds=float(job.get("min_seconds", 0.0)))


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Render the job; returns the record written to ``job['meta']``."""
    out_clip = Path(job["clip"]) if job.get("clip") else None
    out_meta = Path(job["meta"])
    out_meta.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".render-", dir=out_meta.parent) as tmp:
        media = Path(tmp)
        configure_manim(job, media)
        scene = build_scene(job)
        scene.render()
        record: dict[str, Any] = {
            "type": job["step"]["type"],
            "duration": float(scene.time),
            "values": scene.ctx.recorder.values,
            "maps": scene.ctx.recorder.maps,
            "facts": scene.ctx.recorder.facts,
            "overflow": scene.overflow,
            "render_seconds": round(time.perf_counter() - started, 3),
        }
        mode = job.get("mode", "video")
        produced = None
        if mode == "video":
            produced = next(media.rglob("step.mp4"), None)
        elif mode == "last_frame":
            produced = next(media.rglob("step*.png"), None)
        if mode != "dry_run":
            if produced is None or out_clip is None:
                raise RuntimeError("manim produced no output file")
            staged = out_clip.with_name(f".{out_clip.name}.{os.getpid()}.part{out_clip.suffix}")
            shutil.move(str(produced), staged)
            os.replace(staged, out_clip)
    staged_meta = out_meta.with_name(f".{out_meta.name}.{os.getpid()}.part")
    staged_meta.write_text(json.dumps(record), encoding="utf-8")
    os.replace(staged_meta, out_meta)
    return record


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m scenes.render.worker JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    run(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
