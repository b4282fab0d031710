"""The ``classify`` step: the top classes and their probabilities, against torch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cnn_model
from cnn_model.store import save_model
from conftest import ROOT
from dry_run import dry_run, trace_file
from rendering import rgb_frames, run_render
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from scenes.steps.types.classify import ClassifySpec, plan
from scenes.visuals.colors import hex_to_rgb
from scenes.visuals.layout import Frame
from scenes.visuals.theme import load_theme
from torch_reference import parse_shown, reference_layers

STAR = ROOT / "lessons" / "images" / "star_1.png"
RENDER = [sys.executable, "-m", "scenes.cli", "render", "-q", "l"]


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory):
    return trace_file(default_model, STAR, tmp_path_factory.mktemp("traces"))


def torch_probabilities(model: cnn_model.TinyVGG, pixels: np.ndarray) -> np.ndarray:
    logits = torch.from_numpy(reference_layers(model, pixels)["output"])
    return torch.softmax(logits.double(), dim=0).numpy()


def check_against_torch(record: dict[str, Any], probabilities: np.ndarray) -> None:
    assert record["values"]
    for entry in record["values"]:
        assert entry["layer"] == "softmax", entry
        if entry["kind"] == "activation":
            (k,) = entry["index"]
            want = float(probabilities[k])
        elif entry["kind"] == "probability_sum":
            want = float(probabilities[entry["index"]].sum())
        else:
            raise AssertionError(f"no torch reference for {entry}")
        assert abs(entry["value"] - want) <= 1e-6, entry
        assert abs(parse_shown(entry["text"]) - want) <= 0.5e-4 + 1e-9, entry
        assert len(entry["text"].split(".")[1]) == 4, entry


@pytest.mark.parametrize(("aspect", "top"), [("16:9", None), ("9:16", 10), ("1:1", 1)])
def test_classify_values_equal_torch_and_stay_in_frame(
    default_model, star, aspect, top, tmp_path: Path
) -> None:
    trace, path = star
    step: dict[str, Any] = {"type": "classify"}
    if top is not None:
        step["top"] = top
    record = dry_run(step, tmp_path, path, aspect=aspect)
    assert record["overflow"] == []
    probabilities = torch_probabilities(default_model, trace.image)
    check_against_torch(record, probabilities)
    shown = top or 5
    ranked = [int(k) for k in np.argsort(-probabilities, kind="stable")]
    bars = [v for v in record["values"] if v["kind"] == "activation"][:shown]
    # Most probable first, exactly the top classes of torch's softmax.
    assert [v["index"][0] for v in bars] == ranked[:shown] == record["facts"]["top"]
    assert record["facts"]["predicted"] == ranked[0] == 3  # star
    others = [v for v in record["values"] if v["kind"] == "probability_sum"]
    if shown < 10:
        (rest,) = others
        assert rest["index"] == sorted(ranked[shown:])
        total = sum(v["value"] for v in bars) + rest["value"]
        assert total == pytest.approx(1.0, abs=1e-6)
    else:
        assert others == []


def test_classify_caps_the_default_for_a_two_class_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = cnn_model.TinyVGG(num_classes=2)
    model.name, model.classes = "pair", ["left", "right"]
    trace, path = trace_file(model, STAR, tmp_path)
    record = dry_run({"type": "classify"}, tmp_path, path, aspect="1:1")
    assert record["overflow"] == []
    check_against_torch(record, torch_probabilities(model, trace.image))
    assert sorted(record["facts"]["top"]) == [0, 1]

    # Validation: the default is capped, an explicit top beyond the classes is not.
    weights = tmp_path / "pair.safetensors"
    save_model(model, weights, {"classes": ["left", "right"]}, tmp_path / "pair.json")
    lesson = tmp_path / "pair.yaml"
    lesson.write_text(
        f"title: Pairs\nmodel: {weights}\nimage: star_1\nsteps:\n"
        "  - type: classify\n  - type: classify\n    top: 3\n",
        encoding="utf-8",
    )
    assert [str(e) for e in validate_lesson(lesson)] == [
        f"{display_path(lesson)}:7:10: steps[1].top: expected at most 2 classes "
        "(model 'pair' has 2 classes), got 3"
    ]


@pytest.mark.parametrize(("top", "aspect"), [(3, "16:9"), (10, "9:16"), (1, "1:1")])
def test_plan_top_classes_equal_torch(default_model, star_trace, top, aspect) -> None:
    """The plan alone (no scene): its classes and probabilities are torch's top k."""
    p = plan(ClassifySpec(type="classify", top=top), star_trace, Frame.for_aspect(aspect))
    probabilities = torch_probabilities(default_model, star_trace.image)
    values, indices = torch.topk(torch.from_numpy(probabilities), top)
    assert list(p.classes) == indices.tolist() == p.facts["top"]
    assert p.probabilities == pytest.approx(values.tolist(), abs=1e-7)
    assert p.predicted == int(np.argmax(probabilities)) == p.classes[p.predicted_row]
    for shown, want in zip(p.texts, values.tolist(), strict=True):
        assert abs(parse_shown(shown) - want) <= 0.5e-4 + 1e-9
    others = sorted(set(range(10)) - set(indices.tolist()))
    assert list(p.others) == others
    assert p.others_probability == pytest.approx(float(probabilities[others].sum()), abs=1e-7)
    assert (p.others_line is None) == (top == 10)
    assert p.labels == tuple(default_model.classes[k] for k in indices.tolist())


