"""The ``training`` step: every number it shows, snapshot by snapshot, against torch.

The reference here does not go through the project's history reader or its
learning code: it loads the shipped history file with safetensors, builds a
TinyVGG per snapshot, and recomputes the forward pass, the loss, the
gradient (autograd), the first training batch and Adam's first step with
torch's own optimiser and schedule.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import cnn_model
from cnn_model import synthetic
from cnn_model.store import PACKAGE_WEIGHTS
from conftest import ROOT
from dry_run import dry_run, trace_file
from scenes.lesson.load import load_lesson
from scenes.visuals.vector_cells import parse_wide
from torch_reference import parse_shown, reference_layers

STAR = ROOT / "lessons" / "images" / "star_1.png"
LABEL = synthetic.CLASSES.index("star")
HISTORY = PACKAGE_WEIGHTS / "default.history.safetensors"
CARD = json.loads((PACKAGE_WEIGHTS / "default.json").read_text())
RECORD = json.loads((PACKAGE_WEIGHTS / "default.history.json").read_text())
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def traced(default_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("training")
    return (*trace_file(default_model, STAR, folder, ("learning",)), folder)


@pytest.fixture(scope="module")
def record(traced) -> dict[str, Any]:
    _trace, path, folder = traced
    return dry_run({"type": "training", "label": "star"}, folder, path)


class Reference:
    """Each snapshot's model, from the history file, and what torch computes with it."""

    def __init__(self) -> None:
        tensors = load_file(str(HISTORY))
        self.iterations = [s["iteration"] for s in RECORD["snapshots"]]
        self.models: dict[int, cnn_model.TinyVGG] = {}
        for iteration in self.iterations:
            model = cnn_model.TinyVGG(num_classes=10)
            prefix = f"{iteration:06d}/"
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            model.load_state_dict(state, strict=True)
            model.eval()
            self.models[iteration] = model
        self.step_gradient = tensors["step/conv_1_1.weight"]
        self.pixels = cnn_model.images.load_input(STAR)
        self.x = torch.from_numpy(self.pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        self.layers = {i: reference_layers(m, self.pixels) for i, m in self.models.items()}
        self._heldout: tuple[torch.Tensor, torch.Tensor] | None = None
        self._batch: tuple[torch.Tensor, torch.Tensor] | None = None

    def probabilities(self, iteration: int) -> np.ndarray:
        return self.layers[iteration]["softmax"]

    def loss(self, iteration: int) -> float:
        logits = torch.from_numpy(self.layers[iteration]["output"])[None]
        return float(F.cross_entropy(logits, torch.tensor([LABEL])))

    def gradient(self, iteration: int) -> np.ndarray:
        model = self.models[iteration]
        model.zero_grad()
        F.cross_entropy(model(self.x), torch.tensor([LABEL])).backward()
        assert model.conv_1_1.weight.grad is not None
        return model.conv_1_1.weight.grad.numpy().copy()

    def first_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._batch is None:
            self._batch = self.batch(0)
        return self._batch

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The training images of a step of the first epoch, drawn again one by one."""
        seed, count, size = CARD["seed"], CARD["train_count"], CARD["batch_size"]
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
        chosen = [int(i) for i in order[step * size : (step + 1) * size]]
        data_seed = CARD["data"]["seed"]
        pixels = np.stack(
            [
                synthetic.render_image(
                    synthetic.label_of(i), synthetic.image_rng(data_seed, "train", i)
                )
                for i in chosen
            ]
        )
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255.0)
        return x, torch.tensor([synthetic.label_of(i) for i in chosen])

    def batch_gradient(self) -> np.ndarray:
        model = self.models[0]
        model.zero_grad()
        x, y = self.first_batch()
        F.cross_entropy(model(x), y).backward()
        assert model.conv_1_1.weight.grad is not None
        return model.conv_1_1.weight.grad.numpy().copy()

    def first_lr(self) -> float:
        """The learning rate of the first step, from torch's own one-cycle schedule."""
        param = torch.nn.Parameter(torch.zeros(1))
        optimiser = torch.optim.Adam([param], lr=CARD["max_lr"])
        steps = CARD["epochs"] * (CARD["train_count"] // CARD["batch_size"])
        torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=CARD["max_lr"], total_steps=steps)
        return float(optimiser.param_groups[0]["lr"])

    def adam_step(self, index: tuple[int, ...]) -> float:
        """torch's Adam, one step from iteration 0's weights with the batch's gradient."""
        start = self.models[0].conv_1_1.weight.detach().clone()
        param = torch.nn.Parameter(start.clone())
        betas = tuple(RECORD["first_step"]["betas"])
        optimiser = torch.optim.Adam([param], lr=self.first_lr(), betas=betas)  # type: ignore[arg-type]
        param.grad = torch.from_numpy(self.batch_gradient())
        optimiser.step()
        return float((param.detach() - start)[index])

    def heldout_accuracy(self, iteration: int) -> float:
        if self._heldout is None:
            x, y = synthetic.generate(CARD["heldout_count"], "heldout", CARD["data"]["seed"], 1)
            tensor = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255.0)
            self._heldout = (tensor, torch.from_numpy(y))
        x, y = self._heldout
        with torch.no_grad():
            predicted = self.models[iteration](x).argmax(1)
        return float((predicted == y).float().mean())

    def weight(self, iteration: int, index: tuple[int, ...]) -> float:
        return float(self.models[iteration].conv_1_1.weight.detach().numpy()[index])


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


