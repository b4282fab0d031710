"""Everything a lesson folder holds besides the clips, made ready to upload.

Given the joined video and the manifest, this writes the captions (SRT and
WebVTT), the chapters (WebVTT), the poster and one thumbnail per chapter,
the requested extra formats, the input image and ``index.html``, all into a
staging folder; the caller then moves them into place.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cnn_model.safeio import FileRefused, read_regular

from ..atomic import is_temporary
from . import captions, chapters, frames
from . import formats as video_formats
from .burn import burn_captions
from .page import render_page

# Steps that make a good poster, best first (their last frame is a full picture).
POSTER_PREFERENCE = ("overview", "conv_elastic", "convolution", "softmax", "classify")
THUMB_WIDTH = 320
FORMATS = ("webm", "gif", "png")
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass
class ExportOptions:
    formats: tuple[str, ...] = ()
    burn_captions: bool = False
    poster_step: int | None = None  # from 1
    poster_at: float = 1.0  # fraction of that step
    font: str = "DejaVu Sans"
    gif_max_bytes: int = video_formats.GIF_MAX_BYTES


@dataclass
class Exported:
    files: dict[str, Any] = field(default_factory=dict)
    cues: list[captions.Cue] = field(default_factory=list)
    chapters: list[chapters.ChapterSpan] = field(default_factory=list)


def first_frames(steps: list[dict[str, Any]]) -> list[int]:
    """The number of each step's first frame, and after them the video's frame count."""
    found = [0]
    for step in steps:
        found.append(found[-1] + int(step["frames"]))
    return found


def poster_frame(steps: list[dict[str, Any]], options: ExportOptions) -> int:
    """Which frame is the poster: the lesson's choice, or the last of a telling step."""
    if options.poster_step is not None:
        step = steps[options.poster_step - 1]
    else:
        ranked = sorted(
            steps,
            key=lambda s: (
                POSTER_PREFERENCE.index(s["type"])
                if s["type"] in POSTER_PREFERENCE
                else len(POSTER_PREFERENCE),
                s["index"],
            ),
        )
        step = ranked[0]
    fraction = options.poster_at if options.poster_step is not None else 1.0
    first = first_frames(steps)[steps.index(step)]
    # poster_at 1.0 is the step's last frame, 0.0 its first.
    return first + max(0, math.ceil(int(step["frames"]) * fraction) - 1)


def export(
    video: Path,
    manifest: dict[str, Any],
    lesson_chapters: list[Any],
    input_pixels: np.ndarray | None,
    staging: Path,
    options: ExportOptions,
) -> Exported:
    """Write every derived file into ``staging``; returns names relative to the folder."""
    steps = manifest["steps"]
    fps = float(manifest["fps"])
    # The video's name without .mp4: the lesson's, or its variant's (koala-9x16).
    name = str(manifest["video"]).removesuffix(".mp4")
    result = Exported()
    result.cues = captions.lesson_cues(steps)
    result.chapters = chapters.spans(lesson_chapters, steps)
    files: dict[str, Any] = {"video": f"{name}.mp4"}

    if options.burn_captions:
        burn_captions(video, staging / f"{name}.mp4", result.cues, options.font)
        video = staging / f"{name}.mp4"

    (staging / "captions.srt").write_text(captions.to_srt(result.cues), encoding="utf-8")
    (staging / "captions.vtt").write_text(captions.captions_vtt(result.cues), encoding="utf-8")
    (staging / "chapters.vtt").write_text(chapters.chapters_vtt(result.chapters), encoding="utf-8")
    files.update(
        {"captions_srt": "captions.srt", "captions_vtt": "captions.vtt", "chapters": "chapters.vtt"}
    )

    # Poster, chapter thumbnails and (png format) every step's last frame, counted
    # in frames (not seconds, which rounding could put one frame early).
    first = first_frames(steps)
    wanted = {"poster": poster_frame(steps, options)}
    for i, chapter in enumerate(result.chapters):
        wanted[f"thumb-{i}"] = first[chapter.first_step + chapter.steps] - 1
    if "png" in options.formats:
        for position, step in enumerate(steps):
            wanted[f"frame-{step['index']}"] = first[position + 1] - 1
    keys = list(wanted)
    images = frames.frames_at(video, [wanted[k] for k in keys], fps)
    stills = dict(zip(keys, images, strict=True))
    frames.save_png(stills["poster"], staging / "poster.png")
    files["poster"] = "poster.png"
    files["thumbnails"] = []
    for i, _ in enumerate(result.chapters):
        path = f"thumbnails/{i + 1:02d}.png"
        frames.save_png(stills[f"thumb-{i}"], staging / path, width=THUMB_WIDTH)
        files["thumbnails"].append(path)
    if input_pixels is not None:
        Image.fromarray(input_pixels).save(staging / "input.png")
        files["input"] = "input.png"

    extra: dict[str, str] = {}
    if "webm" in options.formats:
        video_formats.to_webm(video, staging / f"{name}.webm")
        extra["webm"] = f"{name}.webm"
    if "gif" in options.formats:
        info = video_formats.to_gif(video, staging / f"{name}.gif", options.gif_max_bytes)
        extra["gif"] = f"{name}.gif"
        files["gif"] = info
    if "png" in options.formats:
        pngs = []
        for step in steps:
            path = f"frames/{step['index'] + 1:02d}-{step['type']}.png"
            frames.save_png(stills[f"frame-{step['index']}"], staging / path)
            pngs.append(path)
        files["frames"] = pngs
    files["formats"] = extra
    files["page"] = "index.html"
    result.files = files
    return result


