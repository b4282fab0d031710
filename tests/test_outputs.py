"""Course-ready outputs: captions, chapters, poster, formats, the page, voice-over."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import srt
import webvtt
from PIL import Image

from conftest import ROOT

pytestmark = pytest.mark.render
LESSON = ROOT / "tests" / "lessons" / "outputs.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render(out: Path, *extra: str, lesson: Path = LESSON) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scenes.cli",
            "render",
            str(lesson),
            "-q",
            "d",
            "-o",
            str(out),
            "--quiet",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The folder of the render's variant: OUT/<lesson>/, or a folder inside it.
    video = Path(done.stdout.strip().splitlines()[-1])
    return json.loads((video.parent / "manifest.json").read_text())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("media")
    manifest = render(out, "--format", "webm", "--format", "gif", "--format", "png")
    return out / "outputs", manifest


ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="needs espeak-ng (make test installs it)")


@pytest.fixture(scope="module")
def voiced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The lesson rendered with a voice-over: its video has a sound track."""
    out = tmp_path_factory.mktemp("voiced")
    manifest = render(out, "--voice", "en")
    return out / "outputs", manifest


def seconds(delta) -> float:
    return delta.total_seconds()


def at(stamp: str) -> float:
    """A WebVTT time ("00:01:02.345") in seconds (webvtt-py rounds its own to whole ones)."""
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def test_captions_parse_and_follow_the_steps_to_the_frame(folder) -> None:
    path, manifest = folder
    frame = 1 / manifest["fps"]
    subtitles = list(srt.parse((path / "captions.srt").read_text()))
    captions = webvtt.read(str(path / "captions.vtt"))
    assert len(subtitles) == len(captions) == manifest["captions"]["cues"] >= 4
    for sub, cap in zip(subtitles, captions, strict=True):
        assert sub.content == html.unescape(cap.text)  # SRT has no markup to escape
        assert seconds(sub.start) == pytest.approx(at(cap.start), abs=1e-3)
        assert 0 <= at(cap.start) < at(cap.end) <= manifest["duration"] + 1e-3
        for line in html.unescape(cap.text).splitlines():
            assert len(line) <= 42 or " " not in line
        assert len(cap.text.splitlines()) <= 2
    for step in manifest["steps"]:
        start, end = step["start"], step["start"] + step["duration"]
        mine = [c for c in captions if start - 1e-3 <= at(c.start) < end]
        assert mine, step["index"]
        assert abs(at(mine[0].start) - start) < frame  # begins with its step
        assert at(mine[-1].end) <= end + 1e-3  # never runs into the next step
        # Markup characters are escaped in the file ("<" would start a tag).
        assert " ".join(html.unescape(c.text).replace("\n", " ") for c in mine) == " ".join(
            step["narration"].split()
        )


def chapter_titles(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [m["metadata"]["title"] for m in container.chapters()]


def test_chapters_in_vtt_manifest_and_mp4(folder) -> None:
    path, manifest = folder
    frame = 1 / manifest["fps"]
    chapters = webvtt.read(str(path / "chapters.vtt"))
    assert (
        [c.text for c in chapters]
        == [c["title"] for c in manifest["chapters"]]
        == ["Outputs", "Hyperparameters: input 4×4, kernel 3×3, padding 0, stride 1", "The end"]
    )
    for cue, step in zip(chapters, manifest["steps"], strict=True):
        assert abs(at(cue.start) - step["start"]) < frame
        assert abs(at(cue.end) - (step["start"] + step["duration"])) < frame
    with av.open(str(path / "outputs.mp4")) as container:
        markers = container.chapters()
    assert [m["metadata"]["title"] for m in markers] == [c.text for c in chapters]
    for marker, step in zip(markers, manifest["steps"], strict=True):
        assert abs(float(marker["start"] * marker["time_base"]) - step["start"]) < frame
    assert chapter_titles(path / "outputs.webm") == [c.text for c in chapters]


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, i = [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i : i + 4], "big")
        boxes.append(data[i + 4 : i + 8].decode("latin-1"))
        if size < 8:
            break
        i += size
    return boxes


