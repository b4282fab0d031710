"""What a render shows while it runs: steps, frames, frames per second, time left."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from conftest import ROOT
from scenes.render.pipeline import _Worker
from scenes.render.progress import LineProgress, LiveProgress, RenderProgress, clock_text
from scenes.render.worker import FrameReport


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_estimate_counts_frames_drawn_and_expected() -> None:
    clock = Clock()
    progress = RenderProgress(clock)
    # Seven steps, two cached; two of known length, one at least 30 frames, two unknown.
    progress.begin(
        7,
        2,
        [
            (2, "relu", 60, True),
            (3, "title", 40, True),
            (4, "text", 30, False),
            (5, "softmax", None, False),
            (6, "classify", None, False),
        ],
        fps=10,
        parallel=2,
    )
    assert progress.done == 2 and progress.rate is None and progress.seconds_left is None
    # An unknown step counts as long as the average known one: (60 + 40 + 30) / 3.
    assert progress.frames_expected == 60 + 40 + 30 + 2 * 43
    progress.started(2)
    progress.started(3)
    clock.now += 10
    progress.frames(2, 30)
    progress.frames(3, 20)
    assert progress.frames_done == 50 and progress.rate == pytest.approx(5.0)
    # 216 expected, 50 drawn: 166 frames at 5 a second.
    assert progress.seconds_left == pytest.approx(166 / 5)
    assert not progress.exact and progress.left_text() == ">0:33 left"
    # A step that draws more than expected is expected to draw at least that much.
    progress.frames(3, 55)
    assert progress.expected_frames(progress.steps[3]) == 55
    clock.now += 5
    progress.finished(3, 58)
    assert progress.done == 3 and progress.steps[3].seconds == pytest.approx(15.0)
    assert progress.steps[3].expected == 58
    for index in (4, 5, 6):
        progress.started(index)
        progress.finished(index, 20)
    # Only the relu is left, and its length is known: the estimate is no lower bound.
    assert progress.exact and progress.left_text().startswith("~")
    progress.frames(2, 59)
    progress.frames(2, 40)  # a count never goes back
    assert progress.steps[2].frames == 59


def test_clock_text() -> None:
    assert [clock_text(s) for s in (0, 42.4, 725, 3729)] == ["0:00", "0:42", "12:05", "1:02:09"]


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, highlight=False, markup=False), buffer


def test_plain_lines_one_per_finished_step() -> None:
    clock = Clock()
    shown, buffer = console()
    progress = LineProgress(shown, clock)
    progress.begin(7, 5, [(2, "relu", 60, True), (5, "pool", None, False)], 15, 4)
    progress.started(2)
    progress.started(5)
    clock.now += 4.24
    progress.frames(2, 30)  # nothing printed while a step runs
    progress.finished(2, 63)
    clock.now += 1.0
    progress.finished(5, None, failed=True)
    progress.assembling()
    progress.close()
    assert buffer.getvalue().splitlines() == [
        "rendering 2 of 7 steps (5 cached), 2 at a time",
        "step 3/7 relu done in 4.2 s, 63 frames",
        "step 6/7 pool failed after 5.2 s",
        "joining the clips; writing captions, chapters, poster and page",
    ]


def test_the_first_line_says_what_will_render() -> None:
    from scenes.render.progress import begin_line

    assert begin_line(3, 3, 0, 2) == "all 3 steps cached"
    assert begin_line(1, 1, 0, 2) == "the step is cached"
    assert begin_line(1, 0, 1, 2) == "rendering 1 of 1 step (0 cached)"
    assert begin_line(9, 1, 8, 2) == "rendering 8 of 9 steps (1 cached), 2 at a time"
    assert begin_line(9, 7, 2, 4) == "rendering 2 of 9 steps (7 cached), 2 at a time"


def test_the_live_bar_shows_steps_frames_rate_and_time_left() -> None:
    clock = Clock()
    buffer = io.StringIO()
    shown = Console(file=buffer, width=200, force_terminal=True, color_system=None)
    progress = LiveProgress(shown, clock)
    progress.begin(
        4, 1, [(1, "relu", 100, True), (2, "title", 50, True), (3, "x", 50, True)], 10, 2
    )
    progress.started(1)
    clock.now += 10
    progress.frames(1, 40)
    assert progress.numbers() == "1/4 steps  40/200 frames  4.0 fps  0:10 spent  ~0:40 left"
    progress.bar.refresh()
    progress.finished(1, 100)
    progress.close()
    text = buffer.getvalue()
    assert "40/200 frames  4.0 fps  0:10 spent  ~0:40 left" in text
    assert "step 2/4 relu done in 10.0 s, 100 frames" in text


def test_worker_frame_reports_cross_a_pipe() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    report = FrameReport(write_end, every=0.0)
    worker = _Worker(proc=None, log=Path("unused"), report=read_end)  # type: ignore[arg-type]
    assert worker.frames() is None
    report(12)
    report(12)  # the same count is not sent twice
    report(30)
    assert worker.frames() == 30
    os.write(write_end, b"garbage\n4")  # a half line waits for its end; junk is skipped
    assert worker.frames() == 30
    os.write(write_end, b"5\n")
    assert worker.frames() == 45
    report.close(60)
    assert worker.close() == 60
    assert worker.report == -1


@pytest.mark.render
def test_a_render_without_a_terminal_writes_one_line_per_step(tmp_path: Path) -> None:
    lesson = tmp_path / "lines.yaml"
    lesson.write_text(
        "title: Lines\nsteps:\n  - type: title\n    text: One\n"
        "  - type: text\n    text: Two words.\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "d"]
    command += ["-o", str(tmp_path / "media"), "-j", "2"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((video.parent / "manifest.json").read_text())
    lines = done.stderr.splitlines()
    assert lines[0] == "rendering 2 of 2 steps (0 cached), 2 at a time"
    finished = {}
    for line in lines:
        found = re.fullmatch(r"step (\d)/2 (\w+) done in (\d+\.\d) s, (\d+) frames", line)
        if found:
            finished[int(found.group(1))] = (found.group(2), int(found.group(4)))
            assert 0 < float(found.group(3)) < 600
    # One line per step, with the frames the video really has for it.
    assert finished == {s["index"] + 1: (s["type"], s["frames"]) for s in manifest["steps"]}
    assert "joining the clips; writing captions, chapters, poster and page" in lines
    assert not any("\x1b" in line or "\r" in line for line in lines)  # no terminal codes
    # Again: every step is cached now; --quiet prints nothing but the video.
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.stderr.splitlines()[0] == "all 2 steps cached"
    quiet = subprocess.run(
        [*command, "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout.strip() == str(video)
