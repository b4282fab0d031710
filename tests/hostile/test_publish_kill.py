"""A render killed at any instant of publishing leaves its lesson folder wholly old or wholly new.

Publishing waits ``CNNLESSON_PUBLISH_DELAY`` seconds between its steps (a hook
for this test only), which widens every window a kill could fall into. The
folder is checked right after each kill and again after the next run has
cleaned up: never a mixture, nothing left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenes.atomic import DELAY_VARIABLE, remove_stale

ROOT = Path(__file__).resolve().parents[2]
OLD = {"manifest.json": "old", "video.mp4": "old", "captions.vtt": "old", "only-old.png": "old"}
NEW = {"manifest.json": "new", "video.mp4": "new", "captions.vtt": "new", "only-new.png": "new"}
NOTES = "the author's notes"

PUBLISHER = """
import sys
from pathlib import Path
from scenes.atomic import publish_folder, staging_folder
root, exchange = Path(sys.argv[1]), sys.argv[2] == "1"
staging = staging_folder(root)
for name in ("manifest.json", "video.mp4", "captions.vtt", "only-new.png"):
    (staging / name).write_text("new")
(staging / "notes.txt").write_text("the author's notes")  # carried over, as a render does
print("ready", flush=True)
publish_folder(staging, root / "lesson", allow_exchange=exchange)
print("done", flush=True)
"""


def state(folder: Path) -> str:
    """ "old", "new" or "missing"; fails on anything else (a mixture, a part file)."""
    if not folder.exists():
        return "missing"
    files = {p.name: p.read_text() for p in folder.iterdir()}
    assert files.pop("notes.txt", None) == NOTES, files
    if files == OLD:
        return "old"
    assert files == NEW, f"a mixture of two renders: {files}"
    return "new"


def make_old(root: Path) -> None:
    folder = root / "lesson"
    folder.mkdir(parents=True)
    for name, text in OLD.items():
        (folder / name).write_text(text)
    (folder / "notes.txt").write_text(NOTES)


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "rename-aside"])
def test_a_publish_killed_at_any_instant_leaves_one_whole_folder(
    tmp_path: Path, exchange: bool
) -> None:
    seen: set[str] = set()
    instants = [i * 0.01 for i in range(26)]  # the four steps take 4 x 0.05 s
    for n, instant in enumerate(instants):
        root = tmp_path / f"run-{n}"
        make_old(root)
        proc = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(root), "1" if exchange else "0"],
            cwd=ROOT,
            env={**os.environ, DELAY_VARIABLE: "0.05"},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(instant)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = state(root / "lesson")
        if exchange:
            assert now in ("old", "new"), (instant, now)
        # The next run cleans up: a folder set aside comes back, staging goes.
        remove_stale(root, recursive=False)
        after = state(root / "lesson")
        assert after in ("old", "new"), (instant, now, after)
        assert now in (after, "missing"), (instant, now, after)
        assert sorted(p.name for p in root.iterdir()) == ["lesson"], (instant, list(root.iterdir()))
        seen.add(after)
    assert seen == {"old", "new"}, "the kills should land both before and after the switch"


def test_a_publish_that_completes_leaves_only_the_new_folder(tmp_path: Path) -> None:
    make_old(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PUBLISHER, str(tmp_path), "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.split() == ["ready", "done"], done.stderr
    assert state(tmp_path / "lesson") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson"]


def test_leftovers_of_a_writer_that_is_a_zombie_are_stale(tmp_path: Path) -> None:
    # Orphaned workers of a killed render stay zombies where nothing reaps
    # them; signal 0 still reaches a zombie, yet it will never finish its work.
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        leftover = tmp_path / f".cnnlesson-{pid}-abc123"
        leftover.mkdir()
        (leftover / "step.mp4").write_bytes(b"half")
        alive = tmp_path / f".cnnlesson-{os.getppid()}-def456"  # a live writer's folder stays
        alive.mkdir()
        assert remove_stale(tmp_path) == [leftover]
        assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name]
    finally:
        os.waitpid(pid, 0)


# --- the real command --------------------------------------------------------

LESSON = """title: Kill test
description: {description}
steps:
  - type: title
    text: Publishing
    narration: A short step, so that the render is quick.
"""


def render_command(lesson: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "d", "-o", str(out)]


def whole(folder: Path) -> str:
    """The description of the render the folder holds, after checking that every file
    its manifest lists is there and that its page belongs to the same render."""
    manifest = json.loads((folder / "manifest.json").read_text())
    description = manifest["description"]
    page = (folder / "index.html").read_text()
    assert description in page, "the page belongs to another render than the manifest"
    for name in ("captions.vtt", "chapters.vtt", "poster.png", manifest["video"]):
        assert (folder / name).is_file(), name
    for step in manifest["steps"]:
        assert (folder / step["clip"]).is_file(), step["clip"]
    return str(description)


def test_killing_real_renders_while_they_publish_and_while_they_render(tmp_path: Path) -> None:
    lesson, out = tmp_path / "kill.yaml", tmp_path / "media"
    lesson.write_text(LESSON.format(description="version 0"))
    first = subprocess.run(render_command(lesson, out), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    folder = out / "kill"
    assert whole(folder) == "version 0"

    # Killed while it publishes: every step is cached, so the render only assembles.
    env = {**os.environ, DELAY_VARIABLE: "0.4"}
    current = "version 0"
    for version, wait in enumerate((0.0, 0.3, 0.6, 1.0, 1.5), start=1):
        lesson.write_text(LESSON.format(description=f"version {version}"))
        proc = subprocess.Popen(
            render_command(lesson, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(".cnnlesson-") for p in out.iterdir()):
            assert proc.poll() is None, "the render ended before it staged anything"
            assert time.monotonic() < deadline, "no staging folder appeared"
            time.sleep(0.01)
        time.sleep(wait)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        got = whole(folder)
        assert got in (current, f"version {version}"), (wait, current, got)
        current = got
        # Make the next round start from what is there now.
        lesson.write_text(LESSON.format(description=got))
        done = subprocess.run(
            render_command(lesson, out), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        assert whole(folder) == got
        leftovers = [p.name for p in out.iterdir() if p.name.startswith(".cnnlesson-")]
        assert leftovers == [], leftovers

    # Killed while its worker renders a changed step: its worker log goes with the next render.
    lesson.write_text(LESSON.format(description="cold").replace("Publishing", "Rendering"))
    proc = subprocess.Popen(
        render_command(lesson, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    jobs = out / ".cache" / "jobs"
    deadline = time.monotonic() + 120
    while not list(jobs.glob(".cnnlesson-*.log.txt")):
        assert time.monotonic() < deadline, "no worker log appeared"
        time.sleep(0.01)
    # The job went to the worker through a pipe: no file of it that anyone could edit.
    assert not list(jobs.glob("*.json"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(jobs.glob(f".cnnlesson-{proc.pid}-*")), "the killed render's worker log is there"
    time.sleep(0.5)  # its worker dies with it
    done = subprocess.run(render_command(lesson, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(jobs.iterdir()) == []
    assert whole(folder) == "cold"
