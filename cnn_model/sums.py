"""Sums and extremes that lessons write on screen, worked out from a trace.

Scenes read these instead of adding numbers up themselves, so every number a
lesson shows comes from here or from the :class:`~cnn_model.trace.Trace`, and
tests compare them with torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .trace import ConvExplanation


def other_channels_sum(exp: ConvExplanation, channel: int) -> float:
    """The dot products of every input channel but ``channel``, added up.

    A lesson that writes out one channel's window adds this and the bias to
    that channel's sum to reach the output value.
    """
    if not any(t.channel == channel for t in exp.terms):
        raise IndexError(f"{exp.input_layer} has no channel {channel}")
    return float(sum(t.sum for t in exp.terms if t.channel != channel))


@dataclass(frozen=True)
class Extremes:
    """The smallest and the largest value of an array, and where they first occur."""

    low: float
    low_at: tuple[int, ...]
    high: float
    high_at: tuple[int, ...]

    @property
    def peak(self) -> float:
        """The largest magnitude, max |v|."""
        return max(abs(self.low), abs(self.high))


def extremes(values: np.ndarray) -> Extremes:
    """Minimum and maximum of ``values`` with their indices (the first in reading order)."""
    array = np.asarray(values)
    if array.size == 0:
        raise ValueError("an empty array has no extremes")
    low_at = tuple(int(i) for i in np.unravel_index(int(np.argmin(array)), array.shape))
    high_at = tuple(int(i) for i in np.unravel_index(int(np.argmax(array)), array.shape))
    return Extremes(float(array[low_at]), low_at, float(array[high_at]), high_at)
