"""Captions from the narration's cues, each shown while it is said.

A cue becomes one caption of at most two lines of about 42 characters (the
usual readability limits for subtitles). A longer cue is split into as few
captions as fit, of about equal length, so that none is a lone trailing
word; the cue's time is shared among them in proportion to their length.
The timing pipeline makes a cue last at least ``MIN_SECONDS`` per caption.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import srt

LINE = 42
LINES = 2


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str  # lines joined by "\n"
    step: int


def wrap(text: str, width: int = LINE) -> list[str]:
    """Greedy word wrap; a word longer than ``width`` gets a line of its own."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _fits(text: str, width: int, lines: int) -> bool:
    return len(wrap(text, width)) <= lines


def chunks(text: str, width: int = LINE, lines: int = LINES) -> list[str]:
    """One cue's text as captions of at most ``lines`` lines of ``width`` characters:
    as few as fit, of about equal length (never a lone word left over)."""
    words = text.split()
    if not words:
        return []
    whole = " ".join(words)
    count = max(1, math.ceil(len(whole) / (width * lines)))
    while True:
        parts = _balanced(words, count)
        if all(_fits(part, width, lines) for part in parts) or count >= len(words):
            return ["\n".join(wrap(part, width)) for part in parts]
        count += 1


def _balanced(words: list[str], count: int) -> list[str]:
    """``words`` in ``count`` runs of about equal length in characters."""
    total = len(" ".join(words))
    parts: list[str] = []
    current: list[str] = []
    finished = 0  # characters of the finished runs, with the spaces between them
    length = 0  # characters of the current run
    for i, word in enumerate(words):
        length += len(word) + (1 if current else 0)
        current.append(word)
        done = finished + (1 if parts else 0) + length
        remaining = len(words) - i - 1
        runs_left = count - len(parts) - 1
        if runs_left and remaining >= runs_left and done >= total * (len(parts) + 1) / count:
            parts.append(" ".join(current))
            finished, current, length = done, [], 0
    if current:
        parts.append(" ".join(current))
    return parts


def cue_captions(index: int, text: str, start: float, end: float) -> list[Cue]:
    """One cue's captions, sharing [start, end) in proportion to their length."""
    texts = chunks(text)
    if not texts or end <= start:
        return []
    weights = [len(t) for t in texts]
    total = sum(weights)
    found = []
    t = start
    for part, weight in zip(texts, weights, strict=True):
        length = (end - start) * weight / total
        # Whole milliseconds: what SRT and WebVTT can write, so both say the same.
        found.append(Cue(round(t, 3), round(t + length, 3), part, index))
        t += length
    return found


def lesson_cues(steps: list[dict[str, Any]]) -> list[Cue]:
    """The captions of every step of a manifest, from its ``cues`` (text, start, end)."""
    found: list[Cue] = []
    for step in steps:
        for cue in step.get("cues", []):
            found += cue_captions(
                int(step["index"]), str(cue["text"]), float(cue["start"]), float(cue["end"])
            )
    return found


def to_srt(cues: list[Cue]) -> str:
    subtitles = [
        srt.Subtitle(i + 1, timedelta(seconds=c.start), timedelta(seconds=c.end), c.text)
        for i, c in enumerate(cues)
    ]
    return srt.compose(subtitles)


def vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def cue_payload(text: str) -> str:
    """Text as a WebVTT cue payload: "-->" cannot appear in it, and a blank (or
    whitespace-only) line would end the cue, so such lines are dropped."""
    lines = [line.rstrip() for line in text.replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line.strip()).replace("-->", "→") or "…"


def to_vtt(entries: list[tuple[float, float, str]], ids: list[str] | None = None) -> str:
    """A WebVTT file of (start, end, text) entries (captions or chapters)."""
    blocks = ["WEBVTT", ""]
    for i, (start, end, text) in enumerate(entries):
        if ids:
            blocks.append(ids[i])
        blocks.append(f"{vtt_time(start)} --> {vtt_time(end)}")
        blocks.append(cue_payload(text))
        blocks.append("")
    return "\n".join(blocks)


def vtt_text(text: str) -> str:
    """Caption text with the characters WebVTT reads as markup escaped (``<`` starts a tag)."""
    return html.escape(text, quote=False)


def captions_vtt(cues: list[Cue]) -> str:
    return to_vtt([(c.start, c.end, vtt_text(c.text)) for c in cues])
