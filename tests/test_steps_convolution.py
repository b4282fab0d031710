from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_model.sums import other_channels_sum
from cnn_model.tinyvgg import PREVIOUS
from dry_run import dry_run, trace_file
from manifest_check import check_values
from scenes.steps.types.convolution import ConvolutionSpec, plan
from scenes.visuals.layout import Frame
from torch_reference import parse_shown, reference_layers

ASPECTS = ("16:9", "9:16", "1:1")


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory):
    from conftest import ROOT

    return trace_file(
        default_model, ROOT / "lessons" / "images" / "star_1.png", tmp_path_factory.mktemp("traces")
    )


@pytest.mark.parametrize("aspect", ASPECTS)
def test_convolution_values_equal_torch_and_stay_in_frame(
    default_model, star, aspect, tmp_path: Path
) -> None:
    trace, path = star
    step = {
        "type": "convolution",
        "layer": "conv_2_1",
        "neuron": 7,
        "channel": 2,
        "positions": 2,
        "sweep_seconds": 1,
    }
    record = dry_run(step, tmp_path, path, aspect=aspect)
    assert record["overflow"] == []
    assert check_values(record["values"], default_model, trace.image, record["facts"]) > 50
    kinds = {v["kind"] for v in record["values"]}
    assert {"activation", "weight", "bias", "product", "channel_sum", "other_channels_sum"} <= kinds
    # The explained outputs are the first positions of neuron 7, in reading order.
    outputs = [
        tuple(v["index"])
        for v in record["values"]
        if v["kind"] == "activation" and v["layer"] == "conv_2_1"
    ]
    assert outputs[:3] == [(7, 0, 0), (7, 0, 1), (7, 0, 2)]
    maps = {m["layer"]: m for m in record["maps"]}
    assert maps["max_pool_1"]["index"] == [2] and maps["conv_2_1"]["index"] == [7]
    assert maps["conv_2_1"]["max"] == pytest.approx(float(trace.activations["conv_2_1"][7].max()))


@pytest.mark.parametrize(
    ("layer", "neuron", "channel", "positions"),
    [("conv_1_1", 3, 1, 4), ("conv_2_1", 7, 2, 2), ("conv_1_2", 0, 9, 0)],
)
def test_plan_writes_out_what_torch_computes(
    default_model, star_trace, layer, neuron, channel, positions
) -> None:
    """Each window's values, products, partial sums, bias and output against F.conv2d."""
    spec = ConvolutionSpec.model_validate(
        {
            "type": "convolution",
            "layer": layer,
            "neuron": neuron,
            "channel": channel,
            "positions": positions,
        }
    )
    p = plan(spec, star_trace, Frame.for_aspect("16:9"))
    ref = reference_layers(default_model, star_trace.image)
    source = torch.from_numpy(ref[PREVIOUS[layer]]).double()[None]
    module = getattr(default_model, layer)
    weight = module.weight.detach().double()[neuron : neuron + 1]  # (1, C, 3, 3)
    bias = module.bias.detach().double()[neuron : neuron + 1]
    out_w = ref[layer].shape[2]
    np.testing.assert_allclose(p.out_values, ref[layer][neuron], atol=1e-5)
    np.testing.assert_allclose(
        [[parse_shown(s.text) for s in row] for row in p.kernel_texts],
        weight[0, channel].numpy(),
        atol=0.005 + 1e-9,
    )
    assert p.slow == positions and len(p.windows) == positions + 8
    for index, w in enumerate(p.windows):
        assert (w.y, w.x) == divmod(index, out_w)
        patch = source[:, :, w.y : w.y + 3, w.x : w.x + 3]
        products = patch[0, channel] * weight[0, channel]
        np.testing.assert_allclose(w.window, patch[0, channel].numpy(), atol=1e-6)
        np.testing.assert_allclose(w.products, products.numpy(), atol=1e-6)
        shown_products = [[parse_shown(s.text) for s in row] for row in w.product_texts]
        np.testing.assert_allclose(shown_products, products.numpy(), atol=0.005 + 1e-9)
        # The shown channel alone, every other channel (the shown one zeroed), the
        # bias, and the whole output: four separate convolutions of this window.
        partial = F.conv2d(patch[:, channel : channel + 1], weight[:, channel : channel + 1])
        zeroed = patch.clone()
        zeroed[:, channel] = 0
        others = F.conv2d(zeroed, weight)
        output = F.conv2d(patch, weight, bias)
        first, *rest, shown_bias, total = w.sums
        assert first.kind == "channel_sum" and first.index == (neuron, channel, w.y, w.x)
        assert first.value == pytest.approx(float(partial), abs=1e-5)
        assert sum(s.value for s in rest) == pytest.approx(float(others), abs=1e-5)
        assert len(rest) == (2 if layer == "conv_1_1" else 1)
        assert shown_bias.kind == "bias" and shown_bias.value == pytest.approx(float(bias))
        assert total.index == (neuron, w.y, w.x)
        assert total.value == pytest.approx(float(output), abs=1e-5)
        # What is written is these numbers: the last line is the output, rounded.
        assert parse_shown(total.text) == pytest.approx(float(output), abs=0.005 + 1e-6)
        assert w.lines[2] == f"= {total.text}"
        assert w.lines[0].endswith(f"= {first.text}")
    total_positions = ref[layer].shape[1] * out_w
    assert p.rest_note == f"… and the other {total_positions - len(p.windows):,} positions"


def test_other_channels_sum_leaves_out_one_channel(default_model, star_trace) -> None:
    ref = reference_layers(default_model, star_trace.image)
    source = torch.from_numpy(ref["max_pool_1"]).double()[None]
    exp = star_trace.explain_conv("conv_2_1", 5, 11, 4)
    weight = default_model.conv_2_1.weight.detach().double()[5:6]
    patch = source[:, :, 11:14, 4:7]
    for channel in range(10):
        zeroed = patch.clone()
        zeroed[:, channel] = 0
        expected = float(F.conv2d(zeroed, weight))
        assert other_channels_sum(exp, channel) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(IndexError):
        other_channels_sum(exp, 10)