def decoded(path: Path) -> tuple[str, int, int, int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(stream)]
        return (
            stream.codec_context.name,
            stream.codec_context.width,
            stream.codec_context.height,
            len(frames),
            float(frames[-1].time or 0),
        )


def test_every_format_decodes_with_the_expected_size_and_length(folder) -> None:
    path, manifest = folder
    boxes = top_level_boxes(path / "outputs.mp4")
    assert boxes.index("moov") < boxes.index("mdat")  # fast start: playable while loading
    codec, width, height, frames, _ = decoded(path / "outputs.mp4")
    assert (codec, width, height, frames) == ("h264", 426, 240, manifest["frames"])
    with av.open(str(path / "outputs.mp4")) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    codec, width, height, frames, last = decoded(path / "outputs.webm")
    assert (codec, width, height, frames) == ("vp9", 426, 240, manifest["frames"])
    assert last == pytest.approx(manifest["duration"] - 1 / manifest["fps"], abs=0.01)
    gif = manifest["files"]["gif"]
    codec, width, height, frames, _ = decoded(path / "outputs.gif")
    assert codec == "gif" and (width, height) == (gif["width"], gif["height"])
    assert frames == gif["frames"] == pytest.approx(manifest["duration"] * gif["fps"], abs=1)
    assert (path / "outputs.gif").stat().st_size <= 8_000_000
    for step, png in zip(manifest["steps"], manifest["files"]["frames"], strict=True):
        with Image.open(path / png) as image:
            assert image.size == (426, 240)
        assert png.endswith(f"-{step['type']}.png")


def test_poster_and_one_thumbnail_per_chapter(folder) -> None:
    path, manifest = folder
    # The lesson asks for the end of step 2 as its poster.
    step = manifest["steps"][1]
    last = round((step["start"] + step["duration"]) * manifest["fps"]) - 1
    with av.open(str(path / "outputs.mp4")) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == last)
    expected = np.asarray(frame.to_image(), dtype=int)
    with Image.open(path / "poster.png") as poster:
        assert np.abs(np.asarray(poster.convert("RGB"), dtype=int) - expected).mean() < 1
    assert len(manifest["files"]["thumbnails"]) == len(manifest["chapters"]) == 3
    for thumb in manifest["files"]["thumbnails"]:
        with Image.open(path / thumb) as image:
            assert image.width <= 320


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")
def test_lesson_page_in_a_real_browser(folder) -> None:
    from playwright.sync_api import sync_playwright

    path, manifest = folder
    boundary = manifest["steps"][1]["start"]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto((path / "index.html").as_uri())
        page.wait_for_function("document.getElementById('video').readyState >= 1")
        assert page.title() == "Outputs"
        assert page.evaluate("document.getElementById('video').textTracks[0].mode") == "showing"
        cues = page.evaluate("document.getElementById('video').textTracks[0].cues.length")
        assert cues == manifest["captions"]["cues"]
        last_cue = page.evaluate(
            "(() => { const c = document.getElementById('video').textTracks[0].cues;"
            " return c[c.length - 1].getCueAsHTML().textContent; })()"
        )
        assert last_cue.replace("\n", " ") == manifest["steps"][2]["narration"]
        # A chapter button seeks to its chapter.
        page.evaluate("document.getElementById('video').muted = true")
        page.click("nav button >> nth=2")
        page.wait_for_function("document.getElementById('video').currentTime > 0")
        start = manifest["chapters"][2]["start"]
        t = page.evaluate("document.getElementById('video').currentTime")
        assert start - 0.01 <= t < start + 1.5
        # Step-through: from the start of step 1, play; it stops at step 2's start.
        page.check("#step-mode")
        page.evaluate(
            "v = document.getElementById('video'); v.playbackRate = 4; v.pause();v.currentTime = 0"
        )
        page.click("#previous")  # back to the first step, playing
        page.wait_for_function("document.getElementById('video').paused", timeout=20000)
        t = page.evaluate("document.getElementById('video').currentTime")
        assert boundary - 1 / manifest["fps"] <= t <= boundary
        assert "Paused at the end of step 1" in page.inner_text("#status")
        # The keyboard moves to the next step (played at normal speed from here).
        page.evaluate("document.getElementById('video').playbackRate = 1")
        page.keyboard.press("n")
        page.wait_for_function(f"document.getElementById('video').currentTime >= {boundary}")
        assert "Step 2 of 3" in page.inner_text("#status")
        # A seek with the video's own controls moves the pause to the new step's end.
        third = manifest["steps"][2]["start"]
        assert not page.evaluate("document.getElementById('video').paused")
        page.evaluate(f"document.getElementById('video').currentTime = {third + 0.05}")
        page.wait_for_function("document.getElementById('video').paused", timeout=20000)
        assert page.evaluate("document.getElementById('video').currentTime") >= third
        for control in ("#previous", "#next"):
            assert page.get_attribute(control, "aria-label")
        assert page.inner_text("body").count("Prediction") == 0  # this lesson uses no model
        browser.close()
    outside = [u for u in requests if not u.startswith("file://")]
    assert outside == []


