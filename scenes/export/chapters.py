"""Chapters: WebVTT chapter files, MP4 chapter markers and the manifest's list."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .captions import to_vtt

MILLIS = Fraction(1, 1000)


@dataclass(frozen=True)
class ChapterSpan:
    title: str
    start: float
    end: float
    first_step: int
    steps: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "first_step": self.first_step,
            "steps": self.steps,
        }


def spans(chapters: list[Any], steps: list[dict[str, Any]]) -> list[ChapterSpan]:
    """Chapter times from the lesson's chapters and the manifest's step times."""
    found = []
    for chapter in chapters:
        first = steps[chapter.first]
        last = steps[chapter.first + chapter.count - 1]
        found.append(
            ChapterSpan(
                chapter.title,
                float(first["start"]),
                float(last["start"]) + float(last["duration"]),
                chapter.first,
                chapter.count,
            )
        )
    return found


def chapters_vtt(chapters: list[ChapterSpan]) -> str:
    return to_vtt(
        [(c.start, c.end, " ".join(c.title.split())) for c in chapters],
        ids=[f"chapter-{i + 1}" for i in range(len(chapters))],
    )


def mp4_chapters(chapters: list[ChapterSpan]) -> list[dict[str, Any]]:
    """Chapter markers in the form PyAV's ``Container.set_chapters`` takes (milliseconds)."""
    return [
        {
            "id": i + 1,
            "start": round(c.start * 1000),
            "end": round(c.end * 1000),
            "time_base": MILLIS,
            "metadata": {"title": c.title},
        }
        for i, c in enumerate(chapters)
    ]


def copy_chapters(source: Any, target: Any) -> None:
    """Carry the chapter markers of one open container over to another."""
    found = source.chapters()
    if found:
        target.set_chapters(found)
