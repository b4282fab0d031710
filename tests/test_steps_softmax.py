"""The ``softmax`` step: logits, e^z, sums, probabilities and the comparison, against torch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cnn_model
from conftest import ROOT
from dry_run import dry_run, trace_file
from rendering import rgb_frames, run_render
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from scenes.steps.types.softmax import SoftmaxSpec, plan
from scenes.visuals.layout import Frame
from scenes.visuals.vector_cells import fmt_wide, parse_wide
from torch_reference import parse_shown, reference_layers

STAR = ROOT / "lessons" / "images" / "star_1.png"
RENDER = [sys.executable, "-m", "scenes.cli", "render", "-q", "l"]
TOLERANCE = 1e-5
# e^z of a float32 logit: one unit in the last place of z moves e^z by |z|·6e-8.
EXP_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory):
    return trace_file(default_model, STAR, tmp_path_factory.mktemp("traces"))


def random_model(classes: int, seed: int, name: str) -> cnn_model.TinyVGG:
    """An untrained TinyVGG with ``classes`` outputs (a user's model may have 2..N)."""
    torch.manual_seed(seed)
    model = cnn_model.TinyVGG(num_classes=classes)
    with torch.no_grad():
        model.output.weight.mul_(20.0)  # spread the logits a little
    model.name = name
    model.classes = [f"kind {i}" for i in range(classes)]
    model.eval()
    return model


def torch_view(model: cnn_model.TinyVGG, pixels: np.ndarray, shift: float) -> dict[str, Any]:
    """Everything the step shows, computed with torch from the model and image."""
    ref = reference_layers(model, pixels)
    logits = torch.from_numpy(ref["output"]).double()
    shifted = logits - logits.min()
    return {
        "logits": ref["output"],
        "softmax": torch.softmax(torch.from_numpy(ref["output"]), dim=0).double().numpy(),
        "exp": torch.exp(logits - shift).numpy(),
        "linear": (shifted / shifted.sum()).numpy(),
        "argmax": int(torch.argmax(logits)),
    }


def expected(entry: dict[str, Any], view: dict[str, Any]) -> float:
    layer, index, kind = entry["layer"], entry["index"], entry["kind"]
    if (layer, kind) == ("output", "activation"):
        (k,) = index
        return float(view["logits"][k])
    assert layer == "softmax", entry
    if kind == "activation":
        (k,) = index
        return float(view["softmax"][k])
    if kind == "probability_sum":
        return float(view["softmax"][index].sum())
    if kind in ("exp", "exp_sum"):
        return float(view["exp"][index].sum())
    if kind == "linear_share":
        return float(view["linear"][index].sum())
    if kind == "argmax":
        return 1.0 if view["argmax"] in index else 0.0
    raise AssertionError(f"no torch reference for {entry}")


def check_against_torch(record: dict[str, Any], view: dict[str, Any]) -> None:
    assert record["values"]
    for entry in record["values"]:
        want = expected(entry, view)
        if entry["kind"] in ("exp", "exp_sum"):
            assert entry["value"] == pytest.approx(want, rel=EXP_TOLERANCE), entry
            shown, half_unit = parse_wide(entry["text"])
            assert abs(shown - want) <= half_unit + EXP_TOLERANCE * want, entry
            continue
        assert abs(entry["value"] - want) <= TOLERANCE * max(1.0, abs(want)), entry
        text = entry["text"]
        decimals = len(text.split(".")[1]) if "." in text else 0
        assert abs(parse_shown(text) - want) <= 0.5 * 10**-decimals + 1e-9, entry


def values(record: dict[str, Any], kind: str, layer: str = "softmax") -> list[dict[str, Any]]:
    return [v for v in record["values"] if v["kind"] == kind and v["layer"] == layer]


@pytest.mark.parametrize(
    ("aspect", "class_name", "focus"),
    [("16:9", None, 3), ("9:16", "ring", 5), ("1:1", 2, 2)],
)
def test_softmax_values_equal_torch_and_stay_in_frame(
    default_model, star, aspect, class_name, focus, tmp_path: Path
) -> None:
    trace, path = star
    step: dict[str, Any] = {"type": "softmax"}
    if class_name is not None:
        step["class_name"] = class_name
    record = dry_run(step, tmp_path, path, aspect=aspect)
    assert record["overflow"] == []
    view = torch_view(default_model, trace.image, 0.0)
    check_against_torch(record, view)
    facts = record["facts"]
    assert facts["predicted"] == view["argmax"] == 3  # star
    assert facts["class"] == focus and facts["exp_shift"] == 0.0
    assert facts["rows"] == [[k] for k in range(10)]
    # Every logit, e^z and probability once in the table, in class order.
    assert [v["index"] for v in values(record, "activation", "output")] == [[k] for k in range(10)]
    assert [v["index"] for v in values(record, "exp")][:10] == [[k] for k in range(10)]
    # The sums: of all e^z, and probabilities that add up to 1.0000 on screen.
    all_classes = list(range(10))
    totals = [v for v in values(record, "exp_sum") if v["index"] == all_classes]
    assert totals and totals[0]["value"] == pytest.approx(float(view["exp"].sum()), rel=1e-6)
    (p_total,) = [v for v in values(record, "probability_sum") if v["index"] == all_classes]
    assert p_total["text"] == "1.0000"
    # The worked division is the focus class's: e^z / Σ = p.
    assert values(record, "exp")[10]["index"] == [focus]
    assert values(record, "activation")[10]["index"] == [focus]
    # The comparison: one-hot argmax, the softmax, the linear shares, all labelled by class.
    argmax = values(record, "argmax")
    assert [v["text"] for v in argmax] == ["1" if k == 3 else "0" for k in range(10)]
    shares = values(record, "linear_share")
    assert sum(v["value"] for v in shares) == pytest.approx(1.0)
    # Softmax is the softer argmax: further from uniform than the linear shares.
    assert view["softmax"][3] > shares[3]["value"]


def test_softmax_without_comparison(default_model, star, tmp_path: Path) -> None:
    trace, path = star
    record = dry_run({"type": "softmax", "compare": False}, tmp_path, path, aspect="9:16")
    assert record["overflow"] == []
    check_against_torch(record, torch_view(default_model, trace.image, 0.0))
    assert values(record, "argmax") == [] and values(record, "linear_share") == []


def test_softmax_with_many_classes_groups_the_rest(tmp_path: Path) -> None:
    model = random_model(15, seed=3, name="fifteen")
    trace, path = trace_file(model, STAR, tmp_path)
    view = torch_view(model, trace.image, 0.0)
    lowest = int(np.argmin(view["logits"]))
    record = dry_run({"type": "softmax", "class_name": lowest}, tmp_path, path, aspect="1:1")
    assert record["overflow"] == []
    check_against_torch(record, view)
    rows = record["facts"]["rows"]
    ranked = [int(k) for k in np.argsort(-view["logits"], kind="stable")]
    # Ten rows: the eight largest logits, the class asked for, and the six others.
    assert len(rows) == 10 and all(len(r) == 1 for r in rows[:9])
    assert [r[0] for r in rows[:8]] == ranked[:8] and rows[8] == [lowest]
    assert sorted(rows[9]) == rows[9] and len(rows[9]) == 6
    assert sorted(k for r in rows for k in r) == list(range(15))
    others = [v for v in values(record, "probability_sum") if v["index"] == rows[9]]
    assert others and others[0]["value"] == pytest.approx(float(view["softmax"][rows[9]].sum()))


def test_softmax_shifts_logits_too_large_for_exp(tmp_path: Path) -> None:
    model = random_model(3, seed=1, name="huge")
    with torch.no_grad():
        model.output.bias[1] = 800.0  # e^800 overflows a float64
    trace, path = trace_file(model, STAR, tmp_path)
    record = dry_run({"type": "softmax"}, tmp_path, path, aspect="16:9")
    assert record["overflow"] == []
    shift = record["facts"]["exp_shift"]
    assert shift == pytest.approx(float(trace.logits.max()))
    view = torch_view(model, trace.image, shift)
    check_against_torch(record, view)
    assert all(np.isfinite(v["value"]) for v in record["values"])
    assert [v["text"] for v in values(record, "exp")][1] == "1.0000"


def test_two_classes(tmp_path: Path) -> None:
    model = random_model(2, seed=0, name="two")
    trace, path = trace_file(model, STAR, tmp_path)
    record = dry_run({"type": "softmax"}, tmp_path, path, aspect="9:16")
    assert record["overflow"] == []
    check_against_torch(record, torch_view(model, trace.image, 0.0))
    assert record["facts"]["rows"] == [[0], [1]]


def test_plan_probabilities_equal_torch_softmax(default_model, star_trace) -> None:
    """The plan alone (no scene): its probabilities are torch.softmax of the logits."""
    p = plan(SoftmaxSpec(type="softmax", class_name="ring"), star_trace, Frame.for_aspect("9:16"))
    logits = torch.from_numpy(reference_layers(default_model, star_trace.image)["output"])
    softmax = torch.softmax(logits.double(), dim=0)
    assert p.rows == tuple((k,) for k in range(10))
    assert p.predicted == int(torch.argmax(softmax)) and p.focus == 5
    table = [v for v in p.values if v["layer"] == "softmax" and v["kind"] == "activation"]
    # The table's column, the worked division's result, then the comparison's column.
    assert [v["index"] for v in table] == [[k] for k in range(10)] + [[5]] + [
        [k] for k in range(10)
    ]
    for v in table:
        (k,) = v["index"]
        assert v["value"] == pytest.approx(float(softmax[k]), abs=1e-7)
        assert abs(parse_shown(v["text"]) - float(softmax[k])) <= 0.5e-4 + 1e-9
    assert p.probability_texts == tuple(v["text"] for v in table[:10])
    assert p.worked_result == table[10]["text"]
    # e^z and their sum, as torch computes them; and the comparison's three columns.
    exps = [v for v in p.values if v["kind"] == "exp"]
    for v, want in zip(exps, torch.exp(logits.double()).tolist(), strict=False):
        assert v["value"] == pytest.approx(want, rel=1e-6)
    argmax, soft, linear = p.compare
    assert soft.values == pytest.approx(softmax.tolist(), abs=1e-7)
    assert argmax.values == tuple(float(k == p.predicted) for k in range(10))
    shifted = logits.double() - logits.double().min()
    assert linear.values == pytest.approx((shifted / shifted.sum()).tolist(), abs=1e-7)
    assert p.caption[0].startswith("Softmax is a softer argmax")


def test_plan_groups_the_other_classes_of_a_large_model(tmp_path: Path) -> None:
    model = random_model(15, seed=3, name="fifteen")
    trace = cnn_model.trace(model, STAR)
    p = plan(SoftmaxSpec(type="softmax", compare=False), trace, Frame.for_aspect("16:9"))
    logits = torch.from_numpy(reference_layers(model, trace.image)["output"])
    softmax = torch.softmax(logits.double(), dim=0)
    ranked = torch.argsort(-logits, stable=True).tolist()
    assert [r[0] for r in p.rows[:9]] == ranked[:9]
    others = list(p.rows[9])
    assert others == sorted(ranked[9:]) and p.names[9] == "6 other classes"
    (share,) = [v for v in p.values if v["kind"] == "probability_sum" and v["index"] == others]
    assert share["value"] == pytest.approx(float(softmax[others].sum()), abs=1e-7)
    assert p.compare == () and p.caption == ()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (12.62834, "12.6283"),
        (0.0556, "0.0556"),
        (1.6912e-23, "1.69×10⁻²³"),
        (4.8e8, "4.80×10⁸"),
        (9.9996e-5, "1.00×10⁻⁴"),
        (123456.0, "1.23×10⁵"),
    ],
)
def test_wide_numbers_are_written_and_read_back(value: float, shown: str) -> None:
    assert fmt_wide(value) == shown
    parsed, half_unit = parse_wide(shown)
    assert abs(parsed - value) <= half_unit


