"""The parts of a trace the lessons on training read, as plain arrays.

:class:`Learning` is a model's training history replayed on one image;
:class:`LayerFeatures` is what each neuron of one convolution layer responds
to most over the model's data. :mod:`cnn_model.learning` computes them with
torch; :mod:`cnn_model.trace` saves and loads them with the trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TOP_K = 8  # images kept per neuron; a lesson shows up to this many


@dataclass
class Learning:
    """A training history replayed on one image (every array from torch)."""

    iterations: np.ndarray  # (S,) int64: the snapshots' iterations
    epochs: np.ndarray  # (S,) float64
    lrs: np.ndarray  # (S,) learning rate the next step would use
    train_losses: np.ndarray  # (S,) mean batch loss since the snapshot before (NaN: none)
    heldout_losses: np.ndarray  # (S,) NaN without held-out images
    heldout_accuracies: np.ndarray  # (S,) NaN without held-out images
    kernels: np.ndarray  # (S, 10, 3, 3, 3) conv_1_1 weights at each snapshot
    kernel_biases: np.ndarray  # (S, 10)
    logits: np.ndarray  # (S, C) the image's logits at each snapshot
    probabilities: np.ndarray  # (S, C) torch's softmax of them
    log_probabilities: np.ndarray  # (S, C) torch's log_softmax: -log p[c] is the loss
    gradients: np.ndarray  # (C, 10, 3, 3, 3): d loss(true class c) / d conv_1_1.weight, S=0
    step_gradient: np.ndarray  # (10, 3, 3, 3) the first step's batch gradient
    facts: dict[str, Any]  # optimiser, its settings, the first step's lr, sizes
    source_sha256: str = ""  # of the history's files it came from

    @property
    def count(self) -> int:
        return len(self.iterations)

    @property
    def optimiser(self) -> str:
        return str(self.facts["optimiser"])

    def loss(self, label: int, index: int) -> float:
        """The cross-entropy of the image with true class ``label`` at snapshot ``index``
        (what training minimised): -log p[label]."""
        return -float(self.log_probabilities[index, label])

    def squared_error(self, label: int, index: int) -> float:
        """The total error of the article: ½ Σ (target − p)² with a one-hot target."""
        target = np.zeros(self.probabilities.shape[1])
        target[label] = 1.0
        return 0.5 * float(((target - self.probabilities[index].astype(np.float64)) ** 2).sum())

    def change(self, index: tuple[int, ...], start: int = 0) -> float:
        """How much conv_1_1 weight ``index`` (kernel, channel, y, x) moved from snapshot
        ``start`` to the next."""
        before = float(self.kernels[(start, *index)])
        return float(self.kernels[(start + 1, *index)]) - before

    def plain_step(self, index: tuple[int, ...]) -> float:
        """The first step plain gradient descent would take: −lr · g (batch gradient)."""
        return -float(self.facts["first_lr"]) * float(self.step_gradient[index])

    def adam_first_step(self, index: tuple[int, ...]) -> float:
        """Adam's first step for this weight from the batch gradient g: with both moments
        bias-corrected, m̂ = g and v̂ = g², so the step is −lr · g / (|g| + ε)."""
        g = float(self.step_gradient[index])
        g += float(self.facts["weight_decay"]) * float(self.kernels[(0, *index)])
        return -float(self.facts["first_lr"]) * g / (abs(g) + float(self.facts["eps"]))

    def steepest(self, label: int, kernel: int) -> tuple[int, int, int]:
        """The weight of ``kernel`` whose gradient for this image is largest in size."""
        grads = np.abs(self.gradients[label, kernel])
        flat = int(np.argmax(grads))
        c, y, x = np.unravel_index(flat, grads.shape)
        return int(c), int(y), int(x)


@dataclass
class LayerFeatures:
    """The top images of each neuron of one convolution layer, over a data set."""

    layer: str
    field_size: int  # receptive field, in input pixels
    jump: int
    top: np.ndarray  # (10, K) int: the images (rows of ``images``), best first
    maxima: np.ndarray  # (10, K) float32: the neuron's largest value in each
    positions: np.ndarray  # (10, K, 2) int: where in its map (y, x)
    data_index: np.ndarray  # (N_shown,) int: each shown image's index in the data set
    images: np.ndarray  # (N_shown, 64, 64, 3) uint8
    labels: np.ndarray  # (N_shown,) int: each shown image's class
    data: dict[str, Any]  # what the data set is: source, count, description
    source_sha256: str = ""  # of the data set's pixels and the model

    def box(self, neuron: int, rank: int) -> tuple[int, int, int, int]:
        """The receptive field of the neuron's best value in its rank-th image, as
        (top, left, bottom, right) input pixels, bottom and right exclusive."""
        y, x = (int(v) for v in self.positions[neuron, rank])
        top, left = y * self.jump, x * self.jump
        return top, left, top + self.field_size, left + self.field_size
