"""Run a model on one image and keep every layer's numbers.

A :class:`Trace` is what the scenes read: activations of every named layer,
the weights and biases, the logits and probabilities, and
:meth:`Trace.explain_conv`, which writes one convolution output out as the
dot products that produce it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .history import MAX_SNAPSHOTS
from .images import ImageLike, load_input
from .ops import linear_shares, share_sum
from .parts import LayerFeatures, Learning
from .safeio import replacing
from .tinyvgg import CHANNELS, CONV_LAYERS, KERNEL, LAYER_NAMES, PREVIOUS, layer_specs

if TYPE_CHECKING:
    import torch

    from .network import TinyVGG


@dataclass(frozen=True)
class ChannelTerm:
    """One input channel's part of a convolution output value."""

    channel: int
    window: np.ndarray  # (kh, kw) input values under the kernel
    kernel: np.ndarray  # (kh, kw) weights for this input channel
    products: np.ndarray  # (kh, kw) window * kernel, float64
    sum: float  # sum of the products


@dataclass(frozen=True)
class ConvExplanation:
    """How ``activations[layer][out_channel, y, x]`` comes about."""

    layer: str
    input_layer: str
    out_channel: int
    y: int
    x: int
    terms: list[ChannelTerm]
    bias: float
    total: float  # sum of every term's sum plus the bias


@dataclass(frozen=True)
class DenseExplanation:
    """How the dense layer's logit for one class comes about."""

    class_index: int
    inputs: np.ndarray  # the flattened vector x, in the model's flatten order
    weights: np.ndarray  # the class's row of output weights w
    products: np.ndarray  # w * x, float64
    bias: float
    total: float  # sum of the products plus the bias: the logit

    def sum_of(self, indices: Sequence[int]) -> float:
        """The sum of some of the products (e.g. the ones a lesson writes out)."""
        return float(self.products[list(indices)].sum()) if len(indices) else 0.0


@dataclass(frozen=True)
class LogitTerms:
    """One class's logit written out as a few products w · x, the sum of the other
    products, and the bias (what a lesson shows of the dense layer's dot product)."""

    class_index: int
    shown: list[int]  # the entries whose products are written out, in the order asked
    weights: np.ndarray  # w[class, i] for each shown i
    inputs: np.ndarray  # x[i] for each shown i (the flatten vector)
    products: np.ndarray  # w[class, i] * x[i] for each shown i, float64
    shown_sum: float  # the sum of those products
    others: int  # how many entries are not written out
    others_sum: float  # the sum of their products
    bias: float
    logit: float  # the model's logit for the class


# e^z overflows a float64 beyond about 709 (and is 0 below about -745): softmax is
# then shown on z - max z.
EXP_LIMIT = 700.0


@dataclass(frozen=True)
class SoftmaxTerms:
    """Softmax written out: e^(z - shift), their sum, and the probabilities."""

    logits: np.ndarray  # float64
    shift: float  # 0, or max z when e^z would overflow (softmax is unchanged by it)
    exps: np.ndarray  # e^(z - shift)
    total: float  # their sum
    probabilities: np.ndarray  # the model's own probabilities (torch's softmax)

    def exp_sum_of(self, indices: Sequence[int]) -> float:
        return float(self.exps[list(indices)].sum()) if len(indices) else 0.0

    def probability_sum_of(self, indices: Sequence[int]) -> float:
        chosen = self.probabilities[list(indices)].astype(np.float64)
        return float(chosen.sum()) if len(indices) else 0.0