def expected(entry: dict[str, Any], ref: Reference) -> float:
    kind, index, iteration = entry["kind"], tuple(entry["index"]), entry.get("iteration")
    if kind == "target":
        return 1.0 if index == (LABEL,) else 0.0
    assert iteration is not None, entry  # every value of a snapshot says which
    if kind == "probability":
        return float(ref.probabilities(iteration)[index])
    if kind == "loss":
        return ref.loss(iteration)
    if kind == "squared_error":
        target = np.eye(10)[LABEL]
        return 0.5 * float(((target - ref.probabilities(iteration)) ** 2).sum())
    if kind == "weight":
        return ref.weight(iteration, index)
    if kind == "gradient":
        return float(ref.gradient(iteration)[index])
    if kind == "batch_gradient":
        return float(ref.batch_gradient()[index])
    if kind == "learning_rate":
        return ref.first_lr()
    if kind == "plain_step":
        return -ref.first_lr() * float(ref.batch_gradient()[index])
    if kind in ("adam_step", "weight_change"):
        if kind == "weight_change":  # the real change to the next snapshot
            return ref.weight(ref.iterations[1], index) - ref.weight(0, index)
        return ref.adam_step(index)
    if kind == "heldout_accuracy":
        return ref.heldout_accuracy(iteration)
    if kind == "train_loss":
        # The mean loss of the batches since the snapshot before (at iteration 0, the
        # first batch's). Where that is one batch, at a snapshot's weights, torch
        # recomputes it; a longer window's weights are not all kept.
        at = ref.iterations.index(iteration)
        before = ref.iterations[at - 1] if at else 0
        if iteration - before <= 1:
            x, y = ref.batch(before)
            with torch.no_grad():
                return float(F.cross_entropy(ref.models[before](x), y))
        return float(RECORD["snapshots"][at]["train_loss"])
    raise AssertionError(f"no reference for {kind!r}")


# Sums of many float32 products (a batch's gradient, Adam's division) agree with
# torch's to a few units in the last place, relative to the value.
RELATIVE = {"batch_gradient": 1e-4, "plain_step": 1e-4, "adam_step": 1e-5, "weight_change": 1e-5}


def test_every_number_shown_is_torchs_at_its_snapshot(record, reference) -> None:
    values = record["values"]
    kinds = {v["kind"] for v in values}
    assert {
        "probability",
        "loss",
        "squared_error",
        "weight",
        "gradient",
        "batch_gradient",
        "learning_rate",
        "plain_step",
        "adam_step",
        "weight_change",
        "heldout_accuracy",
        "train_loss",
        "target",
    } <= kinds
    # Every snapshot's ten probabilities are shown (as bars and numbers).
    shown = {(v["iteration"], v["index"][0]) for v in values if v["kind"] == "probability"}
    assert shown >= {(i, c) for i in reference.iterations for c in range(10)}
    for entry in values:
        want = expected(entry, reference)
        if entry["kind"] in RELATIVE:
            assert entry["value"] == pytest.approx(want, rel=RELATIVE[entry["kind"]], abs=1e-12)
        else:
            assert abs(entry["value"] - want) <= TOLERANCE * max(1.0, abs(want)), entry
        text = entry["text"]
        if "×10" in text:
            value, half = parse_wide(text)
            assert abs(value - entry["value"]) <= half + 1e-12, entry
        else:
            decimals = len(text.split(".")[1]) if "." in text else 0
            assert abs(parse_shown(text) - entry["value"]) <= 0.5 * 10**-decimals + 1e-9, entry


def test_adams_first_step_is_about_lr_and_far_from_plain_descent(record) -> None:
    by_kind = {v["kind"]: v["value"] for v in record["values"] if v["kind"] in RELATIVE}
    lr = next(v["value"] for v in record["values"] if v["kind"] == "learning_rate")
    assert by_kind["weight_change"] == pytest.approx(by_kind["adam_step"], rel=1e-5)
    assert abs(by_kind["adam_step"]) == pytest.approx(lr, rel=1e-3)  # |g| >> ε
    assert abs(by_kind["plain_step"]) < abs(by_kind["adam_step"]) / 100
    assert record["facts"]["optimiser"] == "Adam"


