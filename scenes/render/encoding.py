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

# Measured on three 1080p60 step clips of the default course (1,770 frames:
# title, convolution, overview), against today's Manim defaults (crf 23, preset
# medium): preset veryfast with each still hold converted once and a keyframe
# every 2 s encodes 2.3 times as fast (111 against 47.5 frames/s), 3 % smaller,
# with SSIM (Y) 0.99872 against 0.99916 (PSNR 48.0 against 50.3 dB). Faster
# presets cost size (ultrafast: 2.8 times as large). See benchmarks/README.md.
OPTIONS: dict[str, str] = {"crf": "23", "preset": "veryfast"}

# A keyframe at least this often, in seconds (None: x264's default of 250
# frames): a player seeks to any chapter within 2 s of decoding.
KEYFRAME_SECONDS: float | None = 2.0


def video_options(fps: float) -> dict[str, str]:
    """The encoder's options at ``fps`` frames per second (the keyframe interval is
    set in seconds, so it is the same time at every quality)."""
    options = dict(OPTIONS)
    if KEYFRAME_SECONDS is not None:
        options["g"] = str(max(1, round(fps * KEYFRAME_SECONDS)))
    return options
