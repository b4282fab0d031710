"""Renders of one lesson in several variants (aspect, theme, language, model) live
side by side, each in its own folder, and the printed <iframe> fits each one."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import av
import pytest

from rendering import cnnlesson
from scenes.lesson.load import load_lesson
from scenes.render.variant import RESERVED, Variant, name_problem

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LESSON = """\
title: Koala
description: Two short steps.
steps:
  - type: title
    text: Koala
    narration: A lesson in several shapes.
  - type: text
    title: Why
    text: The same lesson, rendered for a course page and for a phone.
"""


def variant(**settings: str) -> Variant:
    values = {"aspect": "16:9", "theme": "cnn-explainer", "language": "en", "model": "default"}
    given = settings.pop("given", None)
    return Variant("koala", **{**values, **settings}, given=given)


def test_the_default_settings_render_into_the_lessons_folder() -> None:
    default = variant()
    assert default.name is None and default.differs() == []
    assert str(default.path) == "koala" and default.file_stem == "koala"


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"aspect": "9:16"}, "9x16"),
        ({"aspect": "9:16", "theme": "dark"}, "9x16-dark"),
        ({"language": "de"}, "de"),
        ({"model": "cnn-explainer"}, "cnn-explainer"),
        (
            {"aspect": "1:1", "theme": "colorblind", "language": "fr", "model": "cnn-explainer"},
            "1x1-colorblind-fr-cnn-explainer",
        ),
        ({"model": "my pets (v2)"}, "my-pets-v2"),  # a model file's name, made safe
        ({"theme": "./themes/my uni.yaml"}, "my-uni"),  # a theme file: its name
        ({"model": "steps"}, "steps-variant"),  # never a folder the render writes itself
        ({"aspect": "9:16", "given": "shorts"}, "shorts"),  # --name wins
        ({"given": "mine"}, "mine"),
    ],
)
def test_another_variant_gets_a_folder_naming_what_differs(
    settings: dict[str, str], name: str
) -> None:
    made = variant(**settings)
    assert made.name == name
    assert str(made.path) == f"koala/{name}"
    assert made.file_stem == f"koala-{name}"


def test_a_variant_name_stays_short() -> None:
    made = variant(model="m" * 300, theme="dark")
    assert made.name is not None and len(made.name.encode()) <= 100
    assert made.name.startswith("dark-mmm")


def test_a_variant_comes_from_the_settings_a_render_uses(tmp_path: Path) -> None:
    path = tmp_path / "koala.yaml"
    path.write_text(LESSON + 'aspect: "9:16"\n', encoding="utf-8")
    lesson = load_lesson(path)  # a lesson written for phones is a 9:16 variant too
    made = Variant.of(lesson, lesson.header.aspect, lesson.header.theme, lesson.header.language)
    assert (made.name, made.model) == ("9x16", "default")
    with pytest.raises(ValueError, match="--name"):
        Variant.of(lesson, "16:9", "dark", "en", given="../up")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("../media", "not one folder name"),
        ("a/b", "not one folder name"),
        ("two words", "not one folder name"),
        (".hidden", "not one folder name"),
        ("-x", "must start with a letter or digit"),
        ("_x", "must start with a letter or digit"),
        ("x" * 101, "longer than 100 bytes"),
        ("steps", "a folder every render writes itself"),
        ("Thumbnails", "a folder every render writes itself"),
        ("con", "Windows cannot hold"),
        ("a\nb", "not one folder name"),
    ],
)
def test_a_bad_name_is_refused_with_its_reason(name: str, problem: str) -> None:
    found = name_problem(name)
    assert found is not None and problem in found


@pytest.mark.parametrize("name", ["shorts", "9x16-dark", "Fünf_für_alle", "v2"])
def test_a_safe_name_is_taken(name: str) -> None:
    assert name_problem(name) is None


def test_a_folder_is_replaced_only_by_its_own_variant() -> None:
    tall = variant(aspect="9:16").as_dict()
    assert variant(aspect="9:16").may_replace(tall)
    assert not variant(aspect="9:16", model="dark").may_replace(tall)
    # --name given to the folder an automatic name made: only with the same settings.
    assert not variant(given="9x16").may_replace(tall)
    assert variant(aspect="9:16", given="9x16").may_replace(tall)
    # A folder made with --name: the same --name replaces it, whatever the settings.
    named = variant(aspect="9:16", given="shorts").as_dict()
    assert variant(aspect="1:1", given="shorts").may_replace(named)
    assert not variant(aspect="1:1", given="other").may_replace(named)
    assert not variant(aspect="9:16").may_replace(named | {"theme": "dark"})
    assert variant().may_replace(None)  # a render of an earlier version records none


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cnnlesson(*args)


@pytest.mark.parametrize("name", ["../elsewhere", "steps", "a b", "-q"])
def test_cli_refuses_a_bad_name_before_anything_is_written(tmp_path: Path, name: str) -> None:
    lesson = tmp_path / "koala.yaml"
    lesson.write_text(LESSON, encoding="utf-8")
    out = tmp_path / "media"
    for command in ("render", "preview"):
        extra = ["--step", "1"] if command == "preview" else []
        done = cli(command, str(lesson), "-o", str(out), f"--name={name}", *extra)
        assert done.returncode == 2, done.stderr
        assert "argument --name:" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


# --- real renders ----------------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def video_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def iframe_of(stderr: str) -> tuple[str, int, int]:
    found = re.search(r'<iframe src="([^"]+)" width="(\d+)" height="(\d+)"', stderr)
    assert found is not None, stderr
    return found.group(1), int(found.group(2)), int(found.group(3))


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same lesson at 16:9 (its defaults), 9:16 and 1:1, into one output folder."""
    base = tmp_path_factory.mktemp("variants")
    lesson = base / "koala.yaml"
    lesson.write_text(LESSON, encoding="utf-8")
    out = base / "media"
    found: dict = {"lesson": lesson, "out": out}
    for aspect in ("16:9", "9:16", "1:1"):
        done = cli("render", str(lesson), "-q", "d", "-o", str(out), "--aspect", aspect)
        assert done.returncode == 0, done.stderr[-3000:]
        found[aspect] = (Path(done.stdout.strip().splitlines()[-1]), done.stderr)
    return found


