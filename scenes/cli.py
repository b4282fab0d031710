"""The ``cnnlesson`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnn_model import ImageError, ModelError

from .cli_common import USAGE_ERROR, CliError, console, out
from .model_commands import add_model_commands

# --- lessons -------------------------------------------------------------


def _print_lesson_errors(errors: list[Any]) -> None:
    for error in errors:
        console.print(str(error), markup=False)
    count = len(errors)
    console.print(f"[red]{count} error{'s' if count != 1 else ''}[/red]")


def cmd_validate(args: argparse.Namespace) -> int:
    from .lesson.load import validate_lesson

    failed = False
    for path in args.lessons:
        errors = validate_lesson(path)
        if errors:
            failed = True
            _print_lesson_errors(errors)
        elif not args.quiet:
            out.print(f"{path}: ok")
    return USAGE_ERROR if failed else 0


def cmd_render(args: argparse.Namespace) -> int:
    from .lesson.errors import LessonInvalid
    from .lesson.load import load_lesson
    from .render.pipeline import RenderError, render_lesson

    try:
        lesson = load_lesson(args.lesson)
    except LessonInvalid as exc:
        _print_lesson_errors(exc.errors)
        return USAGE_ERROR
    progress = None if args.quiet else _progress_printer()
    try:
        result = render_lesson(
            args.lesson,
            quality=args.quality,
            out=args.out,
            jobs=args.jobs,
            aspect=args.aspect,
            theme=args.theme,
            progress=progress,
            lesson=lesson,
        )
    except RenderError as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True)
        return 1
    finally:
        if progress is not None:
            progress.close()
    rendered = len(result.rendered)
    if not args.quiet:
        console.print(
            f"{len(result.steps)} steps ({rendered} rendered, "
            f"{len(result.steps) - rendered} cached) in {result.seconds:.1f} s"
        )
    out.print(str(result.video))
    return 0


class _progress_printer:
    """A live line with steps done/total (rich), closed after the render."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("rendering", total=None)
        self.progress.start()

    def __call__(self, message: str, done: int, total: int) -> None:
        self.progress.update(self.task, description=message, completed=done, total=total)

    def close(self) -> None:
        self.progress.stop()


# --- parser --------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnlesson",
        description="Render animated CNN lessons from YAML scripts with a real TinyVGG.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_model_commands(sub)

    render = sub.add_parser("render", help="render a lesson to video")
    render.add_argument("lesson", type=Path)
    render.add_argument(
        "-q",
        "--quality",
        choices=["l", "m", "h", "k", "low", "medium", "high", "production"],
        help="render quality (default: the lesson's, else low)",
    )
    render.add_argument(
        "-o", "--out", type=Path, default=Path("media"), help="output root (default: media)"
    )
    render.add_argument(
        "-j", "--jobs", type=int, help="steps rendered in parallel (default: CPU cores)"
    )
    render.add_argument(
        "--aspect", choices=["16:9", "9:16", "1:1"], help="override the lesson's aspect"
    )
    render.add_argument("--theme", help="override the lesson's theme")
    render.add_argument("--quiet", action="store_true", help="print only the video path")
    render.set_defaults(func=cmd_render)

    val = sub.add_parser("validate", help="check lessons without rendering")
    val.add_argument("lessons", type=Path, nargs="+")
    val.add_argument("--quiet", action="store_true")
    val.set_defaults(func=cmd_validate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, ModelError, ImageError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return USAGE_ERROR
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
