"""Render the default course cold and say how fast, against real time and the encoder.

    .venv/bin/python benchmarks/course_bench.py [LESSON] [--quality l h] [--jobs 2]
                                                [--before REV] [--no-floor]

Each render runs the real command line (`cnnlesson render`) in a fresh process
into an empty output folder (a cold cache), as an author would. Printed per
quality and code path:

- wall seconds, the video's seconds, and how many times real time that is;
- frames drawn per second of wall time;
- the peak memory of the whole render, workers included: the largest sum of
  the proportional set sizes (PSS: shared pages counted once across the
  processes that share them) of the render's process tree, sampled every 0.1 s;
- where the time went (see benchmarks/README.md): start-up (the warm worker's
  imports, once), and summed over the steps' workers building (scene
  construction and every Python step between frames), drawing (the camera),
  encoding (the drawing waiting for the encoder), then joining (the render's
  assembly of the lesson);
- the encode floor: the same frames, decoded from the published step clips,
  converted and encoded again with the render's encoder settings alone, in
  as many processes as the render had workers; and the render's ratio to it.

``--before REV`` also renders through the code of git revision REV (checked out
into a temporary worktree, run with this same Python), so that before and
after come from one run on one machine. Measurements, not pass/fail: run it on
a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
from av.video.reformatter import VideoReformatter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Run:
    label: str
    quality: str
    wall: float
    video_seconds: float
    frames: int
    peak_bytes: int
    folder: Path
    stages: dict[str, float] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    floor: float | None = None
    held: dict[int, int] = field(default_factory=dict)  # step → frames written as repeats


class PeakMemory:
    """Samples the PSS of a process and all its descendants; keeps the largest sum.

    Twice a second: the kernel walks every page of a process to count its PSS,
    about 12 ms for a 400 MB worker, so sampling the render's four processes ten
    times a second took half a core from the render it measured."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.root = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            total = 0
            try:
                family = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in family:
                try:
                    total += proc.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak = max(self.peak, total)
            self.stop.wait(self.every)

    def done(self) -> int:
        self.stop.set()
        self.thread.join()
        return self.peak


def render(code: Path, lesson: Path, out: Path, quality: str, jobs: int, label: str) -> Run:
    timings = out.parent / f"timings-{label}-{quality}.json"
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", quality]
    command += ["-o", str(out), "--quiet", "--jobs", str(jobs)]
    env = {**os.environ, "CNNLESSON_TIMINGS": str(timings), "PYTHONPATH": str(code)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=code, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    memory = PeakMemory(proc.pid)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    peak = memory.done()
    if proc.returncode != 0:
        raise SystemExit(f"{label} render failed:\n{stderr.decode()[-3000:]}")
    video = Path(stdout.decode().strip().splitlines()[-1])
    manifest = json.loads((video.parent / "manifest.json").read_text())
    run = Run(label, quality, wall, manifest["duration"], manifest["frames"], peak, video.parent)
    if timings.exists():  # the code path records where its time went
        data = json.loads(timings.read_text())
        run.stages = data["stages"]
        for step in data["steps"]:
            for name, seconds in (step.get("timings") or {}).items():
                run.phases[name] = run.phases.get(name, 0.0) + seconds
            run.held[step["index"]] = int(step.get("held_frames") or 0)
    return run


def _encode_share(args: tuple[list[tuple[str, int]], dict[str, str], Fraction]) -> float:
    """Decode the clips (not timed), then time converting and encoding their frames
    as the render writes them: a still hold's picture converted once, and every
    frame encoded.

    The render says how many frames of each clip it wrote as a hold's repeats,
    but a decoded clip cannot tell which: a still picture flickers slightly once
    encoded, as much as a slow change does. So every frame is converted, each
    conversion timed on its own, and the conversions of that many frames, those
    that differ least from the frame before, are taken back out."""
    clips, options, fps = args
    spent = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        target = str(Path(tmp) / "floor.mp4")
        with av.open(target, "w", options={"movflags": "+faststart"}) as sink:
            stream: Any = None
            converter = VideoReformatter()
            for clip, held in clips:
                conversions: list[tuple[int, float]] = []  # (bytes changed, seconds)
                previous: np.ndarray | None = None
                with av.open(clip) as source:
                    # Decoded in this thread only, so that no decoding runs (untimed)
                    # beside the timed encoding.
                    source.streams.video[0].thread_type = "NONE"
                    source.streams.video[0].thread_count = 1
                    for decoded in source.decode(video=0):
                        # Contiguous, as Manim's pictures are (a row may be padded).
                        pixels = np.ascontiguousarray(decoded.to_ndarray(format="rgba"))
                        changed = (
                            pixels.size
                            if previous is None
                            else np.count_nonzero(pixels != previous)
                        )
                        previous = pixels
                        if stream is None:
                            stream = sink.add_stream("libx264", rate=fps, options=options)
                            stream.pix_fmt = "yuv420p"
                            stream.width, stream.height = decoded.width, decoded.height
                        began = time.perf_counter()
                        # As the render converts it (see scenes/render/clip_writer.py).
                        picture = av.VideoFrame.from_numpy_buffer(pixels, format="rgba")
                        converted = converter.reformat(
                            picture, decoded.width, decoded.height, "yuv420p", threads=1
                        )
                        converting = time.perf_counter() - began
                        conversions.append((int(changed), converting))
                        converted.pts = None
                        for packet in stream.encode(converted):
                            sink.mux(packet)
                        spent += time.perf_counter() - began
                conversions.sort(key=lambda c: c[0])
                spent -= sum(seconds for _, seconds in conversions[:held])
            if stream is not None:
                began = time.perf_counter()
                for packet in stream.encode():
                    sink.mux(packet)
                spent += time.perf_counter() - began
    return spent


def encode_floor(run: Run, jobs: int) -> float:
    """Wall seconds to encode the render's frames with its encoder settings alone,
    the step clips shared among ``jobs`` processes by their frame counts."""
    from scenes.render.encoding import video_options

    manifest = json.loads((run.folder / "manifest.json").read_text())
    shares: list[list[tuple[str, int]]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    steps = sorted(enumerate(manifest["steps"]), key=lambda s: -s[1]["frames"])
    for index, step in steps:
        least = loads.index(min(loads))
        shares[least].append((str(run.folder / step["clip"]), run.held.get(index, 0)))
        loads[least] += step["frames"]
    fps = Fraction(manifest["fps"]).limit_denominator(1001)
    options = video_options(float(fps), min(manifest["width"], manifest["height"]))
    work = [(share, options, fps) for share in shares if share]
    with multiprocessing.get_context("fork").Pool(len(work)) as pool:
        return max(pool.map(_encode_share, work))


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """The code of ``revision`` in a temporary git worktree."""
    folder = Path(tempfile.mkdtemp(prefix="cnnlesson-before-"))
    target = folder / "code"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(target), revision], cwd=ROOT, check=True
    )
    try:
        yield target
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(target)], cwd=ROOT, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def copy_lessons(source: Path, work: Path) -> Path:
    """The lesson (and a course's lessons and images) in a folder of its own."""
    target = work / "lessons"
    shutil.copytree(source.parent, target)
    return target / source.name


