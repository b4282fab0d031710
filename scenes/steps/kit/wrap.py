"""Words broken into lines that fit a width, for captions and verdicts."""

from __future__ import annotations

from manim import DOWN, VGroup, VMobject

from ...visuals.text import text
from ...visuals.theme import Theme


def wrap_lines(words: str, theme: Theme, size: float, width: float) -> list[str]:
    """``words`` broken between words into lines no wider than ``width`` at ``size``
    (a word wider than that keeps a line of its own)."""
    lines: list[str] = []
    for word in words.split(" "):
        if lines and text(f"{lines[-1]} {word}", theme, size).width <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def stacked(lines: list[str], theme: Theme, size: float, colour: str | None = None) -> VMobject:
    """One text per line, centred one over the other (a single line as it is)."""
    if len(lines) == 1:
        return text(lines[0], theme, size, colour)
    texts = [text(line, theme, size, colour) for line in lines]
    return VGroup(*texts).arrange(DOWN, buff=0.08)


def wrapped(
    words: str, theme: Theme, size: float, width: float, colour: str | None = None
) -> VMobject:
    """``words`` in lines no wider than ``width``, centred one over the other."""
    return stacked(wrap_lines(words, theme, size, width), theme, size, colour)