def launch(playwright):
    """Debian's chromium, headless, allowed to play without a click, offline."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--autoplay-policy=no-user-gesture-required",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


@needs_espeak
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")
def test_play_at_the_end_of_the_last_step_starts_the_lesson_again(voiced) -> None:
    """In step-through mode, play on the last step's final frame used to pause again at
    once (it aimed at the end it was already at); it plays from the start instead.

    With a sound track (a voice-over) the player has not ended there, so play does not
    start over by itself: the page has to."""
    from playwright.sync_api import sync_playwright

    path, manifest = voiced
    last = manifest["steps"][-1]
    first_end = manifest["steps"][1]["start"]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.goto((path / "index.html").as_uri())
        page.wait_for_function("document.getElementById('video').readyState >= 1")
        page.evaluate("v = document.getElementById('video'); v.muted = true")
        page.check("#step-mode")
        # Played at normal speed into the last step's end, it pauses on its final frame
        # (before the video's own end: the page, not the player, stopped it).
        end = last["start"] + last["duration"]
        page.evaluate(f"v.currentTime = {end - 1.0}")
        page.wait_for_function(
            f"!v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - {end - 1.0}) < 0.01"
        )
        page.evaluate("v.play()")
        page.wait_for_function("v.paused", timeout=20000)
        t = page.evaluate("v.currentTime")
        assert end - 1 / manifest["fps"] <= t < end and not page.evaluate("v.ended")
        assert "Paused at the end of step 3 of 3" in page.inner_text("#status")
        page.evaluate("() => { v.play(); }")  # (a pause at once would reject its promise)
        page.wait_for_function(f"!v.paused && v.currentTime < {first_end}", timeout=5000)
        page.wait_for_timeout(300)
        assert not page.evaluate("v.paused")  # still playing: no pause at once
        assert "Step 1 of 3" in page.inner_text("#status")
        # ... and step-through goes on: it pauses at the end of the first step.
        page.evaluate("v.playbackRate = 4")
        page.wait_for_function("v.paused", timeout=20000)
        assert first_end - 1 / manifest["fps"] <= page.evaluate("v.currentTime") <= first_end
        browser.close()


def test_burned_captions_are_in_the_picture(tmp_path: Path, folder) -> None:
    plain_path, manifest = folder
    burned = render(tmp_path, "--burn-captions")
    assert burned["captions"]["burned_in"] is True
    assert burned["frames"] == manifest["frames"]
    middle = int(manifest["steps"][0]["duration"] * manifest["fps"] / 2)

    def frame(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            return next(
                np.asarray(f.to_image(), dtype=int)
                for i, f in enumerate(container.decode(video=0))
                if i == middle
            )

    plain, text = frame(plain_path / "outputs.mp4"), frame(tmp_path / "outputs" / "outputs.mp4")
    bottom = slice(int(0.7 * plain.shape[0]), None)
    assert np.abs(plain[bottom] - text[bottom]).mean() > 5  # a caption box appeared
    assert np.abs(plain[: int(0.3 * plain.shape[0])] - text[: int(0.3 * plain.shape[0])]).mean() < 2
    # Re-encoding keeps the chapter markers, and the page does not show the captions twice.
    assert chapter_titles(tmp_path / "outputs" / "outputs.mp4") == chapter_titles(
        plain_path / "outputs.mp4"
    )
    page = (tmp_path / "outputs" / "index.html").read_text()
    assert 'kind="captions"' in page and " default>" not in page


@needs_espeak
def test_voice_over_is_in_sync_with_the_steps(tmp_path: Path, voiced) -> None:
    folder, manifest = voiced
    video = folder / "outputs.mp4"
    from scenes import speech

    with av.open(str(video)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio)])
        rate = audio.codec_context.sample_rate
    assert len(samples) / rate == pytest.approx(manifest["duration"], abs=0.1)
    captions = [(at(c.start), at(c.end)) for c in webvtt.read(str(video.parent / "captions.vtt"))]
    for step in manifest["steps"]:
        for cue in step["cues"]:
            spoken = speech.speak(cue["text"], "en", tmp_path / ".cache" / "speech")
            # Each cue lasts as long as its speech, and its phase waits for it.
            assert cue["end"] - cue["start"] >= speech.seconds(spoken) - 1 / manifest["fps"]
            start = round(cue["start"] * rate)
            lead_in = samples[start - int(0.2 * rate) : start] if start else samples[:0]
            voiced = samples[start : start + round(speech.seconds(spoken) * rate)]
            assert lead_in.size == 0 or np.abs(lead_in).max() < 0.02  # quiet before the cue
            assert np.abs(voiced).max() > 0.02  # its speech from its start
            assert cue["audio"] == "espeak-ng:en"
            # Its captions run while the voice speaks it.
            shown = [c for c in captions if cue["start"] - 2e-3 <= c[0] < cue["end"]]
            assert shown[0][0] == pytest.approx(cue["start"], abs=2e-3)
            assert shown[-1][1] <= cue["end"] + 2e-3
    assert manifest["voice"]["engine"] == "espeak-ng" and manifest["voice"]["voice"] == "en"
    assert chapter_titles(video) == [c["title"] for c in manifest["chapters"]]


@pytest.mark.parametrize(("aspect", "size"), [("9:16", (240, 426)), ("1:1", (240, 240))])
def test_other_aspects(tmp_path: Path, aspect: str, size: tuple[int, int]) -> None:
    manifest = render(tmp_path, "--aspect", aspect)
    assert (manifest["width"], manifest["height"]) == size
    folder = tmp_path / manifest["variant"]["folder"]
    assert folder == tmp_path / "outputs" / aspect.replace(":", "x")
    with Image.open(folder / "poster.png") as poster:
        assert poster.size == size
    if aspect == "9:16" and CHROMIUM is not None:
        video_fits_a_laptop_window(folder / "index.html", size)


def video_fits_a_laptop_window(page_file: Path, size: tuple[int, int]) -> None:
    """A tall video on its page, in a 1280×720 window: the whole video, its own
    controls at its foot too, fits in the window, at the video's own shape."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(page_file.as_uri())
        page.wait_for_function("document.getElementById('video').readyState >= 1")
        page.evaluate("document.getElementById('video').scrollIntoView({block: 'nearest'})")
        box = page.evaluate(
            "(() => { const r = document.getElementById('video').getBoundingClientRect();"
            " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,"
            " width: r.width, height: r.height}; })()"
        )
        browser.close()
    assert box["top"] >= 0 and box["left"] >= 0, box
    assert box["bottom"] <= 720 and box["right"] <= 1280, box
    assert box["height"] >= 400, box  # not shrunk to a stamp
    assert box["width"] / box["height"] == pytest.approx(size[0] / size[1], rel=0.02), box
