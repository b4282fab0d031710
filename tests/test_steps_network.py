"""conv_elastic and overview: every value and map against torch, in every aspect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_model.tinyvgg import PREVIOUS
from conftest import ROOT
from dry_run import dry_run, trace_file
from manifest_check import check_values
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from torch_reference import reference_layers

ASPECTS = ("16:9", "9:16", "1:1")


@pytest.fixture(scope="module")
def heart(default_model, tmp_path_factory):
    return trace_file(
        default_model,
        ROOT / "lessons" / "images" / "heart_1.png",
        tmp_path_factory.mktemp("traces"),
    )


def check_maps(
    maps: list[dict], ref: dict[str, np.ndarray], extra: dict[tuple, np.ndarray]
) -> None:
    for entry in maps:
        key = (entry["layer"], tuple(entry["index"]))
        values = extra[key] if key in extra else ref[entry["layer"]][tuple(entry["index"])]
        assert list(values.shape) == entry["shape"], key
        assert entry["min"] == pytest.approx(float(values.min()), abs=1e-5), key
        assert entry["max"] == pytest.approx(float(values.max()), abs=1e-5), key


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize(("layer", "neuron"), [("conv_1_1", 4), ("conv_2_2", 9)])
def test_conv_elastic(default_model, heart, aspect, layer, neuron, tmp_path: Path) -> None:
    trace, path = heart
    record = dry_run(
        {"type": "conv_elastic", "layer": layer, "neuron": neuron}, tmp_path, path, aspect=aspect
    )
    assert record["overflow"] == []
    ref = reference_layers(default_model, trace.image)
    module = getattr(default_model, layer)
    source = torch.from_numpy(ref[PREVIOUS[layer]])[None]
    channels = source.shape[1]
    weight = module.weight.detach()[neuron].reshape(channels, 1, 3, 3)
    contributions = F.conv2d(source, weight, groups=channels)[0].numpy()
    extra = {(f"{layer}.contribution", (neuron, c)): contributions[c] for c in range(channels)}
    extra.update(
        {
            (f"{layer}.weight", (neuron, c)): module.weight.detach().numpy()[neuron, c]
            for c in range(channels)
        }
    )
    check_maps(record["maps"], ref, extra)
    layers = [m["layer"] for m in record["maps"]]
    assert layers.count(PREVIOUS[layer]) == channels
    assert layers.count(f"{layer}.contribution") == channels
    assert layers.count(layer) == 1
    # The sum the step shows is the real activation map.
    np.testing.assert_allclose(
        contributions.sum(0) + float(module.bias[neuron].detach()), ref[layer][neuron], atol=1e-5
    )
    checked = check_values(record["values"], default_model, trace.image, record["facts"])
    assert checked == (1 + (27 if channels == 3 else 0))  # the bias, and 3x9 weights when shown
    assert record["facts"]["kernels"] == channels * 10


@pytest.mark.parametrize("aspect", ASPECTS)
def test_overview(default_model, heart, aspect, tmp_path: Path) -> None:
    trace, path = heart
    record = dry_run(
        {"type": "overview", "focus": "conv_2_1", "focus_neuron": 3}, tmp_path, path, aspect=aspect
    )
    assert record["overflow"] == []
    ref = reference_layers(default_model, trace.image)
    check_maps(record["maps"], ref, {})
    assert len(record["maps"]) == 3 + 10 * 10
    probabilities = [v for v in record["values"] if v["kind"] == "probability"]
    assert [v["index"][0] for v in probabilities] == list(range(10))
    ranges = [v for v in record["values"] if v["kind"] == "colour_range"]
    assert [v["layer"] for v in ranges] == ["conv_1_1"] * 2 + ["conv_1_2"] * 3 + [
        "conv_2_1"
    ] * 2 + ["conv_2_2"] * 3
    assert check_values(record["values"], default_model, trace.image, record["facts"]) == 22
    assert record["facts"]["prediction"] == "heart"


def test_overview_and_elastic_validation(tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(
        "title: x\nsteps:\n  - type: overview\n    focus: flatten\n"
        "  - type: overview\n    focus: relu_1_1\n    focus_neuron: 10\n"
        "  - type: overview\n    focus_neuron: 1\n"
        "  - type: conv_elastic\n    layer: max_pool_1\n"
    )
    shown = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [
        f"{shown}:4:12: steps[0].focus: expected a layer with maps (input, conv_1_1, relu_1_1, "
        "conv_1_2, relu_1_2, max_pool_1, conv_2_1, relu_2_1, conv_2_2, relu_2_2, max_pool_2), "
        "got 'flatten'",
        f"{shown}:7:19: steps[1].focus_neuron: expected a neuron from 0 to 9 (relu_1_1 has 10 "
        "channels), got 10",
        f"{shown}:9:19: steps[2].focus_neuron: expected no focus_neuron without a focus layer, "
        "got 1",
        f"{shown}:11:12: steps[3].layer: expected a convolution layer (conv_1_1, conv_1_2, "
        "conv_2_1, conv_2_2), got 'max_pool_1', a max_pool layer",
    ]


@pytest.mark.parametrize(
    ("step", "conv"),
    [
        ({"type": "relu", "layer": "relu_1_1"}, "conv_1_1"),
        ({"type": "max_pool", "layer": "max_pool_1"}, "conv_1_2"),
    ],
)
def test_a_left_out_neuron_is_a_lively_one(
    default_model, heart, step, conv, tmp_path: Path
) -> None:
    trace, path = heart
    record = dry_run(step, tmp_path, path)
    neuron = record["facts"]["neuron"]
    maps = trace.activations[conv]
    both = [min(int((m < 0).sum()), int((m > 0).sum())) for m in maps]
    assert both[neuron] == max(both) > 0
    assert {m["index"][0] for m in record["maps"]} == {neuron}
