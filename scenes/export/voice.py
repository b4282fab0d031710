"""Voice-over: the lesson's narration track (see :mod:`scenes.audio`) muxed with its video.

The video is copied as it is (chapters too); the track becomes an AAC stream
as long as the video, interleaved with it, and the file starts fast (its
index comes first).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..atomic import writing
from ..audio import Sound
from .chapters import copy_chapters

AAC_BIT_RATE = 96_000  # mono speech
FRAME = 1024  # samples in an AAC frame


def mux(video: Path, sound: Sound, target: Path) -> None:
    """``video`` (copied as it is, chapters too) with ``sound`` as an AAC track, fast start.

    The track is cut or padded with silence to the video's length, so both end
    together (to within one AAC frame, 1024 samples). ``sound`` is usually at
    ``scenes.audio.TRACK_RATE`` (48 kHz); any rate AAC knows will do.
    """
    with av.open(str(video)) as inp, writing(target) as staged:
        in_video = inp.streams.video[0]
        samples = _fitted(sound, _seconds(inp, in_video))
        with av.open(str(staged), mode="w", options={"movflags": "+faststart"}) as out:
            copy_chapters(inp, out)
            out_video = out.add_stream_from_template(in_video)
            audio = out.add_stream("aac", rate=sound.rate, layout="mono")
            audio.bit_rate = AAC_BIT_RATE
            pending = _packets(audio, samples, sound.rate)
            waiting = next(pending, None)
            for packet in inp.demux(in_video):
                if packet.dts is None:
                    continue
                # The audio up to this moment goes first, so the two streams
                # are interleaved as they are written.
                at = float(packet.dts * packet.time_base)
                while waiting is not None and _time(waiting) <= at:
                    out.mux(waiting)
                    waiting = next(pending, None)
                packet.stream = out_video
                out.mux(packet)
            while waiting is not None:
                out.mux(waiting)
                waiting = next(pending, None)


def _seconds(container: Any, stream: Any) -> float | None:
    """The video's length, as its stream (or else its container) records it."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration / av.time_base)
    return None


def _fitted(sound: Sound, seconds: float | None) -> np.ndarray:
    samples = np.ascontiguousarray(np.clip(sound.samples, -1.0, 1.0), dtype=np.float32)
    if seconds is None:
        return samples
    length = max(0, round(seconds * sound.rate))
    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros(length - len(samples), dtype=np.float32)])


def _packets(audio: Any, samples: np.ndarray, rate: int) -> Iterator[av.Packet]:
    """The AAC packets of ``samples``, the encoder flushed at the end (its last
    frames would otherwise be lost)."""
    for i in range(0, len(samples), FRAME):
        frame = av.AudioFrame.from_ndarray(
            samples[None, i : i + FRAME], format="fltp", layout="mono"
        )
        frame.sample_rate = rate
        frame.pts = i
        frame.time_base = Fraction(1, rate)
        yield from audio.encode(frame)
    yield from audio.encode(None)


def _time(packet: av.Packet) -> float:
    when = packet.dts if packet.dts is not None else packet.pts
    if when is None or packet.time_base is None:
        return 0.0
    return float(when * packet.time_base)
