"""Words broken into lines that fit a width, for captions and verdicts."""

from __future__ import annotations

from manim import DOWN, VGroup, VMobject

from ...visuals.text import text
from ...visuals.theme import Theme

SEPARATORS = ("·", "–", "—")


def _greedy(widths: list[float], space: float, limit: float) -> list[int]:
    """How many words go on each line, filling lines up to ``limit`` in turn."""
    counts: list[int] = []
    run = 0.0
    for width in widths:
        if counts and run + space + width <= limit:
            counts[-1] += 1
            run += space + width
        else:
            counts.append(1)
            run = width
    return counts


def wrap_lines(words: str, theme: Theme, size: float, width: float) -> list[str]:
    """``words`` broken between words into lines no wider than ``width`` at ``size``
    (a word wider than that keeps a line of its own), as few lines as that takes and
    as even as they can be (no lone short word on the last line)."""
    pieces: list[str] = []
    for word in words.split(" "):
        if pieces and word in SEPARATORS:  # a line ends with "·", never starts with it
            pieces[-1] = f"{pieces[-1]} {word}"
        else:
            pieces.append(word)
    if len(pieces) == 1 or text(words, theme, size).width <= width:
        return [words]
    widths = [text(piece, theme, size).width for piece in pieces]
    space = text("a a", theme, size).width - 2 * text("a", theme, size).width
    lines = len(_greedy(widths, space, width))
    # The narrowest limit that still takes no more lines.
    low, high = max(widths), max(width, max(widths))
    for _ in range(20):
        middle = (low + high) / 2
        if len(_greedy(widths, space, middle)) <= lines:
            high = middle
        else:
            low = middle
    result, start = [], 0
    for count in _greedy(widths, space, high):
        result.append(" ".join(pieces[start : start + count]))
        start += count
    return result


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
