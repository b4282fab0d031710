"""Still frames from a rendered video: the poster, chapter thumbnails, last frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from ..atomic import writing


def frames_at(video: Path, indices: list[int], fps: float) -> list[Image.Image]:
    """The frames numbered ``indices`` (from 0; beyond the end means the last).

    Each is found by seeking to the key frame before it and decoding from
    there, so a long video is not decoded from its start for every picture.
    """
    found: dict[int, Image.Image] = {}
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        base = stream.time_base or Fraction(1, 90000)
        total = stream.frames or None
        for index in sorted({max(0, i) for i in indices}):
            if total is not None:
                index = min(index, total - 1)
            if index in found:
                continue
            container.seek(int(index / fps / base), stream=stream, backward=True)
            last = None
            for frame in container.decode(stream):
                last = frame
                if frame.time is not None and round(frame.time * fps) >= index:
                    break
            if last is not None:
                found[index] = last.to_image()
    got = sorted(found)
    return [found[max((i for i in got if i <= max(0, want)), default=got[0])] for want in indices]


def save_png(image: Image.Image, target: Path, width: int | None = None) -> None:
    if width is not None and image.width > width:
        height = round(image.height * width / image.width)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    with writing(target) as path:
        image.save(path, format="PNG", optimize=True)
