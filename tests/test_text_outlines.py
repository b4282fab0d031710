"""Text outlines parsed once and shared: a Text made from them is the Text Manim
parses, in this process and in a later step of the same render."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from manim import Text, VMobject, config

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
    text_outlines._NEW.clear()
    text_outlines._EARLIER.clear()
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


def assert_same_text(a: Text, b: Text) -> None:
    """The same drawing: every glyph's kind, outline, colours and stroke, the groups
    by SVG id, and the Text's own size and place."""
    assert len(a) == len(b) > 0
    for x, y in zip(a.family_members_with_points(), b.family_members_with_points(), strict=True):
        assert type(x) is type(y)
        assert isinstance(x, VMobject) and isinstance(y, VMobject)
        assert np.array_equal(x.points, y.points)
        assert np.array_equal(x.fill_rgbas, y.fill_rgbas)
        assert np.array_equal(x.stroke_rgbas, y.stroke_rgbas)
        assert x.stroke_width == y.stroke_width
    assert a.id_to_vgroup_dict.keys() == b.id_to_vgroup_dict.keys()
    for name, group in a.id_to_vgroup_dict.items():
        other = b.id_to_vgroup_dict[name]
        assert all(np.array_equal(p.points, q.points) for p, q in zip(group, other, strict=True))
    assert np.array_equal(a.get_center(), b.get_center())
    assert (a.width, a.height) == (b.width, b.height)


def test_a_text_from_outlines_parsed_before_is_the_text_parsed_anew(shared: None) -> None:
    for content, options in TEXTS:
        first, again = make(content, options), make(content, options)
        assert_same_text(first, again)
        # The copy is the Text's own: changing it leaves the kept outlines alone.
        again[0].shift([1.0, 0.0, 0.0])
        assert_same_text(first, make(content, options))
    assert text_outlines.take_counts() == {
        "parsed": len(TEXTS),
        "copied": 2 * len(TEXTS),
        "from_other_steps": 0,
    }


def test_outlines_handed_over_through_a_folder_make_the_same_text(
    shared: None, tmp_path: Path
) -> None:
    parsed = [make(content, options) for content, options in TEXTS]
    folder = Path(tempfile.mkdtemp())
    try:
        text_outlines.write_new(folder)
        assert text_outlines._NEW == {}
        text_outlines._KNOWN.clear()  # as a later step starts: nothing parsed yet
        text_outlines.take_counts()
        text_outlines.read_new(folder)
        assert list(folder.iterdir()) == []  # each file is read once
        for (content, options), before in zip(TEXTS, parsed, strict=True):
            assert_same_text(before, make(content, options))
        assert text_outlines.take_counts() == {
            "parsed": 0,
            "copied": 0,
            "from_other_steps": len(TEXTS),
        }
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
    assert first["parsed"] > 0 and first["from_other_steps"] == 0
    # One at a time: the second step starts after the first has handed its texts over
    # (the heading, the measures of its letters), and parses only what is new to it.
    assert second["from_other_steps"] > 0
    assert second["parsed"] < first["parsed"]
    assert not list(temp.glob("cnnlesson-outlines-*"))  # removed with the warm worker


def test_the_warm_worker_keeps_at_most_max_shared_layouts(
    shared: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        make("first", {})
        text_outlines.write_new(folder)
        (folder / f"{os.getpid()}.pickle").rename(folder / "1.pickle")
        make("second", {})
        text_outlines.write_new(folder)
        text_outlines._KNOWN.clear()
        monkeypatch.setattr(text_outlines, "MAX_SHARED", 1)
        text_outlines.read_new(folder)
        assert len(text_outlines._KNOWN) == 1  # the first file's layout only
        assert list(folder.iterdir()) == []  # the other removed unread
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
