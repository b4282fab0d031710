"""When each cue is said: how long it takes, what its phase needs, and where it lands.

A cue lasts as long as its sound (a recording or the synthetic voice) or, in a
silent lesson, its reading time at the lesson's words per minute; never less
than a caption needs to be read (``MIN_CAPTION`` for each caption it becomes).
The cues of a phase follow one another from the phase's start, a short gap
apart, and the phase lasts at least until the last has ended and its gap
passed. The scene holds a phase that is shorter; the worker's record then
says where each phase really lies, in frames, and the cues are placed there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..export.captions import chunks
from ..lesson.load import reading_seconds

if TYPE_CHECKING:
    from ..audio import Sound

CUE_GAP = 0.3  # seconds of quiet after each cue, before the next one starts
READING_LAG = 0.4  # seconds added to a cue's reading time (a step's whole text gets 1 s)
MIN_CAPTION = 1.2  # the shortest a caption may show


@dataclass(frozen=True)
class TimedCue:
    """A cue with its placeholders filled, its sound (if spoken) and its length."""

    text: str
    phase: str
    seconds: float
    recording: Path | None = None  # the author's recording of it
    sound: Path | None = None  # the file that speaks it: the recording, or synthetic speech
    audio: str | None = None  # what speaks it, for the manifest: the recording, or the voice

    def load(self) -> Sound:
        """The cue's sound at the track's rate (it must have one)."""
        from .. import audio

        assert self.sound is not None
        if self.recording is not None:
            return audio.read_recording(self.sound)
        return audio.spoken(self.sound)


def cue_seconds(text: str, words_per_minute: int, sound_seconds: float | None) -> float:
    """How long a cue lasts: its sound, or its reading time without one; at least
    ``MIN_CAPTION`` for every caption its text becomes."""
    if sound_seconds is not None:
        own = sound_seconds
    else:
        own = reading_seconds(text, words_per_minute, READING_LAG)
    return max(own, MIN_CAPTION * max(1, len(chunks(text))))


def frames_of(seconds: float, fps: float) -> int:
    """Whole frames that last at least ``seconds``."""
    return math.ceil(seconds * fps - 1e-6)


def phase_seconds(cues: list[TimedCue], fps: float) -> dict[str, float]:
    """How long each phase must last at least: its cues one after the other, each
    with its gap, each starting on a frame."""
    needs: dict[str, int] = {}
    for cue in cues:
        needs[cue.phase] = needs.get(cue.phase, 0) + frames_of(cue.seconds + CUE_GAP, fps)
    return {name: frames / fps for name, frames in needs.items()}


def placed(
    phases: list[dict[str, Any]], cues: list[TimedCue], first_frame: int, frames: int, fps: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The step's phases and cues in seconds of the lesson video.

    ``phases`` are the worker's spans in frames of the step's clip; the step
    starts at ``first_frame`` of the video and lasts ``frames``. The last
    phase ends with the clip.
    """
    spans = []
    for i, phase in enumerate(phases):
        first = int(phase["first_frame"])
        end = frames if i == len(phases) - 1 else int(phase["end_frame"])
        spans.append(
            {
                "name": str(phase["name"]),
                "start": round((first_frame + first) / fps, 6),
                "end": round((first_frame + end) / fps, 6),
            }
        )
    first_of = {str(p["name"]): first_frame + int(p["first_frame"]) for p in phases}
    offset: dict[str, int] = {}
    found = []
    for cue in cues:
        start = first_of[cue.phase] + offset.get(cue.phase, 0)
        offset[cue.phase] = offset.get(cue.phase, 0) + frames_of(cue.seconds + CUE_GAP, fps)
        found.append(
            {
                "text": cue.text,
                "start": round(start / fps, 6),
                "end": round((start + frames_of(cue.seconds, fps)) / fps, 6),
                "phase": cue.phase,
                "audio": cue.audio,
            }
        )
    return spans, found


def fitted(phases: list[dict[str, Any]], cues: list[TimedCue]) -> list[dict[str, Any]]:
    """Cues of another language placed on phases already timed (a translation's captions
    on this video): each phase's cues one after the other from its start, squeezed
    evenly when together they would outlast it."""
    span = {str(p["name"]): (float(p["start"]), float(p["end"])) for p in phases}
    found = []
    for name, (start, end) in span.items():
        own = [cue for cue in cues if cue.phase == name]
        wanted = sum(cue.seconds + CUE_GAP for cue in own)
        scale = min(1.0, (end - start) / wanted) if wanted else 1.0
        t = start
        for cue in own:
            length = cue.seconds * scale
            found.append(
                {"text": cue.text, "start": round(t, 6), "end": round(t + length, 6), "phase": name}
            )
            t += (cue.seconds + CUE_GAP) * scale
    return found
