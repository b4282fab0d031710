"""Every step type plays the phases it declares, in order, each taking time of its own.

A narration cue starts when its phase starts and the scene holds a phase's
end until its cues are done, so a builder must mark every declared phase
exactly once, in order, and a phase must never be empty. The builders run
here without a scene (their mobjects are made, nothing is drawn).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import cnn_model
from scenes.steps import REGISTRY
from scenes.steps.kit.base import Add, Beat, Hold, Item, ModelInfo, Phase, StepContext
from scenes.visuals.layout import Frame
from scenes.visuals.theme import load_theme

FIVE = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
CROSS = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]

# Valid steps of every type (the fields after ``type``), with the variants that
# change which phases a step has: numbered runs of two lengths at least, and modes.
SPECS: dict[str, list[dict[str, Any]]] = {
    "title": [{"text": "Kernels"}, {"text": "Kernels", "subtitle": "windows"}],
    "text": [
        {"text": "A kernel slides over the image."},
        {"bullets": ["one"]},
        {
            "title": "Output size",
            "text": "The output is smaller than the input.",
            "formula": "output = (W − K + 2P) / S + 1",
            "bullets": ["W: input size", "K: kernel size", "P: padding", "S: stride"],
        },
    ],
    "overview": [{}, {"focus": "conv_1_1"}, {"focus": "relu_2_2", "focus_neuron": 3}],
    "input": [{}],
    "convolution": [
        {"positions": 0},
        {"positions": 1},
        {"layer": "conv_2_1", "neuron": 1, "channel": 4, "positions": 3},
    ],
    "conv_elastic": [{}, {"layer": "conv_1_2", "neuron": 2}],
    "hyperparameters": [
        {},
        {"compare": [{"padding": 1}, {"input_size": 6, "stride": 2, "allow_invalid": True}]},
    ],
    "relu": [{}, {"layer": "relu_2_1", "neuron": 0}],
    "max_pool": [
        {},
        {"explained": 0},
        {"patch_windows": 2, "explained": 4},
        {"mode": "average", "explained": 1},
        {"mode": "global"},
    ],
    "flatten": [{}, {"readout": 0, "terms": 0}, {"readout": 1, "terms": 2, "pick": "first"}],
    "softmax": [{}, {"compare": False}],
    "classify": [{}, {"top": 2}],
    "custom_convolution": [
        {"input": FIVE, "kernel": CROSS, "positions": 0},
        {"input": FIVE, "kernel": CROSS, "positions": 2},
        {"input": FIVE, "kernel": CROSS, "padding": 1, "positions": 200},
    ],
    "filter_gallery": [{"filters": ["identity"]}, {}],
    "training": [{"label": 3}, {"label": 0, "kernel": 5}],
    "features": [{}, {"layer": "conv_2_2", "neurons": [0, 3], "k": 2}],
}

LONG = "The output is smaller than the input, by the kernel's size less one. "
# Frames whose layout changes a step's beats: the card in two pages (the bullets
# take the first page's place), the comparison clearing a square frame, the
# graph staying above the maps in a tall one.
OTHER_FRAMES: list[tuple[str, str, dict[str, Any]]] = [
    ("text", "1:1", {"text": LONG * 8, "formula": "W − K + 1", "bullets": [LONG[:40]] * 6}),
    ("softmax", "1:1", {}),
    ("relu", "9:16", {}),
]
CASES = [
    pytest.param(name, fields, "16:9", id=f"{name}-{n}")
    for name in sorted(REGISTRY)
    for n, fields in enumerate(SPECS.get(name, [{}]))
] + [
    pytest.param(name, fields, aspect, id=f"{name}-{aspect}")
    for name, aspect, fields in OTHER_FRAMES
]
NAME = re.compile(r"[a-z]+( [a-z]+)*( [1-9][0-9]*)?")


def manim_frame(aspect: str, monkeypatch: pytest.MonkeyPatch) -> Frame:
    """The step's frame, set in Manim's config as the render sets it."""
    from manim import config

    frame = Frame.for_aspect(aspect)
    monkeypatch.setattr(config, "frame_width", frame.width)
    monkeypatch.setattr(config, "frame_height", frame.height)
    return frame


def valid_spec(name: str, fields: dict[str, Any], info: ModelInfo) -> Any:
    """A step of type ``name`` with ``fields``, checked valid against the model."""
    step_type = REGISTRY[name]
    spec = step_type.spec.model_validate({"type": name, **fields})
    if step_type.check is not None:
        assert step_type.check(spec, info) == []  # a valid step
    return spec


def step_context(
    spec: Any, trace: cnn_model.Trace, aspect: str, monkeypatch: pytest.MonkeyPatch
) -> StepContext:
    """What a builder reads for ``spec``, in the render's frame (no scene)."""
    return StepContext(
        trace=trace if REGISTRY[spec.type].needs_trace else None,
        theme=load_theme("cnn-explainer"),
        frame=manim_frame(aspect, monkeypatch),
        narration="",
        title=spec.title,
    )


