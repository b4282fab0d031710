"""Other formats of the lesson video: WebM (VP9 + Opus) and an animated GIF.

Both are made from the finished MP4 with PyAV, in one pass each.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.filter

from ..atomic import writing
from .chapters import copy_chapters

GIF_WIDTH = 480
GIF_FPS = 10
GIF_MAX_BYTES = 8_000_000


def to_webm(source: Path, target: Path, crf: int = 33) -> None:
    """VP9 video (and Opus audio when the source has sound), same size, rate and chapters."""
    with av.open(str(source)) as inp, writing(target) as staged:
        in_video = inp.streams.video[0]
        rate = Fraction(round(float(in_video.average_rate or 15)))
        with av.open(str(staged), mode="w", format="webm") as out:
            copy_chapters(inp, out)
            video = out.add_stream("libvpx-vp9", rate=rate)
            video.width = in_video.codec_context.width
            video.height = in_video.codec_context.height
            video.pix_fmt = "yuv420p"
            video.options = {
                "crf": str(crf),
                "b": "0",
                "row-mt": "1",
                "deadline": "good",
                "cpu-used": "4",
            }
            audio = None
            in_audio = inp.streams.audio[0] if inp.streams.audio else None
            if in_audio is not None:
                audio = out.add_stream("libopus", rate=48000)
                audio.layout = "stereo"
            streams = [in_video] + ([in_audio] if in_audio is not None else [])
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000)
            frames = 0
            for frame in _decode(inp, streams):
                if isinstance(frame, av.VideoFrame):
                    frame.pts = frames  # one tick per frame: exact, whatever the source's clock
                    frame.time_base = 1 / rate
                    frames += 1
                    out.mux(video.encode(frame))
                elif audio is not None:
                    frame.pts = None
                    for chunk in resampler.resample(frame):
                        out.mux(audio.encode(chunk))
            out.mux(video.encode(None))
            if audio is not None:
                out.mux(audio.encode(None))


def _decode(container: av.container.InputContainer, streams: list[Any]) -> Iterator[Any]:
    for packet in container.demux(*streams):
        yield from packet.decode()


def gif_settings(
    width: int, height: int, fps: float, duration: float, max_bytes: int = GIF_MAX_BYTES
) -> tuple[int, int, float]:
    """Width, height and frame rate of a GIF likely to stay under ``max_bytes``.

    A GIF of a lesson costs roughly a tenth of a byte per pixel per frame
    (large flat areas compress well); size and rate shrink together until
    that estimate fits.
    """
    out_w = min(GIF_WIDTH, width)
    out_fps = min(GIF_FPS, fps)
    while True:
        out_h = round(height * out_w / width / 2) * 2
        estimate = 0.1 * out_w * out_h * out_fps * duration
        if estimate <= max_bytes or (out_w <= 160 and out_fps <= 1.0):
            return out_w, out_h, out_fps
        # Smaller first, down to 160 pixels wide; then fewer frames, down to one a second.
        out_fps = max(4.0 if out_w > 160 else 1.0, out_fps * 0.8)
        out_w = max(160, int(out_w * 0.8) // 2 * 2)


def to_gif(source: Path, target: Path, max_bytes: int = GIF_MAX_BYTES) -> dict[str, float]:
    """An animated GIF (shared palette, scaled and slowed to fit ``max_bytes``).

    Returns its width, height, frame rate, frame count and size. If the
    estimate was too hopeful the GIF is made again smaller, down to 160
    pixels wide at one frame a second (the cap holds for lessons up to about
    an hour and a half).
    """
    with av.open(str(source)) as probe:
        stream = probe.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = float(stream.average_rate or 15)
        frames = stream.frames
    duration = frames / round(fps)
    budget = max_bytes
    while True:
        out_w, out_h, out_fps = gif_settings(width, height, round(fps), duration, budget)
        count = _write_gif(source, target, out_w, out_h, out_fps, round(fps))
        size = target.stat().st_size
        if size <= max_bytes or (out_w <= 160 and out_fps <= 1.0):
            # Over the cap only for a lesson too long for any GIF: the size says so.
            return {"width": out_w, "height": out_h, "fps": out_fps, "frames": count, "bytes": size}
        budget = int(budget * 0.6)


def _write_gif(
    source: Path, target: Path, width: int, height: int, fps: float, source_fps: int
) -> int:
    """Frames picked at ``fps`` from the source, palette from the whole clip."""
    with av.open(str(source)) as inp:
        picked = []
        step = source_fps / fps
        next_pick = 0.0
        for index, frame in enumerate(inp.decode(video=0)):
            if index + 1e-9 >= next_pick:
                picked.append(frame.reformat(width=width, height=height, format="rgb24"))
                next_pick += step
    graph = av.filter.Graph()
    buffer = graph.add_buffer(
        width=width, height=height, format=av.VideoFormat("rgb24"), time_base=Fraction(1, 100)
    )
    split = graph.add("split")
    palettegen = graph.add("palettegen", "stats_mode=full")
    paletteuse = graph.add("paletteuse", "dither=bayer:bayer_scale=4")
    sink = graph.add("buffersink")
    buffer.link_to(split)
    split.link_to(palettegen, 0, 0)
    split.link_to(paletteuse, 1, 0)
    palettegen.link_to(paletteuse, 0, 1)
    paletteuse.link_to(sink)
    graph.configure()
    delay = Fraction(100, 1) / Fraction(fps).limit_denominator(100)
    for i, frame in enumerate(picked):
        frame.pts = round(i * delay)
        frame.time_base = Fraction(1, 100)
        graph.push(frame)
    graph.push(None)
    count = 0
    with writing(target) as staged, av.open(str(staged), mode="w", format="gif") as out:
        stream = out.add_stream("gif", rate=Fraction(fps).limit_denominator(100))
        stream.width, stream.height = width, height
        stream.pix_fmt = "pal8"
        stream.codec_context.time_base = Fraction(1, 100)
        while True:
            try:
                pulled = graph.pull()
            except (av.error.EOFError, av.error.BlockingIOError):
                break
            assert isinstance(pulled, av.VideoFrame)
            pulled.pts = round(count * delay)
            pulled.time_base = Fraction(1, 100)
            out.mux(stream.encode(pulled))
            count += 1
        out.mux(stream.encode(None))
    return count
