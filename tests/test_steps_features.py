"""The ``features`` step: each neuron's top images are torch's, its fields are autograd's.

The held-out images are drawn again here and run through the model's layers
with torch.nn.functional, to find each neuron's largest value in every image
independently of the model package; the receptive fields are compared with
the input pixels that the value's gradient reaches.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from manim import Mobject, Text

import cnn_model
from cnn_model import synthetic
from cnn_model.learning import TOP_K, receptive_field
from conftest import ROOT
from dry_run import dry_run, step_job, trace_file
from scenes.i18n import using
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from scenes.render.worker import run
from scenes.steps import REGISTRY
from scenes.steps.kit.base import Add, Beat, StepContext
from scenes.steps.types.features import MIN_PICTURE, FeaturesSpec, build, fill, pages_of
from scenes.visuals.glyphs import NumberText
from scenes.visuals.layout import Frame
from scenes.visuals.numbers import fmt
from scenes.visuals.theme import load_theme
from torch_reference import parse_shown

ASPECTS = ("16:9", "9:16", "1:1")
STAR = ROOT / "lessons" / "images" / "star_1.png"
WEIGHTS = ROOT / "cnn_model" / "weights" / "default.safetensors"
LAYERS = ("conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2")
FIELDS = {"conv_1_1": 3, "conv_1_2": 5, "conv_2_1": 10, "conv_2_2": 14}
TOLERANCE = 1e-5
HELDOUT = 2000  # the default model's held-out images (its card says so, checked below)


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory) -> tuple[cnn_model.Trace, Path]:
    """The star's trace with every convolution layer's features."""
    parts = tuple(f"features:{layer}" for layer in LAYERS)
    return trace_file(default_model, STAR, tmp_path_factory.mktemp("traces"), parts)


def layer_maps(model: cnn_model.TinyVGG, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each convolution layer's output (before its ReLU) for images x (N, 3, 64, 64),
    op by op with torch.nn.functional."""
    out = {}
    for block in (("conv_1_1", "conv_1_2"), ("conv_2_1", "conv_2_2")):
        for name in block:
            conv = getattr(model, name)
            x = F.conv2d(x, conv.weight, conv.bias)
            out[name] = x
            x = F.relu(x)
        x = F.max_pool2d(x, 2, 2)
    return out


@pytest.fixture(scope="module")
def reference(default_model) -> dict[str, Any]:
    """The held-out images drawn again, and each image's largest value per neuron of
    conv_1_1 and conv_2_2 with its place (torch, here)."""
    card = json.loads((ROOT / "cnn_model" / "weights" / "default.json").read_text())
    assert card["heldout_count"] == HELDOUT and card["data"]["source"] == "generated"
    assert card["data"]["seed"] == 0
    images, labels = synthetic.generate(HELDOUT, "heldout", 0, workers=1)
    maxima = {layer: [] for layer in ("conv_1_1", "conv_2_2")}
    places = {layer: [] for layer in maxima}
    with torch.no_grad():
        for start in range(0, HELDOUT, 250):
            batch = torch.from_numpy(images[start : start + 250]).permute(0, 3, 1, 2).float() / 255
            maps = layer_maps(default_model, batch)
            for layer in maxima:
                flat = maps[layer].flatten(2).numpy()  # (n, 10, h*w)
                maxima[layer].append(flat.max(axis=2))
                places[layer].append(flat.argmax(axis=2))
    return {
        "images": images,
        "labels": labels,
        "maxima": {k: np.concatenate(v) for k, v in maxima.items()},  # (N, 10)
        "places": {k: np.concatenate(v) for k, v in places.items()},
    }


def true_top(reference: dict[str, Any], layer: str, neuron: int, k: int) -> np.ndarray:
    """The k images with the neuron's largest maxima, largest first (ties: earlier image)."""
    values = reference["maxima"][layer][:, neuron]
    return np.lexsort((np.arange(len(values)), -values))[:k]


# --- the numbers ---------------------------------------------------------------


