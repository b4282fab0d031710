"""Text in the theme's font (Pango, not LaTeX: far cheaper per number)."""

from __future__ import annotations

from manim import Text

from .theme import Theme

# Font sizes, chosen so text stays legible at 480p (about 60 pixels per unit).
TITLE = 34
HEADING = 24
BODY = 22
LABEL = 19
NUMBER = 20
SMALL = 16


def text(
    content: str,
    theme: Theme,
    size: float = BODY,
    colour: str | None = None,
    weight: str = "NORMAL",
) -> Text:
    return Text(content, font=theme.font, font_size=size, color=colour or theme.text, weight=weight)


def muted(content: str, theme: Theme, size: float = LABEL) -> Text:
    return Text(content, font=theme.font, font_size=size, color=theme.muted)
