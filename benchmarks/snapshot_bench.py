"""What keeping a training history costs: the default training with and without snapshots.

    .venv/bin/python benchmarks/snapshot_bench.py [--runs 3] [--epochs E] [--snapshots 20]

Each run is the real command line in a fresh process, as a user trains a model:
``cnnlesson model train --out DIR/x.safetensors --quiet --snapshots K`` (the
default configuration: 14 epochs on 16,000 generated images, about 2 minutes
on a 2-core machine), into a new folder of its own. The runs with the
snapshots (A, ``--snapshots 20``) and without (B, ``--snapshots 0``) are taken
in turns, A B B A A B ..., so that a machine that slows down or speeds up
during the benchmark weighs on both alike. ``--epochs`` is passed through
(``--epochs 1`` for a quick check of this script; its numbers mean little).

Printed, as a markdown table under the command line that made it: per
setting the median, least and largest wall time of the whole command
(start-up included), the median of the training seconds its model card
records (data generation and training, no start-up), the median CPU seconds
(user + system) of the process and its workers, and the history's size on
disk (both files); then A's median over B's, the median of the ratios of the
runs taken side by side, and the overhead in percent. Measurements, not
pass/fail: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    snapshots: int
    wall: float  # the whole command, start-up included
    cpu: float  # user + system of the command and every process it waited for
    training: float  # the card's training_seconds: generating the data and training
    history_bytes: int  # both history files; 0 without a history


def train(snapshots: int, epochs: int | None, folder: Path) -> Run:
    """One ``cnnlesson model train`` into ``folder``; what it took."""
    weights = folder / "x.safetensors"
    command = [sys.executable, "-m", "scenes.cli", "model", "train", "--out", str(weights)]
    command += ["--quiet", "--snapshots", str(snapshots)]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    # Nothing of the user's: their trained models and caches stay untouched.
    env = {
        **os.environ,
        "CNNLESSON_DATA": str(folder / "data"),
        "CNNLESSON_CACHE": str(folder / "cache"),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"training with --snapshots {snapshots} failed:\n{done.stderr[-3000:]}")
    card = json.loads(weights.with_suffix(".json").read_text())
    files = [folder / "x.history.safetensors", folder / "x.history.json"]
    present = [f for f in files if f.exists()]
    if snapshots and (len(present) != 2 or "history" not in card):
        raise SystemExit(f"--snapshots {snapshots} wrote no history into {folder}")
    if not snapshots and (present or "history" in card):
        raise SystemExit(f"--snapshots 0 wrote a history into {folder}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(
        snapshots,
        wall,
        cpu,
        float(card["training_seconds"]),
        sum(f.stat().st_size for f in present),
    )


def order(rounds: int) -> list[bool]:
    """True for A, False for B: A B, B A, A B, ... (each pair in turn reversed)."""
    turns: list[bool] = []
    for n in range(rounds):
        turns += [True, False] if n % 2 == 0 else [False, True]
    return turns


def size(count: int) -> str:
    return f"{count / 1024:,.0f} KB" if count >= 10 * 1024 else f"{count:,} bytes"


def table(a: list[Run], b: list[Run], command: str) -> None:
    print()
    print(f"    {command}")
    print()
    print(
        "| snapshots | runs | wall s (median) | wall s (min – max) | training s | CPU s "
        "| history on disk |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for runs in (a, b):
        walls = [r.wall for r in runs]
        history = runs[0].history_bytes
        print(
            f"| {runs[0].snapshots} | {len(runs)} | {statistics.median(walls):.1f} "
            f"| {min(walls):.1f} – {max(walls):.1f} "
            f"| {statistics.median(r.training for r in runs):.1f} "
            f"| {statistics.median(r.cpu for r in runs):.1f} "
            f"| {size(history) + ' (2 files)' if history else '—'} |"
        )
    ratio = statistics.median(r.wall for r in a) / statistics.median(r.wall for r in b)
    paired = statistics.median(x.wall / y.wall for x, y in zip(a, b, strict=True))
    training = statistics.median(r.training for r in a) / statistics.median(r.training for r in b)
    print()
    print(f"| A/B ({a[0].snapshots} / {b[0].snapshots} snapshots) | wall | training s |")
    print("|---|---:|---:|")
    print(f"| ratio of the medians | {ratio:.3f} | {training:.3f} |")
    print(f"| median of the paired ratios | {paired:.3f} | |")
    print(f"| overhead | {100 * (ratio - 1):+.1f} % | {100 * (training - 1):+.1f} % |")


def shown_command() -> str:
    python = Path(sys.executable)
    try:
        python = python.relative_to(ROOT)
    except ValueError:
        pass
    script = Path(__file__).resolve().relative_to(ROOT)
    return " ".join(shlex.quote(str(part)) for part in (python, script, *sys.argv[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each setting (default 3)")
    parser.add_argument("--epochs", type=int, help="passed to the training (default: its own 14)")
    parser.add_argument(
        "--snapshots", type=int, default=20, help="snapshots of run A (default 20; B keeps 0)"
    )
    args = parser.parse_args()
    if args.runs < 1 or args.snapshots < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--runs, --snapshots and --epochs must be at least 1")
    epochs = f"--epochs {args.epochs}" if args.epochs is not None else "14 epochs (default)"
    print(
        f"cnnlesson model train --out DIR/x.safetensors --quiet, {epochs}: "
        f"A --snapshots {args.snapshots}, B --snapshots 0, {args.runs} runs each, "
        f"{os.cpu_count()} cores"
    )
    a: list[Run] = []
    b: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="cnnlesson-snapshot-bench-") as tmp:
        for n, first in enumerate(order(args.runs)):
            snapshots = args.snapshots if first else 0
            run = train(snapshots, args.epochs, Path(tmp) / f"run-{n}")
            (a if first else b).append(run)
            print(
                f"  {'A' if first else 'B'} --snapshots {snapshots}: {run.wall:.1f} s "
                f"(training {run.training:.1f} s, CPU {run.cpu:.1f} s)",
                flush=True,
            )
    table(a, b, shown_command())


if __name__ == "__main__":
    main()
