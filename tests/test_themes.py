"""An author's theme file: validated like a lesson, used by the whole render and the page."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import ROOT
from rendering import cnnlesson
from scenes.lesson.errors import LessonInvalid, display_path
from scenes.lesson.load import load_lesson, validate_lesson
from scenes.lesson.themes import read_theme
from scenes.visuals.colors import hex_to_rgb
from scenes.visuals.theme import COLOUR_KEYS, load_theme

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LESSON = "title: Themed\ntheme: {theme}\nsteps:\n  - type: title\n    text: A title\n"
GREEN = "#1d4f3a"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cnnlesson(*args, cwd=cwd, env={"PYTHONPATH": str(ROOT)})


def own_theme(folder: Path, name: str = "green", **changes: str) -> Path:
    """The default theme with ``changes``, written as ``folder/name.yaml``."""
    data = yaml.safe_load((ROOT / "configs" / "themes" / "cnn-explainer.yaml").read_text())
    data.update(name=name, **changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


BAD_THEME = """\
name: broken
background: blu
text: "#12"
muted: #6b6b6b
accent: "#e07b00"
highlight: "#ff7f0e"
empty_cell: 12
grid_line: "#bdbdbd"
font: Dejavu Snas
shadow: "#000000"
scales:
  activation: Rdbu
  weight: BrBG
  logit: Oranges