def test_every_step_type_has_specs_here() -> None:
    """A new step type needs its valid steps above, or its phases go untested."""
    assert sorted(SPECS) == sorted(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_declared_phase_names_are_short_words_and_unique(name: str) -> None:
    step_type = REGISTRY[name]
    for fields in SPECS[name]:
        names = step_type.phases.names(step_type.spec.model_validate({"type": name, **fields}))
        assert names, name
        assert len(set(names)) == len(names), names
        assert all(NAME.fullmatch(phase) for phase in names), names


def phases_played(items: list[Item]) -> list[tuple[str, float]]:
    """Each phase marker's name and the seconds of animation that follow it
    (up to the next marker); raises if anything but an ``Add`` comes first."""
    played: list[tuple[str, float]] = []
    for item in items:
        if isinstance(item, Phase):
            played.append((item.name, 0.0))
        elif isinstance(item, Add):
            continue
        else:
            assert played, f"{item!r} comes before the first phase"
            seconds = item.run_time if isinstance(item, Beat) else item.seconds
            assert isinstance(item, Beat | Hold)
            played[-1] = (played[-1][0], played[-1][1] + seconds)
    return played


@pytest.mark.parametrize(("name", "fields", "aspect"), CASES)
def test_builder_plays_its_declared_phases(
    name: str,
    fields: dict[str, Any],
    aspect: str,
    star_trace: cnn_model.Trace,
    model_info: ModelInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step_type = REGISTRY[name]
    spec = valid_spec(name, fields, model_info)
    ctx = step_context(spec, star_trace, aspect, monkeypatch)
    played = phases_played(list(step_type.build(spec, ctx)))
    assert [phase for phase, _ in played] == step_type.phases.names(spec)
    empty = [phase for phase, seconds in played if seconds <= 0]
    assert empty == [], f"phases without animation: {empty}"


def test_numbered_runs_follow_the_fields() -> None:
    """The runs' lengths come from the fields that set them (spot checks)."""

    def names(name: str, **fields: Any) -> list[str]:
        step_type = REGISTRY[name]
        return step_type.phases.names(step_type.spec.model_validate({"type": name, **fields}))

    assert names("convolution", positions=1) == ["intro", "window 1", "sweep", "result"]
    assert names("convolution", positions=3)[1:4] == ["window 1", "window 2", "window 3"]
    assert names("hyperparameters") == ["setting 1"]
    assert names("hyperparameters", compare=[{"padding": 1}, {"stride": 3}]) == [
        "setting 1",
        "setting 2",
        "setting 3",
    ]
    assert names("max_pool", mode="global", explained=3) == ["intro", "map"]
    assert names("max_pool", explained=2) == ["intro", "window 1", "window 2", "map"]
    assert names("custom_convolution", input=FIVE, kernel=CROSS, positions=50)[-2:] == [
        "window 9",
        "result",
    ]
    assert names("softmax", compare=False) == ["logits", "exp", "divide", "prediction"]
    assert names("overview")[-1] == "scores"
    assert names("overview", focus="conv_1_1")[-1] == "zoom"
    assert names("softmax", compare=True)[-3:] == ["argmax chart", "softmax chart", "linear chart"]
