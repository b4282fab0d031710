"""Text outlines parsed once and shared: a Text made from them is the Text Manim
parses, in this process and in a later step of the same render; one composed
of glyphs met before is that Text up to the rounding of moving them."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from manim import MarkupText, Text, VMobject, config

from rendering import run_render
from scenes.render import fastcopy, text_outlines
from scenes.visuals import glyphs
from scenes.visuals.glyphs import number_text

TEXTS = [
    ("0.13", {}),
    ("Max pooling: −0.53", {"weight": "BOLD"}),
    ("conv_1_1 · 10 filters", {"color": "#ff7f0e"}),
    ("two\nlines", {"font_size": 30}),
    ("Überall 3×3 — ö", {"font_size": 16}),
]


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[None]:
    config.media_dir = str(tmp_path / "media")
    fastcopy.install()
    text_outlines.install()
    text_outlines._KNOWN.clear()
    text_outlines._GLYPHS.clear()
    text_outlines._NEW_GLYPHS.clear()
    text_outlines.take_counts()
    glyphs._FONTS.clear()
    size = config.pixel_width, config.pixel_height
    yield
    config.pixel_width, config.pixel_height = size
    glyphs._FONTS.clear()
    # Leave the next test Manim's own parse.
    from manim.mobject.svg.svg_mobject import SVGMobject

    SVGMobject.init_svg_mobject = text_outlines._MANIM_INIT  # type: ignore[method-assign]


def make(content: str, options: dict[str, object]) -> Text:
    return Text(content, font="DejaVu Sans", **options)  # type: ignore[arg-type]


def assert_same_text(a: Text, b: Text, composed: bool = False) -> None:
    """The same drawing: every glyph's kind, outline, colours and stroke, the groups
    by SVG id, and the Text's own size and place. ``composed``: ``b`` was composed
    of glyphs met before, so its points may differ from ``a``'s by the rounding of
    moving a glyph (1e-12 of the Text's size is a millionth of a pixel at 4K), and
    its only group is "root", holding every glyph."""
    assert len(a) == len(b) > 0
    size = max(a.width, a.height)
    for x, y in zip(a.family_members_with_points(), b.family_members_with_points(), strict=True):
        assert type(x) is type(y)
        assert isinstance(x, VMobject) and isinstance(y, VMobject)
        if composed:
            assert x.points.shape == y.points.shape
            assert np.abs(x.points - y.points).max() <= 1e-12 * size
        else:
            assert np.array_equal(x.points, y.points)
        assert np.array_equal(x.fill_rgbas, y.fill_rgbas)
        assert np.array_equal(x.stroke_rgbas, y.stroke_rgbas)
        assert x.stroke_width == y.stroke_width
    names = ["root"] if composed else list(a.id_to_vgroup_dict)
    assert list(b.id_to_vgroup_dict) == names
    for name in names:
        group, other = a.id_to_vgroup_dict[name], b.id_to_vgroup_dict[name]
        for p, q in zip(group, other, strict=True):
            assert np.abs(p.points - q.points).max() <= (1e-12 * size if composed else 0)
    assert np.abs(a.get_center() - b.get_center()).max() <= (1e-12 * size if composed else 0)
    assert np.allclose((a.width, a.height), (b.width, b.height), rtol=1e-12, atol=0)


def manim_parse(made: Callable[[], Text]) -> Text:
    """The Text ``made`` makes, as Manim alone parses it (no outline kept or reused)."""
    from manim.mobject.svg.svg_mobject import SVGMobject

    SVGMobject.init_svg_mobject = text_outlines._MANIM_INIT  # type: ignore[method-assign]
    try:
        return made()
    finally:
        text_outlines.install()


def test_a_text_from_outlines_parsed_before_is_the_text_parsed_anew(shared: None) -> None:
    for content, options in TEXTS:
        first, again = make(content, options), make(content, options)
        assert_same_text(first, again)
        # The copy is the Text's own: changing it leaves the kept outlines alone.
        again[0].shift([1.0, 0.0, 0.0])
        assert_same_text(first, make(content, options))
        assert_same_text(manim_parse(partial(make, content, options)), first, composed=True)
    counts = text_outlines.take_counts()
    assert counts["parsed"] == 0  # Pango's plain files: each made of its glyphs
    assert counts["composed"] == len(TEXTS)
    assert counts["copied"] == 2 * len(TEXTS)


def test_a_text_of_glyphs_met_before_is_composed_as_manim_would_parse_it(shared: None) -> None:
    """Every glyph of the second line appears in the first (same font, size and
    colour): it is composed without a parse, and is Manim's Text but for rounding."""
    options: dict[str, object] = {"font_size": 22, "color": "#1f77b4"}
    make("Max pooling: 0.13, −0.53 (kept)", options)
    # Each glyph parsed once, the space among them (which draws nothing).
    first = text_outlines.take_counts()
    assert first["glyphs"] == len(set("Max pooling: 0.13, −0.53 (kept)"))
    for content in ["kept 0.53", "pooling: −0.13 (Max)", "x a"]:
        composed = make(content, options)
        counts = text_outlines.take_counts()
        assert counts == {"parsed": 0, "composed": 1, "copied": 0, "glyphs": 0}
        assert_same_text(manim_parse(partial(make, content, options)), composed, composed=True)
    # Only the glyph not met before is parsed; in another size, every glyph but the
    # space (an empty outline at every size).
    make("kept 0.53!", options)
    assert text_outlines.take_counts()["glyphs"] == 1
    make("kept 0.53", {**options, "font_size": 23})
    assert text_outlines.take_counts()["glyphs"] == len(set("kept0.53"))


def test_a_file_of_another_shape_is_parsed_by_manim(shared: None) -> None:
    """An underline is drawn as a path of its own, not a glyph: the file is Manim's
    to parse, and the Text is exactly Manim's."""
    content = "<u>kept</u> 0.53"
    underlined = MarkupText(content, font="DejaVu Sans")
    assert text_outlines.take_counts() == {"parsed": 1, "composed": 0, "copied": 0, "glyphs": 0}
    assert_same_text(manim_parse(partial(MarkupText, content, font="DejaVu Sans")), underlined)


def test_outlines_handed_over_through_a_folder_make_the_same_text(
    shared: None, tmp_path: Path
) -> None:
    parsed = [make(content, options) for content, options in TEXTS]
    folder = Path(tempfile.mkdtemp())
    try:
        text_outlines.write_new(folder)
        assert text_outlines._NEW_GLYPHS == {}
        # As a later step starts: nothing parsed yet.
        text_outlines._KNOWN.clear()
        text_outlines._GLYPHS.clear()
        text_outlines.take_counts()
        text_outlines.read_new(folder)
        assert list(folder.iterdir()) == []  # each file is read once
        for (content, options), before in zip(TEXTS, parsed, strict=True):
            assert_same_text(before, make(content, options), composed=True)
        counts = text_outlines.take_counts()
        assert counts == {"parsed": 0, "composed": len(TEXTS), "copied": 0, "glyphs": 0}
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def test_glyphs_measured_in_one_step_compose_the_same_numbers_in_the_next(
    shared: None, tmp_path: Path
) -> None:
    numbers = ["−0.53", "12.07", "3×3 = 9"]
    before = [number_text(n, "DejaVu Sans", 20, "#223344") for n in numbers]
    bold = number_text("0.25", "DejaVu Sans", 20, "#000000", weight="BOLD")
    folder = Path(tempfile.mkdtemp())
    try:
        text_outlines.write_new(folder)
        assert glyphs.take_new() == {}  # all handed over
        glyphs._FONTS.clear()  # as a later step starts: no font measured yet
        text_outlines._KNOWN.clear()
        text_outlines._GLYPHS.clear()
        text_outlines.read_new(folder)
        text_outlines.take_counts()
        after = [number_text(n, "DejaVu Sans", 20, "#223344") for n in numbers]
        again = number_text("0.25", "DejaVu Sans", 20, "#000000", weight="BOLD")
        # Composed from the glyphs handed over: no Text laid out to measure them.
        assert sum(text_outlines.take_counts().values()) == 0
        for a, b in zip([*before, bold], [*after, again], strict=True):
            assert a.content == b.content and len(a) == len(b) > 0
            for x, y in zip(a, b, strict=True):
                assert np.array_equal(x.points, y.points)
                assert np.array_equal(x.fill_rgbas, y.fill_rgbas)
        assert len(glyphs._FONTS) == 2  # the regular and the bold font
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def test_the_frame_size_moves_no_outline(tmp_path: Path) -> None:
    """Why outlines are kept whatever the frame's pixel size: each Text laid out anew
    (a fresh folder, so Manim's own file of the layout is not reused) on canvases of
    three sizes has the very same points."""
    outlines = []
    before = config.media_dir, config.pixel_width, config.pixel_height
    try:
        for width, height in [(854, 480), (1920, 1080), (270, 480)]:
            config.media_dir = str(tmp_path / f"{width}x{height}")
            config.pixel_width, config.pixel_height = width, height
            text = make("Max pooling: −0.53 Überall", {"font_size": 20})
            outlines.append([m.points for m in text.family_members_with_points()])
    finally:
        config.media_dir, config.pixel_width, config.pixel_height = before
    assert len(outlines[0]) > 10
    for other in outlines[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(outlines[0], other, strict=True))


TWO_STEPS = """\
title: Shared words
model: default
steps:
  - type: title
    text: The same heading
    subtitle: First
  - type: title
    text: The same heading
    subtitle: Second
"""


@pytest.mark.render
def test_a_later_step_of_a_render_starts_with_the_texts_earlier_steps_parsed(
    tmp_path: Path,
) -> None:
    lesson = tmp_path / "two.yaml"
    lesson.write_text(TWO_STEPS, encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    timings = tmp_path / "timings.json"
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "d"]
    env = {**os.environ, "TMPDIR": str(temp), "CNNLESSON_TIMINGS": str(timings)}
    run_render([*command, "-o", str(tmp_path / "out"), "--quiet", "--jobs", "1"], env=env)
    first, second = (step["texts"] for step in json.loads(timings.read_text())["steps"])
    assert first["glyphs"] > 0
    # One at a time: the second step starts after the first has handed its glyphs over
    # (and the measures of its letters), and parses only those new to it.
    assert second["composed"] > 0
    assert second["glyphs"] < first["glyphs"]
    assert not list(temp.glob("cnnlesson-outlines-*"))  # removed with the warm worker


def test_the_warm_worker_keeps_at_most_max_shared_glyphs(
    shared: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        make("first", {})
        text_outlines.write_new(folder)
        (folder / f"{os.getpid()}.pickle").rename(folder / "1.pickle")
        make("second", {})
        text_outlines.write_new(folder)
        text_outlines._GLYPHS.clear()
        monkeypatch.setattr(text_outlines, "MAX_SHARED", 3)
        text_outlines.read_new(folder)
        assert len(text_outlines._GLYPHS) == 3  # of the first file's five
        assert list(folder.iterdir()) == []  # the other removed unread
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
