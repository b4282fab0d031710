"""How numbers are written on screen (in the lesson's language: see :mod:`scenes.i18n`)."""

from __future__ import annotations

from ..i18n import MINUS, number

__all__ = ["MINUS", "fmt", "short_name", "term"]


def fmt(value: float, decimals: int = 2, plus: bool = False) -> str:
    """``value`` rounded to ``decimals`` places with a true minus sign, written
    with the current language's decimal separator ("0.12", "0,12").

    A value that rounds to zero is written without a sign ("0.00", not
    "-0.00"), so the sign on screen always means something.
    """
    return number(value, decimals, plus=plus)


def term(shown: str) -> tuple[str, str]:
    """A number as written by :func:`fmt`, split into the sign it is added with and
    its size: ("+", "0.12") or ("−", "0.12"), for sums written out term by term."""
    if shown.startswith(MINUS):
        return MINUS, shown[len(MINUS) :]
    if shown.startswith("+"):
        return "+", shown[1:]
    return "+", shown


def short_name(name: str, limit: int = 16) -> str:
    """A class or channel name cut to ``limit`` characters, an ellipsis marking the cut."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