@pytest.mark.parametrize("layer", ["conv_1_1", "conv_2_2"])
def test_top_images_are_the_true_top_of_each_neurons_maximum(star, reference, layer) -> None:
    trace, _path = star
    found = trace.features[layer]
    assert found.top.shape == (10, TOP_K)
    assert found.data == {"source": "generated", "split": "held-out", "count": HELDOUT, "seed": 0}
    maxima = reference["maxima"][layer]
    for neuron in range(10):
        expected = true_top(reference, layer, neuron, TOP_K)
        shown = found.data_index[found.top[neuron]]
        assert shown.tolist() == expected.tolist(), (layer, neuron)
        np.testing.assert_allclose(
            found.maxima[neuron], maxima[expected, neuron], rtol=0, atol=TOLERANCE
        )
        for rank, index in enumerate(expected):
            row = found.top[neuron, rank]
            # The pictures are the data set's images, of their class.
            assert np.array_equal(found.images[row], reference["images"][index])
            assert found.labels[row] == reference["labels"][index]
            # The position holds the neuron's largest value in that image.
            y, x = found.positions[neuron, rank]
            width = 62 if layer == "conv_1_1" else 26
            place = reference["places"][layer][index, neuron]
            assert (y, x) == divmod(int(place), width)


@pytest.mark.parametrize("layer", ["conv_1_1", "conv_2_2"])
def test_the_step_shows_the_true_top_k_and_records_what_it_writes(
    star, reference, layer, tmp_path: Path
) -> None:
    _trace, path = star
    step = {"type": "features", "layer": layer, "k": 5, "neurons": [7, 0, 3]}
    record = dry_run(step, tmp_path, path)
    maxima = reference["maxima"][layer]
    facts = record["facts"]
    assert [r["neuron"] for r in facts["rows"]] == [7, 0, 3]
    assert facts["field_size"] == FIELDS[layer] and facts["k"] == 5
    assert facts["data"]["count"] == HELDOUT
    values = record["values"]
    # One value under each picture, then the example's again under the layer's map.
    assert len(values) == 3 * 5 + 1
    for row, neuron in enumerate([7, 0, 3]):
        expected = true_top(reference, layer, neuron, 5)
        assert facts["rows"][row]["images"] == expected.tolist()
        for rank, entry in enumerate(values[row * 5 : row * 5 + 5]):
            y, x = facts["rows"][row]["positions"][rank]
            assert entry["layer"] == layer and entry["kind"] == "feature_max"
            assert entry["index"] == [neuron, y, x]
            assert entry["image"] == expected[rank]
            assert entry["value"] == pytest.approx(maxima[expected[rank], neuron], abs=TOLERANCE)
            assert entry["text"] == fmt(entry["value"], 2)
            assert abs(parse_shown(entry["text"]) - maxima[expected[rank], neuron]) <= 0.005 + 1e-6
    # The example is the shown neuron whose best value is largest.
    best = max(range(3), key=lambda r: values[r * 5]["value"])
    assert values[-1] == values[best * 5]
    assert facts["example"] == {"neuron": [7, 0, 3][best], "image": values[best * 5]["image"]}


# --- the receptive fields ---------------------------------------------------------


def test_receptive_field_sizes_follow_the_layers() -> None:
    assert {layer: receptive_field(layer) for layer in LAYERS} == {
        "conv_1_1": (3, 1),
        "conv_1_2": (5, 1),
        "conv_2_1": (10, 2),
        "conv_2_2": (14, 2),
    }


def linear_value(
    model: cnn_model.TinyVGG, x: torch.Tensor, layer: str, neuron: int, y: int, x_: int
):
    """One value of ``layer`` in the network with every weight made positive, no ReLU
    and average pools: a pixel reaches the value exactly when it is in its field (no
    sign can cancel, no ReLU or max can cut a path)."""
    for name in LAYERS:
        conv = getattr(model, name)
        x = F.conv2d(x, conv.weight.detach().abs() + 0.01, conv.bias.detach().abs())
        if name == layer:
            return x[0, neuron, y, x_]
        if name == "conv_1_2":
            x = F.avg_pool2d(x, 2, 2)
    raise AssertionError(layer)


def support(gradient: torch.Tensor) -> np.ndarray:
    """The input pixels (64, 64) where any channel of a gradient is not zero."""
    return (gradient[0] != 0).any(dim=0).numpy()


