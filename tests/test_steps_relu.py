"""The ``relu`` step: every value it shows equals torch, layouts fit, rules are enforced."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT
from dry_run import dry_run, trace_file
from rendering import rgb_frames, run_render
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from scenes.steps.kit.patches import choose_patch
from scenes.steps.types.relu import ReluSpec, plan
from scenes.visuals.layout import Frame
from scenes.visuals.numbers import fmt
from torch_reference import parse_shown, reference_layers

ASPECTS = ("16:9", "9:16", "1:1")
CLI_RENDER = (sys.executable, "-m", "scenes.cli", "render")
STAR = ROOT / "lessons" / "images" / "star_1.png"
# relu_1_2 neuron 7: most values negative, some positive (both sides of the kink).
STEP = {"type": "relu", "layer": "relu_1_2", "neuron": 7}


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory):
    return trace_file(default_model, STAR, tmp_path_factory.mktemp("traces"))


@pytest.fixture(scope="module")
def torch_layers(default_model, star) -> dict[str, torch.Tensor]:
    """conv outputs from torch.nn.functional, and ReLU applied to them with F.relu."""
    trace, _ = star
    ref = reference_layers(default_model, trace.image)
    layers = {name: torch.from_numpy(ref[name]) for name in ref if name.startswith("conv")}
    for conv in list(layers):
        layers[conv.replace("conv", "relu")] = F.relu(layers[conv])
    return layers


def colour_range(conv: torch.Tensor) -> float:
    """CNN Explainer's R for a conv layer, from torch's values."""
    return 2 * round(0.1 + float(conv.abs().max()), 3)


def assert_values_equal_torch(
    values: list[dict[str, Any]], layers: dict[str, torch.Tensor]
) -> None:
    for entry in values:
        assert entry["kind"] == "activation", entry
        expected = float(layers[entry["layer"]][tuple(entry["index"])])
        assert entry["value"] == pytest.approx(expected, abs=1e-5), entry
        # The text drawn is the value rounded to 2 decimals, with a true minus sign.
        assert entry["text"] == fmt(entry["value"], 2), entry
        assert abs(parse_shown(entry["text"]) - expected) <= 0.005 + 1e-6, entry


@pytest.mark.parametrize("aspect", ASPECTS)
def test_relu_values_equal_torch_and_stay_in_frame(
    star, torch_layers, aspect: str, tmp_path: Path
) -> None:
    _, path = star
    record = dry_run(STEP, tmp_path, path, aspect=aspect)
    assert record["overflow"] == []
    assert_values_equal_torch(record["values"], torch_layers)
    assert 8 < record["duration"] < 30

    facts = record["facts"]
    assert (facts["layer"], facts["conv_layer"], facts["neuron"]) == ("relu_1_2", "conv_1_2", 7)
    row, col, size = facts["patch"]["row"], facts["patch"]["column"], facts["patch"]["size"]
    assert size == 4
    # Both patches are shown in full: every cell of conv_1_2 and of relu_1_2 in the patch.
    patch = {(7, row + i, col + j) for i in range(size) for j in range(size)}
    for layer in ("conv_1_2", "relu_1_2"):
        shown = {tuple(v["index"]) for v in record["values"] if v["layer"] == layer}
        assert shown == patch, layer
    # The default patch shows negatives going to 0 and positives passing through.
    conv = {tuple(v["index"]): v for v in record["values"] if v["layer"] == "conv_1_2"}
    relu = {tuple(v["index"]): v for v in record["values"] if v["layer"] == "relu_1_2"}
    negatives = [i for i, v in conv.items() if v["value"] < 0]
    positives = [i for i, v in conv.items() if v["value"] > 0]
    assert negatives and positives
    assert facts["negatives_in_patch"] == len(negatives)
    assert all(relu[i]["text"] == "0.00" and conv[i]["text"].startswith("−") for i in negatives)
    assert all(relu[i]["text"] == conv[i]["text"] for i in positives)
    # Then the graph's two examples and their formulas: the patch's lowest and highest value,
    # each as a (conv, relu) pair.
    lowest = min(conv.values(), key=lambda v: v["value"])["index"]
    highest = max(conv.values(), key=lambda v: v["value"])["index"]
    extras = record["values"][2 * size * size :]
    assert [v["layer"] for v in extras] == ["conv_1_2", "relu_1_2"] * 4
    assert [v["index"] for v in extras[::2]] == [lowest, highest, lowest, highest]
    assert all(a["index"] == b["index"] for a, b in zip(extras[::2], extras[1::2], strict=True))

    # Both maps, with the conv layer's colour range (ReLU reuses it).
    maps = {m["layer"]: m for m in record["maps"]}
    assert set(maps) == {"conv_1_2", "relu_1_2"}
    half = colour_range(torch_layers["conv_1_2"]) / 2
    for layer, m in maps.items():
        expected = torch_layers[layer][7]
        assert m["index"] == [7] and m["shape"] == [60, 60]
        assert m["min"] == pytest.approx(float(expected.min()), abs=1e-5)
        assert m["max"] == pytest.approx(float(expected.max()), abs=1e-5)
        assert m["range"] == pytest.approx([-half, half])
    assert maps["relu_1_2"]["min"] == 0.0 < maps["relu_1_2"]["max"]


@pytest.mark.parametrize("theme", ["dark", "colorblind"])
def test_relu_explicit_patch_in_other_themes(
    star, torch_layers, theme: str, tmp_path: Path
) -> None:
    _, path = star
    step = {
        "type": "relu",
        "layer": "relu_2_2",
        "neuron": 0,
        "patch_row": 22,
        "patch_column": 0,
        "patch_size": 4,
    }
    record = dry_run(step, tmp_path, path, aspect="16:9", theme=theme)
    assert record["overflow"] == []
    assert_values_equal_torch(record["values"], torch_layers)
    assert record["facts"]["patch"] == {"row": 22, "column": 0, "size": 4}
    grid = {tuple(v["index"]) for v in record["values"][:16]}
    assert grid == {(0, 22 + i, j) for i in range(4) for j in range(4)}
    assert [(m["layer"], m["shape"]) for m in record["maps"]] == [
        ("conv_2_2", [26, 26]),
        ("relu_2_2", [26, 26]),
    ]


def test_automatic_patch_mixes_signs_and_respects_a_given_coordinate() -> None:
    values = -np.ones((12, 12), dtype=np.float32)
    values[7, 9] = 2.0
    values[8, 9] = 0.5
    row, col = choose_patch(values, 3, worth="both_signs")
    window = values[row : row + 3, col : col + 3]
    assert (window > 0).sum() == 2 and (window < 0).sum() == 7
    # With the row fixed, the column is still chosen to include a positive value.
    row, col = choose_patch(values, 3, row=6, worth="both_signs")
    assert row == 6 and 7 <= col <= 9
    assert choose_patch(values, 3, row=2, column=4, worth="both_signs") == (2, 4)


@pytest.mark.parametrize(
    "step",
    [STEP, {"type": "relu", "layer": "relu_2_1", "patch_row": 5, "patch_size": 3}],
    ids=["default-patch", "given-row"],
)
def test_plan_shows_torch_conv_values_and_their_clamp(
    star, torch_layers, step: dict[str, Any]
) -> None:
    """The plan alone (no scene): its numbers against F.conv2d and clamp(min=0)."""
    trace, _ = star
    p = plan(ReluSpec.model_validate(step), trace, Frame.for_aspect("16:9"))
    conv = torch_layers[p.layer.replace("relu", "conv")][p.neuron]
    assert p.conv == p.layer.replace("relu", "conv")
    window = conv[p.row : p.row + p.size, p.column : p.column + p.size]
    cells = [(p.neuron, p.row + i, p.column + j) for i in range(p.size) for j in range(p.size)]
    for grid, layer, expected in (
        (p.before_grid, p.conv, window),
        (p.after_grid, p.layer, window.clamp(min=0)),
    ):
        numbers = [number for row in grid for number in row]
        assert [n.index for n in numbers] == cells
        assert {n.layer for n in numbers} == {layer}
        values = np.array([n.value for n in numbers]).reshape(p.size, p.size)
        np.testing.assert_allclose(values, expected.numpy(), atol=1e-5)
        assert [n.text for n in numbers] == [fmt(n.value, 2) for n in numbers]
    np.testing.assert_allclose(p.before, conv.numpy(), atol=1e-5)
    np.testing.assert_allclose(p.after, conv.clamp(min=0).numpy(), atol=1e-5)
    flat = window.flatten()
    assert p.negatives == tuple(int(k) for k in torch.nonzero(flat < 0).flatten())
    assert p.negatives and len(p.negatives) < p.size * p.size  # both signs in the patch
    lowest, highest = divmod(int(flat.argmin()), p.size), divmod(int(flat.argmax()), p.size)
    assert [e.cell for e in p.examples] == [lowest, highest]
    for e in p.examples:
        assert e.before.value == pytest.approx(float(window[e.cell]), abs=1e-5)
        assert e.after.value == pytest.approx(max(0.0, float(window[e.cell])), abs=1e-5)
    half = colour_range(torch_layers[p.conv]) / 2
    assert p.colour_range == pytest.approx((-half, half))
    if "patch_row" in step:
        assert p.row == step["patch_row"]


CROSS_FIELD = (
    "title: x\nmodel: default\nimage: star_1\nsteps:\n"
    "  - type: relu\n    layer: conv_1_1\n"
    "  - type: relu\n    layer: relu_2_2\n    neuron: 10\n    patch_row: 23\n    patch_column: 30\n"
    "  - type: relu\n    layer: relu_9\n"
    "  - type: relu\n    layer: relu_1_1\n    patch_size: 6\n"
    "  - type: relu\n    layer: relu_1_1\n    patch_size: 5\n    patch_row: 57\n    patch_column: 58\n"
)


def test_relu_cross_field_rules_have_exact_located_messages(tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(CROSS_FIELD, encoding="utf-8")
    shown = display_path(path)
    relus = "relu_1_1, relu_1_2, relu_2_1, relu_2_2"
    assert [str(e) for e in validate_lesson(path)] == [
        f"{shown}:6:12: steps[0].layer: expected a ReLU layer ({relus}), got 'conv_1_1', a conv layer",
        f"{shown}:9:13: steps[1].neuron: expected a neuron from 0 to 9 (relu_2_2 has 10 neurons), got 10",
        f"{shown}:10:16: steps[1].patch_row: expected a patch_row from 0 to 22 (a 4×4 patch must fit in relu_2_2's 26×26 map), got 23",
        f"{shown}:11:19: steps[1].patch_column: expected a patch_column from 0 to 22 (a 4×4 patch must fit in relu_2_2's 26×26 map), got 30",
        f"{shown}:13:12: steps[2].layer: expected a ReLU layer ({relus}), got 'relu_9'",
        f"{shown}:16:17: steps[3].patch_size: expected an integer from 2 to 5, got 6",
        f"{shown}:21:19: steps[4].patch_column: expected a patch_column from 0 to 57 (a 5×5 patch must fit in relu_1_1's 62×62 map), got 58",
    ]


@pytest.mark.render
def test_relu_renders_a_short_video(tmp_path: Path, default_model) -> None:
    lesson = ROOT / "tests" / "lessons" / "relu_smoke.yaml"
    video, manifest = run_render(
        [*CLI_RENDER, str(lesson), "-q", "l", "-o", str(tmp_path), "--quiet"]
    )
    frames = rgb_frames(video)
    assert (frames[0].shape[1], frames[0].shape[0]) == (854, 480)
    assert len(frames) == manifest["frames"]
    assert len(frames) / 15 == pytest.approx(manifest["duration"], abs=1 / 15)
    (step,) = manifest["steps"]
    assert step["type"] == "relu" and step["duration"] > 8
    # The last frame shows the maps and the numbers: far from a blank frame.
    assert frames[-1].std() > 20
    # Numbers in the manifest equal torch's.
    trace, _ = trace_file(default_model, STAR, tmp_path)
    ref = reference_layers(default_model, trace.image)
    for entry in step["values"]:
        layer, index = entry["layer"], tuple(entry["index"])
        conv = torch.from_numpy(ref[layer.replace("relu", "conv")])
        expected = float(F.relu(conv)[index] if layer.startswith("relu") else conv[index])
        assert entry["value"] == pytest.approx(expected, abs=1e-5)
