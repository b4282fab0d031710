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

from cnn_model.safeio import new_temp_file

from ..atomic import writing
from .chapters import copy_chapters

GIF_SIDE = 640  # the longer side, in pixels, of the largest GIF
GIF_FPS = 10
GIF_MAX_BYTES = 8_000_000
# Bytes a lesson's GIF takes per pixel of each frame, for a first guess: 0.02 to
# 0.055 in the default course, measured on minute-long stretches of it.
GIF_BYTES_PER_PIXEL = 0.035
GIF_FILL = 0.9  # aim at this share of the cap: the rate varies a little with the size
GIF_FILL_LOW = 0.75  # a GIF using less of the cap than this is made once more, larger
GIF_SCALING = "AREA"  # averages the pixels a smaller one covers: text stays even


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


def _scaled(width: int, height: int, side: int) -> tuple[int, int]:
    """The size with the longer side ``side`` (never larger than the source), in even
    pixels."""
    scale = min(1.0, side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def gif_settings(
    width: int,
    height: int,
    fps: float,
    duration: float,
    max_bytes: int = GIF_MAX_BYTES,
    bytes_per_pixel: float = GIF_BYTES_PER_PIXEL,
) -> tuple[int, int, float]:
    """Width, height and frame rate of a GIF expected to take at most ``max_bytes``
    at ``bytes_per_pixel`` per pixel of each frame.

    Lessons are pictures and text that change in steps: a GIF of one keeps its
    size before its smoothness. The frame rate goes down to 5 first, then the
    size, to 320 pixels on the longer side, then the rate to 2 a second, the size
    to 160 pixels and the rate to 1.
    """
    side = min(GIF_SIDE, max(width, height))
    out_fps = float(min(GIF_FPS, fps))

    def expected(side: int, rate: float) -> float:
        w, h = _scaled(width, height, side)
        return bytes_per_pixel * w * h * rate * duration

    while expected(side, out_fps) > max_bytes:
        if out_fps > 5:
            out_fps = max(5.0, out_fps * 0.8)
        elif side > 320:
            side = max(320, int(side * 0.95))
        elif out_fps > 2:
            out_fps = max(2.0, out_fps * 0.8)
        elif side > 160:
            side = max(160, int(side * 0.95))
        elif out_fps > 1:
            out_fps = max(1.0, out_fps * 0.8)
        else:
            break
    return (*_scaled(width, height, side), out_fps)


def to_gif(source: Path, target: Path, max_bytes: int = GIF_MAX_BYTES) -> dict[str, float]:
    """An animated GIF (one palette for the whole clip), as large and smooth as
    ``max_bytes`` allows.

    The first GIF is made with settings from a typical rate of bytes per pixel
    (``GIF_BYTES_PER_PIXEL``); its real rate sets the next try: a smaller GIF when
    it came out over the cap, one larger when it used less than ``GIF_FILL_LOW``
    of it. The largest under the cap is kept. Returns its width, height, frame
    rate, frame count and size. The smallest settings (160 pixels at one frame a
    second) stay over the cap only for a lesson of more than about two hours.
    """
    with av.open(str(source)) as probe:
        stream = probe.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = round(float(stream.average_rate or 15))
        frames = stream.frames
    duration = frames / fps
    top = gif_settings(width, height, fps, duration, max_bytes=2**62)
    bottom = gif_settings(width, height, fps, duration, max_bytes=0)
    rate = GIF_BYTES_PER_PIXEL
    tried: set[tuple[int, int, float]] = set()
    best: tuple[Path, dict[str, float]] | None = None  # the largest GIF that fits so far
    grown = False
    try:
        while True:
            settings = gif_settings(width, height, fps, duration, int(max_bytes * GIF_FILL), rate)
            if settings in tried:
                break
            tried.add(settings)
            out_w, out_h, out_fps = settings
            path = new_temp_file(target.parent, "part", ".gif")
            count = _write_gif(source, path, out_w, out_h, out_fps, fps)
            size = path.stat().st_size
            rate = size / max(1, out_w * out_h * count)
            made = (
                path,
                {"width": out_w, "height": out_h, "fps": out_fps, "frames": count, "bytes": size},
            )
            if size <= max_bytes:
                if best is None or best[1]["bytes"] < size:
                    best, made = made, best
                if made is not None:
                    made[0].unlink(missing_ok=True)
                if grown or size >= max_bytes * GIF_FILL_LOW or settings == top:
                    break
                grown = True
                continue
            if settings == bottom and best is None:
                best = made  # a lesson too long for any GIF under the cap: its size says so
                break
            path.unlink(missing_ok=True)
            if best is not None:
                break  # the larger try came out over the cap: keep the one that fits
        assert best is not None
        with writing(target) as staged:
            best[0].replace(staged)
        return best[1]
    finally:
        if best is not None:
            best[0].unlink(missing_ok=True)


def _picked(source: Path, width: int, height: int, fps: float, source_fps: int) -> Iterator[Any]:
    """The source's frames at ``fps``, scaled to ``width`` × ``height``, one at a time."""
    step = source_fps / fps
    next_pick = 0.0
    with av.open(str(source)) as inp:
        for index, frame in enumerate(inp.decode(video=0)):
            if index + 1e-9 >= next_pick:
                next_pick += step
                yield frame.reformat(
                    width=width, height=height, format="rgb24", interpolation=GIF_SCALING
                )


def _write_gif(
    source: Path, target: Path, width: int, height: int, fps: float, source_fps: int
) -> int:
    """Frames picked at ``fps`` from the source, with one palette made from all of
    them. Two passes over the source (the palette, then the GIF) keep one frame at a
    time in memory, not the whole lesson."""
    delay = Fraction(100, 1) / Fraction(fps).limit_denominator(100)
    graph = av.filter.Graph()
    frames_in = graph.add_buffer(
        width=width, height=height, format=av.VideoFormat("rgb24"), time_base=Fraction(1, 100)
    )
    palettegen = graph.add("palettegen", "stats_mode=full")
    sink = graph.add("buffersink")
    frames_in.link_to(palettegen)
    palettegen.link_to(sink)
    graph.configure()
    for i, frame in enumerate(_picked(source, width, height, fps, source_fps)):
        frame.pts = round(i * delay)
        frame.time_base = Fraction(1, 100)
        graph.push(frame)
    graph.push(None)
    palette = graph.pull()
    assert isinstance(palette, av.VideoFrame)

    graph = av.filter.Graph()
    frames_in = graph.add_buffer(
        width=width, height=height, format=av.VideoFormat("rgb24"), time_base=Fraction(1, 100)
    )
    palette_in = graph.add_buffer(
        width=palette.width,
        height=palette.height,
        format=palette.format,
        time_base=Fraction(1, 100),
    )
    # No dithering: lessons are flat colours, text and maps of cells, which a
    # dither pattern only blurs (and makes larger); the colour legends' gradients
    # keep enough of the 256 colours not to band visibly.
    paletteuse = graph.add("paletteuse", "dither=none")
    sink = graph.add("buffersink")
    frames_in.link_to(paletteuse, 0, 0)
    palette_in.link_to(paletteuse, 0, 1)
    paletteuse.link_to(sink)
    graph.configure()
    palette.pts = 0
    palette.time_base = Fraction(1, 100)
    palette_in.push(palette)
    palette_in.push(None)
    count = 0
    with av.open(str(target), mode="w", format="gif") as out:
        stream = out.add_stream("gif", rate=Fraction(fps).limit_denominator(100))
        stream.width, stream.height = width, height
        stream.pix_fmt = "pal8"
        stream.codec_context.time_base = Fraction(1, 100)

        def drain() -> None:
            nonlocal count
            while True:
                try:
                    pulled = graph.pull()
                except (av.error.EOFError, av.error.BlockingIOError):
                    return
                assert isinstance(pulled, av.VideoFrame)
                pulled.pts = round(count * delay)
                pulled.time_base = Fraction(1, 100)
                out.mux(stream.encode(pulled))
                count += 1

        for i, frame in enumerate(_picked(source, width, height, fps, source_fps)):
            frame.pts = round(i * delay)
            frame.time_base = Fraction(1, 100)
            frames_in.push(frame)
            drain()
        frames_in.push(None)
        drain()
        out.mux(stream.encode(None))
    return count
