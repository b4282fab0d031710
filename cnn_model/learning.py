"""What the lessons on training show, computed with torch from a model's own data.

:func:`learning` replays a model's training history on one image: at each
snapshot the image's logits and probabilities, the ``conv_1_1`` kernels and
the held-out numbers training recorded; at iteration 0 the gradient of the
image's cross-entropy with respect to every ``conv_1_1`` weight (torch
autograd, one gradient per possible true class), and the first step the
optimiser really took.

:func:`features` finds, for each neuron of a convolution layer, the images of
the model's own data that activate it most (its largest value anywhere in
its map) and where: the receptive field of that position on the input,
computed from the architecture by :func:`receptive_field`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ModelError
from .parts import TOP_K, LayerFeatures, Learning
from .tinyvgg import CONV_LAYERS, KERNEL, POOL, layer_specs

if TYPE_CHECKING:
    from .history import Snapshots
    from .network import TinyVGG
    from .store import ModelLocation
    from .trace import Trace


def _column(metrics: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array(
        [np.nan if m.get(key) is None else float(m[key]) for m in metrics], dtype=np.float64
    )


def learning(model: TinyVGG, history: Snapshots, pixels: np.ndarray) -> Learning:
    """Replay ``history`` (of ``model``) on the image ``pixels`` (uint8 64x64x3)."""
    import torch
    import torch.nn.functional as F

    from .trace import image_tensor

    x = image_tensor(pixels)
    threads = torch.get_num_threads()
    # One thread, as for the trace: the last digits do not depend on the machine.
    torch.set_num_threads(1)
    try:
        logits, probabilities, log_probabilities = [], [], []
        for index in range(len(history.iterations)):
            snapshot = history.model_at(index, model)
            with torch.no_grad():
                z = snapshot(x)[0]
            logits.append(z.numpy().copy())
            probabilities.append(torch.softmax(z, dim=0).numpy().copy())
            log_probabilities.append(torch.log_softmax(z, dim=0).numpy().copy())
        start = history.model_at(0, model)
        gradients = []
        for label in range(model.num_classes):
            start.zero_grad()
            loss = F.cross_entropy(start(x), torch.tensor([label]))
            loss.backward()
            grad = start.conv_1_1.weight.grad
            assert grad is not None
            gradients.append(grad.detach().numpy().copy())
    finally:
        torch.set_num_threads(threads)
    record = history.record
    first = record.get("first_step", {})
    facts = {
        "optimiser": record["optimiser"]["name"],
        "betas": list(first.get("betas", [])),
        "eps": float(first.get("eps", 0.0)),
        "weight_decay": float(first.get("weight_decay", 0.0)),
        "first_lr": float(first.get("lr", 0.0)),
        "schedule": record.get("schedule", {}).get("name", ""),
        "batch_size": int(record.get("batch_size", 0)),
        "total_iterations": int(record.get("total_iterations", 0)),
        "heldout_count": int(record.get("heldout_count", 0)),
        "steps_per_epoch": int(record.get("steps_per_epoch", 0)),
    }
    metrics = history.metrics
    return Learning(
        iterations=np.array(history.iterations, dtype=np.int64),
        epochs=_column(metrics, "epoch"),
        lrs=_column(metrics, "lr"),
        train_losses=_column(metrics, "train_loss"),
        heldout_losses=_column(metrics, "heldout_loss"),
        heldout_accuracies=_column(metrics, "heldout_accuracy"),
        kernels=np.stack([s["conv_1_1.weight"] for s in history.states]).astype(np.float32),
        kernel_biases=np.stack([s["conv_1_1.bias"] for s in history.states]).astype(np.float32),
        logits=np.stack(logits).astype(np.float32),
        probabilities=np.stack(probabilities).astype(np.float32),
        log_probabilities=np.stack(log_probabilities).astype(np.float32),
        gradients=np.stack(gradients).astype(np.float32),
        step_gradient=history.step_gradients["conv_1_1.weight"].astype(np.float32),
        facts=facts,
        source_sha256=history.digest,
    )


# --- what each neuron learned ------------------------------------------------------


def receptive_field(layer: str) -> tuple[int, int]:
    """The receptive field of one value of ``layer`` on the input: its size and the
    distance (in input pixels) between neighbouring values' fields.

    Walked from TinyVGG's layers: a k×k convolution of stride 1 widens the field
    by (k − 1) × jump; a pool of size and stride 2 widens it by jump and doubles
    the jump. Value (y, x) sees input rows y·jump … y·jump + size − 1 (no padding).
    """
    size, jump = 1, 1
    for spec in layer_specs():
        if spec.kind == "conv":
            size += (KERNEL - 1) * jump
        elif spec.kind == "max_pool":
            size += (POOL - 1) * jump
            jump *= POOL
        if spec.name == layer:
            return size, jump
    raise ValueError(f"no layer {layer!r} with a receptive field")


@dataclass
class DataSet:
    """The images a model's features are searched in, and what they are."""

    images: np.ndarray  # uint8 (N, 64, 64, 3)
    labels: np.ndarray  # int64 (N,)
    description: dict[str, Any]


