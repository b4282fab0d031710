"""Joining step clips into one video without re-encoding, and probing videos."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..atomic import writing


def probe(path: Path) -> dict[str, float | int]:
    """Width, height, frame rate, frame count and duration of a video's first stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames
        if not frames:
            frames = sum(1 for _ in container.demux(stream) if _.size)
        rate = stream.average_rate or stream.guessed_rate or Fraction(1)
        return {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": float(rate),
            "frames": int(frames),
            "duration": float(frames / rate),
        }


def concat(
    clips: list[Path],
    output: Path,
    chapters: list[dict[str, Any]] | None = None,
    cache_entry: bool = False,
) -> None:
    """Write ``clips`` one after another into ``output`` (same codec settings required).

    Packets are copied as they are, each clip's timestamps shifted by the
    length of the clips before it (what FFmpeg's concat demuxer does, without
    its list of file names, which cannot hold every path). ``chapters``
    (PyAV's chapter dicts) become chapter markers. The result is written to a
    temporary name and renamed, so ``output`` is either the old file or the
    complete new one (``cache_entry``: see :func:`~scenes.atomic.writing`).
    """
    with writing(output, cache_entry=cache_entry) as staged:
        with av.open(str(staged), mode="w", options={"movflags": "+faststart"}) as sink:
            out_stream: Any = None
            offset = Fraction(0)  # seconds: where the next clip starts
            last: Fraction | None = None  # the decode time of the last packet written
            for clip in clips:
                with av.open(str(clip)) as source:
                    in_stream = source.streams.video[0]
                    if out_stream is None:
                        out_stream = sink.add_stream_from_template(template=in_stream)
                        if chapters:
                            sink.set_chapters(chapters)  # type: ignore[arg-type]
                    length, last = _copy_packets(source, in_stream, sink, out_stream, offset, last)
                    offset += length


def _copy_packets(
    source: Any, stream: Any, sink: Any, out_stream: Any, offset: Fraction, last: Fraction | None
) -> tuple[Fraction, Fraction | None]:
    """Mux ``stream``'s packets into ``out_stream`` from ``offset`` seconds on; returns
    the clip's length and the last packet's decode time, in seconds.

    A clip with B-frames starts decoding before its first picture (its first
    decode time is negative), so its first packets could decode no later than
    the previous clip's last: such a decode time is moved to just after that one
    (never past the packet's own presentation time), as the muxer needs them
    strictly increasing. ``last`` is the last decode time written before, in seconds.
    """
    base = stream.time_base
    start = stream.start_time or 0
    shift = round(offset / base) - start
    end = start
    for packet in source.demux(stream):
        if packet.dts is None:
            continue
        frame = packet.duration or 0
        end = max(end, (packet.pts if packet.pts is not None else packet.dts) + frame)
        packet.pts = None if packet.pts is None else packet.pts + shift
        packet.dts += shift
        if last is not None and packet.dts * base <= last:
            packet.dts = math.floor(last / base) + 1
            if packet.pts is not None:
                packet.dts = min(packet.dts, packet.pts)
        last = packet.dts * base
        packet.stream = out_stream
        sink.mux(packet)
    length = stream.duration if stream.duration else end - start
    return Fraction(length) * base, last
