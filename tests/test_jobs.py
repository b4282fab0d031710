"""How many steps render at once: -j/--jobs, and the jobs= of the Python API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

LESSON = "title: Jobs\nsteps:\n  - type: title\n    text: One\n"


@pytest.mark.parametrize(("value", "shown"), [("0", "got 0"), ("-3", "got -3"), ("65", "got 65")])
def test_cli_refuses_jobs_out_of_range(tmp_path: Path, value: str, shown: str) -> None:
    lesson = tmp_path / "jobs.yaml"
    lesson.write_text(LESSON, encoding="utf-8")
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson)]
    done = subprocess.run(
        [*command, "-o", str(tmp_path / "media"), f"-j{value}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"argument -j/--jobs: steps rendered at once must be from 1 to 64, {shown}" in (
        done.stderr
    )
    assert not (tmp_path / "media").exists()


def test_render_api_refuses_zero_jobs(tmp_path: Path) -> None:
    from scenes import render_lesson

    lesson = tmp_path / "jobs.yaml"
    lesson.write_text(LESSON, encoding="utf-8")
    with pytest.raises(ValueError, match="jobs must be at least 1, got 0"):
        render_lesson(lesson, out=tmp_path / "media", jobs=0)
