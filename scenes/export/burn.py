"""Captions burned into the picture, for players that cannot show a caption track."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..atomic import writing
from .captions import Cue
from .chapters import copy_chapters


@cache
def font_file(family: str) -> str | None:
    """The file of a font family, as fontconfig finds it (None if it cannot)."""
    if shutil.which("fc-match") is None:
        return None
    found = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True, text=True)
    return found.stdout.strip() or None


def _overlay(text: str, width: int, height: int, family: str) -> Image.Image:
    """A transparent frame-sized image with the caption in a dark box near the bottom."""
    size = max(12, round(height * 0.045))
    path = font_file(family)
    font = ImageFont.truetype(path, size) if path else ImageFont.load_default(size)
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center", spacing=size // 4)
    text_w, text_h = box[2] - box[0], box[3] - box[1]
    pad = size // 2
    x = (width - text_w) // 2
    y = height - text_h - 2 * pad - round(height * 0.04)
    draw.rectangle((x - pad, y - pad, x + text_w + pad, y + text_h + pad), fill=(0, 0, 0, 170))
    draw.multiline_text(
        (x - box[0], y - box[1]),
        text,
        font=font,
        fill=(255, 255, 255, 255),
        align="center",
        spacing=size // 4,
    )
    return layer


def burn_captions(source: Path, target: Path, cues: list[Cue], family: str) -> None:
    """Re-encode ``source`` (H.264, yuv420p, fast start, its chapters) with ``cues`` drawn on it."""
    with av.open(str(source)) as inp, writing(target) as staged:
        in_video = inp.streams.video[0]
        rate = Fraction(round(float(in_video.average_rate or 15)))
        width, height = in_video.codec_context.width, in_video.codec_context.height
        in_audio = inp.streams.audio[0] if inp.streams.audio else None
        with av.open(str(staged), mode="w", options={"movflags": "+faststart"}) as out:
            copy_chapters(inp, out)
            video = out.add_stream("libx264", rate=rate)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"crf": "20", "preset": "medium"}
            audio = out.add_stream_from_template(in_audio) if in_audio is not None else None
            overlays: dict[int, Image.Image] = {}
            index = 0
            streams = [in_video] + ([in_audio] if in_audio is not None else [])
            for packet in inp.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None and audio is not None:
                        packet.stream = audio
                        out.mux(packet)
                    continue
                for frame in packet.decode():
                    assert isinstance(frame, av.VideoFrame)
                    t = index / float(rate)
                    cue = next((i for i, c in enumerate(cues) if c.start <= t < c.end), None)
                    image = frame.to_image()
                    if cue is not None:
                        if cue not in overlays:
                            overlays[cue] = _overlay(cues[cue].text, width, height, family)
                        image = Image.alpha_composite(image.convert("RGBA"), overlays[cue])
                    new = av.VideoFrame.from_ndarray(
                        np.asarray(image.convert("RGB")), format="rgb24"
                    )
                    new.pts, new.time_base = index, 1 / rate
                    out.mux(video.encode(new))
                    index += 1
            out.mux(video.encode(None))
