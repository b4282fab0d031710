"""What every ``cnnlesson`` command shares: consoles and the usage-error type."""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.console import Console
from rich.text import Text

USAGE_ERROR = 2
# Characters that change what a terminal shows (bidirectional overrides and isolates).
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
# Line and paragraph separators: text viewers break lines there, like at "\n".
_SEPARATORS = {"\u2028", "\u2029"}
_ESCAPED = _BIDI | _SEPARATORS


def clean(text: str) -> str:
    """``text`` safe to print: control characters, lone surrogates and bidirectional
    controls are written as escapes (``\\x1b``), so a name in a message cannot move
    the cursor, recolour the terminal or fail to encode. Newlines and tabs stay (a
    message may span lines); other line separators are escaped."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        code = ord(char)
        if char in "\n\t":
            out.append(char)
        elif 0xD800 <= code <= 0xDFFF or char in _ESCAPED or unicodedata.category(char) == "Cc":
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


class SafeConsole(Console):
    """A console that prints plain strings through :func:`clean`."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(clean(o) if isinstance(o, str) else o for o in objects), **kwargs)


# Messages are never wrapped: one error is one line, easy to read and to grep.
# No markup: messages carry paths, class names and lesson text, whose brackets
# rich would otherwise read as (possibly broken) style tags.
console = SafeConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)
out = SafeConsole(highlight=False, soft_wrap=True, markup=False)


def print_error(message: object, prefix: str = "error: ") -> None:
    """One error line on standard error: a red prefix, the message as it is (cleaned)."""
    console.print(Text(prefix, style="red") + Text(clean(str(message))))


class CliError(Exception):
    """A user mistake reported as one line, exit status 2, no traceback."""
