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

# Measured (benchmarks/README.md) on three 1080p60 steps (title, convolution,
# overview) against Manim's default (crf 23, preset medium): superfast at crf 24
# keeps Manim's quality (PSNR Y +0.5 dB, SSIM Y +0.0001; no clip more than 0.04 dB
# below) in clips 26 % larger, and renders the three steps 7 % sooner than
# veryfast at crf 23 (49.9 against 53.9 s), whose quality is 2.3 dB below.
# veryfast keeps the quality only at crf 20, no faster than at crf 23; ultrafast's
# clips are 2.8 times as large. One thread: as fast with two steps rendering at
# once, 10 % less CPU, and the same bytes on every machine (x264's own threads cut
# each frame into as many slices as the machine has cores).
OPTIONS: dict[str, str] = {"crf": "24", "preset": "superfast", "threads": "1"}

# Frames whose short side is this many pixels or fewer (-q l and -q d: drafts,
# looked at while the lesson is written) favour time over size. Measured on the
# course at -q l (benchmarks/README.md): ultrafast at crf 28 encodes 1.8 times as
# fast as the settings above, SSIM Y 0.0004 and PSNR Y 1.5 dB from Manim's
# default, in clips 41 % larger. It makes no B-frames.
SMALL_LINES = 480
SMALL_OPTIONS: dict[str, str] = {"crf": "28", "preset": "ultrafast", "threads": "1"}

# A keyframe at least this often, in seconds (None: x264's default of 250
# frames): a player seeks to any chapter within 2 s of decoding.
KEYFRAME_SECONDS: float | None = 2.0


def video_options(fps: float, short_side: int) -> dict[str, str]:
    """The encoder's options at ``fps`` frames per second, for frames whose short
    side is ``short_side`` pixels (the keyframe interval is set in seconds, so it
    is the same time at every quality)."""
    options = dict(SMALL_OPTIONS if short_side <= SMALL_LINES else OPTIONS)
    if KEYFRAME_SECONDS is not None:
        options["g"] = str(max(1, round(fps * KEYFRAME_SECONDS)))
    return options