@dataclass
class Trace:
    """Everything a lesson shows about one image passing through one model."""

    model_name: str
    classes: list[str]
    image: np.ndarray  # uint8 (64, 64, 3): what the network sees
    activations: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    biases: dict[str, np.ndarray]
    logits: np.ndarray
    probabilities: np.ndarray
    flatten_order: str = "chw"
    model_sha256: str = ""
    image_sha256: str = field(default="")
    # The training history replayed on this image, when a lesson shows training.
    learning: Learning | None = None
    # What each neuron of some conv layers responds to most, over the model's data.
    features: dict[str, LayerFeatures] = field(default_factory=dict)

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def predicted_class(self) -> str:
        return self.classes[self.prediction]

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return [(self.classes[i], float(self.probabilities[i])) for i in self.top_classes(k)]

    def top_classes(self, k: int) -> list[int]:
        """The ``k`` most probable classes, most probable first (a tie keeps class order)."""
        return [int(i) for i in np.argsort(-self.probabilities, kind="stable")[:k]]

    def probability_of(self, classes: Sequence[int]) -> float:
        """The model's probability that the image is one of ``classes`` (summed in float64)."""
        chosen = self.probabilities[list(classes)].astype(np.float64)
        return float(chosen.sum()) if len(classes) else 0.0

    def linear_share_of(self, classes: Sequence[int]) -> float:
        """What a plain linear normalisation of the logits, (z − min z) / Σ (z − min z),
        gives ``classes`` together. Not what the network computes: lessons set it
        beside softmax to show why softmax is a "softer argmax"."""
        return share_sum(linear_shares(self.logits.astype(np.float64)), list(classes))

    def argmax_share_of(self, classes: Sequence[int]) -> float:
        """Argmax as a share: 1 when the prediction is one of ``classes``, else 0."""
        return 1.0 if self.prediction in classes else 0.0

    def flatten_sources(self) -> np.ndarray:
        """(N, 3) ints: the cell (c, y, x) of the layer before ``flatten`` that each entry
        of the vector is read from, in the model's order: channel by channel and row by
        row ("chw", PyTorch), or position by position across the channels ("hwc", Keras)."""
        channels, height, width = self.activations[PREVIOUS["flatten"]].shape
        c, y, x = np.meshgrid(
            np.arange(channels), np.arange(height), np.arange(width), indexing="ij"
        )
        cells = np.stack([c, y, x], axis=-1)  # (C, H, W, 3)
        if self.flatten_order == "hwc":
            cells = cells.transpose(1, 2, 0, 3)
        return cells.reshape(-1, 3)

    def explain_conv(self, layer: str, out_channel: int, y: int, x: int) -> ConvExplanation:
        """Write the conv output at ``(out_channel, y, x)`` out as dot products."""
        if layer not in CONV_LAYERS:
            raise ValueError(f"{layer!r} is not a convolution layer; choose one of {CONV_LAYERS}")
        out = self.activations[layer]
        if not (
            0 <= out_channel < out.shape[0] and 0 <= y < out.shape[1] and 0 <= x < out.shape[2]
        ):
            raise IndexError(f"({out_channel}, {y}, {x}) is outside {layer} of shape {out.shape}")
        input_layer = PREVIOUS[layer]
        source = self.activations[input_layer]
        weights = self.weights[layer][out_channel]
        kh, kw = weights.shape[1:]
        terms = []
        for c in range(source.shape[0]):
            window = source[c, y : y + kh, x : x + kw]
            kernel = weights[c]
            products = window.astype(np.float64) * kernel.astype(np.float64)
            terms.append(
                ChannelTerm(c, window.copy(), kernel.copy(), products, float(products.sum()))
            )
        bias = float(self.biases[layer][out_channel])
        total = float(sum(t.sum for t in terms) + bias)
        return ConvExplanation(layer, input_layer, out_channel, y, x, terms, bias, total)

    def explain_dense(self, class_index: int) -> DenseExplanation:
        """Write the logit of ``class_index`` out as the dense layer's dot product."""
        if not 0 <= class_index < len(self.classes):
            raise IndexError(f"class {class_index} is outside 0..{len(self.classes) - 1}")
        inputs = self.activations["flatten"]
        weights = self.weights["output"][class_index]
        products = weights.astype(np.float64) * inputs.astype(np.float64)
        bias = float(self.biases["output"][class_index])
        return DenseExplanation(
            class_index, inputs.copy(), weights.copy(), products, bias, float(products.sum()) + bias
        )

    def logit_terms(self, class_index: int, shown: Sequence[int]) -> LogitTerms:
        """The logit of ``class_index`` as the products of the ``shown`` entries, the sum
        of the other products and the bias (see :class:`LogitTerms`)."""
        dense = self.explain_dense(class_index)
        count = len(dense.products)
        picked = [int(i) for i in shown]
        if any(not 0 <= i < count for i in picked) or len(set(picked)) != len(picked):
            raise IndexError(f"shown entries must be distinct indices from 0 to {count - 1}")
        others = np.ones(count, dtype=bool)
        others[picked] = False
        products = dense.products[picked]
        return LogitTerms(
            class_index=class_index,
            shown=picked,
            weights=dense.weights[picked],
            inputs=dense.inputs[picked],
            products=products,
            shown_sum=float(products.sum()) if picked else 0.0,
            others=int(others.sum()),
            others_sum=float(dense.products[others].sum()),
            bias=dense.bias,
            logit=float(self.logits[class_index]),
        )

    def softmax_terms(self) -> SoftmaxTerms:
        """The pieces of softmax for these logits (see :class:`SoftmaxTerms`)."""
        logits = self.logits.astype(np.float64)
        # Shown as e^z where it can be; shifted by max z where e^z would overflow,
        # or where every e^z would underflow to 0 (all logits very negative).
        top = float(logits.max())
        shift = top if abs(top) > EXP_LIMIT else 0.0
        exps = np.exp(logits - shift)
        return SoftmaxTerms(logits, shift, exps, float(exps.sum()), self.probabilities.copy())

    def channel_contributions(self, layer: str, out_channel: int) -> np.ndarray:
        """Each input channel's own map for one conv neuron, float64 (C_in, H, W).

        Channel c's map is the input channel c cross-correlated with the
        neuron's kernel for c (no bias). Their sum plus the bias is the
        neuron's activation map: the "elastic" view of a convolution.
        """
        if layer not in CONV_LAYERS:
            raise ValueError(f"{layer!r} is not a convolution layer; choose one of {CONV_LAYERS}")
        source = self.activations[PREVIOUS[layer]].astype(np.float64)
        kernels = self.weights[layer][out_channel].astype(np.float64)
        channels, kh, kw = kernels.shape
        out_h, out_w = self.activations[layer].shape[1:]
        maps = np.zeros((channels, out_h, out_w))
        for i in range(kh):
            for j in range(kw):
                maps += source[:, i : i + out_h, j : j + out_w] * kernels[:, i, j, None, None]
        return maps