@pytest.mark.parametrize("layer", ["conv_1_2", "conv_2_2", "conv_1_1", "conv_2_1"])
def test_each_box_is_the_support_of_the_input_gradient(default_model, star, layer) -> None:
    """Without pooling before the layer (conv_1_2) and with it (conv_2_2): the box of
    every top image is where d value / d input is not zero; in the real network (ReLU,
    max-pool) on the image itself, the gradient stays inside the box."""
    trace, _path = star
    found = trace.features[layer]
    ones = torch.ones(1, 3, 64, 64)
    for neuron in range(10):
        for rank in (0, TOP_K - 1):
            y, x = (int(v) for v in found.positions[neuron, rank])
            top, left, bottom, right = found.box(neuron, rank)
            assert bottom - top == right - left == FIELDS[layer]
            box = np.zeros((64, 64), dtype=bool)
            box[top:bottom, left:right] = True

            pixels = ones.clone().requires_grad_(True)
            linear_value(default_model, pixels, layer, neuron, y, x).backward()
            assert pixels.grad is not None
            assert np.array_equal(support(pixels.grad), box), (layer, neuron, rank)

            image = found.images[found.top[neuron, rank]]
            real = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255)
            real.requires_grad_(True)
            value = layer_maps(default_model, real)[layer][0, neuron, y, x]
            assert value.item() == pytest.approx(float(found.maxima[neuron, rank]), abs=TOLERANCE)
            value.backward()
            assert real.grad is not None
            reached = support(real.grad)
            assert reached.any() and not (reached & ~box).any(), (layer, neuron, rank)


# --- the frames ---------------------------------------------------------------


@pytest.mark.parametrize("aspect", ASPECTS)
def test_every_aspect_records_each_value_fits_the_frame_and_passes_the_audit(
    star, aspect: str, tmp_path: Path
) -> None:
    _trace, path = star
    theme = {"16:9": "cnn-explainer", "9:16": "dark", "1:1": "colorblind"}[aspect]
    step = {"type": "features", "layer": "conv_2_2"}
    record = run(step_job(step, tmp_path, path, aspect=aspect, theme=theme, mode="audit"))
    assert record["overflow"] == []
    assert record["findings"] == []
    assert len(record["values"]) == 10 * 4 + 1
    assert [p["name"] for p in record["phases"]] == ["field", "neurons 1", "neurons 2", "patches"]
    assert 15 <= record["duration"] <= 25
    facts = record["facts"]
    assert facts["pages"] == 2 and facts["picture_height"] >= MIN_PICTURE
    assert facts["field_size"] == 14 and facts["jump"] == 2
    assert facts["neurons"] == list(range(10)) and facts["k"] == 4


@pytest.mark.parametrize(
    ("aspect", "fields"),
    [
        ("1:1", {"layer": "conv_1_1", "k": 8}),
        ("9:16", {"layer": "conv_1_1", "k": 8, "neurons": [4, 1, 9, 0, 2, 8, 7]}),
        ("16:9", {"layer": "conv_2_2", "k": 1, "neurons": [5]}),
    ],
)
def test_the_largest_and_smallest_steps_fit_every_aspect(
    star, aspect: str, fields: dict[str, Any], tmp_path: Path
) -> None:
    _trace, path = star
    step = {"type": "features", **fields}
    record = run(step_job(step, tmp_path, path, aspect=aspect, mode="audit"))
    assert record["overflow"] == [] and record["findings"] == []
    spec = FeaturesSpec.model_validate(step)
    pages = len(pages_of(len(spec.neurons)))
    assert len(record["values"]) == len(spec.neurons) * spec.k + 1
    assert [p["name"] for p in record["phases"]] == [
        "field",
        *(f"neurons {n}" for n in range(1, pages + 1)),
        "patches",
    ]
    assert record["facts"]["picture_height"] >= MIN_PICTURE


def drawn(items: list[Any]) -> list[Mobject]:
    """Every mobject a builder adds or animates."""
    found: list[Mobject] = []

    def animated(animation: Any) -> None:
        inner = getattr(animation, "animations", None)
        if inner is not None:  # LaggedStart, AnimationGroup
            for part in inner:
                animated(part)
        else:
            found.append(animation.mobject)

    for item in items:
        if isinstance(item, Add):
            found += item.mobjects
        elif isinstance(item, Beat):
            for animation in item.animations:
                animated(animation)
    return found


@pytest.mark.parametrize("aspect", ASPECTS)
def test_every_number_drawn_is_recorded(star, aspect: str, monkeypatch) -> None:
    """Every decimal number in a text the step draws is one of the texts it recorded."""
    from manim import config

    trace, _path = star
    frame = Frame.for_aspect(aspect)
    monkeypatch.setattr(config, "frame_width", frame.width)
    monkeypatch.setattr(config, "frame_height", frame.height)
    ctx = StepContext(trace=trace, theme=load_theme("cnn-explainer"), frame=frame, narration="")
    spec = FeaturesSpec.model_validate({"type": "features", "layer": "conv_1_1", "k": 3})
    items = list(build(spec, ctx))
    recorded = {v["text"] for v in ctx.recorder.values}
    numbers: list[str] = []
    parts = {id(part): part for mob in drawn(items) for part in mob.get_family()}
    for part in parts.values():
        if isinstance(part, NumberText):
            numbers += re.findall(r"−?\d+\.\d+", part.content)
        elif isinstance(part, Text):
            numbers += re.findall(r"−?\d+\.\d+", part.original_text)
    assert len(numbers) == 10 * 3 + 1
    assert set(numbers) <= recorded