def test_the_kernels_drawn_are_the_snapshots(record, reference) -> None:
    maps = [m for m in record["maps"] if m["layer"] == "conv_1_1"]
    assert {(m["iteration"], m["index"][0]) for m in maps} == {
        (i, n) for i in reference.iterations for n in range(10)
    }
    for entry in maps:
        kernel = reference.models[entry["iteration"]].conv_1_1.weight.detach().numpy()
        kernel = kernel[entry["index"][0]]
        peak = float(np.abs(kernel).max())
        assert entry["min"] == pytest.approx(float(kernel.min()), abs=1e-7)
        assert entry["max"] == pytest.approx(float(kernel.max()), abs=1e-7)
        assert entry["range"] == pytest.approx([-peak, peak], abs=1e-7)
        assert entry["scale"] == "weight"


def test_learning_shows_the_loss_falling_and_the_class_rising(record, reference) -> None:
    first, last = reference.iterations[0], reference.iterations[-1]
    p = {
        v["iteration"]: v["value"]
        for v in record["values"]
        if v["kind"] == "probability" and v["index"] == [LABEL] and v["text"].count(".") == 1
    }
    assert 0.05 < p[first] < 0.15  # about one in ten before training
    assert p[last] > 0.9
    losses = {v["iteration"]: v["value"] for v in record["values"] if v["kind"] == "train_loss"}
    assert losses[last] < losses[first] / 10


def test_the_result_is_what_classify_says(record, reference) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "classify", str(STAR), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    last = reference.iterations[-1]
    predicted = record["facts"]["prediction"]
    assert synthetic.CLASSES[predicted] == said["prediction"]
    shown = next(
        v
        for v in record["values"]
        if v["kind"] == "probability" and v["iteration"] == last and v["index"] == [predicted]
    )
    assert shown["value"] == pytest.approx(said["probabilities"][said["prediction"]], abs=1e-7)


@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1"])
def test_each_aspect_keeps_everything_in_the_frame(traced, aspect) -> None:
    _trace, path, folder = traced
    result = dry_run({"type": "training", "label": "star"}, folder, path, aspect=aspect)
    assert result["overflow"] == []
    assert [p["name"] for p in result["phases"]] == [
        "start",
        "error",
        "gradient",
        "learning",
        "result",
    ]


def test_the_class_comes_from_the_samples_name(tmp_path: Path) -> None:
    lesson = load_lesson(ROOT / "lessons" / "training.yaml")
    (step,) = lesson.steps
    assert step.type == "training"
    assert step.label == LABEL  # star_1: star, kept as its index
    # A file whose name says nothing: the step must be told.
    picture = tmp_path / "photo.png"
    picture.write_bytes(STAR.read_bytes())
    path = tmp_path / "lesson.yaml"
    path.write_text("title: T\nimage: photo.png\nsteps:\n  - type: training\n")
    result = subprocess.run(
        [sys.executable, "-m", "scenes.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "lesson.yaml:4:5: steps[0].label: the image's name ('photo.png')" in result.stderr
    assert "Traceback" not in result.stderr
    # A file named after its class needs no label.
    named = tmp_path / "Star-7.png"
    named.write_bytes(STAR.read_bytes())
    path.write_text("title: T\nimage: Star-7.png\nsteps:\n  - type: training\n")
    assert load_lesson(path).steps[0].label == LABEL


def test_the_narration_quotes_the_history(traced, reference) -> None:
    from scenes.render.pipeline import _read_cues

    trace, _path, _folder = traced
    lesson = load_lesson(ROOT / "lessons" / "training.yaml")
    (cues,) = _read_cues(lesson, {}, 160, trace, list(trace.classes), "en")
    said = " ".join(cue.text for cue in cues)
    first, last = reference.iterations[0], reference.iterations[-1]
    p0 = float(reference.probabilities(first)[LABEL])
    p1 = float(reference.probabilities(last)[LABEL])
    accuracy = reference.heldout_accuracy(last)
    assert "{" not in said
    for quoted in (
        f"this star a probability of only {p0:.3f}",
        f"minus the log of that probability, {reference.loss(first):.3f}",
        "Adam does not simply step against it",
        f"Over {last:,} iterations of 64 images",
        f"scores {accuracy:.3f} on held-out images",
        f"a probability of {p1:.3f}",
    ):
        assert quoted in said, (quoted, said)
