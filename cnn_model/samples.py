"""Sample images addressable by name in a lesson's ``image:``.

The project's own samples (``star_1``, ``circle_2``, ...) live in
``lessons/images``; CNN Explainer's (``espresso_1``, ...) in the cache once
that model is fetched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# A bare name (no dot, no slash), so it can never be mistaken for a file path:
# star_1, espresso_1, white.
SAMPLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")
EXTENSIONS = (".png", ".jpeg", ".jpg")
# The sample a model shows when a lesson names no image.
DEFAULT_SAMPLE = {"default": "star_1", "cnn-explainer": "espresso_1"}


def project_samples_dir() -> Path:
    override = os.environ.get("CNNLESSON_SAMPLES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "lessons" / "images"


def sample_dirs() -> list[Path]:
    from . import explainer

    dirs = [project_samples_dir()]
    fetched = explainer.images_dir()
    if fetched is not None:
        dirs.append(fetched)
    return dirs


def find_sample(name: str) -> Path | None:
    """The file of sample ``name``, or None."""
    if not SAMPLE_NAME.match(name):
        return None
    for folder in sample_dirs():
        for ext in EXTENSIONS:
            candidate = folder / f"{name}{ext}"
            try:
                if candidate.is_file():
                    return candidate
            except OSError:  # a name too long for the file system is no sample
                return None
    return None


def sample_names() -> list[str]:
    names: set[str] = set()
    for folder in sample_dirs():
        if folder.is_dir():
            names.update(
                p.stem
                for p in folder.iterdir()
                if p.suffix.lower() in EXTENSIONS and SAMPLE_NAME.match(p.stem)
            )
    return sorted(names)
