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
