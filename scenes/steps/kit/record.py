"""What a step shows, recorded so tests can compare it with the model.

Every number a step draws goes through :meth:`Recorder.number`, which formats
it, remembers the full-precision value with the layer and index it came from,
and returns the text to draw. Heat-maps are recorded as whole maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...visuals.numbers import fmt


@dataclass
class Recorder:
    values: list[dict[str, Any]] = field(default_factory=list)
    maps: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def number(
        self,
        layer: str,
        index: tuple[int, ...] | list[int],
        value: float,
        decimals: int = 2,
        kind: str = "activation",
        text: str | None = None,
        iteration: int | None = None,
    ) -> str:
        """Format ``value`` for the screen and record it; returns the text. A value of
        a training snapshot (not of the model as trained) records its ``iteration``."""
        shown = fmt(float(value), decimals) if text is None else text
        entry: dict[str, Any] = {
            "layer": layer,
            "index": [int(i) for i in index],
            "value": float(value),
            "text": shown,
            "kind": kind,
        }
        if iteration is not None:
            entry["iteration"] = int(iteration)
        self.values.append(entry)
        return shown

    def grid(
        self,
        layer: str,
        values: np.ndarray,
        index_of: Any,
        decimals: int = 2,
        kind: str = "activation",
    ) -> list[list[str]]:
        """Record a 2-D block; ``index_of(i, j)`` gives each cell's index in ``layer``."""
        return [
            [
                self.number(layer, index_of(i, j), float(values[i, j]), decimals, kind)
                for j in range(values.shape[1])
            ]
            for i in range(values.shape[0])
        ]

    def heatmap(
        self,
        layer: str,
        index: tuple[int, ...] | list[int],
        values: np.ndarray,
        colour_range: tuple[float, float],
        scale: str,
        iteration: int | None = None,
    ) -> None:
        """Record a map drawn as colours: where it comes from and its colour range
        (and the training snapshot's ``iteration``, for a map of one)."""
        entry: dict[str, Any] = {
            "layer": layer,
            "index": [int(i) for i in index],
            "shape": list(values.shape),
            "min": float(values.min()),
            "max": float(values.max()),
            "range": [float(colour_range[0]), float(colour_range[1])],
            "scale": scale,
        }
        if iteration is not None:
            entry["iteration"] = int(iteration)
        self.maps.append(entry)
