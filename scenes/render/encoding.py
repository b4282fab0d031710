"""How every step's clip is encoded: H.264 (libx264), yuv420p, in MP4.

The settings are chosen by measurement (benchmarks/encoder_bench.py; the table
and the reasons are in benchmarks/README.md). They are set explicitly for every
step, never left to Manim's defaults or to a ``manim.cfg`` on the machine, because
a lesson's step clips are joined without re-encoding: every clip, rendered on
this machine or on a cluster worker, must be encoded alike. They belong to the
engine's code, so changing them changes the cache key of every step.

This module does not import Manim (a cluster worker reads it before Manim loads).
"""

from __future__ import annotations

CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"

# Provisional: Manim 0.22's own choice (crf 23, preset medium, threads from the
# machine's cores), until measured.
OPTIONS: dict[str, str] = {"crf": "23"}

# A keyframe at least this often, in seconds (None: x264's default of 250 frames).
KEYFRAME_SECONDS: float | None = None


def video_options(fps: float) -> dict[str, str]:
    """The encoder's options at ``fps`` frames per second (the keyframe interval is
    set in seconds, so it is the same time at every quality)."""
    options = dict(OPTIONS)
    if KEYFRAME_SECONDS is not None:
        options["g"] = str(max(1, round(fps * KEYFRAME_SECONDS)))
    return options
