"""Patches of a map written out as numbers: the spec fields, their check, the choice.

The ``input``, ``relu`` and ``max_pool`` steps each zoom on a square patch
of a map. They name its corner with the same two fields (:class:`PatchFields`),
report a corner outside the map the same way (:func:`patch_errors`) and,
when the lesson leaves the corner out, pick one with :func:`choose_patch`,
each by its own idea of a patch worth showing.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, ConfigDict, Field

from .base import FieldParts

# What makes a patch worth showing:
# - "spread": its values vary most (standard deviation), e.g. an edge in an image;
# - "both_signs": it holds most values on both sides of zero (then the widest range),
#   so both what ReLU zeroes and what it keeps are seen;
# - "nonzero": it holds most non-zero values (then the widest range), so its pooling
#   windows have a maximum worth picking out.
Worth = Literal["spread", "both_signs", "nonzero"]


class PatchFields(BaseModel):
    """Spec fields naming the corner of a patch; a step type inherits them before StepSpec.

    ``class ReluSpec(PatchFields, StepSpec)`` keeps the common fields first in
    lists and the schema: type, title, narration, patch_row, patch_column, then
    the type's own. Each type adds its own ``patch_size`` (or window count).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Old field name -> current one. The lesson loader renames such keys before
    # validation and warns where the old name was used.
    renamed: ClassVar[dict[str, str]] = {}

    patch_row: int | None = Field(
        None,
        ge=0,
        description="Top row of the patch of numbers shown, counted from 0 in the map "
        "it is taken from; when omitted, the step picks a patch worth showing.",
    )
    patch_column: int | None = Field(
        None,
        ge=0,
        description="Left column of the patch of numbers shown, counted from 0; when "
        "omitted, it is picked like patch_row.",
    )


def patch_errors(
    spec: PatchFields, size: int, shape: tuple[int, int], reason: str, stride: int = 1
) -> list[tuple[FieldParts, str]]:
    """An error for each given corner field that puts the patch outside the map.

    ``size`` is the patch's side and ``shape`` the map's (rows, columns);
    with ``stride`` 2 a corner must also be even. ``reason`` says in a few
    words why the corner is limited (it ends the message in brackets).
    """
    errors: list[tuple[FieldParts, str]] = []
    what = "an even" if stride == 2 else "a"
    for field, value, extent in (
        ("patch_row", spec.patch_row, shape[0]),
        ("patch_column", spec.patch_column, shape[1]),
    ):
        last = (extent - size) // stride * stride
        if value is not None and (value % stride or value > last):
            errors.append(
                ((field,), f"expected {what} {field} from 0 to {last} ({reason}), got {value}")
            )
    return errors


def _scores(windows: np.ndarray, worth: Worth) -> list[np.ndarray]:
    """How worth showing each patch is, most important key first (larger is better)."""
    axes = (-2, -1)
    if worth == "spread":
        return [windows.std(axis=axes)]
    span = (windows.max(axis=axes) - windows.min(axis=axes)).astype(np.float64)
    if worth == "both_signs":
        negative = (windows < 0).sum(axis=axes)
        positive = (windows > 0).sum(axis=axes)
        return [np.minimum(negative, positive).astype(np.float64), span]
    return [(windows != 0).sum(axis=axes).astype(np.float64), span]


def _starts(given: int | None, extent: int, size: int, stride: int) -> np.ndarray:
    """Indices (in the strided grid of corners) a corner may take along one axis."""
    count = (extent - size) // stride + 1
    if given is None:
        return np.arange(count)
    return np.array([min(given, extent - size) // stride])


def choose_patch(
    values: np.ndarray,
    size: int,
    row: int | None = None,
    column: int | None = None,
    *,
    worth: Worth = "spread",
    stride: int = 1,
) -> tuple[int, int]:
    """(row, column) of the top-left cell of a ``size``×``size`` patch of ``values``.

    A given ``row`` or ``column`` is kept (moved inside the map, and down to a
    multiple of ``stride``, for callers that did not validate it); the others
    are chosen where the patch is most worth showing by ``worth``, among
    corners every ``stride`` cells. Ties go to the first in reading order.
    """
    # The spread is measured in float64 (a pixel's 0-255 levels, or float32 maps).
    source = values.astype(np.float64) if worth == "spread" else values
    windows = sliding_window_view(source, (size, size))[::stride, ::stride]
    rows = _starts(row, values.shape[0], size, stride)
    columns = _starts(column, values.shape[1], size, stride)
    keys = [score[np.ix_(rows, columns)].ravel() for score in _scores(windows, worth)]
    # lexsort sorts by its last key first and is stable: ties keep reading order.
    best = int(np.lexsort([-key for key in reversed(keys)])[0])
    at_row, at_column = divmod(best, len(columns))
    return int(rows[at_row]) * stride, int(columns[at_column]) * stride
