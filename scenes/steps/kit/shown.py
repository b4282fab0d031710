"""Numbers a step will write, chosen before anything is drawn.

A step's plan holds each number as a :class:`Shown`: the value from the
trace, the text drawn for it and the layer and index it is recorded under.
The builder records it (through :meth:`Shown.record`) when it draws it, so
what the manifest says was shown is exactly what the plan chose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...visuals.numbers import fmt
from .record import Recorder


@dataclass(frozen=True)
class Shown:
    """A number as a step writes it, and the layer and index it is recorded under."""

    layer: str
    index: tuple[int, ...]
    value: float
    text: str
    kind: str = "activation"

    def record(self, rec: Recorder) -> str:
        """Record the number (see :meth:`Recorder.number`); returns its text."""
        return rec.number(self.layer, self.index, self.value, kind=self.kind, text=self.text)


# A block of numbers, row by row.
ShownGrid = tuple[tuple[Shown, ...], ...]


def shown(
    layer: str, index: Sequence[int], value: float, decimals: int = 2, kind: str = "activation"
) -> Shown:
    """``value`` written with ``decimals`` places, to be recorded under ``layer[index]``."""
    value = float(value)
    return Shown(layer, tuple(int(i) for i in index), value, fmt(value, decimals), kind)


def shown_grid(
    layer: str,
    values: np.ndarray,
    index_of: Callable[[int, int], Sequence[int]],
    decimals: int = 2,
    kind: str = "activation",
) -> ShownGrid:
    """A 2-D block; ``index_of(i, j)`` gives each cell's index in ``layer``."""
    rows, columns = values.shape
    return tuple(
        tuple(
            shown(layer, index_of(i, j), float(values[i, j]), decimals, kind)
            for j in range(columns)
        )
        for i in range(rows)
    )


def record_grid(rec: Recorder, grid: ShownGrid) -> list[list[str]]:
    """Record a block row by row; returns the texts to draw."""
    return [[number.record(rec) for number in row] for row in grid]
