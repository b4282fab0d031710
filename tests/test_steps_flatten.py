"""The ``flatten`` step: the read-out order and the dense dot product, checked against torch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnn_model
from conftest import ROOT
from dry_run import dry_run, trace_file
from rendering import rgb_frames, run_render
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from scenes.steps.types.flatten import FlattenSpec, plan
from scenes.visuals.layout import Frame
from torch_reference import parse_shown, reference_layers

STAR = ROOT / "lessons" / "images" / "star_1.png"
RENDER = [sys.executable, "-m", "scenes.cli", "render", "-q", "l"]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory):
    return trace_file(default_model, STAR, tmp_path_factory.mktemp("traces"))


def hwc_copy(model: cnn_model.TinyVGG) -> cnn_model.TinyVGG:
    """The same network as a channels-last (Keras) model: output columns permuted."""
    hwc = cnn_model.TinyVGG(num_classes=model.num_classes, flatten_order="hwc")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    channels, size = 10, 13
    # Column j of the hwc model reads (y, x, c); it is column c*169 + y*13 + x of chw.
    chw_of_hwc = np.arange(channels * size * size).reshape(channels, size, size)
    chw_of_hwc = chw_of_hwc.transpose(1, 2, 0).reshape(-1)
    state["output.weight"] = state["output.weight"][:, torch.from_numpy(chw_of_hwc)]
    hwc.load_state_dict(state)
    hwc.name = "default-hwc"
    hwc.classes = list(model.classes)
    hwc.sha256 = "hwc-" + model.sha256
    hwc.eval()
    return hwc


@pytest.fixture(scope="module")
def hwc_star(default_model, tmp_path_factory):
    model = hwc_copy(default_model)
    trace, path = trace_file(model, STAR, tmp_path_factory.mktemp("hwc"))
    return model, trace, path


def torch_terms(model: cnn_model.TinyVGG, ref: dict[str, np.ndarray], cls: int) -> np.ndarray:
    """weight × value for every entry of the class's row, in float64."""
    weight = model.output.weight.detach().double()[cls]
    return (weight * torch.from_numpy(ref["flatten"]).double()).numpy()


def expected(entry: dict[str, Any], model: cnn_model.TinyVGG, ref: dict[str, np.ndarray]) -> float:
    """What torch says a recorded flatten-step value must be."""
    layer, index, kind = entry["layer"], entry["index"], entry["kind"]
    if (layer, kind) == ("flatten", "activation"):
        (i,) = index
        return float(ref["flatten"][i])
    assert layer == "output", entry
    cls = index[0]
    if kind == "weight":
        return float(model.output.weight.detach()[cls, index[1]])
    if kind == "product":
        return float(torch_terms(model, ref, cls)[index[1]])
    if kind == "partial_sum":
        return float(torch_terms(model, ref, cls)[index[1:]].sum())
    if kind == "rest_sum":
        terms = torch_terms(model, ref, cls)
        return float(terms.sum() - terms[index[1:]].sum())
    if kind == "bias":
        return float(model.output.bias.detach()[cls])
    if kind == "activation":
        return float(ref["output"][cls])
    raise AssertionError(f"no torch reference for {entry}")


def check_against_torch(record: dict[str, Any], model: cnn_model.TinyVGG, pixels) -> None:
    ref = reference_layers(model, pixels)
    assert record["values"]
    for entry in record["values"]:
        want = expected(entry, model, ref)
        assert abs(entry["value"] - want) <= TOLERANCE * max(1.0, abs(want)), entry
        shown = entry["text"]
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        assert abs(parse_shown(shown) - want) <= 0.5 * 10**-decimals + 1e-9, entry


def of_kind(record: dict[str, Any], kind: str, layer: str = "output") -> list[dict[str, Any]]:
    return [v for v in record["values"] if v["kind"] == kind and v["layer"] == layer]


