"""The frame audit: its checks find what a viewer could not read, and every
step type passes it in every theme and aspect.

The checks are tried on small hand-made scenes first, each built to break one
rule, so a check that stopped looking would fail here. Then `cnnlesson audit`
runs over lessons holding every step type, in every built-in theme at every
aspect, and a theme of white text on white makes it fail with the step, the
beat, the text and the contrast ratio.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from manim import Square, Text

from conftest import ROOT
from rendering import cnnlesson
from scenes.render.frame_audit import FrameAudit, contrast_ratio
from scenes.visuals.glyphs import number_text
from scenes.visuals.layout import Frame

FONT = "DejaVu Sans"
AUDITED = sorted((ROOT / "tests" / "lessons").glob("audit_*.yaml"))


def audit_of(*mobjects: object, moment: str = "end", aspect: str = "16:9") -> list[str]:
    audit = FrameAudit(Frame.for_aspect(aspect), "#ffffff", FONT)
    audit.look(list(mobjects), 1, "part 1", moment, 0.0)  # type: ignore[arg-type]
    return [f"{f.kind}: {f.message}" for f in audit.findings]


def test_contrast_ratio_follows_wcag() -> None:
    assert contrast_ratio((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)) == pytest.approx(21.0)
    assert contrast_ratio((1.0, 1.0, 1.0), (1.0, 1.0, 1.0)) == pytest.approx(1.0)
    # #767676 is the lightest grey that passes AA on white (4.54:1), #777777 fails.
    grey76 = (0x76 / 255,) * 3
    grey77 = (0x77 / 255,) * 3
    assert contrast_ratio(grey76, (1.0, 1.0, 1.0)) == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio(grey77, (1.0, 1.0, 1.0)) < 4.5


def test_a_readable_picture_has_no_findings() -> None:
    cell = Square(1.2, fill_color="#08306b", fill_opacity=1.0, stroke_width=0)
    on_cell = number_text("0.42", FONT, 24, "#ffffff").move_to(cell)
    label = Text("conv_1_1", font=FONT, font_size=24, color="#222222")
    label.next_to(cell, direction=(0, -1, 0))
    assert audit_of(cell, on_cell, label) == []


def test_two_numbers_in_one_cell_are_found() -> None:
    old = number_text("0.11", FONT, 24, "#222222")
    new = number_text("0.16", FONT, 24, "#222222").set_opacity(0.5)
    found = audit_of(old, new, moment="mid")
    assert found == ["numbers: two numbers drawn in one place: '0.11' and '0.16'"]


def test_text_over_text_is_found_and_a_transparent_one_is_not() -> None:
    words = Text("products", font=FONT, font_size=24, color="#222222")
    over = Text("positions", font=FONT, font_size=24, color="#222222").move_to(words)
    assert [f.split(":")[0] for f in audit_of(words, over)] == ["overlap"]
    assert audit_of(words, over.copy().set_opacity(0.0)) == []


def test_low_contrast_is_found_with_its_ratio() -> None:
    pale = Text("max(0, x)", font=FONT, font_size=24, color="#e07b00")
    found = audit_of(pale)
    assert len(found) == 1
    assert re.fullmatch(
        r"contrast: text 'max\(0, x\)' has contrast 3\.\d\d:1 \(#e07b00 on #ffffff\), needs 4\.5:1",
        found[0],
    )
    # The same text on a dark cell drawn behind it reads well.
    cell = Square(3, fill_color="#111111", fill_opacity=1.0, stroke_width=0)
    light = Text("max(0, x)", font=FONT, font_size=24, color="#ffb347")
    assert audit_of(cell, light) == []
    # ... and behind is what counts: the cell drawn over the text covers it.
    assert [f.split(":")[0] for f in audit_of(light.copy(), cell.copy())] == ["covered"]


def test_contrast_is_judged_on_still_frames_only() -> None:
    fading = Text("ReLU", font=FONT, font_size=24, color="#222222").set_opacity(0.3)
    assert audit_of(fading, moment="mid") == []
    assert [f.split(":")[0] for f in audit_of(fading, moment="end")] == ["contrast"]


def test_small_text_is_found_after_scaling() -> None:
    # Font size 16 keeps digits above 2 % of the frame's short side; scaled by
    # 0.8 (as fit() does to a crowded panel) it falls below.
    fine = number_text("1.51", FONT, 16, "#222222")
    assert audit_of(fine) == []
    small = Text("conv_1_1", font=FONT, font_size=16, color="#222222").scale(0.8)
    found = audit_of(small)
    assert len(found) == 1 and found[0].startswith("size: text at font size 12.8 is too small")


def test_something_outside_the_frame_is_found() -> None:
    frame = Frame.for_aspect("9:16")
    box = Square(1, fill_color="#222222", fill_opacity=1.0).move_to((frame.width / 2, 0, 0))
    found = audit_of(box, aspect="9:16")
    assert [f.split(":")[0] for f in found] == ["outside"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cnnlesson(*args, timeout=900)


EVERY_TYPE = ROOT / "tests" / "lessons" / "every_step_type.yaml"


def test_every_step_type_passes_in_every_theme_and_aspect(tmp_path: Path) -> None:
    from scenes.steps import REGISTRY

    text = EVERY_TYPE.read_text()
    missing = [name for name in REGISTRY if not re.search(rf"type:\s*{name}\b", text)]
    assert missing == [], "a step type is missing from the audited lesson"
    result = cli("audit", str(EVERY_TYPE), "--every-look", "-j", "2", "-o", str(tmp_path))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "audit clean: 18 steps in 9 look(s)" in result.stdout


# The variants of each step type (modes, numbered runs, charts) in three looks:
# each variant meets every theme and every aspect once.
LOOKS = [("cnn-explainer", "16:9"), ("dark", "9:16"), ("colorblind", "1:1")]


@pytest.mark.parametrize(("theme", "aspect"), LOOKS, ids=[f"{t}-{a}" for t, a in LOOKS])
def test_the_variants_of_every_step_type_pass(theme: str, aspect: str, tmp_path: Path) -> None:
    assert AUDITED, "no audit lessons in tests/lessons"
    lessons = [str(p) for p in AUDITED]
    result = cli(
        "audit", *lessons, "--theme", theme, "--aspect", aspect, "-j", "2", "-o", str(tmp_path)
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "audit clean" in result.stdout


WHITEOUT = """\
name: whiteout
background: "#ffffff"
text: "#ffffff"
muted: "#f4f4f4"
accent: "#fafafa"
highlight: "#ff7f0e"
empty_cell: "#ececec"
grid_line: "#bdbdbd"
font: DejaVu Sans
scales:
  activation: RdBu
  weight: BrBG
  logit: Oranges
  input: Greys
"""


def test_white_text_on_white_fails_the_audit_with_its_place(tmp_path: Path) -> None:
    # An author's own theme, beside the lesson, as `theme:` takes it.
    (tmp_path / "whiteout.yaml").write_text(WHITEOUT)
    lesson = tmp_path / "card.yaml"
    lesson.write_text(
        "title: Whiteout\ntheme: ./whiteout.yaml\nsteps:\n"
        "  - type: title\n    text: Kernels\n    subtitle: how windows slide\n"
    )
    result = cli("audit", str(lesson), "-j", "1", "-o", str(tmp_path / "media"))
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if "'Kernels'" in x)
    assert re.search(
        r"card\.yaml: step 1 \(title, Kernels[^)]*\) \[16:9, \./whiteout\.yaml\] beat \d+ "
        r"\"title\" end at [\d.]+ s: contrast: text 'Kernels' has contrast 1\.00:1 "
        r"\(#ffffff on #ffffff\), needs 4\.5:1",
        line,
    ), line
    assert "finding" in result.stderr.splitlines()[-1]
