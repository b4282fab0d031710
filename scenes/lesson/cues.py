"""A step's narration as cues, each tied to a phase of the step's animation.

A narration is written either as a list of cues (``say``, ``at``, ``audio``)
or as plain text, whose sentences become cues. A cue without ``at`` takes the
phase after the previous cue's (the first phase for the first cue; the last
phase once they run out), so a plain text's sentences are spread over the
phases in order. A cue's phase must exist and come no earlier than the
previous cue's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..quoting import quoted
from ..steps.kit.base import CueSpec, FieldParts, StepSpec
from .messages import suggest

# Words after which a full stop does not end a sentence (lower case, without the stop).
ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "cf", "dr", "mr", "mrs", "ms", "no", "fig", "approx"}
    | {"z.b", "d.h", "bzw", "usw", "ca", "nr", "vgl", "bsp", "evtl", "ggf", "u.a", "s"}
    | {"p.ex", "c.-à-d", "cf", "env", "av", "apr", "j.-c"}
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”)]*\s+")


@dataclass(frozen=True)
class PlacedCue:
    """One cue of a step, placed: its text (placeholders not yet filled), its phase,
    the recording that speaks it (if any), and where it was written."""

    text: str
    phase: str
    audio: Path | None
    where: FieldParts  # within the step: ("narration",) or ("narration", 2)


def sentences(text: str) -> list[str]:
    """``text`` split into sentences: after ``.``, ``!``, ``?`` or ``…`` and a space, unless
    the next word starts in lower case or the stop ends an abbreviation or an initial."""
    text = " ".join(text.split())
    found: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].rstrip("\"'»”)")
        word = before.rsplit(" ", 1)[-1].lower().rstrip(".")
        after = text[match.end() : match.end() + 1]
        if not after or after.islower() or word in ABBREVIATIONS or len(word) == 1:
            continue
        found.append(text[start : match.start()].strip())
        start = match.end()
    rest = text[start:].strip()
    if rest:
        found.append(rest)
    return [s for s in found if s]


def written_cues(spec: StepSpec) -> list[tuple[CueSpec, FieldParts]]:
    """The step's cues as written: a list's own, or one per sentence of a text (the text
    was validated whole, so its sentences are not checked again)."""
    if isinstance(spec.narration, str):
        return [
            (CueSpec.model_construct(say=s, at=None, audio=None), ("narration",))
            for s in sentences(spec.narration)
        ]
    return [(cue, ("narration", i)) for i, cue in enumerate(spec.narration)]


def place_cues(
    spec: StepSpec, phases: list[str], folder: Path
) -> tuple[list[PlacedCue], list[tuple[FieldParts, str]]]:
    """Each cue of ``spec`` with its phase; recordings are paths from ``folder`` (the
    lesson file's). Returns the cues and the problems, as (field within the step, message)."""
    placed: list[PlacedCue] = []
    problems: list[tuple[FieldParts, str]] = []
    following = 0  # the phase a cue without ``at`` takes
    previous: int | None = None
    for cue, where in written_cues(spec):
        if cue.at is None:
            index = min(following, len(phases) - 1)
        elif cue.at in phases:
            index = phases.index(cue.at)
        else:
            problems.append(
                (
                    (*where, "at"),
                    f"a {spec.type} step has no phase {quoted(cue.at)}"
                    f"{suggest(cue.at, phases)}; its phases: {', '.join(phases)}",
                )
            )
            continue
        if previous is not None and index < previous:
            problems.append(
                (
                    (*where, "at"),
                    f"phase {quoted(phases[index])} comes before {quoted(phases[previous])}, "
                    f"the previous cue's; cues follow the phases in order: {', '.join(phases)}",
                )
            )
            continue
        audio = folder / Path(cue.audio).expanduser() if cue.audio is not None else None
        placed.append(PlacedCue(cue.say, phases[index], audio, where))
        previous, following = index, index + 1
    return placed, problems
