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
from scenes.steps.types.overview import MAP_LAYERS, OverviewSpec
from scenes.steps.types.overview import plan as overview_plan
from scenes.visuals.layout import Frame
from torch_reference import parse_shown, reference_layers

ASPECTS = ("16:9", "9:16", "1:1")
# The conv layer whose range colours each map (CNN Explainer: ReLU and pool reuse it).
COLOUR_SOURCE = {
    "conv_1_1": "conv_1_1",
    "relu_1_1": "conv_1_1",
    "conv_1_2": "conv_1_2",
    "relu_1_2": "conv_1_2",
    "max_pool_1": "conv_1_2",
    "conv_2_1": "conv_2_1",
    "relu_2_1": "conv_2_1",
    "conv_2_2": "conv_2_2",
    "relu_2_2": "conv_2_2",
    "max_pool_2": "conv_2_2",
}


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


@pytest.mark.parametrize(
    ("focus", "neuron"), [("relu_2_1", 4), ("conv_1_2", 6), ("max_pool_2", None)]
)
def test_overview_plan_is_what_the_model_computes(default_model, star_trace, focus, neuron) -> None:
    """The plan's maps, colour ranges, scores and extremes against the model's own
    layer outputs, caught with forward hooks while torch runs it."""
    caught: dict[str, np.ndarray] = {}
    names = [n for n in MAP_LAYERS if n != "input"]
    handles = [
        getattr(default_model, name).register_forward_hook(
            lambda _m, _i, out, name=name: caught.__setitem__(name, out.detach()[0].numpy())
        )
        for name in names
    ]
    pixels = torch.from_numpy(star_trace.image.copy()).permute(2, 0, 1).float() / 255.0
    try:
        with torch.no_grad():
            logits = default_model(pixels[None])[0]
    finally:
        for handle in handles:
            handle.remove()
    caught["input"] = pixels.numpy()
    probabilities = torch.softmax(logits.double(), 0).numpy()
    spec = OverviewSpec.model_validate({"type": "overview", "focus": focus, "focus_neuron": neuron})
    p = overview_plan(spec, star_trace, Frame.for_aspect("9:16"))
    assert [c.layer for c in p.columns] == list(MAP_LAYERS)
    for column in p.columns:
        np.testing.assert_allclose(column.values, caught[column.layer], atol=1e-5)
        c, h, w = caught[column.layer].shape
        assert column.shape_text == f"{h}×{w}×{c}"
        if column.layer == "input":
            assert column.range_shown is None and column.range_note == "0 to 1"
            continue
        conv = COLOUR_SOURCE[column.layer]
        assert column.range_shown is not None and column.range_shown.layer == conv
        assert column.range_shown.value == pytest.approx(
            round(0.1 + float(np.abs(caught[conv]).max()), 3)
        )
        assert column.range_note == f"±{column.range_shown.text}"
    assert [row.index for row in p.classes] == list(range(10))
    for row in p.classes:
        assert row.probability.value == pytest.approx(probabilities[row.index], abs=1e-6)
        assert row.probability.text == f"{probabilities[row.index]:.4f}".replace("-", "−")
        assert row.predicted == (row.index == int(np.argmax(probabilities)))
    assert p.facts["prediction"] == default_model.classes[int(np.argmax(probabilities))]
    assert p.focus is not None and p.focus.layer == focus and p.focus.per_row == 2
    if neuron is None:
        assert p.focus.low is None and p.focus.note is None
        return
    values = torch.from_numpy(caught[focus][neuron])
    assert p.focus.low is not None and p.focus.high is not None
    for number, value, at in (
        (p.focus.low, values.min(), values.argmin()),
        (p.focus.high, values.max(), values.argmax()),
    ):
        assert number.value == pytest.approx(float(value), abs=1e-5)
        assert number.index == (neuron, *divmod(int(at), values.shape[1]))
    assert p.focus.note == f"min {p.focus.low.text} · max {p.focus.high.text}"


@pytest.mark.parametrize(("layer", "neuron"), [("conv_1_1", 2), ("conv_2_2", 6)])
def test_conv_elastic_plan_adds_up_to_the_model(default_model, star_trace, layer, neuron) -> None:
    """Each channel's intermediate map is that channel alone through F.conv2d, and
    the maps plus the bias are the layer's output (the plan alone, no scene)."""
    from scenes.steps.types.conv_elastic import ConvElasticSpec
    from scenes.steps.types.conv_elastic import plan as elastic_plan

    ref = reference_layers(default_model, star_trace.image)
    source = torch.from_numpy(ref[PREVIOUS[layer]]).double()[None]
    module = getattr(default_model, layer)
    weight = module.weight.detach().double()[neuron]
    bias = float(module.bias.detach()[neuron])
    spec = ConvElasticSpec.model_validate(
        {"type": "conv_elastic", "layer": layer, "neuron": neuron}
    )
    p = elastic_plan(spec, star_trace, Frame.for_aspect("16:9"))
    channels = source.shape[1]
    assert [row.channel for row in p.rows] == list(range(channels))
    total = torch.zeros_like(torch.from_numpy(ref[layer][neuron])).double()
    for row in p.rows:
        alone = F.conv2d(
            source[:, row.channel : row.channel + 1], weight[None, row.channel : row.channel + 1]
        )
        np.testing.assert_allclose(row.contribution, alone[0, 0].numpy(), atol=1e-5)
        np.testing.assert_allclose(row.values, ref[PREVIOUS[layer]][row.channel], atol=1e-6)
        np.testing.assert_allclose(row.kernel, weight[row.channel].numpy(), atol=1e-7)
        if channels == 3:
            assert row.kernel_texts is not None
            written = [[parse_shown(s.text) for s in r] for r in row.kernel_texts]
            np.testing.assert_allclose(written, weight[row.channel].numpy(), atol=0.005 + 1e-9)
        else:
            assert row.kernel_texts is None
        total += alone[0, 0]
    np.testing.assert_allclose((total + bias).numpy(), ref[layer][neuron], atol=1e-5)
    np.testing.assert_allclose(p.output, ref[layer][neuron], atol=1e-5)
    assert p.bias.value == pytest.approx(bias) and p.bias.kind == "bias"
    assert p.sum_label == f"Σ of the {channels} maps + bias {p.bias.text}"
    peak = max(float(np.abs(row.contribution).max()) for row in p.rows)
    assert p.mid_range == pytest.approx(2 * round(0.1 + peak, 3))
    assert p.facts["kernels"] == channels * 10


def test_extremes_are_the_first_minimum_and_maximum(default_model, star_trace) -> None:
    """cnn_model.sums.extremes against torch on every map of a ReLU layer (many ties at 0)."""
    from cnn_model.sums import extremes

    maps = torch.from_numpy(reference_layers(default_model, star_trace.image)["relu_1_2"])
    for values in maps:
        ends = extremes(values.numpy())
        width = values.shape[1]
        assert ends.low == pytest.approx(float(values.min()), abs=1e-6)
        assert ends.high == pytest.approx(float(values.max()), abs=1e-6)
        assert ends.low_at == divmod(int(values.argmin()), width)
        assert ends.high_at == divmod(int(values.argmax()), width)
        assert ends.peak == pytest.approx(float(values.abs().max()), abs=1e-6)
    with pytest.raises(ValueError):
        extremes(np.zeros((0, 3)))
