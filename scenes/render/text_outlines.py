"""Text outlines parsed once per render, not once per Text.

A Manim ``Text`` is laid out by Pango into an SVG file named by a hash of
everything that shapes it (the string, font, size, weight, colour, spacing),
then parsed with svgelements into one VMobject per glyph. The parse is most of
a Text's cost, and Manim's ``Text`` asks its SVG cache not to keep it
(``use_svg_cache=False``), so every Text is parsed again: the same label in
every frame of a step's build, the same "0" of every glyph font in every step.

Here the parsed outlines of a Text are kept by that file name (the hash, not
the folder: each step lays its texts out in a folder of its own) and given to
the next Text with the same name as a copy, as Manim's SVG cache does for
other SVG files. What follows the parse (closing the outlines, colour, size,
position) runs for every Text as before, so the Text is the same.

Across the steps of a render: each child of a warm worker (see :mod:`.pool`)
writes the outlines it parsed into the warm worker's folder when its step is
done, and the warm worker reads them before it forks the next child, so a
later step starts with them; so does what the glyph fonts of numbers measured
(see :mod:`..visuals.glyphs`). The files are written and read only by processes
of the one render, in a folder only its user can open, and removed with it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
from pathlib import Path
from typing import Any

from manim import MarkupText, Text, config
from manim.mobject.svg.svg_mobject import SVGMobject

from ..visuals import glyphs

_MANIM_INIT = SVGMobject.init_svg_mobject
MAX_SHARED = 10_000  # layouts the warm worker keeps (about 30 kB each)

# The outlines of each Text layout: its glyphs and Manim's index of them by SVG id,
# as the parse left them (before the Text closes, colours and scales them).
Outlines = tuple[list[Any], dict[str, Any]]
_KNOWN: dict[tuple[str, ...], Outlines] = {}
_NEW: dict[tuple[str, ...], Outlines] = {}  # parsed in this process, not yet written
_EARLIER: set[tuple[str, ...]] = set()  # read from what other steps parsed
# Texts made since the last take_counts(): parsed here, copied from one parsed here,
# copied from one another step parsed.
_COUNTS = dict.fromkeys(("parsed", "copied", "from_other_steps"), 0)


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


def _init_svg_mobject(self: SVGMobject, use_svg_cache: bool) -> SVGMobject:
    key = _key(self)
    if key is None:
        return _MANIM_INIT(self, use_svg_cache)
    known = _KNOWN.get(key)
    if known is None:
        _COUNTS["parsed"] += 1
        self.generate_mobject()
        # Kept as a copy: the Text goes on to change its own glyphs.
        known = copy.deepcopy((list(self.submobjects), self.id_to_vgroup_dict))
        _KNOWN[key] = _NEW[key] = known
        return self
    _COUNTS["from_other_steps" if key in _EARLIER else "copied"] += 1
    glyphs, groups = copy.deepcopy(known)
    self.add(*glyphs)
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
    """Write the outlines parsed in this process since the last call (atomically:
    a file is read only once it is whole). The svgelements path each glyph was
    made from is left out: it is read only while the glyph is made, and it is
    most of a glyph's size (see .fastcopy)."""
    measured = glyphs.take_new()
    if not _NEW and not measured:
        return
    target = folder / f"{os.getpid()}.pickle"
    partial = folder / f".{os.getpid()}.partial"
    with partial.open("wb") as handle:
        found = {"outlines": _without_paths(_NEW), "glyphs": measured}
        pickle.dump(found, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.rename(target)
    _NEW.clear()


def _without_paths(outlines: dict[tuple[str, ...], Outlines]) -> dict[tuple[str, ...], Outlines]:
    light = copy.deepcopy(outlines)
    for members, groups in light.values():
        for glyph in [*members, *(m for group in groups.values() for m in group.get_family())]:
            if hasattr(glyph, "path_obj"):
                glyph.path_obj = None
    return light


def read_new(folder: Path) -> None:
    """Take in (and remove) the outlines the children have written, up to
    ``MAX_SHARED`` layouts in all (a render of thousands of different texts keeps
    the warm worker's memory bounded; its later steps parse theirs)."""
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
    for key, outlines in found["outlines"].items():
        if len(_KNOWN) >= MAX_SHARED:
            break
        if key not in _KNOWN:
            _KNOWN[key] = outlines
            _EARLIER.add(key)
