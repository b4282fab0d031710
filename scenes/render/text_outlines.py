"""Text outlines parsed once per render, not once per Text.

A Manim ``Text`` is laid out by Pango into an SVG file named by a hash of
everything that shapes it (the string, font, size, weight, colour, spacing),
then parsed with svgelements into one VMobject per glyph. The parse is most of
a Text's cost, and Manim's ``Text`` asks its SVG cache not to keep it
(``use_svg_cache=False``), so every Text is parsed again: the same label in
every frame of a step's build, the same "0" of every glyph font in every step.

Two things are kept here instead, in each process:

- **Layouts.** The parsed outlines of a Text, by that file name (the hash, not
  the folder: each step lays its texts out in a folder of its own), given to
  the next Text with the same name as a copy, as Manim's SVG cache does for
  other SVG files.
- **Glyphs.** Pango's file defines each glyph's outline once (a ``symbol``)
  and places it with ``use`` at an offset; Manim parses every placement anew.
  Here each glyph's outline is parsed once, as Manim parses it but placed at
  the origin, and a layout is composed of copies moved to their offsets: a
  new layout parses only the glyphs (of that font, size and style) not met
  before. Its points are Manim's up to the rounding of that move (a unit or
  two in the last place, 1e-15 of a glyph's size: no pixel moves). A file of
  any other shape (anything but plain glyphs placed in styled groups) is
  parsed by Manim, as before.

What follows (closing the outlines, colour, size, position) runs for every
Text as before, so the Text is the same.

Across the steps of a render: each child of a warm worker (see :mod:`.pool`)
writes the glyphs it was the first to meet into the warm worker's folder when
its step is done, and the warm worker reads them before it forks the next
child, so a later step starts with them; so does what the glyph fonts of
numbers measured (see :mod:`..visuals.glyphs`). The files are written and read
only by processes of the one render, in a folder only its user can open, and
removed with it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import pickle
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import svgelements as se
from manim import RIGHT, MarkupText, Text, VGroup, VMobject, config
from manim.mobject.svg.svg_mobject import SVGMobject

from ..visuals import glyphs

_MANIM_INIT = SVGMobject.init_svg_mobject
MAX_SHARED = 20_000  # glyphs the warm worker keeps (a few kB each)

# The outlines of each Text layout: its glyphs and Manim's index of them by SVG id,
# as the parse left them (before the Text closes, colours and scales them).
Outlines = tuple[list[Any], dict[str, Any]]
_KNOWN: dict[tuple[str, ...], Outlines] = {}
# Each glyph's outline at the origin, in the file's coordinates (before the flip);
# None for one that draws nothing (a space).
_GLYPHS: dict[tuple[str, ...], VMobject | None] = {}
_NEW_GLYPHS: dict[tuple[str, ...], VMobject | None] = {}  # met here, not yet written
# Since the last take_counts(): Texts parsed by Manim (a file of another shape),
# composed of glyphs, copied from a layout made before in this process; and the
# glyphs parsed to compose them (those not met before in this render).
_COUNTS = dict.fromkeys(("parsed", "composed", "copied", "glyphs"), 0)

_SVG = "{http://www.w3.org/2000/svg}"
_HREF = "{http://www.w3.org/1999/xlink}href"
_DRAWS = re.compile(r"[LHVCSQTAlhvcsqta]")  # a path command that draws
# Manim keeps only these attributes of the file's root (see modify_xml_tree).
_ROOT_STYLE = ("fill", "fill-opacity", "stroke", "stroke-opacity", "stroke-width", "style")


def _key(mob: SVGMobject) -> tuple[str, ...] | None:
    if not isinstance(mob, (Text, MarkupText)) or mob.file_name is None:
        return None
    # Manim's name for the file hashes what shapes the text. Not the canvas Pango
    # lays it out on (the frame's pixel size), which moves no outline: Manim's own
    # file of a layout serves every quality (tests/test_text_outlines.py).
    return (
        type(mob).__name__,
        mob.file_name.name,
        repr(mob.svg_default),
        repr(mob.path_string_config),
        str(config.renderer),
    )


@dataclass
class _Use:
    """One glyph placed in a layout's file."""

    key: tuple[str, ...]  # its outline and everything that styles it
    x: float
    y: float
    draws: bool  # its outline has a line or a curve (a space's has neither)
    href: str
    symbol: ET.Element  # its outline's definition
    groups: tuple[ET.Element, ...]  # the groups it is placed in


