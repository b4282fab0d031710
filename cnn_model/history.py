"""A model's training history: snapshots of its weights while it learned.

``cnnlesson model train`` keeps the weights at about twenty iterations,
log-spaced from iteration 0 (the random start, before any step) to the end,
so the first steps, where most changes, are seen closely. With each snapshot
it keeps the training loss, the held-out loss and accuracy and the learning
rate; with the first it keeps the batch's gradient of ``conv_1_1``, so a
lesson can show what the optimiser did with it.

On disk a history is two files beside the weights, named in the model card:
``<stem>.history.safetensors`` holds the tensors, one set per snapshot
(``000000/conv_1_1.weight``, ...) and the first step's gradients
(``step/conv_1_1.weight``), and ``<stem>.history.json`` the numbers and the
optimiser. The last snapshot is the model's weights, bit for bit; loading
checks that, and every tensor like weights are checked (shapes, float32,
finite values, a size cap).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ModelError
from .safeio import FileRefused, read_regular, replacing

if TYPE_CHECKING:
    import torch

    from .network import TinyVGG
    from .store import ModelLocation
    from .train import TrainConfig

FORMAT = "cnnlesson-tinyvgg-history-1"
METADATA_KEY = "cnnlesson"
MAX_SNAPSHOTS = 64
# 20 snapshots of TinyVGG with 1000 classes are about 136 MB; ten classes, 1.6 MB.
MAX_HISTORY_BYTES = 256 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
STEP_PREFIX = "step"  # the first step's batch gradients
STEP_PARAMETERS = ("conv_1_1.weight", "conv_1_1.bias")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
NO_HISTORY = "this model has no training history; train one with `cnnlesson model train`"


def snapshot_iterations(total: int, count: int) -> list[int]:
    """``count`` iterations from 0 to ``total``, log-spaced (fewer when ``total`` is
    small, and at least 0, 1 and ``total`` for any ``count`` above 0).

    Iteration ``i`` is the weights after ``i`` optimiser steps: 0 is the random
    start and ``total`` the trained model. 1 is always kept, so the change from
    0 to 1 is exactly one step.
    """
    if count <= 0:
        return []
    if total <= 1:
        return list(range(total + 1))
    # At least the start, the first step and the end.
    wanted = min(max(count, 3), total + 1)
    points = max(wanted - 1, 1)
    chosen: list[int] = []
    # More log-spaced points than wanted, until rounding leaves enough distinct ones.
    while True:
        spaced = np.geomspace(1, total, points)
        chosen = sorted({0, 1, total, *(round(float(v)) for v in spaced)})
        if len(chosen) >= wanted or points > 4 * total:
            break
        points += 1
    while len(chosen) > wanted:
        # Drop the point whose neighbours are closest on a log scale (never 0, 1 or the end).
        logs = [math.log1p(v) for v in chosen]
        gaps = [(logs[i + 1] - logs[i - 1], i) for i in range(2, len(chosen) - 1)]
        chosen.pop(min(gaps)[1])
    return chosen


@dataclass
class Snapshots:
    """A history as training made it or as it was read: tensors and numbers."""

    iterations: list[int]
    states: list[dict[str, np.ndarray]]  # one state (float32 arrays) per snapshot
    metrics: list[dict[str, Any]]  # per snapshot: iteration, epoch, lr, losses, accuracy
    step_gradients: dict[str, np.ndarray]  # the first step's batch gradients
    record: dict[str, Any] = field(default_factory=dict)  # optimiser, schedule, sizes
    # Of both files as read (empty for a history not read from files): what a lesson
    # drawn from this history depends on.
    digest: str = ""

    def index_of(self, iteration: int) -> int:
        return self.iterations.index(iteration)

    def model_at(self, index: int, like: TinyVGG) -> TinyVGG:
        """A copy of ``like`` with the weights of snapshot ``index``."""
        import torch

        from .network import TinyVGG

        model = TinyVGG(num_classes=like.num_classes, flatten_order=like.flatten_order)
        state = {k: torch.from_numpy(v.copy()) for k, v in self.states[index].items()}
        model.load_state_dict(state, strict=True)
        model.name, model.classes, model.card = like.name, like.classes, like.card
        model.eval()
        return model


def _state_of(model: TinyVGG) -> dict[str, np.ndarray]:
    return {k: v.detach().contiguous().numpy().copy() for k, v in model.state_dict().items()}


class SnapshotTaker:
    """Called by the training loop before each optimiser step; keeps the snapshots."""

    def __init__(
        self,
        total: int,
        count: int,
        steps_per_epoch: int,
        optimiser: torch.optim.Optimizer,
        heldout_images: torch.Tensor,
        heldout_labels: torch.Tensor,
        evaluate: Callable[[TinyVGG, torch.Tensor, torch.Tensor], tuple[float, float]],
    ) -> None:
        self.wanted = set(snapshot_iterations(total, count))
        self.steps_per_epoch = steps_per_epoch
        self.optimiser = optimiser
        self.heldout = (heldout_images, heldout_labels)
        self.evaluate = evaluate
        self.iterations: list[int] = []
        self.states: list[dict[str, np.ndarray]] = []
        self.metrics: list[dict[str, Any]] = []
        self.step_gradients: dict[str, np.ndarray] = {}
        self.step_facts: dict[str, Any] = {}
        self._losses: list[float] = []  # batch losses since the last snapshot

    def before_step(self, model: TinyVGG, iteration: int, loss: float) -> None:
        if iteration in self.wanted:
            self._take(model, iteration, loss)
            if iteration == 0:
                named = dict(model.named_parameters())
                for name in STEP_PARAMETERS:
                    grad = named[name].grad
                    assert grad is not None
                    self.step_gradients[name] = grad.detach().contiguous().numpy().copy()
                group = self.optimiser.param_groups[0]
                self.step_facts = {
                    "iteration": 0,
                    "lr": float(group["lr"]),
                    "betas": [float(b) for b in group.get("betas", ())],
                    "eps": float(group.get("eps", 0.0)),
                    "weight_decay": float(group.get("weight_decay", 0.0)),
                    "batch_loss": loss,
                }
        self._losses.append(loss)

    def finish(self, model: TinyVGG, iteration: int) -> None:
        if iteration in self.wanted and iteration not in self.iterations:
            self._take(model, iteration, None)

    def _take(self, model: TinyVGG, iteration: int, loss: float | None) -> None:
        # The mean loss of the batches since the last snapshot; at iteration 0,
        # the first batch's loss (both computed by the training itself).
        window = self._losses or ([loss] if loss is not None else [])
        train_loss = float(np.mean(window)) if window else None
        self._losses = []
        images, labels = self.heldout
        accuracy, heldout_loss = self.evaluate(model, images, labels)
        model.train()
        scored = len(images) > 0
        self.iterations.append(iteration)
        self.states.append(_state_of(model))
        self.metrics.append(
            {
                "iteration": iteration,
                "epoch": round(iteration / self.steps_per_epoch, 4),
                "lr": float(self.optimiser.param_groups[0]["lr"]),
                "train_loss": train_loss,
                "heldout_loss": heldout_loss if scored else None,
                "heldout_accuracy": accuracy if scored else None,
            }
        )

    def result(self, config: TrainConfig, num_classes: int) -> Snapshots:
        group = self.optimiser.param_groups[0]
        record = {
            "format": FORMAT,
            "optimiser": {
                "name": type(self.optimiser).__name__,
                "betas": [float(b) for b in group.get("betas", ())],
                "eps": float(group.get("eps", 0.0)),
                "weight_decay": float(group.get("weight_decay", 0.0)),
            },
            "schedule": {"name": "OneCycleLR", "max_lr": config.max_lr},
            "batch_size": config.batch_size,
            "steps_per_epoch": self.steps_per_epoch,
            "total_iterations": max(self.wanted) if self.wanted else 0,
            "heldout_count": len(self.heldout[0]),
            "num_classes": num_classes,
            "first_step": self.step_facts,
        }
        return Snapshots(self.iterations, self.states, self.metrics, self.step_gradients, record)


# --- files ---------------------------------------------------------------------


def history_paths(weights: Path) -> tuple[Path, Path]:
    """Where the history of the weights at ``weights`` is written: tensors and numbers."""
    stem = weights.stem
    return weights.with_name(f"{stem}.history.safetensors"), weights.with_name(
        f"{stem}.history.json"
    )


def _tensor_name(iteration: int, parameter: str) -> str:
    return f"{iteration:06d}/{parameter}"


def save_history(snapshots: Snapshots, weights: Path, weights_sha256: str) -> dict[str, Any]:
    """Write the history beside ``weights``; returns what the model card says of it."""
    import torch
    from safetensors.torch import save_file

    from .store import sha256_file

    tensors_path, record_path = history_paths(weights)
    tensors: dict[str, torch.Tensor] = {}
    for iteration, state in zip(snapshots.iterations, snapshots.states, strict=True):
        for name, value in state.items():
            tensors[_tensor_name(iteration, name)] = torch.from_numpy(value.copy())
    for name, value in snapshots.step_gradients.items():
        tensors[f"{STEP_PREFIX}/{name}"] = torch.from_numpy(value.copy())
    facts = {"format": FORMAT, "iterations": snapshots.iterations}
    with replacing(tensors_path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(facts, sort_keys=True)})
        digest = sha256_file(tmp, MAX_HISTORY_BYTES)
    record = {
        **snapshots.record,
        "snapshots": snapshots.metrics,
        "tensors": tensors_path.name,
        "tensors_sha256": digest,
        "weights_sha256": weights_sha256,
    }
    with replacing(record_path) as tmp_record:
        tmp_record.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return {
        "tensors": tensors_path.name,
        "record": record_path.name,
        "snapshots": len(snapshots.iterations),
        "tensors_sha256": digest,
    }


def _history_file(folder: Path, value: Any, key: str, where: str) -> Path:
    if not isinstance(value, str) or not _FILE_NAME.match(value):
        raise ModelError(f"{where}: 'history.{key}' must be a file name beside the weights")
    return folder / value


def _number(value: Any, what: str, where: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ModelError(f"{where}: {what} must be a finite number")
    return float(value)


def _check_record(record: Any, where: str) -> dict[str, Any]:
    """The history's numbers, checked: every one finite, in range, in order."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ModelError(f"{where}: not a training history of this project")
    snapshots = record.get("snapshots")
    if not isinstance(snapshots, list) or not 1 <= len(snapshots) <= MAX_SNAPSHOTS:
        raise ModelError(f"{where}: 'snapshots' must list 1 to {MAX_SNAPSHOTS} snapshots")
    last = -1
    for n, entry in enumerate(snapshots):
        at = f"snapshots[{n}]"
        if not isinstance(entry, dict):
            raise ModelError(f"{where}: {at} must be a JSON object")
        iteration = entry.get("iteration")
        if not isinstance(iteration, int) or isinstance(iteration, bool) or iteration <= last:
            raise ModelError(f"{where}: {at}.iteration must be a whole number above the last")
        last = iteration
        for key in ("epoch", "lr"):
            _number(entry.get(key), f"{at}.{key}", where)
        for key in ("train_loss", "heldout_loss"):
            value = _number(entry.get(key), f"{at}.{key}", where, optional=True)
            if value is not None and value < 0:
                raise ModelError(f"{where}: {at}.{key} must be at least 0")
        accuracy = _number(entry.get("heldout_accuracy"), f"{at}.heldout_accuracy", where, True)
        if accuracy is not None and not 0 <= accuracy <= 1:
            raise ModelError(f"{where}: {at}.heldout_accuracy must be from 0 to 1")
    optimiser = record.get("optimiser")
    if not isinstance(optimiser, dict) or not isinstance(optimiser.get("name"), str):
        raise ModelError(f"{where}: 'optimiser.name' must be text")
    if len(optimiser["name"]) > 60 or not optimiser["name"].isprintable():
        raise ModelError(f"{where}: 'optimiser.name' must be a short printable name")
    first = record.get("first_step")
    if not isinstance(first, dict):
        raise ModelError(f"{where}: 'first_step' must be a JSON object")
    for key in ("lr", "eps", "weight_decay"):
        _number(first.get(key), f"first_step.{key}", where)
    betas = first.get("betas")
    if not isinstance(betas, list) or not all(
        _number(b, "first_step.betas", where) is not None for b in betas
    ):
        raise ModelError(f"{where}: 'first_step.betas' must be a list of numbers")
    for key in ("batch_size", "steps_per_epoch", "heldout_count", "total_iterations"):
        value = record.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ModelError(f"{where}: '{key}' must be a whole number of at least 0")
    return record