def test_placeholders_are_filled_from_the_features_in_the_language(star) -> None:
    trace, _path = star
    spec = FeaturesSpec.model_validate({"type": "features", "layer": "conv_2_2", "k": 6})
    assert fill(spec, trace, [], "en") == {
        "layer": "conv_2_2",
        "field": "14 × 14",
        "jump": "2",
        "images": "2,000",
        "k": "6",
    }
    assert fill(spec, trace, [], "de")["images"] == "2.000"
    with using("fr"):  # the step's own language, whatever the current one
        assert fill(spec, trace, [], "en")["images"] == "2,000"
    assert REGISTRY["features"].trace_parts(spec) == ("features:conv_2_2",)


# --- the checks -------------------------------------------------------------------


BAD_FIELDS = (
    "title: x\nmodel: default\nsteps:\n"
    "  - type: features\n    layer: relu_1_1\n"
    "  - type: features\n    neurons: [3, 12, 3]\n"
    "  - type: features\n    k: 9\n"
    "  - type: features\n    layer: conv_2_1\n    neurons: []\n    k: 0\n"
)


def test_bad_fields_have_exact_located_messages(tmp_path: Path) -> None:
    path = tmp_path / "lesson.yaml"
    path.write_text(BAD_FIELDS, encoding="utf-8")
    shown = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [
        f"{shown}:5:12: steps[0].layer: expected a convolution layer (conv_1_1, conv_1_2, "
        "conv_2_1, conv_2_2), got 'relu_1_1', a relu layer",
        f"{shown}:7:18: steps[1].neurons[1]: expected a neuron from 0 to 9 (conv_1_1 has 10 "
        "neurons), got 12",
        f"{shown}:7:22: steps[1].neurons[2]: neuron 3 is listed twice (first as neurons[0]); "
        "list each neuron once",
        f"{shown}:9:8: steps[2].k: expected an integer from 1 to 8, got 9",
        f"{shown}:12:14: steps[3].neurons: expected at least one item, got an empty list",
        f"{shown}:13:8: steps[3].k: expected an integer from 1 to 8, got 0",
    ]


def model_without_data(folder: Path, data: dict[str, Any] | None = None) -> Path:
    """The default weights beside a card that says nothing (or ``data``) of its images."""
    shutil.copyfile(WEIGHTS, folder / "plain.safetensors")
    card: dict[str, Any] = {"name": "plain", "classes": cnn_model.load_model("default").classes}
    if data is not None:
        card["data"] = data
    (folder / "plain.json").write_text(json.dumps(card), encoding="utf-8")
    return folder / "plain.safetensors"


def lesson_with(folder: Path, model: Path) -> Path:
    path = folder / "lesson.yaml"
    path.write_text(
        f"title: x\nmodel: {model.name}\nimage: {STAR}\nsteps:\n"
        "  - type: features\n    layer: conv_2_2\n",
        encoding="utf-8",
    )
    return path


def test_a_model_that_does_not_say_its_images_is_refused_at_the_step(tmp_path: Path) -> None:
    path = lesson_with(tmp_path, model_without_data(tmp_path))
    message = (
        f"{display_path(path)}:5:5: steps[0]: model 'plain' does not say which images it was "
        "trained on (its card has no 'data'), so its neurons' top images cannot be found; "
        "train one with `cnnlesson model train` to see what its neurons learned"
    )
    assert [str(e) for e in validate_lesson(path)] == [message]
    done = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}:5:5: steps[0]: model 'plain' does not say which images" in done.stderr


def test_a_model_whose_image_folder_is_gone_is_refused(tmp_path: Path) -> None:
    gone = tmp_path / "my-photos"
    model = model_without_data(tmp_path, {"source": "folder", "path": str(gone)})
    path = lesson_with(tmp_path, model)
    (error,) = [str(e) for e in validate_lesson(path)]
    assert error == (
        f"{display_path(path)}:5:5: steps[0]: the images model 'plain' was trained on are "
        f"gone (its card names the folder '{gone}', which is not a folder now); put them back "
        "or train one with `cnnlesson model train` to see what its neurons learned"
    )
    gone.mkdir()  # back again: the step is fine
    assert validate_lesson(path) == []
