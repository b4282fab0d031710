"""A lesson's focus: the neuron that convolution, ReLU and pooling steps follow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from rendering import run_render
from scenes.lesson.errors import display_path
from scenes.lesson.focus import carry_focus, focus_problem
from scenes.lesson.load import load_lesson, validate_lesson
from scenes.lesson.spec import Focus
from scenes.steps import registry
from scenes.steps.kit.base import LayerInfo, ModelInfo
from scenes.steps.kit.common import lively_channel

CLI = (sys.executable, "-m", "scenes.cli")
# Types whose steps show one neuron of their layer.
NEURON_STEPS = ("convolution", "conv_elastic", "relu", "max_pool")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def neurons(path: Path) -> list[tuple[str, int | None]]:
    """Each step's type and the neuron it shows after loading."""
    lesson = load_lesson(path)
    return [(s.type, getattr(s, "neuron", getattr(s, "focus_neuron", None))) for s in lesson.steps]


# One block followed from its convolution to its pooling, with no neuron named.
BLOCK = """\
title: Focus
model: default
image: star_1
focus: {neuron: 3}
steps:
  - type: convolution
    layer: conv_1_2
    positions: 1
    sweep_seconds: 1
  - type: relu
    layer: relu_1_2
    patch_size: 2
  - type: max_pool
    layer: max_pool_1
    patch_windows: 1
    explained: 1
"""


@pytest.mark.render
def test_a_lesson_focus_is_the_neuron_conv_relu_and_pool_show(tmp_path: Path, star_trace) -> None:
    # Without the focus these steps would show other channels (conv: 0; ReLU and
    # pooling: the liveliest map of conv_1_2), so the render really shows the focus.
    assert lively_channel(star_trace.activations["conv_1_2"]) != 3
    lesson = write(tmp_path, "block.yaml", BLOCK)
    _, manifest = run_render(
        [*CLI, "render", str(lesson), "-q", "d", "-o", str(tmp_path / "out"), "--quiet"]
    )
    steps = manifest["steps"]
    assert [s["type"] for s in steps] == ["convolution", "relu", "max_pool"]
    assert [s["facts"]["neuron"] for s in steps] == [3, 3, 3]
    # Every number shown of a map of these layers is one of channel 3's.
    shown = [
        (v["layer"], v["index"][0])
        for s in steps
        for v in s["values"]
        if v["layer"] in ("conv_1_2", "relu_1_2", "max_pool_1") and v["kind"] == "activation"
    ]
    assert {layer for layer, _ in shown} == {"conv_1_2", "relu_1_2", "max_pool_1"}
    assert {channel for _, channel in shown} == {3}


def test_a_steps_own_neuron_wins_and_is_followed_after_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "carry.yaml",
        """\
title: Carry
image: star_1
focus: {neuron: 3}
steps:
  - type: convolution
  - type: title
    text: Between
  - type: relu
  - type: conv_elastic
    layer: conv_1_2
    neuron: 5
  - type: relu
    layer: relu_1_2
  - type: max_pool
  - type: max_pool
    layer: max_pool_2
    neuron: 1
    mode: average
  - type: convolution
    layer: conv_2_1
  - type: overview
    focus: conv_2_2
    focus_neuron: 8
  - type: relu
    layer: relu_2_2
  - type: relu
    neuron: null
  - type: max_pool
""",
    )
    assert neurons(path) == [
        ("convolution", 3),
        ("title", None),
        ("relu", 3),
        ("conv_elastic", 5),  # its own neuron wins ...
        ("relu", 5),  # ... and the steps after it follow it
        ("max_pool", 5),
        ("max_pool", 1),
        ("convolution", 1),  # across blocks: every layer has ten channels
        ("overview", 8),  # a neuron it zooms into is followed too
        ("relu", 8),
        ("relu", None),  # null: the step's own choice, the focus stays
        ("max_pool", 8),
    ]


def test_without_a_focus_steps_keep_their_defaults_until_one_names_a_neuron(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "plain.yaml",
        """\
title: Plain
image: star_1
steps:
  - type: convolution
  - type: relu
  - type: overview
    focus: conv_1_1
  - type: relu
  - type: convolution
    neuron: 6
  - type: max_pool
""",
    )
    assert neurons(path) == [
        ("convolution", 0),
        ("relu", None),  # chosen from the trace when it is drawn
        ("overview", None),  # the whole layer: an overview never takes the focus
        ("relu", None),
        ("convolution", 6),
        ("max_pool", 6),
    ]


