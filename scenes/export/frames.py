"""Still frames from a rendered video: the poster, chapter thumbnails, last frames."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

from ..atomic import writing


def frames_at(video: Path, times: list[float], fps: float) -> list[Image.Image]:
    """The frames shown at ``times`` (seconds), decoded in one pass."""
    wanted = sorted(set(max(0, int(t * fps + 1e-6)) for t in times))
    found: dict[int, Image.Image] = {}
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found[index] = frame.to_image()
            if len(found) == len(wanted):
                break
        last = index
    result = []
    for t in times:
        index = min(max(0, int(t * fps + 1e-6)), last)
        if index not in found:  # past the end: the last frame decoded
            index = max(found)
        result.append(found[index])
    return result


def save_png(image: Image.Image, target: Path, width: int | None = None) -> None:
    if width is not None and image.width > width:
        height = round(image.height * width / image.width)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    with writing(target) as path:
        image.save(path, format="PNG", optimize=True)
