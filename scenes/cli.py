"""The ``cnnlesson`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from rich.text import Text

from cnn_model import ImageError, ModelError

from .audit_command import add_audit_command
from .cli_common import (
    USAGE_ERROR,
    CliError,
    SafeArgumentParser,
    console,
    jobs_count,
    out,
    output_file,
    print_error,
    print_or_write,
)
from .model_commands import add_model_commands
from .theme_commands import register as add_theme_commands

if TYPE_CHECKING:
    from .render.progress import RenderProgress

INTERNAL_ERROR = 70  # EX_SOFTWARE: not the user's mistake

# --- lessons -------------------------------------------------------------


def _print_lesson_errors(errors: list[Any]) -> None:
    for error in errors:
        console.print(str(error))
    count = len(errors)
    console.print(Text(f"{count} error{'s' if count != 1 else ''}", style="red"))


def _print_warnings(warnings: list[Any]) -> None:
    for warning in warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))


def cmd_validate(args: argparse.Namespace) -> int:
    from .lesson.errors import LessonInvalid
    from .lesson.load import COMMAND_LINE, load_lesson

    failed = False
    for path in args.lessons:
        try:
            lesson = load_lesson(path, _overrides(args), COMMAND_LINE)
        except LessonInvalid as exc:
            failed = True
            _print_lesson_errors(exc.errors)
            continue
        _print_warnings(lesson.warnings)
        if not args.quiet:
            out.print(f"{path}: ok")
    return USAGE_ERROR if failed else 0


def _write_timings(result: Any) -> None:
    """For the benchmarks (benchmarks/README.md): with CNNLESSON_TIMINGS=FILE, the
    render's stages and every rendered step's record of where its time went."""
    target = os.environ.get("CNNLESSON_TIMINGS")
    if not target:
        return
    import json

    steps = [
        {"index": s.index, "type": s.type, **{k: s.record.get(k) for k in _STEP_TIMINGS}}
        for s in result.steps
        if not s.cached
    ]
    data = {"seconds": result.seconds, "stages": result.timings, "steps": steps}
    Path(target).write_text(json.dumps(data, indent=1), encoding="utf-8")


_STEP_TIMINGS = (
    "timings",
    "texts",
    "render_seconds",
    "frames",
    "drawn_frames",
    "held_frames",
    "parts",
)


def cmd_render(args: argparse.Namespace) -> int:
    from .lesson.errors import LessonInvalid
    from .lesson.load import COMMAND_LINE, load_lesson
    from .render.pipeline import OutputRefused, RenderError, render
    from .speech import VoiceError

    try:
        lesson = load_lesson(args.lesson, _overrides(args), COMMAND_LINE)
    except LessonInvalid as exc:
        _print_lesson_errors(exc.errors)
        return USAGE_ERROR
    _print_warnings(lesson.warnings)
    progress = None if args.quiet else _progress()
    try:
        result = render(
            lesson,
            out=args.out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            progress=progress,
            formats=tuple(dict.fromkeys(args.format or [])),
            burn_captions=args.burn_captions,
            name=args.name,
        )
    except OutputRefused as exc:
        print_error(exc)
        return USAGE_ERROR
    except RenderError as exc:
        print_error(exc, lines=True)
        return 1
    except VoiceError as exc:
        print_error(exc, "error: voice-over: ", lines=True)
        return 1
    finally:
        if progress is not None:
            progress.close()
    rendered = len(result.rendered)
    _write_timings(result)
    if not args.quiet:
        import json

        from .export.embed import page_iframe_size
        from .export.page import iframe_snippet

        page = result.video.parent / "index.html"
        console.print(f"lesson page: {page}")
        console.print("embed it (adjust the path to where you upload the folder):")
        width, height = page_iframe_size(json.loads(result.manifest.read_text("utf-8")))
        folder = result.variant.path if result.variant is not None else result.lesson.name
        console.print(
            iframe_snippet(
                f"{folder}/index.html", result.lesson.header.title, width=width, height=height
            )
        )
        console.print(
            f"{len(result.steps)} steps ({rendered} rendered, "
            f"{len(result.steps) - rendered} cached) in {result.seconds:.1f} s"
        )
    out.print(str(result.video))
    return 0


def cmd_steps(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .lesson.schema import field_rows
    from .steps import registry

    names = args.types or registry.names()
    for name in names:
        if name not in registry.REGISTRY:
            raise CliError(
                f"unknown step type {name!r}; known step types: {', '.join(registry.names())}"
            )
    for name in names:
        step_type = registry.get(name)
        table = Table(
            "field",
            "type",
            "default",
            "meaning",
            title=f"type: {name}",
            title_justify="left",
            title_style="bold",
        )
        for row in field_rows(step_type.spec):
            table.add_row(*row)
        out.print(step_type.summary)
        out.print(
            f"phases (narration cues take them in order, or name one with at:): "
            f"{step_type.phases.describe()}",
            highlight=False,
        )
        out.print(table)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .lesson.schema import json_schema_text

    text = json_schema_text()
    return print_or_write(text, args.output)


def cmd_new(args: argparse.Namespace) -> int:
    from .lesson.scaffold import ScaffoldError, scaffold

    try:
        path = scaffold(args.name, args.dir)
    except ScaffoldError as exc:
        raise CliError(str(exc)) from None
    out.print(str(path))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from .lesson.errors import LessonInvalid
    from .lesson.load import COMMAND_LINE, load_lesson
    from .render.pipeline import OutputRefused, RenderError, preview_step

    try:
        lesson = load_lesson(args.lesson, _overrides(args), COMMAND_LINE)
    except LessonInvalid as exc:
        _print_lesson_errors(exc.errors)
        return USAGE_ERROR
    _print_warnings(lesson.warnings)
    if args.output is not None:
        from .atomic import output_problem

        problem = output_problem(args.output)
        if problem is not None:
            raise CliError(f"--output {args.output}: it is {problem}")
    if not 1 <= args.step <= len(lesson.steps):
        raise CliError(
            f"--step must be from 1 to {len(lesson.steps)} (the lesson has "
            f"{len(lesson.steps)} steps), got {args.step}"
        )
    try:
        png = preview_step(lesson, args.step - 1, out=args.out, output=args.output, name=args.name)
    except OutputRefused as exc:
        print_error(exc)
        return USAGE_ERROR
    except RenderError as exc:
        print_error(exc, lines=True)
        return 1
    out.print(str(png))
    return 0


def _progress() -> RenderProgress:
    """A live bar on a terminal; plain lines, one per finished step, elsewhere (a log,
    a pipe, CI)."""
    from .render.progress import LineProgress, LiveProgress

    return LiveProgress(console) if console.is_terminal else LineProgress(console)


# --- parser --------------------------------------------------------------


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    """Options that replace a lesson's own settings for one run, one per setting
    declared overridable in the lesson header. Their values are checked with the
    lesson, like the keys they replace: the help names the choices, argparse does not
    check them (a wrong one gets the lesson's own located message)."""
    from .lesson.spec import overridable, override_of

    for name, info in overridable().items():
        choices = get_args(info.annotation) if get_origin(info.annotation) is Literal else ()
        one_of = f"One of {', '.join(choices)}." if choices else ""
        parser.add_argument(
            *override_of(info).flags(name),
            dest=name,
            metavar=name.upper(),
            help=" ".join(
                t
                for t in (
                    info.description,
                    one_of,
                    override_of(info).note,
                    f"Replaces the lesson's {name}.",
                )
                if t
            ),
        )


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """The overriding options given, as the lesson would hold them: a whole number
    for a numeric setting (anything else is left for validation to refuse, located)."""
    from .lesson.spec import overridable

    given: dict[str, object] = {}
    for name, info in overridable().items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if info.annotation is int and value.strip().lstrip("+-").isdigit():
            value = int(value)
        given[name] = value
    return given


def _variant_name(text: str) -> str:
    """A ``--name`` as argparse reads it: one safe folder name."""
    from .render.variant import name_problem

    problem = name_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _add_name(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--name",
        type=_variant_name,
        help=f"{what} into OUT/<lesson>/NAME/ (letters, digits, - and _) instead of the "
        "folder its settings name: OUT/<lesson>/ for 16:9, cnn-explainer, en and the default "
        "model, else a folder inside it naming what differs (OUT/<lesson>/9x16-dark/)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = SafeArgumentParser(
        prog="cnnlesson",
        description="Render animated CNN lessons from YAML scripts with a real TinyVGG.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_model_commands(sub)
    add_audit_command(sub)
    add_theme_commands(sub)

    render = sub.add_parser("render", help="render a lesson to video")
    render.add_argument("lesson", type=Path)
    render.add_argument(
        "-o", "--out", type=Path, default=Path("media"), help="output root (default: media)"
    )
    render.add_argument(
        "-j", "--jobs", type=jobs_count, help="steps rendered in parallel (default: CPU cores)"
    )
    render.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="render the steps on this Dask cluster instead of this machine's cores",
    )
    _add_overrides(render)
    render.add_argument(
        "--format",
        action="append",
        choices=["webm", "gif", "png"],
        help="also write this format (repeatable): webm (VP9), gif (size-capped), png (each "
        "step's last frame); the MP4 is always written",
    )
    render.add_argument(
        "--burn-captions", action="store_true", help="draw the captions into the video itself"
    )
    _add_name(render, "render")
    render.add_argument("--quiet", action="store_true", help="print only the video path")
    render.set_defaults(func=cmd_render)

    steps = sub.add_parser("steps", help="list step types with their fields and defaults")
    steps.add_argument("types", nargs="*", help="only these step types")
    steps.set_defaults(func=cmd_steps)

    schema = sub.add_parser("schema", help="print (or write) the JSON Schema of lesson files")
    schema.add_argument("-o", "--output", type=output_file, help="write it to this file")
    schema.set_defaults(func=cmd_schema)

    new = sub.add_parser("new", help="start a lesson file with comments")
    new.add_argument("name", help="lesson name (letters, digits, - and _)")
    new.add_argument("--dir", type=Path, default=Path("lessons"), help="folder (default: lessons)")
    new.set_defaults(func=cmd_new)

    preview = sub.add_parser("preview", help="write the last frame of one step as a PNG")
    preview.add_argument("lesson", type=Path)
    preview.add_argument("--step", type=int, required=True, help="step number, from 1")
    preview.add_argument("-o", "--out", type=Path, default=Path("media"), help="output root")
    preview.add_argument(
        "--output", type=output_file, help="PNG path (default: OUT/<lesson>/preview-step-N.png)"
    )
    _add_overrides(preview)
    _add_name(preview, "write the PNG (without --output)")
    preview.set_defaults(func=cmd_preview)

    val = sub.add_parser("validate", help="check lessons without rendering")
    val.add_argument("lessons", type=Path, nargs="+")
    _add_overrides(val)
    val.add_argument("--quiet", action="store_true")
    val.set_defaults(func=cmd_validate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, ModelError, ImageError) as exc:
        print_error(exc)
        return USAGE_ERROR
    except OSError as exc:  # a file or folder named on the command line that cannot be used
        print_error(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else exc)
        return USAGE_ERROR
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    except MemoryError:
        print_error("not enough memory for this input")
        return USAGE_ERROR
    except Exception as exc:  # a defect: say so in one line (CNNLESSON_DEBUG=1 shows where)
        if os.environ.get("CNNLESSON_DEBUG"):
            raise
        print_error(
            f"unexpected {type(exc).__name__}: {exc} (this is a defect of cnnlesson; "
            "run again with CNNLESSON_DEBUG=1 for the details)"
        )
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