@pytest.mark.parametrize(
    ("aspect", "class_name", "cls"),
    [("16:9", None, None), ("9:16", "circle", 0), ("1:1", 7, 7)],
)
def test_flatten_values_equal_torch_and_stay_in_frame(
    default_model, star, aspect, class_name, cls, tmp_path: Path
) -> None:
    trace, path = star
    step = {"type": "flatten", "terms": 4, "readout": 3, "sweep_seconds": 1}
    if class_name is not None:
        step["class_name"] = class_name
    record = dry_run(step, tmp_path, path, aspect=aspect)
    assert record["overflow"] == []
    check_against_torch(record, default_model, trace.image)

    ref = reference_layers(default_model, trace.image)
    want_cls = int(np.argmax(ref["output"])) if cls is None else cls
    assert record["facts"]["class"] == want_cls
    assert record["facts"]["order"] == "chw"
    # The logit shown is that class's, and the parts shown add up to it.
    (logit,) = [v for v in of_kind(record, "activation") if v["index"] == [want_cls]]
    assert logit["value"] == pytest.approx(float(ref["output"][want_cls]), abs=1e-5)
    parts = of_kind(record, "partial_sum") + of_kind(record, "rest_sum") + of_kind(record, "bias")
    assert len(parts) == 3
    assert sum(p["value"] for p in parts) == pytest.approx(logit["value"], abs=1e-4)
    # The written-out products are the four largest in size, with their weights and values.
    terms = torch_terms(default_model, ref, want_cls)
    largest = list(np.argsort(-np.abs(terms), kind="stable")[:4])
    assert [v["index"][1] for v in of_kind(record, "product")] == largest
    assert record["facts"]["terms"] == largest
    for i, (c, y, x) in zip(largest, record["facts"]["term_sources"], strict=True):
        assert c * 169 + y * 13 + x == i
    assert [v["index"] for v in of_kind(record, "weight")] == [[want_cls, i] for i in largest]
    # Read-out: entries 0, 1, 2 and the first of channel 1, from the cells chw says.
    readout = record["facts"]["readout"]
    assert [r["index"] for r in readout] == [0, 1, 2, 169]
    for r in readout:
        c, y, x = r["source"]
        assert c * 169 + y * 13 + x == r["index"]
        assert ref["max_pool_2"][c, y, x] == ref["flatten"][r["index"]]
    maps = {(m["layer"], tuple(m["index"])) for m in record["maps"]}
    assert {("max_pool_2", (c,)) for c in range(10)} <= maps
    assert ("flatten", ()) in maps and ("output", (want_cls,)) in maps


def test_flatten_follows_the_channels_last_order(default_model, hwc_star, tmp_path: Path) -> None:
    model, trace, path = hwc_star
    ref = reference_layers(model, trace.image)
    # Same network, other order: the logits do not change, the vector does.
    chw_ref = reference_layers(default_model, trace.image)
    np.testing.assert_allclose(ref["output"], chw_ref["output"], rtol=1e-4, atol=1e-4)
    assert not np.array_equal(ref["flatten"], chw_ref["flatten"])

    step = {"type": "flatten", "class_name": "heart", "terms": 3, "pick": "first", "readout": 3}
    record = dry_run(step, tmp_path, path, aspect="9:16")
    assert record["overflow"] == []
    assert record["facts"]["order"] == "hwc"
    check_against_torch(record, model, trace.image)
    # Read-out: channels 0, 1, 2 of position (0, 0), then channel 0 of position (0, 1).
    readout = record["facts"]["readout"]
    assert [r["index"] for r in readout] == [0, 1, 2, 10]
    assert [r["source"] for r in readout] == [[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 0, 1]]
    for r in readout:
        c, y, x = r["source"]
        assert (y * 13 + x) * 10 + c == r["index"]
        assert ref["max_pool_2"][c, y, x] == ref["flatten"][r["index"]]
    assert record["facts"]["term_sources"] == [[0, 0, 0], [1, 0, 0], [2, 0, 0]]
    # The first three products use the hwc weights of class 'heart' (index 6).
    heart = model.classes.index("heart")
    assert [v["index"] for v in of_kind(record, "product")] == [[heart, i] for i in range(3)]
    hwc_weight = model.output.weight.detach().numpy()
    for v in of_kind(record, "weight"):
        assert v["value"] == pytest.approx(float(hwc_weight[tuple(v["index"])]), abs=1e-7)
    (logit,) = [v for v in of_kind(record, "activation") if v["index"] == [heart]]
    expected_logit = F.linear(
        torch.from_numpy(ref["flatten"])[None],
        model.output.weight.detach(),
        model.output.bias.detach(),
    )[0, heart]
    assert logit["value"] == pytest.approx(float(expected_logit), abs=1e-5)


