"""Errors in a lesson, each with the file, line and column it is about."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PathPart = str | int
FieldPath = tuple[PathPart, ...]

# Every character str.splitlines() breaks a line at: none may reach a message,
# where a key or a value holding one could fake an error line of its own.
_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAKS = {ord(c): c.encode("unicode_escape").decode("ascii") for c in _BREAKS}


def one_line(text: str) -> str:
    """``text`` with its line breaks written as escapes (``\\n``)."""
    return text.translate(_LINE_BREAKS)


def path_text(path: FieldPath) -> str:
    """("steps", 2, "stride") -> "steps[2].stride"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True, order=True)
class LessonError:
    """One problem in a lesson file; ``line`` and ``column`` count from 1."""

    file: str
    line: int
    column: int
    path: str
    message: str
    # The message may quote the file's text (a parser's complaint): never shown
    # for a file a course lists that may not be a lesson at all.
    quotes_text: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return one_line(self._text())

    def _text(self) -> str:
        if self.line == 0:  # not from the file: a command-line option
            return f"{self.file}: {self.path}: {self.message}"
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class LessonInvalid(Exception):
    """A lesson failed validation; carries every error found."""

    def __init__(self, errors: Sequence[LessonError]) -> None:
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(Path(os.path.abspath(path)).relative_to(os.getcwd()))
    except (ValueError, OSError):
        return str(path)