def _uses(mob: SVGMobject) -> tuple[ET.Element, list[_Use]] | None:
    """The file's root and the glyphs it places, in drawing order; None if the file
    holds anything else (it is then parsed by Manim, and no glyph is taken from it)."""
    try:
        root = ET.parse(mob.get_file_path()).getroot()
    except (OSError, ET.ParseError):
        return None
    base = (
        repr(mob.generate_config_style_dict()),
        repr(sorted((k, v) for k, v in root.attrib.items() if k in _ROOT_STYLE)),
        repr(mob.path_string_config),
        str(config.renderer),
    )
    symbols: dict[str, ET.Element] = {}
    uses: list[_Use] = []

    def place(group: ET.Element, groups: tuple[ET.Element, ...]) -> bool:
        for element in group:
            if element.tag == _SVG + "g" and set(element.attrib) <= {"id", "style"}:
                if not place(element, (*groups, element)):
                    return False
            elif element.tag == _SVG + "use" and set(element.attrib) <= {_HREF, "x", "y"}:
                href = element.get(_HREF, "")
                symbol = symbols.get(href)
                if symbol is None:
                    return False
                path = symbol[0] if len(symbol) else None
                style = "" if path is None else path.get("style", "")
                outline = "" if path is None else path.get("d", "")
                styles = tuple(g.get("style", "") for g in groups)
                uses.append(
                    _Use(
                        (*base, *styles, style, outline),
                        float(element.get("x", "0")),
                        float(element.get("y", "0")),
                        bool(_DRAWS.search(outline)),
                        href,
                        symbol,
                        groups,
                    )
                )
            else:
                return False
        return True

    for child in root:
        if child.tag == _SVG + "defs":
            for group in child:
                if group.tag != _SVG + "g" or group.attrib:
                    return None
                for symbol in group:
                    if (
                        symbol.tag != _SVG + "symbol"
                        or not set(symbol.attrib) <= {"id", "overflow"}
                        or len(symbol) > 1
                        or any(p.tag != _SVG + "path" or len(p) for p in symbol)
                        or any(not set(p.attrib) <= {"style", "d"} for p in symbol)
                    ):
                        return None
                    symbols["#" + symbol.get("id", "")] = symbol
        elif child.tag == _SVG + "g" and set(child.attrib) <= {"id", "style"}:
            if not place(child, (child,)):
                return None
        else:
            return None
    return root, uses


def _parse_glyphs(mob: SVGMobject, root: ET.Element, new: list[_Use]) -> bool:
    """Parse the outlines of glyphs not met before, as Manim parses the file, each
    placed at the origin in its own groups; False if Manim made other than one
    outline of each that draws."""
    drawn = [use for use in new if use.draws]
    if drawn:
        svg = ET.Element(root.tag, {k: v for k, v in root.attrib.items() if k in _ROOT_STYLE})
        definitions = ET.SubElement(ET.SubElement(svg, _SVG + "defs"), _SVG + "g")
        for use in drawn:
            definitions.append(use.symbol)
            parent = svg
            for group in use.groups:  # without its id, which would repeat
                parent = ET.SubElement(parent, group.tag, {"style": group.get("style", "")})
            ET.SubElement(parent, _SVG + "use", {_HREF: use.href})
        source = io.BytesIO()
        mob.modify_xml_tree(ET.ElementTree(svg)).write(source)
        source.seek(0)
        outlines, _ = mob.get_mobjects_from(se.SVG.parse(source))
        if len(outlines) != len(drawn):
            return False
        for use, outline in zip(drawn, outlines, strict=True):
            # Without the svgelements path it was made from: it is read only while
            # the glyph is made (see .fastcopy), and no copy or handover needs it.
            outline.path_obj = None  # type: ignore[attr-defined]
            _GLYPHS[use.key] = _NEW_GLYPHS[use.key] = outline
    for use in new:
        if not use.draws:
            _GLYPHS[use.key] = _NEW_GLYPHS[use.key] = None
    return True