@pytest.mark.render
def test_variants_render_side_by_side(renders: dict) -> None:
    out = renders["out"]
    wide, _ = renders["16:9"]
    tall, _ = renders["9:16"]
    square, _ = renders["1:1"]
    assert wide == out / "koala" / "koala.mp4"
    assert tall == out / "koala" / "9x16" / "koala-9x16.mp4"
    assert square == out / "koala" / "1x1" / "koala-1x1.mp4"
    # Every video is there, at its own pixel size, with its own page and step clips.
    assert video_size(wide) == (426, 240)
    assert video_size(tall) == (240, 426)
    assert video_size(square) == (240, 240)
    for video in (wide, tall, square):
        folder = video.parent
        assert (folder / "index.html").is_file()
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["video"] == video.name
        assert video_size(folder / manifest["steps"][0]["clip"]) == video_size(video)
        page = (folder / "index.html").read_text()
        assert f'src="{video.name}"' in page
    tall_manifest = json.loads((tall.parent / "manifest.json").read_text())
    assert tall_manifest["variant"] == {
        "name": "9x16",
        "given": False,
        "folder": "koala/9x16",
        "aspect": "9:16",
        "theme": "cnn-explainer",
        "language": "en",
        "model": "default",
        "differs": ["aspect"],
    }
    wide_manifest = json.loads((wide.parent / "manifest.json").read_text())
    assert wide_manifest["variant"]["name"] is None and wide_manifest["variant"]["differs"] == []
    assert (wide.parent / "steps" / "01-title.mp4").is_file()
    assert video_size(wide.parent / "steps" / "01-title.mp4") == (426, 240)


@pytest.mark.render
def test_the_default_render_again_keeps_the_variants_inside_it(renders: dict) -> None:
    lesson, out = renders["lesson"], renders["out"]
    tall, _ = renders["9:16"]
    before = {p: digest(p) for p in tall.parent.rglob("*") if p.is_file()}
    done = cli("render", str(lesson), "-q", "d", "-o", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert {p: digest(p) for p in tall.parent.rglob("*") if p.is_file()} == before
    leftovers = [p for p in out.rglob(".cnnlesson-*")]
    assert leftovers == []


@pytest.mark.render
def test_a_name_given_to_another_variants_folder_is_refused(renders: dict) -> None:
    lesson, out = renders["lesson"], renders["out"]
    tall, _ = renders["9:16"]
    before = digest(tall)
    done = cli("render", str(lesson), "-q", "d", "-o", str(out), "--name", "9x16", "--quiet")
    assert done.returncode == 2
    assert "holds another render of this lesson (9:16)" in done.stderr
    assert "--name NAME" in done.stderr and "Traceback" not in done.stderr
    assert digest(tall) == before


@pytest.mark.render
def test_a_named_render_goes_to_its_own_folder(renders: dict) -> None:
    lesson, out = renders["lesson"], renders["out"]
    done = cli(
        "render", str(lesson), "-q", "d", "-o", str(out), "--aspect", "9:16", "--name", "phone"
    )
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip().splitlines()[-1])
    assert video == out / "koala" / "phone" / "koala-phone.mp4"
    assert video_size(video) == (240, 426)
    assert iframe_of(done.stderr)[0] == "koala/phone/index.html"
    manifest = json.loads((video.parent / "manifest.json").read_text())
    assert manifest["variant"]["given"] is True and manifest["variant"]["name"] == "phone"
    # A preview of the same variant lands in its folder.
    done = cli("preview", str(lesson), "--step", "2", "-q", "d", "-o", str(out), "--aspect", "9:16")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == out / "koala" / "9x16" / "preview-step-2.png"


