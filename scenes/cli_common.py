"""What every ``cnnlesson`` command shares: consoles and the usage-error type."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.text import Text

from .lesson.errors import one_line

USAGE_ERROR = 2
# Characters that change what a terminal shows (bidirectional overrides and isolates).
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
# Line and paragraph separators: text viewers break lines there, like at "\n".
_SEPARATORS = {"\u2028", "\u2029"}
_ESCAPED = _BIDI | _SEPARATORS
# Control characters, and format characters that show as nothing (zero-width
# spaces, soft hyphens, direction marks): a name holding one would look like
# another name in a message.
_HIDDEN = ("Cc", "Cf")
# Format characters that words need: Persian and Indic scripts and emoji join with them.
_JOINERS = {"\u200c", "\u200d"}


def clean(text: str) -> str:
    """``text`` safe to print: control characters, lone surrogates, bidirectional
    controls and invisible format characters are written as escapes (``\\x1b``), so a
    name in a message cannot move the cursor, recolour the terminal, hide itself or
    fail to encode. Newlines and tabs stay (a message may span lines); other line
    separators are escaped."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        code = ord(char)
        if char in "\n\t":
            out.append(char)
        elif (
            0xD800 <= code <= 0xDFFF
            or char in _ESCAPED
            or (unicodedata.category(char) in _HIDDEN and char not in _JOINERS)
        ):
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


class SafeConsole(Console):
    """A console that prints plain strings through :func:`clean`."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_cleaned(o) for o in objects), **kwargs)

    def print_line(self, text: str) -> None:
        """``text`` as exactly one line: a name or a card field holding a line break
        cannot print a line that looks like one of the command's own."""
        self.print(one_line(clean(text)))


def _cleaned(thing: Any) -> Any:
    if isinstance(thing, str):
        return clean(thing)
    if isinstance(thing, Text) and not thing.plain.isprintable():
        thing = thing.copy()
        thing.plain = clean(thing.plain)
    return thing


# Messages are never wrapped: one error is one line, easy to read and to grep.
# No markup: messages carry paths, class names and lesson text, whose brackets
# rich would otherwise read as (possibly broken) style tags.
console = SafeConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)
out = SafeConsole(highlight=False, soft_wrap=True, markup=False)


def print_error(message: object, prefix: str = "error: ", lines: bool = False) -> None:
    """One error line on standard error: a red prefix, the message (cleaned).

    Line breaks in the message (a path may hold one) are written as escapes,
    so that no name can print a line that looks like an error of its own.
    With ``lines`` the message may span lines (a worker's log), each further
    one indented under the first.
    """
    text = clean(str(message))
    text = text.replace("\n", "\n  ") if lines else one_line(text)
    console.print(Text(prefix, style="red") + Text(text))


class SafeArgumentParser(argparse.ArgumentParser):
    """An argument parser whose complaints quote the command line cleaned."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {one_line(clean(message))}\n")


def output_file(text: str) -> Path:
    """An ``--output`` file path as argparse reads it; a path ending in ``/`` names a
    folder (``Path`` would silently drop the slash and write a file of that name)."""
    if not text or text.endswith(("/", "/.", "/..")) or text in (".", ".."):
        raise argparse.ArgumentTypeError(f"{text!r} names a folder; give a file path")
    return Path(text)


class CliError(Exception):
    """A user mistake reported as one line, exit status 2, no traceback."""


MAX_JOBS = 64


def jobs_count(text: str) -> int:
    """``-j``: how many steps are worked on at once."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:30]!r}") from None
    if not 1 <= value <= MAX_JOBS:
        shown = str(value) if len(str(value)) <= 12 else f"{str(value)[:12]}…"
        raise argparse.ArgumentTypeError(
            f"steps rendered at once must be from 1 to {MAX_JOBS}, got {shown}"
        )
    return value


def print_or_write(text: str, output: Path | None) -> int:
    """A generated file (a JSON Schema): printed, or written whole to ``output``."""
    from .atomic import output_problem, writing

    if output is None:
        out.print(text, end="")
        return 0
    problem = output_problem(output)
    if problem is not None:
        raise CliError(f"--output {output}: it is {problem}")
    with writing(output) as staged:
        staged.write_text(text, encoding="utf-8")
    console.print(one_line(f"wrote {output}"))
    return 0