LESSON = """title: Classify errors
model: default
image: star_1
steps:
{steps}"""


@pytest.mark.parametrize(
    ("steps", "messages"),
    [
        (
            "  - type: classify\n    top: 12\n",
            [
                "6:10: steps[0].top: expected at most 10 classes (model 'default' has 10 classes), got 12"
            ],
        ),
        (
            "  - type: classify\n    top: 0\n",
            ["6:10: steps[0].top: expected an integer from 1 to 20, got 0"],
        ),
        (
            "  - type: classify\n    top: five\n",
            ["6:10: steps[0].top: expected an integer from 1 to 20, got 'five' (text)"],
        ),
        (
            "  - type: classify\n    tops: 3\n",
            ["6:5: steps[0].tops: unknown field (did you mean 'top'?)"],
        ),
    ],
    ids=["more than the classes", "zero", "text", "typo"],
)
def test_classify_validation_messages(steps: str, messages: list[str], tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(LESSON.format(steps=steps), encoding="utf-8")
    shown = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [f"{shown}:{m}" for m in messages]


@pytest.mark.render
def test_classify_renders_a_short_video(tmp_path: Path) -> None:
    lesson = tmp_path / "verdict.yaml"
    lesson.write_text(
        LESSON.format(steps="  - type: classify\n    top: 3\n").replace(
            "image:", "theme: dark\nimage:"
        ),
        encoding="utf-8",
    )
    video, manifest = run_render([*RENDER, str(lesson), "-o", str(tmp_path / "out"), "--quiet"])
    frames = rgb_frames(video)
    assert (frames[0].shape[1], frames[0].shape[0]) == (854, 480)
    assert len(frames) == manifest["frames"]
    last = frames[-1].reshape(-1, 3).astype(int)
    theme = load_theme("dark")
    # Dark background, and the predicted bar (0.994 of its track) in the accent colour.
    background = np.abs(last - np.array(hex_to_rgb(theme.background))).sum(axis=1) < 30
    assert background.mean() > 0.5
    accent = np.abs(last - np.array(hex_to_rgb(theme.accent))).sum(axis=1) < 30
    assert accent.sum() > 2000
    (step,) = manifest["steps"]
    assert [v["index"] for v in step["values"] if v["kind"] == "activation"][:3] == [[3], [2], [5]]
