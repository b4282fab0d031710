"""The shipped course: every lesson validates and renders; the course has its chapters."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from conftest import ROOT
from scenes.lesson.load import load_lesson, validate_lesson

LESSONS = ROOT / "lessons"
CHAPTERS = [
    "overview",
    "input",
    "convolution",
    "hyperparameters",
    "relu",
    "pooling",
    "flatten",
    "softmax",
    "training",
    "features",
    "examples",
]


def test_the_course_lists_every_chapter_in_the_articles_order() -> None:
    course = load_lesson(LESSONS / "course.yaml")
    assert [c.title for c in course.chapters] == [
        load_lesson(LESSONS / f"{name}.yaml").header.title for name in CHAPTERS
    ]
    steps = [s.type for s in course.steps]
    assert steps == [
        s.type for name in CHAPTERS for s in load_lesson(LESSONS / f"{name}.yaml").steps
    ]
    first = {c.title: course.steps[c.first].type for c in course.chapters}
    assert first["What a CNN is"] == "title" and first["ReLU"] == "relu"
    # Every step type of the language appears somewhere in the course.
    from scenes.steps import registry

    assert set(steps) == set(registry.names())


def test_course_errors_point_into_the_chapter_file(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("title: One\nsteps:\n  - type: relu\n    layer: conv_1_1\n")
    (tmp_path / "course.yaml").write_text("title: C\nlessons: [one.yaml, two.yaml]\n")
    from scenes.lesson.errors import display_path

    errors = [str(e) for e in validate_lesson(tmp_path / "course.yaml")]
    assert errors == [
        f"{display_path(tmp_path / 'course.yaml')}:2:21: lessons[1]: no lesson file "
        f"{display_path(tmp_path / 'two.yaml')}",
        f"{display_path(tmp_path / 'one.yaml')}:4:12: steps[0].layer: expected a ReLU layer "
        "(relu_1_1, relu_1_2, relu_2_1, relu_2_2), got 'conv_1_1', a conv layer",
    ]


@pytest.mark.render
def test_every_shipped_lesson_renders(tmp_path: Path) -> None:
    """The course renders once at draft quality; each chapter then reuses its clips."""
    out = tmp_path / "media"

    def render(name: str) -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "scenes.cli",
                "render",
                str(LESSONS / f"{name}.yaml"),
                "-q",
                "d",
                "-o",
                str(out),
                "--quiet",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, (name, done.stderr[-2000:])
        manifest = json.loads((out / name / "manifest.json").read_text())
        assert all(s["cached"] for s in manifest["steps"]) == (name != "course")
        with av.open(str(out / name / f"{name}.mp4")) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (426, 240)
            assert stream.frames == manifest["frames"] > 0

    render("course")
    # The chapters, two at a time: each only reads the cached clips and joins its own.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(render, CHAPTERS))
