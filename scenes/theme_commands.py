"""``cnnlesson theme …``: start a theme file of your own, list the built-in themes,
and write the JSON Schema of theme files."""

from __future__ import annotations

import argparse
import os
import re
import textwrap
from pathlib import Path

from .cli_common import CliError, console, out, output_file, print_or_write
from .lesson.errors import one_line

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
COMMENT_WIDTH = 88


def _comment(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(
        text, COMMENT_WIDTH, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
    )


def theme_text(name: str, schema: str) -> str:
    """A theme file named ``name``: the default theme's values, every key with a
    comment on what it colours (from the theme schema's own descriptions)."""
    from .visuals.colors import SCALES
    from .visuals.theme import (
        COLOUR_KEYS,
        DEFAULT_THEME,
        SCALE_ROLES,
        ThemeFile,
        ThemeScales,
        load_theme,
    )

    theme = load_theme(DEFAULT_THEME)
    fields, scale_fields = ThemeFile.model_fields, ThemeScales.model_fields
    lines = [f"# yaml-language-server: $schema={schema}"]
    lines += _comment(
        "A cnnlesson theme: the colours, font and colour scales of a lesson's frames and of "
        f"its lesson page. A lesson uses it with `theme: ./{name}.yaml` (a path from the "
        f"lesson's folder); one render with `--theme {name}.yaml` (from the working folder). "
        "Check it with `cnnlesson validate` on a lesson that uses it."
    )
    lines += _comment(
        f"This is a copy of the built-in theme {DEFAULT_THEME}: change what you like. Colours "
        'are "#rrggbb" or "#rgb", in quotes: without them YAML reads # as the start of a '
        "comment."
    )
    lines += ["", f"name: {name}", f"description: My theme (from {DEFAULT_THEME})."]
    for key in COLOUR_KEYS:
        lines += ["", *_comment(fields[key].description or key), f'{key}: "{getattr(theme, key)}"']
    lines += ["", *_comment(fields["font"].description or "font"), f"font: {theme.font}"]
    lines += [""]
    lines += _comment(
        f"{fields['scales'].description} The scales are ColorBrewer's: "
        f"{', '.join(SCALES)}. A diverging one (RdBu, BrBG, PuOr, PiYG) for values "
        "around zero, a sequential one (Oranges, Purples, Greys) for values from low to high."
    )
    lines.append("scales:")
    for role in SCALE_ROLES:
        lines += [*_comment(scale_fields[role].description or role, "  ")]
        lines.append(f"  {role}: {getattr(theme, role).name}")
    return "\n".join(lines) + "\n"


def cmd_theme_new(args: argparse.Namespace) -> int:
    from .quoting import quoted
    from .visuals.theme import configs_dir

    if not NAME.match(args.name):
        raise CliError(
            "theme name must be ASCII letters and digits, '-' or '_' (at most 64, starting "
            f"with a letter or digit), got {quoted(args.name)}"
        )
    path: Path = args.output if args.output is not None else Path(f"{args.name}.yaml")
    if os.path.lexists(path):
        raise CliError(f"{path} already exists; choose another name or -o path")
    folder = path.parent
    if not folder.is_dir():
        raise CliError(f"-o {path}: the folder {folder} does not exist")
    schema = os.path.relpath(configs_dir() / "theme.schema.json", folder.resolve())
    text = theme_text(args.name, Path(schema).as_posix())
    try:
        with open(path, "x", encoding="utf-8") as handle:  # never over an existing file
            handle.write(text)
    except FileExistsError:
        raise CliError(f"{path} already exists; choose another name or -o path") from None
    out.print(str(path))
    console.print(one_line(f"use it in a lesson with `theme: ./{path.name}` beside the lesson"))
    return 0


def cmd_theme_list(args: argparse.Namespace) -> int:
    import yaml
    from rich.table import Table

    from cnn_model.safeio import read_text

    from .visuals.theme import MAX_THEME_BYTES, load_theme, theme_names, themes_dir

    table = Table("theme", "background", "text", "accent", "description")
    for name in theme_names():
        theme = load_theme(name)
        data = yaml.safe_load(read_text(themes_dir() / f"{name}.yaml", MAX_THEME_BYTES))
        table.add_row(
            name, theme.background, theme.text, theme.accent, str(data.get("description") or "")
        )
    out.print(table)
    console.print("or give a theme file's path: `cnnlesson theme new NAME` writes one")
    return 0


def cmd_theme_schema(args: argparse.Namespace) -> int:
    from .visuals.theme import theme_schema_text

    text = theme_schema_text()
    return print_or_write(text, args.output)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``theme new``, ``theme list`` and ``theme schema`` to the command."""
    theme = subparsers.add_parser("theme", help="theme files: start one, list the built-in ones")
    sub = theme.add_subparsers(dest="theme_command", required=True, metavar="COMMAND")

    new = sub.add_parser(
        "new", help="write a commented copy of the default theme to change (NAME.yaml)"
    )
    new.add_argument("name", help="theme name (letters, digits, - and _)")
    new.add_argument(
        "-o",
        "--output",
        type=output_file,
        help="write it here (default: NAME.yaml in the working folder); never over a file",
    )
    new.set_defaults(func=cmd_theme_new)

    listing = sub.add_parser("list", help="the built-in themes and their main colours")
    listing.set_defaults(func=cmd_theme_list)

    schema = sub.add_parser("schema", help="print (or write) the JSON Schema of theme files")
    schema.add_argument("-o", "--output", type=output_file, help="write it to this file")
    schema.set_defaults(func=cmd_theme_schema)