def image_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float32 (1, 3, H, W) in [0, 1], no mean/std."""
    import torch

    return torch.from_numpy(pixels).permute(2, 0, 1).float().div(255.0).unsqueeze(0)


def trace(model: TinyVGG, image: ImageLike) -> Trace:
    """Run ``model`` on ``image`` (path or PIL image) and record every layer."""
    import torch

    pixels = load_input(image)
    model.eval()
    # One thread: the sums run in one order, so a machine's core count does not move
    # the last digits of the numbers on screen (they differ by ~1e-7 with 1 and 2 threads).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            outputs = model.forward_layers(image_tensor(pixels))
            logits = outputs["output"][0]
            probabilities = torch.softmax(logits, dim=0)
    finally:
        torch.set_num_threads(threads)
    activations = {name: outputs[name][0].numpy().astype(np.float32) for name in LAYER_NAMES}
    weights = {}
    biases = {}
    for name in (*CONV_LAYERS, "output"):
        module = getattr(model, name)
        weights[name] = module.weight.detach().numpy().astype(np.float32).copy()
        biases[name] = module.bias.detach().numpy().astype(np.float32).copy()
    return Trace(
        model_name=model.name,
        classes=list(model.classes),
        image=pixels,
        activations=activations,
        weights=weights,
        biases=biases,
        logits=logits.numpy().astype(np.float32),
        probabilities=probabilities.numpy().astype(np.float32),
        flatten_order=model.flatten_order,
        model_sha256=model.sha256,
        image_sha256=hashlib.sha256(pixels.tobytes()).hexdigest(),
    )


def save_trace(t: Trace, path: str | Path) -> None:
    """Write a trace to ``path`` (.npz) so other processes can read it without torch."""
    arrays: dict[str, np.ndarray] = {
        "image": t.image,
        "logits": t.logits,
        "probabilities": t.probabilities,
    }
    for name, value in t.activations.items():
        arrays[f"activations/{name}"] = value
    for name, value in t.weights.items():
        arrays[f"weights/{name}"] = value
    for name, value in t.biases.items():
        arrays[f"biases/{name}"] = value
    meta: dict[str, object] = {
        "model_name": t.model_name,
        "classes": t.classes,
        "flatten_order": t.flatten_order,
        "model_sha256": t.model_sha256,
        "image_sha256": t.image_sha256,
    }
    if t.learning is not None:
        for name in LEARNING_ARRAYS:
            arrays[f"learning/{name}"] = getattr(t.learning, name)
        meta["learning"] = {"facts": t.learning.facts, "source_sha256": t.learning.source_sha256}
    features_meta = {}
    for layer, found in t.features.items():
        for name in FEATURE_ARRAYS:
            arrays[f"features/{layer}/{name}"] = getattr(found, name)
        features_meta[layer] = {
            "field_size": found.field_size,
            "jump": found.jump,
            "data": found.data,
            "source_sha256": found.source_sha256,
        }
    meta["features"] = features_meta
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    # A new name of this process's own: two renders may save the same trace at once,
    # and nothing planted at the name can redirect the write.
    with replacing(Path(path), replace_folder=True) as tmp:
        np.savez(tmp, **arrays)  # type: ignore[arg-type]


def load_trace(path: str | Path) -> Trace:
    """A trace saved by :func:`save_trace`; ``ValueError`` when the file is not a whole,
    consistent trace of TinyVGG (a damaged or altered cache entry)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            groups: dict[str, dict[str, np.ndarray]] = {
                "activations": {},
                "weights": {},
                "biases": {},
                "learning": {},
                "features": {},
            }
            for key in data.files:
                if "/" in key:
                    group, name = key.split("/", 1)
                    groups[group][name] = data[key]
            result = Trace(
                model_name=meta["model_name"],
                classes=list(meta["classes"]),
                image=data["image"],
                activations=groups["activations"],
                weights=groups["weights"],
                biases=groups["biases"],
                logits=data["logits"],
                probabilities=data["probabilities"],
                flatten_order=meta["flatten_order"],
                model_sha256=meta["model_sha256"],
                image_sha256=meta["image_sha256"],
            )
            _load_parts(result, meta, groups["learning"], groups["features"])
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a saved trace ({type(exc).__name__})") from None
    check_trace(result)
    return result