def test_a_focus_carries_through_a_course_and_a_lessons_own_wins(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: A\nsteps:\n  - type: convolution\n")
    write(tmp_path, "b.yaml", "title: B\nfocus: {neuron: 6}\nsteps:\n  - type: relu\n")
    write(tmp_path, "c.yaml", "title: C\nsteps:\n  - type: max_pool\n  - type: convolution\n")
    course = write(
        tmp_path,
        "course.yaml",
        "title: Course\nimage: star_1\nfocus: {neuron: 2}\nlessons: [a.yaml, b.yaml, c.yaml, a.yaml]\n",
    )
    assert neurons(course) == [
        ("convolution", 2),  # the course's focus
        ("relu", 6),  # the lesson's own
        ("max_pool", 6),  # carried from the lesson before
        ("convolution", 6),
        ("convolution", 6),  # a lesson listed twice follows the focus of its place
    ]
    alone = tmp_path / "a.yaml"
    assert neurons(alone) == [("convolution", 0)]


def test_an_out_of_range_focus_is_a_located_error_with_status_2(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "far.yaml",
        "title: Far\nimage: star_1\nfocus: {neuron: 10}\nsteps:\n  - type: relu\n",
    )
    message = (
        "focus.neuron: expected a neuron from 0 to 9 (the layers of model 'default' have "
        "10 channels), got 10"
    )
    assert [str(e) for e in validate_lesson(path)] == [f"{display_path(path)}:3:17: {message}"]
    for command in ("validate", "render"):
        extra = ["-o", str(tmp_path / "out"), "-q", "d"] if command == "render" else []
        done = subprocess.run(
            [*CLI, command, str(path), *extra], capture_output=True, text=True, cwd=ROOT
        )
        assert done.returncode == 2, done.stderr
        assert f"far.yaml:3:17: {message}" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "far").exists()


def test_a_course_lessons_own_focus_is_checked_in_its_file(tmp_path: Path) -> None:
    sub = write(tmp_path, "sub.yaml", "title: Sub\nfocus:\n  neuron: 12\nsteps:\n  - type: relu\n")
    course = write(tmp_path, "course.yaml", "title: C\nlessons: [sub.yaml, sub.yaml]\n")
    assert [str(e) for e in validate_lesson(course)] == [
        f"{display_path(sub)}:3:11: focus.neuron: expected a neuron from 0 to 9 (the layers "
        "of model 'default' have 10 channels), got 12"
    ]


@pytest.mark.parametrize(
    ("written", "column", "message"),
    [
        ("3", 8, "focus: expected a mapping such as {neuron: 3}, got 3"),
        ("[3]", 8, "focus: expected a mapping such as {neuron: 3}, got a list of 1 item"),
        ("{neuron: -1}", 17, "focus.neuron: expected a neuron ≥ 0, got -1"),
        ('{neuron: "3"}', 17, "focus.neuron: expected an integer, got '3' (text)"),
        ("{}", 8, "focus.neuron: required field is missing"),
        ("{layer: conv_1_1, neuron: 1}", 9, "focus.layer: unknown field; these fields are: neuron"),
    ],
)
def test_a_malformed_focus_is_a_located_error(
    tmp_path: Path, written: str, column: int, message: str
) -> None:
    path = write(tmp_path, "bad.yaml", f"title: Bad\nfocus: {written}\nsteps:\n  - type: relu\n")
    assert [str(e) for e in validate_lesson(path)] == [
        f"{display_path(path)}:2:{column}: {message}"
    ]


def narrow_model() -> ModelInfo:
    """A model whose first ReLU and pooling layers have four channels, the rest ten."""
    layers = {
        "conv_1_1": LayerInfo("conv_1_1", "conv", (10, 62, 62)),
        "relu_1_1": LayerInfo("relu_1_1", "relu", (4, 62, 62)),
        "max_pool_1": LayerInfo("max_pool_1", "max_pool", (4, 30, 30)),
        "relu_2_1": LayerInfo("relu_2_1", "relu", (10, 26, 26)),
    }
    return ModelInfo("narrow", ["a", "b"], layers)


def spec(step: dict[str, object]):
    return registry.get(str(step["type"])).spec.model_validate(step)


def test_a_layer_without_the_focused_channel_keeps_its_default_and_the_focus_goes_on() -> None:
    steps = [
        spec({"type": "relu", "layer": "relu_1_1"}),
        spec({"type": "max_pool", "layer": "max_pool_1"}),
        spec({"type": "relu", "layer": "relu_2_1"}),
        None,  # a step that could not be read
        spec({"type": "relu", "layer": "relu_9"}),  # a layer the model lacks: its check says so
    ]
    (resolved,) = carry_focus(Focus(neuron=6), [(None, steps)], narrow_model())
    assert [getattr(s, "neuron", "-") for s in resolved] == [None, None, 6, "-", None]
    assert focus_problem(Focus(neuron=9), narrow_model()) is None
    assert focus_problem(Focus(neuron=10), narrow_model()) == (
        "expected a neuron from 0 to 9 (the layers of model 'narrow' have at most 10 "
        "channels), got 10"
    )


def test_the_shipped_lessons_follow_one_neuron_through_conv_relu_and_pool() -> None:
    for name in ("course", "convolution", "relu", "pooling"):
        lesson = load_lesson(ROOT / "lessons" / f"{name}.yaml")
        shown = {getattr(s, "neuron", None) for s in lesson.steps if s.type in NEURON_STEPS}
        assert shown == {3}, name
