"""How long each step lasted when it last rendered, at any quality.

A render's progress display estimates the time left from the frames each step
will have. Before a step renders, only a lower bound is known (its narration,
the animation its fields ask for); but a step rendered before at another
quality, aspect or theme lasts as long again. The output folder's cache keeps
those lengths in ``lengths.json``, by a key made of what sets a step's length
(its fields, its narration, the lesson's language and the code), not of what
only changes its pixels.

The file is only ever a hint: one that is missing, damaged, too large or not
a regular file counts as empty and is written anew.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from pathlib import Path

from cnn_model.safeio import read_regular

from ..atomic import write_json
from .job import Picture

FILE = "lengths.json"
MAX_BYTES = 1024 * 1024
MAX_ENTRIES = 5000  # the most recent are kept


def length_key(picture: Picture, code: str) -> str:
    """What sets a step's length: its fields, its narration and how long each of its
    phases must last (to the half second), the language, the aspect (a page of text
    may break otherwise) and the code; not its size, frame rate or theme."""
    phases = {name: round(seconds * 2) / 2 for name, seconds in picture.phase_seconds.items()}
    blob = json.dumps(
        {
            "step": picture.step,
            "narration": picture.narration,
            "phases": phases,
            "language": picture.language,
            "aspect": picture.aspect,
            "model": picture.model.model_dump(mode="json") if picture.model else None,
            "code": code,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def read_lengths(cache_dir: Path) -> dict[str, float]:
    """The lengths kept, in seconds, by key ({} when there are none to trust)."""
    try:
        data = json.loads(read_regular(cache_dir / FILE, MAX_BYTES).decode("utf-8"))
    except Exception:  # missing, damaged, a link, a FIFO ...: no hint
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        key: float(value)
        for key, value in data.items()
        if isinstance(key, str)
        and len(key) == 32
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value < 24 * 3600
    }


def remember(cache_dir: Path, lengths: dict[str, float]) -> None:
    """Keep these lengths (seconds by key) beside those already kept."""
    kept = read_lengths(cache_dir)
    for key in lengths:
        kept.pop(key, None)  # moved to the end: the most recent
    kept.update(lengths)
    recent = dict(list(kept.items())[-MAX_ENTRIES:])
    with contextlib.suppress(OSError):  # a hint that cannot be written is no failure
        write_json(cache_dir / FILE, recent, cache_entry=True)