# The arrays of a Learning and of a LayerFeatures, as a saved trace holds them.
LEARNING_ARRAYS = (
    "iterations",
    "epochs",
    "lrs",
    "train_losses",
    "heldout_losses",
    "heldout_accuracies",
    "kernels",
    "kernel_biases",
    "logits",
    "probabilities",
    "log_probabilities",
    "gradients",
    "step_gradient",
)
FEATURE_ARRAYS = ("top", "maxima", "positions", "data_index", "images", "labels")


def _load_parts(
    t: Trace,
    meta: dict[str, object],
    learning: dict[str, np.ndarray],
    features: dict[str, np.ndarray],
) -> None:
    """The learning and features parts of a loaded trace (checked by ``check_trace``)."""
    part = meta.get("learning")
    if learning or part is not None:
        if not isinstance(part, dict) or set(learning) != set(LEARNING_ARRAYS):
            raise ValueError("a trace's learning part is incomplete")
        t.learning = Learning(
            **{name: learning[name] for name in LEARNING_ARRAYS},
            facts=dict(part["facts"]),
            source_sha256=str(part["source_sha256"]),
        )
    described = meta.get("features", {})
    if not isinstance(described, dict):
        raise ValueError("a trace's features part is not a map")
    layers = {key.split("/", 1)[0] for key in features}
    if layers != set(described):
        raise ValueError("a trace's features part is incomplete")
    for layer, info in described.items():
        if layer not in CONV_LAYERS or not isinstance(info, dict):
            raise ValueError("a trace's features part names a layer that is not a convolution")
        arrays = {name: features.get(f"{layer}/{name}") for name in FEATURE_ARRAYS}
        if any(value is None for value in arrays.values()):
            raise ValueError("a trace's features part is incomplete")
        t.features[layer] = LayerFeatures(
            layer=layer,
            field_size=int(info["field_size"]),
            jump=int(info["jump"]),
            data=dict(info["data"]),
            source_sha256=str(info["source_sha256"]),
            **arrays,  # type: ignore[arg-type]
        )


