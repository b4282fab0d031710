"""Render one step in a process of its own: ``python -m scenes.render.worker JOB.json``.

A fresh process per step keeps Manim's global configuration from leaking
between steps and lets steps render in parallel. The job file says what to
render; the clip and a JSON record of what the step showed are written to
temporary names and renamed into place only when complete.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..atomic import publish, temp_dir_prefix, write_json

PR_SET_PDEATHSIG = 1


def even(pixels: float) -> int:
    """The nearest even number of pixels (H.264 with yuv420p needs even sizes)."""
    return 2 * round(pixels / 2)


def configure_manim(job: dict[str, Any], media_dir: Path) -> None:
    from manim import config

    from ..visuals.layout import Frame

    frame = Frame.for_aspect(job["aspect"])
    height = int(job["pixel_height"])
    short = height
    if frame.landscape:
        width, height = even(short * frame.width / frame.height), short
    elif frame.portrait:
        width, height = short, even(short * frame.height / frame.width)
    else:
        width = height = short
    width, height = even(width), even(height)
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
        settings={
            "title": spec.title,
            # How long the narration needs: a builder may spread its reveals over it.
            "reading_seconds": float(job.get("min_seconds", 0.0)),
            **job.get("settings", {}),
        },
    )
    # Without a video, animations only need their end states: skip the frames.
    skip = job.get("mode", "video") != "video"
    return StepScene(
        step_type, spec, ctx, min_seconds=float(job.get("min_seconds", 0.0)), skip_animations=skip
    )


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Render the job; returns the record written to ``job['meta']``."""
    out_clip = Path(job["clip"]) if job.get("clip") else None
    out_meta = Path(job["meta"])
    out_meta.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=temp_dir_prefix(), dir=out_meta.parent) as tmp:
        media = Path(tmp)
        configure_manim(job, media)
        scene = build_scene(job)
        if job.get("mode") == "dry_run":
            # Nobody sees a dry run's frames: skip drawing them. (The pixel
            # size stays real: Text lays itself out on a canvas of that size.)
            scene.renderer.update_frame = lambda *args, **kwargs: None
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
            # The temporary folder is beside the clip: the rename is atomic.
            publish(produced, out_clip)
    write_json(out_meta, record)
    return record


def die_with_parent(parent: int) -> None:
    """Ask Linux to end this worker if the render that started it is killed."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the parent's own clean-up still stops workers on Ctrl-C
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m scenes.render.worker JOB.json [PARENT_PID]", file=sys.stderr)
        return 2
    if len(args) == 2:
        die_with_parent(int(args[1]))
    job = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    run(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
