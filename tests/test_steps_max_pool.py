"""The ``max_pool`` step and its variants: values equal torch, layouts fit, rules are enforced."""

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
from scenes.steps.types.max_pool import (
    GlobalPoolPlan,
    MaxPoolSpec,
    PoolPlan,
    kept_cells,
    plan,
)
from scenes.visuals.layout import Frame
from scenes.visuals.numbers import fmt
from torch_reference import parse_shown, reference_layers

ASPECTS = ("16:9", "9:16", "1:1")
CLI_RENDER = (sys.executable, "-m", "scenes.cli", "render")
MODES = ("max", "average", "global")
STAR = ROOT / "lessons" / "images" / "star_1.png"
SOURCE = {"max_pool_1": "relu_1_2", "max_pool_2": "relu_2_2"}


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory):
    return trace_file(default_model, STAR, tmp_path_factory.mktemp("traces"))


@pytest.fixture(scope="module")
def ref(default_model, star) -> dict[str, torch.Tensor]:
    """Every layer from torch.nn.functional, as tensors."""
    trace, _ = star
    return {k: torch.from_numpy(v) for k, v in reference_layers(default_model, trace.image).items()}


def expected_value(entry: dict[str, Any], ref: dict[str, torch.Tensor]) -> float:
    """What torch computes for a recorded entry, by its layer and kind."""
    layer, index, kind = entry["layer"], tuple(entry["index"]), entry["kind"]
    if kind == "activation" and layer.startswith("relu"):
        return float(ref[layer][index])
    if kind == "activation" and layer.startswith("max_pool"):
        relu = ref[SOURCE[layer]]
        return float(F.max_pool2d(relu[None], 2, 2)[0][index])
    if kind == "average_pool":
        return float(F.avg_pool2d(ref[layer][None], 2, 2)[0][index])
    if kind == "global_average_pool":
        return float(ref[layer][index].double().mean())
    raise AssertionError(f"unexpected entry {entry}")


def assert_values_equal_torch(values: list[dict[str, Any]], ref: dict[str, torch.Tensor]) -> None:
    assert values
    for entry in values:
        expected = expected_value(entry, ref)
        assert entry["value"] == pytest.approx(expected, abs=1e-5), entry
        assert entry["text"] == fmt(entry["value"], 2), entry
        assert abs(parse_shown(entry["text"]) - expected) <= 0.005 + 1e-6, entry


def half_range(ref: dict[str, torch.Tensor], conv: str) -> float:
    return round(0.1 + float(ref[conv].abs().max()), 3)


