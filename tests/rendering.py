"""Rendering a lesson through the real command line, and reading the result back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np

from conftest import ROOT


def cnnlesson(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``cnnlesson ARGS`` in a process of its own, with ``env`` added to this
    process's environment; its exit status and output, as text."""
    return subprocess.run(
        [sys.executable, "-m", "scenes.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_render(
    command: list[str], timeout: int = 600, env: dict[str, str] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Run a `cnnlesson render ... --quiet` command; the video it printed and its manifest."""
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    video = Path(done.stdout.strip().splitlines()[-1])
    return video, json.loads((video.parent / "manifest.json").read_text())


def rgb_frames(video: Path) -> list[np.ndarray]:
    """Every frame of the video, decoded, as (H, W, 3) uint8."""
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