LESSON = """title: Softmax errors
model: default
image: star_1
steps:
{steps}"""


@pytest.mark.parametrize(
    ("steps", "messages"),
    [
        (
            "  - type: softmax\n    class_name: koala\n",
            [
                "6:17: steps[0].class_name: expected a class of model 'default' (circle, square, "
                "triangle, star, cross, ring, heart, stripes, checkerboard, dots) or its index "
                "from 0 to 9, got 'koala'"
            ],
        ),
        (
            "  - type: softmax\n    class_name: true\n    compare: 3\n",
            [
                "6:17: steps[0].class_name: expected a class name (text) or a class index "
                "(an integer), got true (true/false)",
                "7:14: steps[0].compare: expected true or false, got 3",
            ],
        ),
        (
            "  - type: softmax\n    class_name: 12\n",
            [
                "6:17: steps[0].class_name: expected a class index from 0 to 9 "
                "(model 'default' has 10 classes), got 12"
            ],
        ),
    ],
    ids=["unknown name", "wrong types", "index"],
)
def test_softmax_validation_messages(steps: str, messages: list[str], tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(LESSON.format(steps=steps), encoding="utf-8")
    shown = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [f"{shown}:{m}" for m in messages]


@pytest.mark.render
def test_softmax_renders_a_short_portrait_video(tmp_path: Path) -> None:
    lesson = tmp_path / "soft.yaml"
    lesson.write_text(
        LESSON.format(steps="  - type: softmax\n").replace("image:", 'aspect: "9:16"\nimage:'),
        encoding="utf-8",
    )
    video, manifest = run_render([*RENDER, str(lesson), "-o", str(tmp_path / "out"), "--quiet"])
    frames = rgb_frames(video)
    assert (frames[0].shape[1], frames[0].shape[0]) == (480, 854)
    assert len(frames) == manifest["frames"]
    # The logits are drawn in the article's oranges: the darkest stop appears.
    last = frames[-1].reshape(-1, 3).astype(int)
    dark_orange = np.abs(last - np.array([0x7F, 0x27, 0x04])).sum(axis=1) < 30
    assert dark_orange.sum() > 200
    (step,) = manifest["steps"]
    assert {"exp", "exp_sum", "probability_sum", "argmax", "linear_share"} <= {
        v["kind"] for v in step["values"]
    }
