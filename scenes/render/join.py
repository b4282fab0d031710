"""Joining step clips into one video without re-encoding, and probing videos."""

from __future__ import annotations

from fractions import Fraction
from io import BytesIO
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


def concat(clips: list[Path], output: Path, chapters: list[dict[str, Any]] | None = None) -> None:
    """Write ``clips`` one after another into ``output`` (same codec settings required).

    Packets are copied as they are; FFmpeg's concat demuxer shifts their
    timestamps. ``chapters`` (PyAV's chapter dicts) become chapter markers.
    The result is written to a temporary name and renamed, so ``output`` is
    either the old file or the complete new one.
    """
    manifest = "".join(f"file 'file:{Path(c).resolve().as_posix()}'\n" for c in clips)
    with writing(output) as staged:
        with av.open(
            BytesIO(manifest.encode("utf-8")), mode="r", format="concat", options={"safe": "0"}
        ) as source:
            in_stream = source.streams.video[0]
            with av.open(str(staged), mode="w", options={"movflags": "+faststart"}) as sink:
                out_stream = sink.add_stream_from_template(template=in_stream)
                if chapters:
                    sink.set_chapters(chapters)  # type: ignore[arg-type]
                for packet in source.demux(in_stream):
                    if packet.dts is None:
                        continue
                    packet.stream = out_stream
                    sink.mux(packet)