PHASES = ("start", "building", "drawing", "encoding")


def table(runs: list[Run]) -> None:
    print(
        f"{'code':>7} {'q':>2} {'wall s':>8} {'video s':>8} {'x real':>7} {'fps':>6} "
        f"{'peak GB':>8} {'start-up':>9} {'build':>7} {'draw':>7} {'encode':>7} "
        f"{'join':>6} {'floor s':>8} {'/floor':>7}"
    )
    for run in runs:

        def cell(value: float | None, width: int, digits: int = 1) -> str:
            return f"{'—':>{width}}" if value is None else f"{value:{width}.{digits}f}"

        startup = run.stages.get("start-up")
        if startup is not None:
            startup += run.phases.get("start", 0.0)
        print(
            f"{run.label:>7} {run.quality:>2} {run.wall:8.1f} {run.video_seconds:8.1f} "
            f"{run.video_seconds / run.wall:7.2f} {run.frames / run.wall:6.1f} "
            f"{run.peak_bytes / 1e9:8.2f} {cell(startup, 9)} "
            f"{cell(run.phases.get('building'), 7)} {cell(run.phases.get('drawing'), 7)} "
            f"{cell(run.phases.get('encoding'), 7)} {cell(run.stages.get('joining'), 6)} "
            f"{cell(run.floor, 8)} {cell(run.wall / run.floor if run.floor else None, 7, 2)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("lesson", nargs="?", type=Path, default=ROOT / "lessons" / "course.yaml")
    parser.add_argument("--quality", nargs="+", default=["l", "h"])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--before", metavar="REV", help="also render with this git revision")
    parser.add_argument("--no-floor", action="store_true", help="skip the encode floor")
    args = parser.parse_args()
    source = args.lesson.resolve()
    print(
        f"lesson: {source.relative_to(ROOT) if source.is_relative_to(ROOT) else source}, "
        f"--jobs {args.jobs}, {os.cpu_count()} cores"
    )
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="cnnlesson-course-bench-") as tmp:
        work = Path(tmp)
        lesson = copy_lessons(source, work)
        paths: list[tuple[str, Path]] = [("after", ROOT)]
        with contextlib_before(args.before) as before:
            if before is not None:
                paths.insert(0, ("before", before))
            for quality in args.quality:
                for label, code in paths:
                    out = work / f"media-{label}-{quality}"
                    run = render(code, lesson, out, quality, args.jobs, label)
                    if label == "after" and not args.no_floor:
                        run.floor = encode_floor(run, args.jobs)
                    runs.append(run)
                    print(f"  {label} -q {quality}: {run.wall:.1f} s", flush=True)
    table(runs)


@contextmanager
def contextlib_before(revision: str | None) -> Iterator[Path | None]:
    if revision is None:
        yield None
        return
    with checkout(revision) as code:
        yield code


if __name__ == "__main__":
    main()
