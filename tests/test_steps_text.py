"""The ``text`` step: a card whose paragraph and bullets wrap inside every frame."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import ROOT
from dry_run import dry_run
from rendering import rgb_frames, run_render
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson

ASPECTS = ("16:9", "9:16", "1:1")
FONT = "DejaVu Sans"

PARAGRAPH = (
    "A convolution slides a small grid of weights, the kernel, over the image. At every "
    "position the nine pixel values under the window are multiplied by the nine weights "
    "and the products are added up, with the bias, into one number of the output map. "
    "Without padding a 3×3 kernel cannot be centred on the border pixels, so each "
    "convolution makes the map two pixels narrower: 64 becomes 62, then 60. Padding adds "
    "rings of zeros around the input so the output keeps the input's size."
)
BULLETS = [
    "W is the input width and K the kernel size",
    "P is the padding: rings of zeros around the input",
    "S is the stride: how far the window moves at each step",
    "σ(z)ᵢ = e^zᵢ / Σⱼ e^zⱼ turns ten logits into probabilities",
    "ReLU sets every negative value to zero",
    "Max-pooling keeps the largest value of each 2×2 window",
]
FORMULA = "output = (W − K + 2P) / S + 1"


@pytest.mark.parametrize("aspect", ASPECTS)
def test_card_wraps_inside_every_frame(aspect: str, tmp_path: Path) -> None:
    from scenes.visuals.cards import text_width
    from scenes.visuals.layout import Frame

    step = {
        "type": "text",
        "title": "Why the output shrinks",
        "text": PARAGRAPH,
        "bullets": BULLETS,
        "formula": FORMULA,
    }
    record = dry_run(step, tmp_path, None, aspect=aspect)
    assert record["overflow"] == []
    facts = record["facts"]
    frame = Frame.for_aspect(aspect)
    # Every word is shown, in order, and no line is wider than its column.
    assert " ".join(facts["text_lines"]).split() == PARAGRAPH.split()
    for bullet, lines in zip(BULLETS, facts["bullet_lines"], strict=True):
        assert " ".join(lines).split() == bullet.split()
    for line in facts["text_lines"]:
        assert text_width(line, FONT, facts["font_size"]) <= facts["column_width"] + 1e-9
    assert facts["column_width"] <= frame.box.width
    # Legible: the card keeps a real font size instead of being shrunk as a picture.
    assert facts["font_size"] >= 18 and facts["card_scale"] == pytest.approx(1.0)
    # Bullets appear one by one, each given time to be read.
    assert record["duration"] > 0.5 * len(BULLETS) + 1.2
    if aspect == "9:16":
        # A tall frame wraps into many short lines and keeps everything on one page.
        assert len(facts["text_lines"]) >= 8 and facts["pages"] == 1
    else:
        # Everything on one page would need small text: the bullets get a page of their own.
        assert facts["pages"] == 2 and facts["font_size"] >= 22


def test_wide_frame_puts_bullets_beside_a_shorter_paragraph(tmp_path: Path) -> None:
    step = {"type": "text", "text": PARAGRAPH[:300], "bullets": BULLETS, "formula": FORMULA}
    record = dry_run(step, tmp_path, None, aspect="16:9", theme="colorblind")
    assert record["overflow"] == []
    facts = record["facts"]
    assert (facts["columns"], facts["pages"]) == (2, 1)
    assert facts["column_width"] < 7 and facts["font_size"] >= 24


def test_long_paragraph_stays_in_a_portrait_frame(tmp_path: Path) -> None:
    long = (PARAGRAPH + " ") * 2
    step = {"type": "text", "text": long[:600].rsplit(" ", 1)[0], "bullets": BULLETS[:3]}
    record = dry_run(step, tmp_path, None, aspect="9:16", theme="dark")
    assert record["overflow"] == []
    assert len(record["facts"]["text_lines"]) >= 12
    assert record["facts"]["card_scale"] == pytest.approx(1.0)


def test_wrap_breaks_between_words_and_cuts_words_too_long_for_a_line() -> None:
    from scenes.visuals.cards import text_width, wrap

    lines = wrap("a bb ccc dddd " * 12, FONT, 22, 3.0)
    assert len(lines) > 3 and all(text_width(line, FONT, 22) <= 3.0 for line in lines)
    assert " ".join(lines).split() == ("a bb ccc dddd " * 12).split()
    url = "https://example.org/" + "x" * 80
    pieces = wrap(url, FONT, 22, 3.0)
    assert "".join(pieces) == url and len(pieces) > 1
    assert wrap("first\n\nsecond", FONT, 22, 5.0) == ["first", "", "second"]


def test_bullets_are_revealed_one_at_a_time() -> None:
    from manim import config

    from scenes.steps.kit.base import Beat, StepContext
    from scenes.steps.types.text import TextSpec, build
    from scenes.visuals.cards import Reveal
    from scenes.visuals.layout import Frame
    from scenes.visuals.theme import load_theme

    frame = Frame.for_aspect("1:1")
    config.frame_width, config.frame_height = frame.width, frame.height
    spec = TextSpec(type="text", bullets=["one", "two", "three"])
    ctx = StepContext(trace=None, theme=load_theme("colorblind"), frame=frame, narration="")
    beats = [item for item in build(spec, ctx) if isinstance(item, Beat)]
    reveals = [b for b in beats if any(isinstance(a, Reveal) for a in b.animations)]
    assert len(reveals) == 3 and all(len(b.animations) == 1 for b in reveals)
    shown = [b.animations[0].mobject for b in reveals]
    assert [m.get_top()[1] for m in shown] == sorted((m.get_top()[1] for m in shown), reverse=True)


def write_lesson(tmp_path: Path, steps: str) -> Path:
    path = tmp_path / "lesson.yaml"
    path.write_text(f"title: t\nsteps:\n{steps}", encoding="utf-8")
    return path


def test_text_validation_messages(tmp_path: Path) -> None:
    path = write_lesson(
        tmp_path,
        "  - type: text\n"
        "    title: Nothing to show\n"
        "  - type: text\n"
        '    text: ""\n'
        "    bullets: [a, b, c, d, e, f, g]\n"
        "    formula: " + "x" * 81 + "\n"
        "  - type: text\n"
        "    bullets: [fine, '']\n"
        "    formla: E = mc²\n",
    )
    file = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [
        f"{file}:3:5: steps[0]: expected at least one of text, bullets or formula, got none",
        f"{file}:6:11: steps[1].text: expected non-empty text, got ''",
        f"{file}:7:14: steps[1].bullets: expected at most 6 item(s), got 7",
        f"{file}:8:14: steps[1].formula: expected text of at most 80 characters, got 81",
        f"{file}:10:21: steps[2].bullets[1]: expected non-empty text, got ''",
        f"{file}:11:5: steps[2].formla: unknown field (did you mean 'formula'?)",
    ]


@pytest.mark.render
def test_text_smoke_render(tmp_path: Path) -> None:
    lesson = ROOT / "tests" / "lessons" / "input_text.yaml"
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "l"]
    video, manifest = run_render([*command, "-o", str(tmp_path), "--quiet"])
    frames = rgb_frames(video)
    assert len(frames) == manifest["frames"]
    assert 4 < len(frames) / 15 < 20
    first, last = frames[0], frames[-1]
    # The card builds up: the last frame holds more ink than the first.
    assert (last < 128).sum() > (first < 128).sum() > 0
    assert manifest["steps"][0]["facts"]["bullet_lines"] == [
        ["W is the input width"],
        ["K is the kernel size"],
    ]


@pytest.mark.parametrize("aspect", ASPECTS)
def test_text_and_title_plans_hold_their_lines(aspect: str) -> None:
    from scenes.steps.types import text, title
    from scenes.visuals.layout import Frame

    frame = Frame.for_aspect(aspect)
    spec = text.TextSpec.model_validate(
        {"type": "text", "title": "Why", "text": PARAGRAPH, "bullets": BULLETS, "formula": FORMULA}
    )
    p = text.plan(spec, None, frame)
    assert (p.heading, p.text, p.formula, p.bullets) == ("Why", PARAGRAPH, FORMULA, tuple(BULLETS))
    # Under the heading, the card keeps to the content area; without one, the frame.
    assert p.box == frame.content_box() and p.landscape == (aspect == "16:9")
    bare = text.plan(text.TextSpec.model_validate({"type": "text", "text": "x"}), None, frame)
    assert bare.heading is None and bare.box == frame.box and bare.bullets == ()
    assert p.reading_seconds("one two") == 0.6 and p.reading_seconds(PARAGRAPH) == 4.0
    card = title.plan(
        title.TitleSpec.model_validate({"type": "title", "text": "CNNs", "subtitle": ""}),
        None,
        frame,
    )
    assert (card.text, card.subtitle, card.box) == ("CNNs", None, frame.box)
