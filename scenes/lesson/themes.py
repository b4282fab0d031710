"""A lesson's theme: a built-in one by name, or an author's theme file by its path.

A theme file is read like a lesson: as a regular file with a size cap, parsed
safely with every value's position remembered, and checked against
:class:`~scenes.visuals.theme.ThemeFile`; every problem is an error with the
theme file's name, line and column. The font must be installed here, where the
frames are drawn (Pango would quietly draw another one).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from cnn_model.safeio import FileRefused, read_regular

from ..quoting import quoted
from ..visuals.theme import (
    MAX_THEME_BYTES,
    ScaleName,
    Theme,
    ThemeFile,
    theme_names,
    theme_of,
    themes_dir,
)
from .errors import FieldPath, LessonError, LessonInvalid, display_path
from .messages import listing, message_for, suggest, unknown_name
from .source import Document, Source, decode_error, parse

THEME_FILE = Document(
    kind="theme",
    needs="colours, a font and colour scales (`cnnlesson theme new NAME` writes one)",
    top_keys="'background' and 'font'",
)
THEME_SUFFIXES = (".yaml", ".yml")
# Names fontconfig resolves to an installed font of that kind.
GENERIC_FONTS = ("sans-serif", "serif", "monospace")


def is_theme_path(value: str) -> bool:
    """Whether a lesson's ``theme:`` is a file's path rather than a built-in theme's name."""
    return "/" in value or os.sep in value or value.lower().endswith(THEME_SUFFIXES)


@functools.cache
def installed_fonts() -> tuple[str, ...]:
    """The font families Pango can draw with here (empty when they cannot be listed)."""
    try:
        import manimpango

        return tuple(sorted(set(manimpango.list_fonts())))
    except Exception:  # no font configuration at all: nothing to compare with
        return ()


def font_problem(font: str) -> str | None:
    """Why ``font`` cannot draw the frames here (None when it can, or when the installed
    fonts cannot be listed)."""
    fonts = installed_fonts()
    if not fonts or font.casefold() in {f.casefold() for f in (*fonts, *GENERIC_FONTS)}:
        return None
    return (
        f"the font {quoted(font)} is not installed here{suggest(font, list(fonts))}; "
        f"installed fonts: {listing(list(fonts), 8)}"
    )


def _located(source: Source, exc: ValidationError) -> list[LessonError]:
    """Pydantic's errors on a theme file as sentences at their line and column."""
    found = []
    for error in exc.errors():
        path: FieldPath = tuple(error["loc"])
        message = message_for(error, ThemeFile, "a theme's")
        if error["type"] == "literal_error" and isinstance(error.get("input"), str):
            message += suggest(error["input"], list(get_args(ScaleName)))
        found.append(source.field_error(path, message, error["type"]))
    return found


def read_theme(
    path: Path, name: str | None = None, lesson: Source | None = None
) -> tuple[Theme | None, list[LessonError]]:
    """The theme in the file at ``path`` (named ``name``, else as the file says, else
    after the file), or every error found in it, located. A file that cannot be read
    (missing, a folder, a FIFO, too large) is an error at the ``lesson``'s ``theme:``."""
    file = display_path(path)
    try:
        data = read_regular(path, MAX_THEME_BYTES)
    except FileRefused as exc:
        reason = str(exc)
        message = f"cannot read the theme file {file}: {reason}"
        if lesson is not None:
            return None, [lesson.error(("theme",), message)]
        return None, [LessonError(file, 1, 1, "", message)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column, message = decode_error(data, exc)
        return None, [LessonError(file, line, column, "", message)]
    source = parse(text, file, THEME_FILE)
    if source.errors:
        return None, sorted(set(source.errors))
    errors: list[LessonError] = []
    spec: ThemeFile | None = None
    try:
        spec = ThemeFile.model_validate(source.data)
    except ValidationError as exc:
        errors = _located(source, exc)
    font = source.data.get("font") if isinstance(source.data, dict) else None
    if isinstance(font, str) and not any(e.path == "font" for e in errors):
        problem = font_problem(font)
        if problem is not None:
            errors.append(source.error(("font",), problem))
    if spec is None or errors:
        return None, sorted(set(errors))
    stem = path.name
    for suffix in THEME_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return theme_of(spec, name or spec.name or stem), []


def resolve_theme(source: Source, value: str, base: Path) -> tuple[Theme | None, list[LessonError]]:
    """The theme a lesson's ``theme:`` names: a built-in theme, or a theme file whose
    path is relative to ``base`` (the lesson's folder, or the working folder for a
    value given on the command line). Problems with the value itself are located at
    the lesson's ``theme:``; those inside a theme file at their place in that file."""
    known = theme_names()
    if value in known:
        return read_theme(themes_dir() / f"{value}.yaml", value, source)
    if not is_theme_path(value):
        message = unknown_name("theme", value, known, "themes")
        return None, [source.error(("theme",), message)]
    try:
        path = base / Path(value).expanduser()
    except RuntimeError:  # ~name of no user here: a plain path
        path = base / value
    shown = display_path(path)
    if not path.name.lower().endswith(THEME_SUFFIXES):
        # Never read: a file that is not a theme is not quoted in messages either.
        return None, [
            source.error(
                ("theme",), f"{shown} is not a theme file (theme files end in .yaml or .yml)"
            )
        ]
    if not os.path.lexists(path):
        return None, [
            source.error(
                ("theme",),
                f"no theme file {shown}; built-in themes: {listing(known)} "
                "(`cnnlesson theme new NAME` writes a theme file to start from)",
            )
        ]
    return read_theme(path, None, source)


def load_theme_file(value: str | Path, base: Path | None = None) -> Theme:
    """A built-in theme by name, or the theme file at ``value`` (relative to ``base``,
    the working folder by default); raises :class:`LessonInvalid` with every error."""
    text = str(value)
    source = Source("load_theme_file")
    source.overridden["theme"] = "theme="  # a bad value is named as given, not located
    source.override_origin = "load_theme_file"
    theme, errors = resolve_theme(source, text, base or Path.cwd())
    if theme is None:
        raise LessonInvalid(errors)
    return theme