@pytest.mark.render
def test_the_render_writes_no_folder_a_variant_could_be_named(tmp_path: Path) -> None:
    lesson = tmp_path / "koala.yaml"
    lesson.write_text(LESSON, encoding="utf-8")
    done = cli("render", str(lesson), "-q", "d", "-o", str(tmp_path), "--format", "png", "--quiet")
    assert done.returncode == 0, done.stderr
    folders = {p.name for p in (tmp_path / "koala").iterdir() if p.is_dir()}
    assert folders == {"steps", "thumbnails", "frames"}
    assert folders <= RESERVED


@pytest.mark.render
def test_the_printed_iframe_is_sized_for_each_aspect(renders: dict) -> None:
    # This lesson uses no model: its page has no line for one.
    expected = {"16:9": (800, 688), "9:16": (420, 1011), "1:1": (640, 904)}
    for aspect, size in expected.items():
        video, stderr = renders[aspect]
        src, width, height = iframe_of(stderr)
        assert (width, height) == size
        assert src == video.parent.relative_to(renders["out"]).as_posix() + "/index.html"


def with_model_line(folder: Path) -> tuple[str, dict]:
    """A page for the lesson in ``folder`` as a lesson with a model would have it
    (the line with the model, the input image and the prediction), beside its own."""
    from PIL import Image

    from scenes.export.page import render_page

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model"] = {"name": "default", "classes": ["star"], "labels": ["star"]}
    manifest["prediction"] = {"class": "star", "label": "star", "probability": 0.9}
    manifest["image"] = {"name": "star_1", "path": "star_1.png", "sha256": "0" * 64}
    manifest["files"]["input"] = "input.png"
    Image.new("RGB", (64, 64), "orange").save(folder / "input.png")
    (folder / "with-model.html").write_text(render_page(manifest, []), encoding="utf-8")
    return "with-model.html", manifest


@pytest.mark.render
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")
def test_each_iframe_shows_the_video_and_its_controls_whole(renders: dict) -> None:
    """In a browser, the page inside its <iframe> shows the video, the step buttons
    and the status line without scrolling, spans the frame without a horizontal
    scroll bar, and leaves no more than a line or two of room below; for a page as
    rendered (this lesson uses no model) and one with a model's line."""
    from playwright.sync_api import sync_playwright

    from scenes.export.embed import page_iframe_size

    out = renders["out"]
    host = out / "host.html"
    cases = []
    for aspect in ("16:9", "9:16", "1:1"):
        video, stderr = renders[aspect]
        src, width, height = iframe_of(stderr)
        manifest = json.loads((video.parent / "manifest.json").read_text())
        assert page_iframe_size(manifest) == (width, height)
        cases.append((aspect, src, width, height))
        page, manifest = with_model_line(video.parent)
        src = f"{video.parent.relative_to(out).as_posix()}/{page}"
        cases.append((f"{aspect} with a model", src, *page_iframe_size(manifest)))
    assert cases[1][3] > cases[0][3]  # the model's line is made room for
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        for case, src, width, height in cases:
            host.write_text(
                f"<!doctype html><body style='margin:0'><iframe src='{src}' width='{width}' "
                f"height='{height}' style='border:0'></iframe></body>"
            )
            page = browser.new_page(viewport={"width": width + 40, "height": height + 40})
            page.goto(host.as_uri())
            frame = page.frames[1]
            frame.wait_for_function("document.getElementById('video').readyState >= 1")
            box = frame.evaluate(
                """() => {
                  const r = s => document.querySelector(s).getBoundingClientRect();
                  return {video: r('#video'), status: r('#status'), controls: r('.controls'),
                          wide: document.documentElement.scrollWidth,
                          inner: [innerWidth, innerHeight]};
                }"""
            )
            assert box["inner"] == [width, height], case
            assert box["wide"] <= width, case
            for part in ("video", "controls", "status"):
                assert 0 <= box[part]["top"] and box[part]["bottom"] <= height, (case, part)
            # The video is as wide as the page lets it be (its margins aside) ...
            assert box["video"]["width"] >= width - 40, case
            # ... and the frame is not much taller than what it has to show.
            assert height - box["status"]["bottom"] <= 80, case
            page.close()
        browser.close()