def _check_parts(t: Trace) -> None:
    """The learning and features parts hold finite numbers of the shapes they should."""
    count = len(t.classes)
    if t.learning is not None:
        part = t.learning
        snapshots = len(part.iterations)
        if not 1 <= snapshots <= MAX_SNAPSHOTS or part.iterations.dtype.kind != "i":
            raise ValueError("a trace's learning part has no snapshots")
        shapes = {
            "kernels": (snapshots, CHANNELS, 3, KERNEL, KERNEL),
            "kernel_biases": (snapshots, CHANNELS),
            "logits": (snapshots, count),
            "probabilities": (snapshots, count),
            "log_probabilities": (snapshots, count),
            "gradients": (count, CHANNELS, 3, KERNEL, KERNEL),
            "step_gradient": (CHANNELS, 3, KERNEL, KERNEL),
        }
        for name in ("epochs", "lrs", "train_losses", "heldout_losses", "heldout_accuracies"):
            if getattr(part, name).shape != (snapshots,):
                raise ValueError(f"a trace's learning {name} is not one number per snapshot")
        for name, shape in shapes.items():
            array = getattr(part, name)
            if array.shape != shape or not np.isfinite(array).all():
                raise ValueError(f"a trace's learning {name} is not {shape} finite numbers")
    for layer, found in t.features.items():
        neurons, k = found.top.shape if found.top.ndim == 2 else (0, 0)
        shown = len(found.data_index)
        if (
            neurons != CHANNELS
            or found.maxima.shape != (neurons, k)
            or found.positions.shape != (neurons, k, 2)
            or found.images.shape != (shown, 64, 64, 3)
            or found.images.dtype != np.uint8
            or found.labels.shape != (shown,)
            or not np.isfinite(found.maxima).all()
            or (k and not 0 <= int(found.top.min()) <= int(found.top.max()) < shown)
            or (shown and not 0 <= int(found.labels.min()) <= int(found.labels.max()) < count)
        ):
            raise ValueError(f"a trace's features of {layer} are not what they should be")


def check_trace(t: Trace) -> None:
    """Raise ``ValueError`` unless ``t`` has TinyVGG's shapes, finite numbers and text meta."""
    count = len(t.classes)
    if not 2 <= count <= 1000 or not all(isinstance(c, str) for c in t.classes):
        raise ValueError("a trace's class names are not a list of text")
    for text in (t.model_name, t.model_sha256, t.image_sha256):
        if not isinstance(text, str):
            raise ValueError("a trace's names are not text")
    if t.flatten_order not in ("chw", "hwc"):
        raise ValueError("a trace's flatten order is neither chw nor hwc")
    expected: dict[str, tuple[int, ...]] = {
        **{f"activations/{s.name}": s.output_shape for s in layer_specs(count)},
        "logits": (count,),
        "probabilities": (count,),
        "weights/output": (count, CHANNELS * 13 * 13),
        "biases/output": (count,),
    }
    for layer in CONV_LAYERS:
        inputs = 3 if layer == "conv_1_1" else CHANNELS
        expected[f"weights/{layer}"] = (CHANNELS, inputs, KERNEL, KERNEL)
        expected[f"biases/{layer}"] = (CHANNELS,)
    found: dict[str, np.ndarray] = {
        "logits": t.logits,
        "probabilities": t.probabilities,
        **{f"activations/{k}": v for k, v in t.activations.items()},
        **{f"weights/{k}": v for k, v in t.weights.items()},
        **{f"biases/{k}": v for k, v in t.biases.items()},
    }
    if set(found) != set(expected):
        raise ValueError("a trace's layers are not TinyVGG's")
    for name, shape in expected.items():
        array = found[name]
        if array.shape != shape or array.dtype.kind != "f" or not np.isfinite(array).all():
            raise ValueError(f"a trace's {name} is not {shape} finite numbers")
    if t.image.shape != (64, 64, 3) or t.image.dtype != np.uint8:
        raise ValueError("a trace's image is not 64x64 RGB pixels")
    _check_parts(t)