def _compose(mob: SVGMobject, uses: list[_Use]) -> None:
    """The layout made of its glyphs, each moved to its place. Manim's index by SVG
    id holds only "root" (all of them): a Text reads none of it."""
    placed = []
    for use in uses:
        glyph = _GLYPHS[use.key]
        if glyph is None:
            continue
        copied = glyph.copy()
        copied.points = copied.points + np.array([use.x, use.y, 0.0])
        placed.append(copied)
    mob.add(*placed)
    mob.id_to_vgroup_dict = {"root": VGroup(*placed)}
    mob.flip(RIGHT)  # as Manim: the file's y axis points down


def _init_svg_mobject(self: SVGMobject, use_svg_cache: bool) -> SVGMobject:
    key = _key(self)
    if key is None:
        return _MANIM_INIT(self, use_svg_cache)
    known = _KNOWN.get(key)
    if known is None:
        found = _uses(self)
        new = (
            []
            if found is None
            else list({u.key: u for u in found[1] if u.key not in _GLYPHS}.values())
        )
        if found is not None and _parse_glyphs(self, found[0], new):
            _COUNTS["composed"] += 1
            _COUNTS["glyphs"] += len(new)
            _compose(self, found[1])
        else:
            _COUNTS["parsed"] += 1
            _MANIM_INIT(self, use_svg_cache)
        # Kept as a copy: the Text goes on to change its own glyphs.
        _KNOWN[key] = copy.deepcopy((list(self.submobjects), self.id_to_vgroup_dict))
        return self
    _COUNTS["copied"] += 1
    members, groups = copy.deepcopy(known)
    self.add(*members)
    self.id_to_vgroup_dict = groups
    return self


def install() -> None:
    """Make every Text in this process take its outlines from here."""
    SVGMobject.init_svg_mobject = _init_svg_mobject  # type: ignore[method-assign,assignment]


def take_counts() -> dict[str, int]:
    """How the Texts made since the last call got their outlines (see ``_COUNTS``)."""
    counts = dict(_COUNTS)
    for name in _COUNTS:
        _COUNTS[name] = 0
    return counts


def write_new(folder: Path) -> None:
    """Write the glyphs met in this process since the last call (atomically: a file
    is read only once it is whole)."""
    measured = glyphs.take_new()
    if not _NEW_GLYPHS and not measured:
        return
    target = folder / f"{os.getpid()}.pickle"
    partial = folder / f".{os.getpid()}.partial"
    with partial.open("wb") as handle:
        found = {"outlines": _NEW_GLYPHS, "glyphs": measured}
        pickle.dump(found, handle, pickle.HIGHEST_PROTOCOL)
    partial.rename(target)
    _NEW_GLYPHS.clear()


def read_new(folder: Path) -> None:
    """Take in (and remove) the glyphs the children have written, up to
    ``MAX_SHARED`` in all (a render in many fonts and sizes keeps the warm worker's
    memory bounded; its later steps parse theirs)."""
    for path in sorted(folder.glob("*.pickle")):
        _take_in(path)
        with contextlib.suppress(OSError):
            path.unlink()


def _take_in(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            found = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError):
        return  # the steps to come parse these themselves
    glyphs.take_in(found["glyphs"])
    for key, glyph in found["outlines"].items():
        if len(_GLYPHS) >= MAX_SHARED:
            break
        _GLYPHS.setdefault(key, glyph)