def model_data(location: ModelLocation) -> DataSet:
    """The model's own held-out images: the generated set for a model trained on
    generated images, the folder's held-out split for one trained on a folder (all
    of its images when none were held out). ModelError when they are unknown."""
    from . import folder, synthetic
    from .store import read_card

    card = read_card(location)
    data = card.get("data")
    source = data.get("source") if isinstance(data, dict) else None
    seed = card.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ModelError(f"{location.card}: 'seed' must be a whole number")
    if source == "generated":
        assert isinstance(data, dict)
        if data.get("generator") != synthetic.GENERATOR_VERSION:
            raise ModelError(
                f"{location.card}: its images were drawn by generator {data.get('generator')!r}; "
                f"this version draws {synthetic.GENERATOR_VERSION!r}"
            )
        count = card.get("heldout_count")
        data_seed = data.get("seed", 0)
        if not isinstance(count, int) or not 1 <= count <= 200_000:
            raise ModelError(f"{location.card}: 'heldout_count' must be 1 to 200,000")
        if not isinstance(data_seed, int) or isinstance(data_seed, bool) or data_seed < 0:
            raise ModelError(f"{location.card}: 'data.seed' must be a whole number")
        # In this process: a render may run where spawning workers is not possible.
        images, labels = synthetic.generate(count, "heldout", data_seed, workers=1)
        return DataSet(
            images,
            labels,
            {"source": "generated", "split": "held-out", "count": count, "seed": data_seed},
        )
    if source == "folder":
        assert isinstance(data, dict)
        path = data.get("path")
        fraction = data.get("heldout_fraction", folder.DEFAULT_HELDOUT)
        if not isinstance(path, str) or not isinstance(fraction, int | float):
            raise ModelError(f"{location.card}: 'data.path' and 'data.heldout_fraction' are needed")
        try:
            found = folder.scan(path)
        except ModelError as exc:
            raise ModelError(
                f"the images model {location.name!r} was trained on cannot be read ({exc})"
            ) from None
        train_items, heldout_items = folder.split(found, float(fraction), seed)
        items = heldout_items or train_items
        images, labels = folder.read_images(items)
        return DataSet(
            images,
            labels,
            {
                "source": "folder",
                "path": path,
                "split": "held-out" if heldout_items else "all (none were held out)",
                "count": len(items),
            },
        )
    raise ModelError(
        f"model {location.name!r} does not say which images it was trained on (its card has "
        "no 'data'); train one with `cnnlesson model train` to see what its neurons learned"
    )


