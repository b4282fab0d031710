"""Render a lesson cold, unchanged, and with one step's narration edited.

    .venv/bin/python benchmarks/render_bench.py [LESSON] [--quality l h] [--jobs N]

Each render runs the real command line (`cnnlesson render`) in a fresh
process, as an author would, into a temporary output folder, so the cold
render starts with an empty cache. Prints wall times, the ratios of the warm
renders to the cold one, the video's duration and how many times real time
the cold render took. Measurements, not pass/fail: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def render(lesson: Path, out: Path, quality: str, jobs: int | None) -> float:
    command = [
        sys.executable,
        "-m",
        "scenes.cli",
        "render",
        str(lesson),
        "-q",
        quality,
        "-o",
        str(out),
        "--quiet",
    ]
    if jobs:
        command += ["--jobs", str(jobs)]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def edit_one_narration(lesson: Path) -> int:
    """Append a sentence to the last step's narration (to its last cue, when it is
    written as cues); returns that step's index."""
    data = yaml.safe_load(lesson.read_text(encoding="utf-8"))
    index = len(data["steps"]) - 1
    step = data["steps"][index]
    more = " One more sentence for the benchmark."
    narration = step.get("narration") or ""
    if isinstance(narration, list):
        narration[-1]["say"] += more
    else:
        step["narration"] = narration + more
    lesson.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return index


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "lesson", nargs="?", type=Path, default=ROOT / "lessons" / "convolution.yaml"
    )
    parser.add_argument("--quality", nargs="+", default=["l", "h"])
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    source = args.lesson.resolve()
    print(f"lesson: {source.relative_to(ROOT) if source.is_relative_to(ROOT) else source}")
    print(
        f"{'quality':>7} {'cold s':>8} {'unchanged s':>12} {'ratio':>6} {'edited s':>9} "
        f"{'ratio':>6} {'video s':>8} {'x real time':>12} {'steps re-rendered':>18}"
    )
    for quality in args.quality:
        with tempfile.TemporaryDirectory(prefix="cnnlesson-bench-") as tmp:
            work = Path(tmp)
            lesson = work / source.name
            shutil.copyfile(source, lesson)
            for sibling in ("images",):  # lessons may name images relative to themselves
                if (source.parent / sibling).is_dir():
                    shutil.copytree(source.parent / sibling, work / sibling)
            out = work / "media"
            cold = render(lesson, out, quality, args.jobs)
            unchanged = render(lesson, out, quality, args.jobs)
            edit_one_narration(lesson)
            edited = render(lesson, out, quality, args.jobs)
            manifest = json.loads((out / lesson.stem / "manifest.json").read_text())
            rerendered = [s["index"] for s in manifest["steps"] if not s["cached"]]
            duration = manifest["duration"]
            print(
                f"{quality:>7} {cold:8.1f} {unchanged:12.1f} {unchanged / cold:6.1%} "
                f"{edited:9.1f} {edited / cold:6.1%} {duration:8.1f} {cold / duration:12.2f} "
                f"{rerendered!s:>18}"
            )


if __name__ == "__main__":
    main()
