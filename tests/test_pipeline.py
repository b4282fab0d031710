"""The render pipeline: cache, settings order, parallel workers, atomic outputs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import ROOT
from scenes import render_lesson
from scenes.lesson.load import load_lesson
from scenes.render import settings as settings_mod

pytestmark = pytest.mark.render

LESSON = """\
title: Pipeline
steps:
  - type: title
    text: One
    narration: {first}
  - type: title
    text: Two
  - type: hyperparameters
    input_size: 4
    kernel_size: 3
    seconds_per_setting: 2
"""


def write_lesson(folder: Path, first: str = "The first step.") -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(LESSON.format(first=first), encoding="utf-8")
    return path


def frames_of(video: Path) -> int:
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cache_reuses_unchanged_steps_and_rerenders_only_the_edited_one(tmp_path: Path) -> None:
    lesson = write_lesson(tmp_path)
    out = tmp_path / "media"
    first = render_lesson(lesson, out=out, jobs=2)
    assert first.rendered == [0, 1, 2]
    again = render_lesson(lesson, out=out, jobs=2)
    assert again.rendered == []
    assert digest(again.video) == digest(first.video)
    write_lesson(tmp_path, first="A different first sentence, now a little longer than before.")
    edited = render_lesson(lesson, out=out, jobs=2)
    assert edited.rendered == [0]
    manifest = json.loads(edited.manifest.read_text())
    assert manifest["steps"][0]["narration"].startswith("A different first sentence")
    assert [s["cached"] for s in manifest["steps"]] == [False, True, True]
    assert frames_of(edited.video) == manifest["frames"]


def test_parallel_and_serial_renders_give_the_same_video(tmp_path: Path) -> None:
    lesson = write_lesson(tmp_path)
    serial = render_lesson(lesson, out=tmp_path / "serial", jobs=1)
    parallel = render_lesson(lesson, out=tmp_path / "parallel", jobs=3)
    assert serial.rendered == parallel.rendered == [0, 1, 2]
    s_manifest = json.loads(serial.manifest.read_text())
    p_manifest = json.loads(parallel.manifest.read_text())
    assert frames_of(serial.video) == frames_of(parallel.video) == s_manifest["frames"]
    assert s_manifest["duration"] == p_manifest["duration"]
    assert [s["frames"] for s in s_manifest["steps"]] == [s["frames"] for s in p_manifest["steps"]]


def test_killed_render_leaves_the_last_good_output_and_the_next_render_completes(
    tmp_path: Path,
) -> None:
    lesson = write_lesson(tmp_path)
    out = tmp_path / "media"
    good = render_lesson(lesson, out=out, jobs=2)
    before = {p.name: digest(p) for p in (good.video, good.manifest)}
    write_lesson(tmp_path, first="Edited, so this step must render again.")
    (tmp_path / "pipeline.yaml").write_text(
        (tmp_path / "pipeline.yaml").read_text().replace("Two", "Three"), encoding="utf-8"
    )
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-o", str(out), "--quiet"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    jobs = out / ".cache" / "jobs"
    deadline = time.monotonic() + 60
    while not list(jobs.glob(".cnnlesson-*.log.txt")):  # a worker has started
        assert time.monotonic() < deadline, "no worker started"
        time.sleep(0.05)
    time.sleep(1.0)  # the worker is busy rendering
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = {p.name: digest(p) for p in (good.video, good.manifest)}
    assert after == before
    visible = [p for p in (out / "pipeline").rglob("*") if not p.name.startswith(".")]
    assert all(".part" not in p.name for p in visible)
    # Workers die with their parent instead of running on unseen.
    time.sleep(1.0)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(jobs) not in ps
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(good.manifest.read_text())
    # Both edits are in the video, whether the killed render had finished a step's
    # clip (whole, so reused: a short step renders in well under the second above)
    # or not.
    assert manifest["steps"][0]["narration"].startswith("Edited")
    assert manifest["steps"][1]["label"] == "Three"
    assert frames_of(good.video) == manifest["frames"]
    leftovers = [
        p for p in out.rglob(".*") if ".part" in p.name or p.name.startswith(".cnnlesson-")
    ]
    assert leftovers == []


def test_two_renders_of_one_lesson_at_once_do_not_corrupt_each_other(tmp_path: Path) -> None:
    lesson = write_lesson(tmp_path)
    out = tmp_path / "media"
    command = [
        sys.executable,
        "-m",
        "scenes.cli",
        "render",
        str(lesson),
        "-o",
        str(out),
        "--quiet",
        "--jobs",
        "1",
    ]
    procs = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    video = out / "pipeline" / "pipeline.mp4"
    manifest = json.loads((out / "pipeline" / "manifest.json").read_text())
    assert frames_of(video) == manifest["frames"]


def test_settings_merge_defaults_preset_lesson_command_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "title: s\nquality: medium\naspect: '9:16'\nwords_per_minute: 120\n"
        "steps:\n  - type: title\n    text: hi\n"
    )
    lesson = load_lesson(path)
    from_lesson = settings_mod.resolve(lesson)
    assert (from_lesson.quality, from_lesson.pixel_height, from_lesson.fps) == ("medium", 720, 30)
    assert (from_lesson.aspect, from_lesson.words_per_minute, from_lesson.theme) == (
        "9:16",
        120,
        "cnn-explainer",
    )
    overridden = load_lesson(path, {"quality": "l", "aspect": "1:1", "theme": "dark"})
    from_cli = settings_mod.resolve(overridden)
    assert (from_cli.quality, from_cli.pixel_height, from_cli.fps) == ("low", 480, 15)
    assert (from_cli.aspect, from_cli.theme, from_cli.words_per_minute) == ("1:1", "dark", 120)
    plain = tmp_path / "p.yaml"
    plain.write_text("title: p\nsteps:\n  - type: title\n    text: hi\n")
    defaults = settings_mod.resolve(load_lesson(plain))
    assert (defaults.quality, defaults.aspect, defaults.jobs) == ("low", "16:9", os.cpu_count())


def test_preview_writes_one_png_of_the_step(tmp_path: Path) -> None:
    from PIL import Image

    lesson = write_lesson(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scenes.cli",
            "preview",
            str(lesson),
            "--step",
            "3",
            "-o",
            str(tmp_path / "media"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    png = Path(done.stdout.strip())
    assert png == tmp_path / "media" / "pipeline" / "preview-step-3.png"
    with Image.open(png) as image:
        assert image.size == (854, 480)
        assert len(np.unique(np.asarray(image.convert("L")))) > 10  # a drawing, not blank
    bad = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "preview", str(lesson), "--step", "9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--step must be from 1 to 3" in bad.stderr
