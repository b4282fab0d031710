"""Captions from narration: cues timed to each step's place in the video.

Each step's narration is split into cues of at most two lines of about 42
characters (the usual readability limits for subtitles), broken at sentence
ends where possible, and the step's time span is shared among its cues in
proportion to their length. Cues never cross a step boundary, so they stay
exact however long a step turned out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import srt

LINE = 42
LINES = 2
END_GAP = 0.05  # seconds of silence kept before the next step's first cue


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


def chunks(narration: str, width: int = LINE, lines: int = LINES) -> list[str]:
    """The narration as cue texts of at most ``lines`` lines of ``width`` characters."""
    sentences = re.split(r"(?<=[.!?;:])\s+", " ".join(narration.split()))
    cues: list[str] = []
    for sentence in filter(None, sentences):
        wrapped = wrap(sentence, width)
        for i in range(0, len(wrapped), lines):
            cues.append("\n".join(wrapped[i : i + lines]))
    # Join short neighbours that fit together in one cue.
    merged: list[str] = []
    for cue in cues:
        if merged:
            joined = wrap(merged[-1].replace("\n", " ") + " " + cue.replace("\n", " "), width)
            if len(joined) <= lines:
                merged[-1] = "\n".join(joined)
                continue
        merged.append(cue)
    return merged


def step_cues(index: int, narration: str, start: float, duration: float) -> list[Cue]:
    """Cues for one step, filling [start, start + duration) in proportion to length."""
    texts = chunks(narration)
    if not texts or duration <= 0:
        return []
    span = max(duration - END_GAP, duration * 0.9)
    weights = [len(t) for t in texts]
    total = sum(weights)
    cues = []
    t = start
    for text, weight in zip(texts, weights, strict=True):
        length = span * weight / total
        # Whole milliseconds: what SRT and WebVTT can write, so both say the same.
        cues.append(Cue(round(t, 3), round(t + length, 3), text, index))
        t += length
    return cues


def lesson_cues(steps: list[dict[str, Any]]) -> list[Cue]:
    """Cues for every step of a manifest (``start``, ``duration``, ``narration``).

    A step with a voice-over (``speech``: its start and duration) has its cues
    spread over the speech rather than the whole step, so they follow the voice.
    """
    cues: list[Cue] = []
    for step in steps:
        span = step.get("speech") or step
        cues += step_cues(
            int(step["index"]),
            str(step.get("narration") or ""),
            float(span["start"]),
            float(span["duration"]),
        )
    return cues


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
