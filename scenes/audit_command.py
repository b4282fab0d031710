"""``cnnlesson audit``: check that every frame of a lesson can be read."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.text import Text

from .cli_common import USAGE_ERROR, console, jobs_count, out, print_error

FOUND = 1  # the audit ran and found problems (as a linter says so)


def cmd_audit(args: argparse.Namespace) -> int:
    from .lesson.errors import LessonInvalid
    from .lesson.load import COMMAND_LINE, load_lesson
    from .render.audit import Look, audit_lessons
    from .render.pipeline import OutputRefused, RenderError
    from .speech import VoiceError
    from .visuals.layout import ASPECTS
    from .visuals.theme import theme_names

    themes: list[str | None] = list(args.theme or []) or [None]
    aspects: list[str | None] = list(args.aspect or []) or [None]
    if args.every_look:
        themes, aspects = list(theme_names()), list(ASPECTS)
    looks = [Look(theme, aspect) for theme in themes for aspect in aspects]
    lessons = []
    errors: list[Any] = []
    for path in args.lessons:
        for look in looks:
            try:
                lessons.append(load_lesson(path, look.overrides(), COMMAND_LINE))
            except LessonInvalid as exc:
                errors.extend(e for e in exc.errors if e not in errors)
    if errors:
        for error in errors:
            console.print(str(error))
        console.print(Text(f"{len(errors)} error{'s' if len(errors) != 1 else ''}", style="red"))
        return USAGE_ERROR
    try:
        results = audit_lessons(lessons, out=args.out, jobs=args.jobs)
    except OutputRefused as exc:
        print_error(exc)
        return USAGE_ERROR
    except (RenderError, VoiceError) as exc:
        print_error(exc, lines=True)
        return 1
    found = [line for result in results for line in result.lines()]
    for line in found:
        out.print_line(line)
    steps = len({(result.lesson, result.index) for result in results})
    if found:
        failing = len({(r.lesson, r.index) for r in results if r.findings})
        console.print(
            Text(
                f"{len(found)} finding{'s' if len(found) != 1 else ''} in {failing} of "
                f"{steps} step{'s' if steps != 1 else ''}, in {len(looks)} look(s)",
                style="red",
            )
        )
        return FOUND
    if not args.quiet:
        plural = "s" if steps != 1 else ""
        out.print_line(f"audit clean: {steps} step{plural} in {len(looks)} look(s)")
    return 0


def add_audit_command(sub: Any) -> None:
    audit = sub.add_parser(
        "audit",
        help="check every frame of lessons for text that cannot be read",
        description=(
            "Build every step as a dry run (nothing is drawn or encoded) and check, at the "
            "end of every beat and in the middle of every animation, that no two texts "
            "overlap, every text has a contrast of at least 4.5:1 against what is behind "
            "it, no text is smaller than 2 %% of the frame's short side and nothing lies "
            "outside the frame. Exit status 1 when anything is found."
        ),
    )
    audit.add_argument("lessons", type=Path, nargs="+")
    audit.add_argument(
        "--theme", action="append", help="audit in this theme (repeatable; default: the lesson's)"
    )
    audit.add_argument(
        "--aspect",
        action="append",
        help="audit at this aspect, 16:9, 9:16 or 1:1 (repeatable; default: the lesson's)",
    )
    audit.add_argument(
        "--every-look",
        action="store_true",
        help="audit in every built-in theme at every aspect",
    )
    audit.add_argument(
        "-o", "--out", type=Path, default=Path("media"), help="output root, for the cache"
    )
    audit.add_argument("-j", "--jobs", type=jobs_count, help="steps built at once")
    audit.add_argument("--quiet", action="store_true", help="print only what is found")
    audit.set_defaults(func=cmd_audit)


__all__ = ["add_audit_command"]