@pytest.mark.parametrize("aspect", ASPECTS)
def test_max_pool_values_equal_torch_and_stay_in_frame(
    star, ref, aspect: str, tmp_path: Path
) -> None:
    trace, path = star
    step = {"type": "max_pool", "layer": "max_pool_1", "neuron": 3}
    record = dry_run(step, tmp_path, path, aspect=aspect)
    assert record["overflow"] == []
    assert_values_equal_torch(record["values"], ref)
    assert 8 < record["duration"] < 30
    facts = record["facts"]
    assert facts["mode"] == "max" and facts["discarded_fraction"] == 0.75
    row, col, k = facts["patch"]["row"], facts["patch"]["column"], facts["patch"]["windows"]
    assert row % 2 == col % 2 == 0 and k == 3

    # The whole patch is shown: 6×6 inputs and the 3×3 outputs they pool into.
    inputs = {tuple(v["index"]): v for v in record["values"] if v["layer"] == "relu_1_2"}
    outputs = {tuple(v["index"]): v for v in record["values"] if v["layer"] == "max_pool_1"}
    assert set(inputs) == {(3, row + i, col + j) for i in range(6) for j in range(6)}
    assert set(outputs) == {(3, row // 2 + i, col // 2 + j) for i in range(3) for j in range(3)}
    # The output values are the model's own max_pool_1, and each is its window's maximum.
    for (c, y, x), entry in outputs.items():
        assert entry["value"] == float(trace.activations["max_pool_1"][c, y, x])
        window = [inputs[(c, 2 * y + i, 2 * x + j)]["value"] for i in range(2) for j in range(2)]
        assert entry["value"] == max(window)
    # The explained windows write out max(a, b, c, d) = m: two windows by default.
    formulas = record["values"][36 + 9 :]
    assert [v["layer"] for v in formulas] == (["relu_1_2"] * 4 + ["max_pool_1"]) * 2

    maps = {m["layer"]: m for m in record["maps"]}
    assert set(maps) == {"relu_1_2", "max_pool_1"}
    assert (maps["relu_1_2"]["index"], maps["relu_1_2"]["shape"]) == ([3], [60, 60])
    assert (maps["max_pool_1"]["index"], maps["max_pool_1"]["shape"]) == ([3], [30, 30])
    pooled = F.max_pool2d(ref["relu_1_2"][None], 2, 2)[0][3]
    assert maps["max_pool_1"]["max"] == pytest.approx(float(pooled.max()), abs=1e-6)
    assert maps["max_pool_1"]["min"] == pytest.approx(float(pooled.min()), abs=1e-6)
    half = half_range(ref, "conv_1_2")
    assert all(m["range"] == pytest.approx([-half, half]) for m in maps.values())


@pytest.mark.parametrize("aspect", ASPECTS)
def test_average_variant_equals_torch_avg_pool(star, ref, aspect: str, tmp_path: Path) -> None:
    _, path = star
    step = {
        "type": "max_pool",
        "layer": "max_pool_2",
        "neuron": 4,
        "mode": "average",
        "patch_row": 10,
        "patch_column": 4,
        "patch_windows": 2,
        "explained": 1,
    }
    record = dry_run(step, tmp_path, path, aspect=aspect, theme="dark")
    assert record["overflow"] == []
    assert_values_equal_torch(record["values"], ref)
    averages = [v for v in record["values"] if v["kind"] == "average_pool"]
    # The 2×2 outputs of the patch, then the explained window's result again.
    assert [tuple(v["index"]) for v in averages] == [
        (4, 5, 2),
        (4, 5, 3),
        (4, 6, 2),
        (4, 6, 3),
        (4, 5, 2),
    ]
    assert all(v["layer"] == "relu_2_2" for v in averages)
    # Nothing claims to be the model's max_pool_2 output: this is a variant.
    assert not [v for v in record["values"] if v["layer"] == "max_pool_2"]
    maps = {m["layer"]: m for m in record["maps"]}
    assert set(maps) == {"relu_2_2", "relu_2_2.average_pool"}
    pooled = F.avg_pool2d(ref["relu_2_2"][None], 2, 2)[0][4]
    assert maps["relu_2_2.average_pool"]["shape"] == [13, 13]
    assert maps["relu_2_2.average_pool"]["max"] == pytest.approx(float(pooled.max()), abs=1e-5)
    assert record["facts"]["mode"] == "average" and "discarded_fraction" not in record["facts"]


@pytest.mark.parametrize("aspect", ASPECTS)
def test_global_variant_is_the_mean_of_the_whole_map(
    star, ref, aspect: str, tmp_path: Path
) -> None:
    _, path = star
    step = {"type": "max_pool", "layer": "max_pool_1", "neuron": 0, "mode": "global"}
    record = dry_run(step, tmp_path, path, aspect=aspect, theme="colorblind")
    assert record["overflow"] == []
    assert_values_equal_torch(record["values"], ref)
    (mean,) = [v for v in record["values"] if v["kind"] == "global_average_pool"]
    assert (mean["layer"], mean["index"]) == ("relu_1_2", [0])
    assert mean["value"] == pytest.approx(float(ref["relu_1_2"][0].mean()), abs=1e-6)
    assert [(m["layer"], m["index"], m["shape"]) for m in record["maps"]] == [
        ("relu_1_2", [0], [60, 60])
    ]
    assert record["facts"]["output_shape"] == [1, 1]
    assert 4 < record["duration"] < 30


def test_kept_cells_are_one_maximum_per_window(star, ref) -> None:
    trace, _ = star
    for layer, source in SOURCE.items():
        for channel in (0, 1, 7):
            values = trace.activations[source][channel]
            pooled = trace.activations[layer][channel]
            mask = kept_cells(values, pooled)
            h, w = pooled.shape
            windows = mask.reshape(h, 2, w, 2).transpose(0, 2, 1, 3).reshape(h, w, 4)
            assert (windows.sum(axis=-1) == 1).all()  # one of four kept: 75 % discarded
            cells = values.reshape(h, 2, w, 2).transpose(0, 2, 1, 3).reshape(h, w, 4)
            kept = cells[windows].reshape(h, w)
            torch_max = F.max_pool2d(ref[source][channel][None, None], 2, 2)[0, 0].numpy()
            np.testing.assert_array_equal(kept, torch_max)


def numbers(grid) -> np.ndarray:
    return np.array([[n.value for n in row] for row in grid])


@pytest.mark.parametrize("mode", ["max", "average"])
def test_plan_windows_equal_torch_pooling(star, ref, mode: str) -> None:
    """The plan alone (no scene): every window against F.max_pool2d / F.avg_pool2d."""
    trace, _ = star
    step = {"type": "max_pool", "layer": "max_pool_1", "neuron": 3, "mode": mode}
    p = plan(MaxPoolSpec.model_validate(step), trace, Frame.for_aspect("9:16"))
    assert isinstance(p, PoolPlan)
    relu = ref["relu_1_2"][3]
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    pooled = pool(relu[None, None], 2, 2)[0, 0]
    row, col, k = p.row, p.column, p.windows
    oy, ox = row // 2, col // 2
    np.testing.assert_allclose(numbers(p.in_grid), relu[row : row + 6, col : col + 6], atol=1e-6)
    np.testing.assert_allclose(numbers(p.out_grid), pooled[oy : oy + k, ox : ox + k], atol=1e-5)
    np.testing.assert_allclose(p.outputs, pooled.numpy(), atol=1e-5)
    assert [w.explained for w in p.window_plans] == [True, True] + [False] * 7
    for w in p.window_plans:
        cells = [(3, row + 2 * w.row + i, col + 2 * w.column + j) for i in (0, 1) for j in (0, 1)]
        assert [n.index for n in w.inputs] == cells
        window = relu[cells[0][1] : cells[0][1] + 2, cells[0][2] : cells[0][2] + 2]
        assert [n.value for n in w.inputs] == pytest.approx(window.flatten().tolist(), abs=1e-6)
        assert w.result.index == (3, oy + w.row, ox + w.column)
        assert w.result.value == pytest.approx(float(pooled[oy + w.row, ox + w.column]), abs=1e-5)
        texts = [n.text for n in w.inputs]
        if mode == "max":
            # The kept value is the first maximum of the window, and it is the output.
            first = int(torch.argmax((window.flatten() == window.max()).int()))
            assert w.kept == first and w.inputs[first].value == w.result.value
            assert w.formula == f"max({', '.join(texts)}) = {w.result.text}"
        else:
            assert w.kept is None and w.result.kind == "average_pool"
            assert w.formula == f"({' + '.join(texts)}) / 4 = {w.result.text}"
    if mode == "max":
        assert p.keep is not None and p.keep.sum() == pooled.numel()
        assert (p.keep * relu.numpy()).max() == pytest.approx(float(pooled.max()), abs=1e-6)
        assert p.facts()["discarded_fraction"] == 0.75
    else:
        assert p.keep is None and p.map_layer == "relu_1_2.average_pool"


def test_plan_global_is_the_torch_mean(star, ref) -> None:
    trace, _ = star
    step = {"type": "max_pool", "layer": "max_pool_2", "neuron": 4, "mode": "global"}
    p = plan(MaxPoolSpec.model_validate(step), trace, Frame.for_aspect("1:1"))
    assert isinstance(p, GlobalPoolPlan)
    relu = ref["relu_2_2"][4]
    assert p.mean.value == pytest.approx(float(relu.double().mean()), abs=1e-6)
    assert (p.mean.layer, p.mean.index, p.mean.kind) == ("relu_2_2", (4,), "global_average_pool")
    side = 2 * p.windows
    patch = relu[p.row : p.row + side, p.column : p.column + side]
    np.testing.assert_allclose(numbers(p.in_grid), patch, atol=1e-6)


def test_automatic_patch_has_most_nonzero_values_on_the_window_grid() -> None:
    values = np.zeros((12, 12), dtype=np.float32)
    values[5:9, 7:11] = 1.0  # 4×4 non-zeros, off the grid of windows
    values[5, 7] = 3.0
    # Corners lie on even cells; (4, 6), (4, 8), (6, 6) and (6, 8) each hold 9
    # non-zeros, and only (4, 6) holds the 3 too (the widest range).
    assert choose_patch(values, 4, worth="nonzero", stride=2) == (4, 6)
    assert choose_patch(values, 4, row=7, worth="nonzero", stride=2)[0] == 6


CROSS_FIELD = (
    "title: x\nmodel: default\nimage: star_1\nsteps:\n"
    "  - type: max_pool\n    layer: relu_1_1\n"
    "  - type: max_pool\n    layer: max_pool_2\n    neuron: 12\n    patch_row: 3\n"
    "    patch_column: 22\n"
    "  - type: max_pool\n    mode: min\n"
    "  - type: max_pool\n    patch_windows: 2\n    explained: 5\n"
    "  - type: max_pool\n    mode: global\n    patch_windows: 4\n"
)


def test_max_pool_cross_field_rules_have_exact_located_messages(tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(CROSS_FIELD, encoding="utf-8")
    shown = display_path(path)
    fit = "windows start every 2 cells and 3×3 windows must fit in relu_2_2's 26×26 map"
    assert [str(e) for e in validate_lesson(path)] == [
        f"{shown}:6:12: steps[0].layer: expected a max-pool layer (max_pool_1, max_pool_2), got 'relu_1_1', a relu layer",
        f"{shown}:9:13: steps[1].neuron: expected a neuron from 0 to 9 (max_pool_2 has 10 neurons), got 12",
        f"{shown}:10:16: steps[1].patch_row: expected an even patch_row from 0 to 20 ({fit}), got 3",
        f"{shown}:11:19: steps[1].patch_column: expected an even patch_column from 0 to 20 ({fit}), got 22",
        f"{shown}:13:11: steps[2].mode: expected one of 'max', 'average', 'global', got 'min' (text)",
        f"{shown}:16:16: steps[3].explained: expected explained from 0 to 4 (the patch has 2×2 windows), got 5",
        f"{shown}:19:20: steps[4].patch_windows: expected an integer from 1 to 3, got 4",
    ]


@pytest.mark.render
def test_max_pool_renders_a_short_video(tmp_path: Path, star, ref) -> None:
    lesson = ROOT / "tests" / "lessons" / "pool_smoke.yaml"
    video, manifest = run_render(
        [*CLI_RENDER, str(lesson), "-q", "l", "-o", str(tmp_path), "--quiet"]
    )
    frames = rgb_frames(video)
    assert (frames[0].shape[1], frames[0].shape[0]) == (854, 480)
    assert len(frames) == manifest["frames"]
    assert len(frames) / 15 == pytest.approx(manifest["duration"], abs=1 / 15)
    (step,) = manifest["steps"]
    assert step["type"] == "max_pool" and step["duration"] > 6
    assert frames[-1].std() > 20
    # 2×2 windows: 4×4 inputs and 2×2 outputs, then one explained window (4 + 1).
    assert len(step["values"]) == 16 + 4 + 5
    assert_values_equal_torch(step["values"], ref)