def data_identity(location: ModelLocation) -> str:
    """A cheap fingerprint of the model's data set, to know when its features must be
    searched again: for a folder, its files' names, sizes and modification times."""
    from . import folder
    from .store import read_card

    data = read_card(location).get("data")
    if not isinstance(data, dict) or data.get("source") != "folder":
        return json.dumps(data, sort_keys=True, default=str)
    try:
        found = folder.scan(str(data.get("path")))
    except ModelError as exc:
        return f"unreadable: {exc}"
    times = hashlib.sha256()
    for files in found.files:
        for path in files:
            times.update(f"{path}\t{path.stat().st_mtime_ns}\n".encode())
    return f"{found.file_list_sha256()} {times.hexdigest()}"


def features(
    model: TinyVGG, data: DataSet, layers: list[str], k: int = TOP_K
) -> dict[str, LayerFeatures]:
    """For each neuron of each convolution layer in ``layers``, the ``k`` images of
    ``data`` with its largest values (ties: the earlier image), where, and the field."""
    import torch

    from .train import to_tensor

    for layer in layers:
        if layer not in CONV_LAYERS:
            raise ValueError(f"{layer!r} is not a convolution layer")
    count = len(data.images)
    maxima: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}
    places: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}
    model.eval()
    with torch.no_grad():
        for start in range(0, count, 250):
            batch = to_tensor(data.images[start : start + 250]).contiguous()
            outputs = model.forward_layers(batch)
            for layer in layers:
                maps = outputs[layer]  # (n, 10, h, w)
                flat = maps.reshape(maps.shape[0], maps.shape[1], -1)
                values, argmax = flat.max(dim=2)
                maxima[layer].append(values.numpy())
                places[layer].append(argmax.numpy())
    digest = hashlib.sha256(data.images.tobytes())
    digest.update(model.sha256.encode())
    digest.update(json.dumps(data.description, sort_keys=True).encode())
    found = {}
    for layer in layers:
        best = np.concatenate(maxima[layer]).astype(np.float32)  # (N, 10)
        where = np.concatenate(places[layer])
        width = next(s.output_shape[2] for s in layer_specs() if s.name == layer)
        shown = min(k, count)
        top = np.zeros((best.shape[1], shown), dtype=np.int64)
        for neuron in range(best.shape[1]):
            # Largest first; equal values keep the data set's order.
            top[neuron] = np.lexsort((np.arange(count), -best[:, neuron]))[:shown]
        used = sorted({int(i) for i in top.ravel()})
        row = {index: n for n, index in enumerate(used)}
        size, jump = receptive_field(layer)
        positions = np.stack(
            [
                np.stack([where[top[n], n] // width, where[top[n], n] % width], axis=1)
                for n in range(best.shape[1])
            ]
        )
        found[layer] = LayerFeatures(
            layer=layer,
            field_size=size,
            jump=jump,
            top=np.array([[row[int(i)] for i in t] for t in top], dtype=np.int64),
            maxima=np.stack([best[top[n], n] for n in range(best.shape[1])]),
            positions=positions.astype(np.int64),
            data_index=np.array(used, dtype=np.int64),
            images=data.images[used],
            labels=data.labels[used],
            data=dict(data.description),
            source_sha256=digest.hexdigest(),
        )
    return found


# --- the parts of a trace the training lessons read -------------------------------

LEARNING_PART = "learning"
FEATURES_PART = "features:"  # followed by a conv layer's name


def add_parts(t: Trace, location: ModelLocation, model: TinyVGG, parts: list[str]) -> None:
    """Add to the trace ``t`` (of ``model``, at ``location``) the parts named: the
    history replayed on its image ("learning"), and the top images of each neuron of
    a convolution layer ("features:conv_1_1"). ModelError when the model has none."""
    from .history import read_history

    if LEARNING_PART in parts:
        t.learning = learning(model, read_history(location), t.image)
    layers = sorted(p.removeprefix(FEATURES_PART) for p in parts if p.startswith(FEATURES_PART))
    if layers:
        t.features.update(features(model, model_data(location), layers))
