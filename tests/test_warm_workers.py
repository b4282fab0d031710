"""Warm workers and steps drawn in parts: the same video, sooner, with every
guarantee of a process per step (they die with the render, their errors are
located)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT
from rendering import rgb_frames, run_render
from scenes import render_lesson
from scenes.render.job import StepJob
from scenes.render.pipeline import RenderError, _units

pytestmark = pytest.mark.render

LONG_STEP = """\
title: One long step
model: default
image: star_1
steps:
  - type: relu
    layer: relu_1_2
    neuron: 7
    patch_size: 3
    narration:
      - say: {words}
        at: graph
"""


def job(tmp_path: Path, name: str, fps: int = 15) -> StepJob:
    return StepJob.model_validate(
        {
            "picture": {"step": {"type": "title", "text": name}, "theme": _look(), "fps": fps},
            "code": "x",
            "clip": str(tmp_path / f"{name}.mp4"),
            "record": str(tmp_path / f"{name}.json"),
        }
    )


def _look() -> dict[str, object]:
    from scenes.render.job import ThemeLook
    from scenes.visuals.theme import load_theme

    return ThemeLook.of(load_theme("cnn-explainer")).model_dump(mode="json")


def test_a_step_longer_than_a_workers_share_is_split_and_the_longest_work_goes_first(
    tmp_path: Path,
) -> None:
    jobs = [(0, job(tmp_path, "short")), (1, job(tmp_path, "long")), (2, job(tmp_path, "mid"))]
    expected = {0: 150, 1: 900, 2: 300}  # frames at 15 fps: 10 s, 60 s, 20 s
    units = _units(jobs, 2, expected, lambda: tmp_path)
    # The 60 s step is more than half of the 90 s: two parts of 30 s, back to back.
    parts = sorted((u for u in units if u.index == 1), key=lambda u: u.frames)
    assert [(u.job.part.first, u.job.part.end) for u in parts if u.job.part] == [
        (0, 450),
        (450, None),
    ]
    assert len({u.job.clip for u in parts}) == 2 and all(
        u.job.clip != jobs[1][1].clip for u in parts
    )
    assert [u.index for u in units] == [1, 1, 2, 0]  # longest first
    # One worker, or steps each within its share: nothing is split.
    assert all(u.job.part is None for u in _units(jobs, 1, expected, lambda: tmp_path))
    even = {0: 300, 1: 300, 2: 300}
    assert all(u.job.part is None for u in _units(jobs, 2, even, lambda: tmp_path))
    # A step too short to pay for building its scene twice stays whole.
    assert all(u.job.part is None for u in _units(jobs[:1], 2, {0: 100}, lambda: tmp_path))


def render(lesson: Path, out: Path, jobs: int) -> tuple[Path, dict[str, object]]:
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "d"]
    return run_render([*command, "-o", str(out), "--quiet", "--jobs", str(jobs)])


def test_a_step_drawn_in_parts_is_the_same_video_as_drawn_whole(tmp_path: Path) -> None:
    lesson = tmp_path / "long.yaml"
    words = " ".join(["A sentence long enough to make this step last a while."] * 6)
    lesson.write_text(LONG_STEP.format(words=words), encoding="utf-8")
    whole_video, whole = render(lesson, tmp_path / "whole", 1)
    parts_video, parts = render(lesson, tmp_path / "parts", 2)
    records = [
        json.loads(p.read_text()) for p in (tmp_path / "parts" / ".cache" / "clips").glob("*.json")
    ]
    assert [r.get("parts") for r in records] == [2]  # it was split
    assert [r.get("parts") for r in _records(tmp_path / "whole")] == [None]
    keys = ("frames", "duration", "phases", "cues", "values", "maps", "facts")
    steps_whole, steps_parts = whole["steps"], parts["steps"]
    assert isinstance(steps_whole, list) and isinstance(steps_parts, list)
    assert [{k: s[k] for k in keys} for s in steps_parts] == [
        {k: s[k] for k in keys} for s in steps_whole
    ]
    a, b = rgb_frames(whole_video), rgb_frames(parts_video)
    assert len(a) == len(b) == whole["frames"]
    # Every animation is encoded as a segment of its own either way: the same pixels.
    assert all((x == y).all() for x, y in zip(a, b, strict=True))


def _records(out: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in (out / ".cache" / "clips").glob("*.json")]


def _warm_workers(render_pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = proc.info["cmdline"] or []
        if "scenes.render.worker" in line and "--serve" in line and str(render_pid) in line:
            found.append(proc)
    return found


def test_the_warm_worker_and_its_children_die_with_a_killed_render(tmp_path: Path) -> None:
    lesson = tmp_path / "long.yaml"
    lesson.write_text(LONG_STEP.format(words="Long enough."), encoding="utf-8")
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "l"]
    proc = subprocess.Popen(
        [*command, "-o", str(tmp_path / "media"), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        family: list[psutil.Process] = []
        while time.monotonic() < deadline:
            warm = _warm_workers(proc.pid)
            children = [c for w in warm for c in w.children()]
            if warm and children:  # a step is being drawn in a forked child
                family = warm + children
                break
            time.sleep(0.05)
        assert family, "no warm worker with a child was seen"
        assert all(c.ppid() == family[0].pid for c in family[1:])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(family, timeout=15)
        assert alive == [], [p.pid for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_warm_worker_that_cannot_start_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Manim is broken for the workers only: the render itself runs here, with its own.
    broken = tmp_path / "broken" / "manim"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('manim is broken here')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(broken.parent), str(ROOT)]))
    lesson = tmp_path / "lesson.yaml"
    lesson.write_text("title: T\nsteps:\n  - type: title\n    text: Hello\n", encoding="utf-8")
    with pytest.raises(RenderError) as caught:
        render_lesson(lesson, out=tmp_path / "media", quality="d")
    message = str(caught.value)
    assert message.startswith(f"step 1 (title, {lesson}:3) failed to render:")
    assert "ImportError: manim is broken here" in message
    assert not (tmp_path / "media" / "lesson").exists()
    assert not _warm_workers(os.getpid())  # ended, not left behind