def test_flatten_without_products_still_adds_up(default_model, star, tmp_path: Path) -> None:
    trace, path = star
    record = dry_run(
        {"type": "flatten", "terms": 0, "readout": 0, "sweep_seconds": 1}, tmp_path, path
    )
    assert record["overflow"] == []
    check_against_torch(record, default_model, trace.image)
    assert of_kind(record, "product") == [] and "readout" not in record["facts"]
    (rest,) = of_kind(record, "rest_sum")
    (bias,) = of_kind(record, "bias")
    (logit,) = of_kind(record, "activation")
    assert rest["value"] + bias["value"] == pytest.approx(logit["value"], abs=1e-4)


def planned(values: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [v for v in values if v["kind"] == kind]


@pytest.mark.parametrize(
    ("step", "aspect", "cls", "shown"),
    [
        ({"terms": 4}, "16:9", None, None),
        ({"class_name": "ring", "terms": 6, "pick": "first"}, "9:16", 5, [0, 1, 2, 3, 4, 5]),
        ({"class_name": 0, "terms": 0, "readout": 0}, "1:1", 0, []),
    ],
)
def test_plan_products_and_logit_equal_torch(
    default_model, star_trace, step, aspect, cls, shown
) -> None:
    """The plan alone (no scene): its products and logit are torch's flatten · W + b."""
    p = plan(FlattenSpec(type="flatten", **step), star_trace, Frame.for_aspect(aspect))
    ref = reference_layers(default_model, star_trace.image)
    flat = torch.from_numpy(ref["flatten"]).double()
    weight = default_model.output.weight.detach().double()
    bias = default_model.output.bias.detach().double()
    logits = flat @ weight.T + bias
    want_cls = int(torch.argmax(logits)) if cls is None else cls
    assert p.class_index == want_cls and p.facts["class"] == want_cls
    products = weight[want_cls] * flat
    if shown is None:  # the largest in size, largest first
        shown = torch.argsort(-products.abs(), stable=True)[: step["terms"]].tolist()
    assert list(p.shown) == shown
    rows = planned(p.values, "product")
    assert [r["index"] for r in rows] == [[want_cls, i] for i in shown]
    for row, i in zip(rows, shown, strict=True):
        assert row["value"] == pytest.approx(float(products[i]), abs=1e-7)
        assert abs(parse_shown(row["text"]) - float(products[i])) <= 0.5e-4 + 1e-9
    (rest,) = planned(p.values, "rest_sum")
    others = [i for i in range(1690) if i not in shown]
    assert rest["value"] == pytest.approx(float(products[others].sum()), abs=1e-5)
    (b,) = planned(p.values, "bias")
    assert b["value"] == pytest.approx(float(bias[want_cls]), abs=1e-7)
    (logit,) = [v for v in planned(p.values, "activation") if v["layer"] == "output"]
    assert logit["value"] == pytest.approx(float(logits[want_cls]), abs=1e-5)
    partial = planned(p.values, "partial_sum")
    parts = sum(v["value"] for v in [*partial, rest, b])
    assert parts == pytest.approx(float(logits[want_cls]), abs=1e-4)
    if shown:
        assert partial[0]["value"] == pytest.approx(float(products[shown].sum()), abs=1e-6)
    # The sum rows end with the logit as written, and the table lists each product's cell.
    assert p.sum_rows[-1][1] == logit["text"]
    for row, i in zip(p.table_rows, shown, strict=True):
        c, y, x = (int(v) for v in row[1].strip("()").split(", "))
        assert ref["max_pool_2"][c, y, x] == ref["flatten"][i]


def test_plan_reads_the_channels_last_order(hwc_star) -> None:
    model, trace, _ = hwc_star
    p = plan(FlattenSpec(type="flatten", readout=2), trace, Frame.for_aspect("1:1"))
    ref = reference_layers(model, trace.image)
    assert p.order == "hwc" and [e.index for e in p.readout] == [0, 1, 10]
    pool = torch.from_numpy(ref["max_pool_2"])
    np.testing.assert_array_equal(pool.permute(1, 2, 0).reshape(-1).numpy(), ref["flatten"])
    for entry in p.readout:
        c, y, x = entry.source
        assert (y * 13 + x) * 10 + c == entry.index
        assert ref["max_pool_2"][c, y, x] == ref["flatten"][entry.index]


LESSON = """title: Flatten errors
model: default
image: star_1
steps:
{steps}"""


@pytest.mark.parametrize(
    ("steps", "messages"),
    [
        (
            "  - type: flatten\n    class_name: stra\n",
            [
                "6:17: steps[0].class_name: expected a class of model 'default' (circle, square, "
                "triangle, star, cross, ring, heart, stripes, checkerboard, dots) or its index "
                "from 0 to 9, got 'stra' (did you mean 'star'?)"
            ],
        ),
        (
            "  - type: flatten\n    class_name: 10\n",
            [
                "6:17: steps[0].class_name: expected a class index from 0 to 9 "
                "(model 'default' has 10 classes), got 10"
            ],
        ),
        (
            "  - type: flatten\n    class_name: -1\n",
            [
                "6:17: steps[0].class_name: expected a class index from 0 to 9 "
                "(model 'default' has 10 classes), got -1"
            ],
        ),
        (
            "  - type: flatten\n    class_name: [1, 2]\n",
            [
                "6:17: steps[0].class_name: expected a class name (text) or a class index "
                "(an integer), got a list of 2 items"
            ],
        ),
        (
            "  - type: flatten\n    terms: 9\n    pick: random\n",
            [
                "6:12: steps[0].terms: expected an integer from 0 to 8, got 9",
                "7:11: steps[0].pick: expected one of 'largest', 'first', got 'random' (text)",
            ],
        ),
        (
            "  - type: flatten\n    readout: -2\n    clas_name: star\n",
            [
                "6:14: steps[0].readout: expected an integer from 0 to 6, got -2",
                "7:5: steps[0].clas_name: unknown field (did you mean 'class_name'?)",
            ],
        ),
    ],
    ids=["unknown name", "index too large", "negative index", "list", "ranges", "typo"],
)
def test_flatten_validation_messages(steps: str, messages: list[str], tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(LESSON.format(steps=steps), encoding="utf-8")
    shown = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [f"{shown}:{m}" for m in messages]


def test_valid_flatten_lesson_has_no_errors() -> None:
    assert validate_lesson(ROOT / "tests" / "lessons" / "output_steps.yaml") == []


@pytest.mark.render
def test_flatten_renders_a_short_video(tmp_path: Path) -> None:
    lesson = tmp_path / "flat.yaml"
    lesson.write_text(
        LESSON.format(
            steps="  - type: flatten\n    class_name: star\n    terms: 1\n    readout: 1\n"
            "    sweep_seconds: 1\n"
        ),
        encoding="utf-8",
    )
    video, manifest = run_render([*RENDER, str(lesson), "-o", str(tmp_path / "out"), "--quiet"])
    frames = rgb_frames(video)
    assert (frames[0].shape[1], frames[0].shape[0]) == (854, 480)
    assert len(frames) == manifest["frames"]
    # The last frame shows the two strips and the sums: far from blank.
    assert frames[-1].std() > 20
    (step,) = manifest["steps"]
    logits = [v for v in step["values"] if v["kind"] == "activation" and v["layer"] == "output"]
    assert [v["index"] for v in logits] == [[3]]  # star
