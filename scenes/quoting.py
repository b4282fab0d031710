"""How values an author typed are quoted in messages.

Kept apart from the step types (which import Manim) so that the job, the
lesson's fields and a cluster worker that only unpacks a job can use it
without loading the drawing code.
"""

from __future__ import annotations

import datetime
from typing import Any


def quoted(text: object, limit: int = 40) -> str:
    """``text`` in quotes for a message, cut to about ``limit`` characters (a value an
    author typed may be a megabyte long)."""
    shown = str(text)
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return repr(shown)


def describe_value(value: Any) -> str:
    """How a received value is quoted in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int):
        return f"{value}"
    if isinstance(value, float):
        return repr(value)  # 3.0 stays 3.0: "expected an integer, got 3" would contradict itself
    if isinstance(value, str):
        return f"{quoted(value)} (text)"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a mapping"
    return f"{value!r} ({type(value).__name__})"