"""


def test_a_bad_theme_file_is_every_error_located_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BAD_THEME, encoding="utf-8")
    (tmp_path / "lesson.yaml").write_text(LESSON.format(theme="./broken.yaml"), encoding="utf-8")
    for command in ("validate", "render"):
        done = cli(command, "lesson.yaml", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert done.stderr.splitlines() == [
            'broken.yaml:2:13: background: expected a colour like "#1a2b3c" or "#abc", '
            "got 'blu' (text)",
            'broken.yaml:3:7: text: expected a colour like "#1a2b3c" or "#abc", got \'#12\' (text)',
            'broken.yaml:4:7: muted: expected a colour in quotes like "#1a2b3c" (without them, '
            "YAML reads # as the start of a comment), got nothing (null)",
            'broken.yaml:7:13: empty_cell: expected a colour like "#1a2b3c" or "#abc", got 12',
            "broken.yaml:9:7: font: the font 'Dejavu Snas' is not installed here (did you mean "
            "'DejaVu Sans'?); installed fonts: "
            + done.stderr.split("installed fonts: ", 1)[1].splitlines()[0],
            "broken.yaml:10:1: shadow: unknown field; a theme's fields are: name, description, "
            "background, text, muted, accent, highlight, empty_cell, grid_line, font, scales",
            "broken.yaml:12:3: scales.input: required field is missing",
            "broken.yaml:12:15: scales.activation: expected one of 'RdBu', 'BrBG', 'PuOr', "
            "'PiYG', 'Oranges', 'Purples', 'Greys', got 'Rdbu' (text) (did you mean 'RdBu'?)",
            "8 errors",
        ]
        assert not (tmp_path / "media").exists()  # nothing rendered


def test_a_missing_or_unreadable_theme_file_is_located_at_the_lessons_theme(
    tmp_path: Path,
) -> None:
    (tmp_path / "folder.yaml").mkdir()
    nothing, folder = (display_path(tmp_path / name) for name in ("nothing.yaml", "folder.yaml"))
    cases = {
        "./nothing.yaml": f"no theme file {nothing}; built-in themes: cnn-explainer, "
        "colorblind, dark (`cnnlesson theme new NAME` writes a theme file to start from)",
        "folder.yaml": f"cannot read the theme file {folder}: a folder, not a file",
        "/etc/passwd": "/etc/passwd is not a theme file (theme files end in .yaml or .yml)",
    }
    path = tmp_path / "lesson.yaml"
    for value, message in cases.items():
        path.write_text(LESSON.format(theme=value), encoding="utf-8")
        (error,) = validate_lesson(path)
        assert (error.file, error.line, error.column, error.path) == (
            display_path(path),
            2,
            8,
            "theme",
        )
        assert error.message == message


def test_a_theme_is_a_name_or_a_path_from_the_lesson_or_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    own_theme(lessons, background=GREEN)
    path = lessons / "lesson.yaml"
    path.write_text(LESSON.format(theme="./green.yaml"), encoding="utf-8")
    lesson = load_lesson(path)
    assert lesson.theme is not None and lesson.theme.background == GREEN
    assert lesson.theme.name == "green"
    # A built-in theme's file, by its path, is that theme.
    dark = os.path.relpath(ROOT / "configs" / "themes" / "dark.yaml", lessons)
    path.write_text(LESSON.format(theme=dark), encoding="utf-8")
    assert load_lesson(path).theme == load_theme("dark")
    path.write_text(LESSON.format(theme="colorblind"), encoding="utf-8")
    assert load_lesson(path).theme == load_theme("colorblind")
    # --theme: a path from the working folder, not the lesson's.
    own_theme(tmp_path, "here", background="#abc")
    monkeypatch.chdir(tmp_path)
    overridden = load_lesson(path, {"theme": "here.yaml"})
    assert overridden.theme is not None and overridden.theme.background == "#aabbcc"
    with pytest.raises(LessonInvalid) as caught:
        load_lesson(path, {"theme": "green.yaml"}, "command line")  # it is in lessons/
    assert [str(e) for e in caught.value.errors] == [
        "command line: --theme: no theme file green.yaml; built-in themes: cnn-explainer, "
        "colorblind, dark (`cnnlesson theme new NAME` writes a theme file to start from)"
    ]


def test_theme_new_writes_a_commented_theme_that_validates_and_is_never_overwritten(
    tmp_path: Path,
) -> None:
    import jsonschema

    done = cli("theme", "new", "my-uni", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "my-uni.yaml"
    assert done.stdout.strip() == "my-uni.yaml"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    schema = Path(os.path.relpath(ROOT / "configs" / "theme.schema.json", tmp_path)).as_posix()
    assert lines[0] == f"# yaml-language-server: $schema={schema}"
    # Every key has a comment of its own just above it.
    keys = [i for i, line in enumerate(lines) if re.match(r"\s*\w+:", line)]
    commented = [lines[i].split(":")[0].strip() for i in keys if lines[i - 1].lstrip()[:1] == "#"]
    assert set(commented) >= {*COLOUR_KEYS, "font", "scales", "activation", "weight", "logit"}
    assert "input" in commented
    theme, errors = read_theme(path)
    assert errors == [] and theme is not None
    assert theme.name == "my-uni"
    default = load_theme("cnn-explainer")
    assert {k: v for k, v in theme.as_dict().items() if k != "name"} == {
        k: v for k, v in default.as_dict().items() if k != "name"
    }
    jsonschema.validate(
        yaml.safe_load(text), json.loads((ROOT / "configs/theme.schema.json").read_text())
    )
    # Changed by its author, it is theirs: a second `new` never replaces it.
    path.write_text(text.replace("#ffffff", "#000000"), encoding="utf-8")
    again = cli("theme", "new", "my-uni", cwd=tmp_path)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert again.stderr.strip() == (
        "error: my-uni.yaml already exists; choose another name or -o path"
    )
    assert '"#000000"' in path.read_text(encoding="utf-8")
    (tmp_path / "themes").mkdir()
    elsewhere = cli("theme", "new", "other", "-o", "themes/other.yaml", cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert read_theme(tmp_path / "themes" / "other.yaml")[1] == []
    listed = cli("theme", "list", cwd=tmp_path)
    assert listed.returncode == 0
    assert all(name in listed.stdout for name in ("cnn-explainer", "dark", "colorblind"))


@pytest.mark.render
def test_a_theme_file_beside_the_lesson_colours_the_frames_and_the_page(tmp_path: Path) -> None:
    own_theme(tmp_path, background=GREEN, text="#f4f4f4", muted="#b0b0b0")
    (tmp_path / "lesson.yaml").write_text(LESSON.format(theme="./green.yaml"), encoding="utf-8")
    done = cli("render", "lesson.yaml", "-q", "d", "-o", "media", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    # A theme of its own makes a variant: its folder is named after the theme.
    folder = tmp_path / "media" / "lesson" / "green"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["theme"]["background"] == GREEN and manifest["theme"]["name"] == "green"
    assert not (tmp_path / "media" / "lesson" / "manifest.json").exists()
    # The frames' background is the theme's: the corners of a decoded frame (H.264 in
    # yuv420p is off by a few levels at most).
    with av.open(str(folder / "lesson-green.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    for corner in (frame[2, 2], frame[2, -3], frame[-3, 2], frame[-3, -3]):
        assert np.abs(corner - np.array(hex_to_rgb(GREEN))).max() <= 4, corner
    with Image.open(folder / "poster.png") as poster:
        assert (
            np.abs(np.array(poster.convert("RGB").getpixel((1, 1))) - hex_to_rgb(GREEN)).max() <= 4
        )
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert f"--bg: {GREEN};" in page and "color-scheme: dark;" in page
    if CHROMIUM is None:
        pytest.skip("the page's colours in a browser need Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        tab = browser.new_page()
        tab.goto((folder / "index.html").as_uri())
        colours = tab.evaluate(
            "[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"
        )
        browser.close()
    assert colours == ["rgb(29, 79, 58)", "rgb(244, 244, 244)"]
