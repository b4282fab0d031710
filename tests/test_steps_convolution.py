from __future__ import annotations

from pathlib import Path

import pytest

from dry_run import dry_run, trace_file
from manifest_check import check_values

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
