"""How numbers are written on screen."""

from __future__ import annotations

MINUS = "\u2212"  # a real minus sign: wider than a hyphen, unmistakable on screen


def fmt(value: float, decimals: int = 2, plus: bool = False) -> str:
    """``value`` rounded to ``decimals`` places with a true minus sign.

    A value that rounds to zero is written without a sign ("0.00", not
    "-0.00"), so the sign on screen always means something.
    """
    text = f"{value:.{decimals}f}"
    if text.startswith("-"):
        body = text[1:]
        if float(body) == 0.0:
            return body
        return MINUS + body
    return f"+{text}" if plus else text


def term(shown: str) -> tuple[str, str]:
    """A number as written by :func:`fmt`, split into the sign it is added with and
    its size: ("+", "0.12") or ("−", "0.12"), for sums written out term by term."""
    if shown.startswith(MINUS):
        return MINUS, shown[len(MINUS) :]
    return "+", shown


def short_name(name: str, limit: int = 16) -> str:
    """A class or channel name cut to ``limit`` characters, an ellipsis marking the cut."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
