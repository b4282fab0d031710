"""Voice-over: each step's speech laid on one audio track, muxed with the video.

Steps last at least as long as their speech (the pipeline sees to it); the
speech starts a moment after each step begins.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..atomic import writing
from ..speech import RATE, VoiceError, read_wav
from .chapters import copy_chapters

LEAD = 0.3  # seconds of silence before a step's speech


def track(parts: list[tuple[float, Path]], duration: float) -> tuple[np.ndarray, int]:
    """One mono track of ``duration`` seconds with each WAV placed at its start time."""
    total = np.zeros(round(duration * RATE), dtype=np.float32)
    for start, path in parts:
        samples, rate = read_wav(path)
        if rate != RATE:
            raise VoiceError(f"{path}: expected {RATE} Hz audio, got {rate}")
        at = round((start + LEAD) * RATE)
        end = min(len(total), at + len(samples))
        if end > at:
            total[at:end] += samples[: end - at]
    return np.clip(total, -1.0, 1.0), RATE


def mux(video: Path, samples: np.ndarray, rate: int, target: Path) -> None:
    """``video`` (copied as it is, chapters too) with ``samples`` as an AAC track, fast start."""
    with av.open(str(video)) as inp, writing(target) as staged:
        in_video = inp.streams.video[0]
        with av.open(str(staged), mode="w", options={"movflags": "+faststart"}) as out:
            copy_chapters(inp, out)
            out_video = out.add_stream_from_template(in_video)
            audio = out.add_stream("aac", rate=rate)
            audio.layout = "mono"
            for packet in inp.demux(in_video):
                if packet.dts is None:
                    continue
                packet.stream = out_video
                out.mux(packet)
            pcm = (samples * 32767).astype(np.int16)
            chunk = 1024
            for i in range(0, len(pcm), chunk):
                frame = av.AudioFrame.from_ndarray(
                    pcm[None, i : i + chunk], format="s16", layout="mono"
                )
                frame.sample_rate = rate
                frame.pts = i
                frame.time_base = Fraction(1, rate)
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