def write_page(
    manifest: dict[str, Any],
    cues: list[captions.Cue],
    staging: Path,
    tracks: dict[str, list[captions.Cue]] | None = None,
) -> None:
    """``index.html``, with the captions of the lesson's language and of any further
    ``tracks`` (by language) inline, so that they show on a page opened from disk."""

    def data(found: list[captions.Cue]) -> list[dict[str, Any]]:
        # A VTTCue's text is read as WebVTT cue text, so it is escaped like the file's.
        return [{"start": c.start, "end": c.end, "text": captions.vtt_text(c.text)} for c in found]

    inline = {code: data(found) for code, found in (tracks or {}).items()}
    (staging / "index.html").write_text(render_page(manifest, data(cues), inline), encoding="utf-8")


def listed_files(manifest: dict[str, Any]) -> set[str]:
    """Every file a lesson folder's manifest names, relative to the folder."""
    names = {"manifest.json", str(manifest.get("video", ""))}
    for key, value in manifest.get("files", {}).items():
        if isinstance(value, str):
            names.add(value)
        elif isinstance(value, list):
            names.update(v for v in value if isinstance(v, str))
        elif key == "formats" and isinstance(value, dict):
            names.update(v for v in value.values() if isinstance(v, str))
    for step in manifest.get("steps", []):
        names.update(str(step[key]) for key in ("clip", "captions") if key in step)
    for track in manifest.get("caption_tracks", []):
        if isinstance(track, dict) and isinstance(track.get("file"), str):
            names.add(track["file"])
    return names - {""}


class CarryClash(Exception):
    """A file of the author's is in a folder where the new render writes a file."""


def _check_no_clash(staging: Path, relative: Path, folder: Path, kind: str = "file") -> None:
    """Refuse when something of the author's at ``relative`` (a file, or a folder of
    theirs on its way) has the name of something the render wrote."""
    here = staging
    for part in relative.parts:
        here = here / part
        if not os.path.lexists(here):
            continue
        if here.is_symlink() or not here.is_dir():
            what = kind if here == staging / relative else "folder"
        elif here == staging / relative and kind != "folder":
            what = kind
        else:
            continue
        raise CarryClash(
            f"{folder / here.relative_to(staging)} is a {what} of yours, where the render "
            "writes one of that name; move it, then render again"
        )


def carry_over(folder: Path, staging: Path) -> list[str]:
    """Link the files in ``folder`` that its render did not make into ``staging``.

    A lesson folder is replaced whole by its next render. What the previous
    manifest lists is that render's and goes with it; everything else (an
    author's notes, previews) is hard-linked (or, across devices, copied) into
    the new folder first, so it stays. Symbolic links are carried as links,
    never followed; FIFOs and devices are left behind. A file of the author's
    where the render writes one of that name is refused (:class:`CarryClash`).
    Returns the names carried, relative to the folder.
    """
    if not folder.is_dir() or folder.is_symlink():
        return []
    previous: set[str] = set()
    # A manifest that is there but cannot be read (damaged, edited by hand) cannot
    # tell the previous render's files from the author's: then the new render's
    # files replace what has their names, as the previous render's would be.
    damaged = os.path.lexists(folder / "manifest.json")
    with contextlib.suppress(
        OSError, FileRefused, ValueError, TypeError, KeyError, AttributeError, RecursionError
    ):
        data = read_regular(folder / "manifest.json", MAX_MANIFEST_BYTES)
        previous = listed_files(json.loads(data.decode("utf-8")))
        damaged = False
    carried: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        relative = here.relative_to(folder)
        linked_dirs = [d for d in dirnames if (here / d).is_symlink()]
        dirnames[:] = [d for d in dirnames if d not in linked_dirs and not is_temporary(d)]
        if not dirnames and not filenames and not linked_dirs and relative != Path("."):
            _check_no_clash(staging, relative, folder, "folder")
            (staging / relative).mkdir(parents=True, exist_ok=True)  # an empty folder of theirs
        for name in [*filenames, *linked_dirs]:
            source = here / name
            rel = (relative / name).as_posix()
            target = staging / relative / name
            if rel in previous or is_temporary(name) or (damaged and os.path.lexists(target)):
                continue
            # A file of the author's where the render writes one: never dropped unasked.
            _check_no_clash(staging, relative / name, folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                os.symlink(os.readlink(source), target)
            elif source.is_file():
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
            else:
                continue
            carried.append(rel)
    return carried