def read_history(location: ModelLocation) -> Snapshots:
    """The checked training history of the model at ``location`` (no torch needed), or
    a ModelError: :data:`NO_HISTORY` when its card names none."""
    from .store import (
        check_tensors,
        expected_shapes,
        read_card,
        read_facts,
        read_header,
        read_weights_file,
    )

    card = read_card(location)
    named = card.get("history")
    if named is None or location.card is None:
        raise ModelError(NO_HISTORY)
    where = str(location.card)
    if not isinstance(named, dict):
        raise ModelError(f"{where}: 'history' must be a JSON object")
    folder = location.card.parent
    tensors_path = _history_file(folder, named.get("tensors"), "tensors", where)
    record_path = _history_file(folder, named.get("record"), "record", where)
    try:
        text = read_regular(record_path, MAX_RECORD_BYTES).decode("utf-8")
        record = _check_record(json.loads(text), str(record_path))
    except FileRefused as exc:
        raise ModelError(f"{record_path}: cannot read this training history ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"{record_path}: cannot read the training history ({exc})") from None
    try:
        data = read_regular(tensors_path, MAX_HISTORY_BYTES)
    except FileRefused as exc:
        raise ModelError(f"{tensors_path}: cannot read this training history ({exc})") from None
    header, facts, body = read_header(tensors_path, data)
    if facts.get("format") != FORMAT:
        raise ModelError(f"{tensors_path}: not a training history of this project")
    iterations = [int(s["iteration"]) for s in record["snapshots"]]
    if facts.get("iterations") != iterations:
        raise ModelError(
            f"{tensors_path}: its snapshots are not the ones {record_path.name} describes"
        )
    weights_data = read_weights_file(location.weights)
    model_facts = read_facts(location.weights, weights_data)
    shapes = expected_shapes(model_facts.num_classes)
    expected = {_tensor_name(i, name): shape for i in iterations for name, shape in shapes.items()}
    for name in STEP_PARAMETERS:
        expected[f"{STEP_PREFIX}/{name}"] = shapes[name]
    check_tensors(tensors_path, header, body, expected)
    arrays = _read_arrays(header, body)
    states = [{name: arrays[_tensor_name(i, name)] for name in shapes} for i in iterations]
    weights_header, _facts, weights_body = read_header(location.weights, weights_data)
    final = _read_arrays(weights_header, weights_body)
    if any(not np.array_equal(states[-1][k], final[k]) for k in final):
        raise ModelError(
            f"{tensors_path}: its last snapshot is not the model's weights; the history "
            "belongs to another training run"
        )
    # The last snapshot is the weights; the others are checked against the hash
    # the card and the record were written with.
    digest = hashlib.sha256(data).hexdigest()
    if digest != named.get("tensors_sha256") or digest != record.get("tensors_sha256"):
        raise ModelError(
            f"{tensors_path}: not the file its model card names (its SHA-256 differs); "
            "the training history is damaged or belongs to another model"
        )
    step = {name: arrays[f"{STEP_PREFIX}/{name}"] for name in STEP_PARAMETERS}
    metrics = list(record["snapshots"])
    return Snapshots(iterations, states, metrics, step, record, _digest(digest, text))


def _digest(tensors_sha256: str, record_text: str) -> str:
    """What a history is, for caches: its tensors' hash and its record's."""
    record_sha256 = hashlib.sha256(record_text.encode()).hexdigest()
    return hashlib.sha256(f"{tensors_sha256} {record_sha256}".encode()).hexdigest()


def history_digest(location: ModelLocation) -> str:
    """The ``digest`` :func:`read_history` gives the model's history, read from its
    card and record alone ("" without a history): the tensors file is the one whose
    hash the card names, or reading it is refused. For cache keys, before any read."""
    from .store import read_card

    named = read_card(location).get("history")
    if not isinstance(named, dict) or location.card is None:
        return ""
    where = str(location.card)
    record_path = _history_file(location.card.parent, named.get("record"), "record", where)
    try:
        text = read_regular(record_path, MAX_RECORD_BYTES).decode("utf-8")
    except (FileRefused, ValueError) as exc:
        raise ModelError(f"{record_path}: cannot read this training history ({exc})") from None
    return _digest(str(named.get("tensors_sha256")), text)


def _read_arrays(header: dict[str, Any], body: bytes) -> dict[str, np.ndarray]:
    arrays = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, stop = entry["data_offsets"]
        count = (stop - start) // 4
        values = np.frombuffer(body, dtype="<f4", count=count, offset=start)
        arrays[name] = values.reshape(entry["shape"]).astype(np.float32)
    return arrays


def save_with_history(
    model: TinyVGG,
    weights: Path,
    card: dict[str, Any],
    card_path: Path,
    snapshots: Snapshots | None,
) -> str:
    """Save the model (``store.save_model``) with its history beside it and named in its
    card, when it has one; returns the weights' SHA-256."""
    from .store import save_model

    if snapshots is None:
        return save_model(model, weights, card, card_path)
    return save_model(
        model,
        weights,
        card,
        card_path,
        lambda digest: {"history": save_history(snapshots, weights, digest)},
    )
