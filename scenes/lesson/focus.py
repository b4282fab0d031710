"""The lesson's focus: the neuron (channel) its steps follow, resolved when it loads.

``focus: {neuron: 3}`` in a lesson's header is the neuron of every step that shows
one and names none (convolution, conv_elastic, relu, max_pool). A step that names
its own neuron (or an overview that zooms into one) changes the focus for the steps
after it, so a convolution, its ReLU and its pooling follow one channel unless a
step says otherwise. The index carries across blocks, where channel numbers still
match (every layer of TinyVGG has ten channels); a step whose layer has fewer
channels than the focus keeps its own default, and the focus carries on past it.

In a course the focus carries from one lesson into the next, as they play as one
video; a lesson whose own header names a focus starts from that one instead.

The neuron found is written into the step's fields, so everything after loading
(the manifest, the cache key, the captions) sees the neuron the step shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..steps.kit.base import ModelInfo, StepSpec
from .spec import Focus

# Layers whose channels a focus counts: the ones drawn as maps, one per channel.
MAP_KINDS = ("conv", "relu", "max_pool")


def focus_problem(focus: Focus, info: ModelInfo) -> str | None:
    """Why ``focus`` names a neuron none of the model's layers has, else None."""
    counts = [layer.shape[0] for layer in info.layers.values() if layer.kind in MAP_KINDS]
    most = max(counts, default=0)
    if focus.neuron < most:
        return None
    have = f"{most} channels" if min(counts, default=0) == most else f"at most {most} channels"
    return (
        f"expected a neuron from 0 to {most - 1} (the layers of model {info.name!r} have "
        f"{have}), got {focus.neuron}"
    )


def carry_focus(
    start: Focus | None,
    lessons: Sequence[tuple[Focus | None, list[StepSpec | None]]],
    info: ModelInfo,
) -> list[list[StepSpec | None]]:
    """The steps of each lesson (its own focus, its steps) with the focus filled in.

    ``start`` is the focus the first lesson begins with (a course's, or the lesson's
    own); a lesson's own focus replaces the one carried into it. A step that could
    not be read (None) stays None and leaves the focus as it is.
    """
    carried = start.neuron if start is not None else None
    resolved: list[list[StepSpec | None]] = []
    for own, steps in lessons:
        if own is not None:
            carried = own.neuron
        done: list[StepSpec | None] = []
        for spec in steps:
            if spec is not None:
                spec, carried = _followed(spec, carried, info)
            done.append(spec)
        resolved.append(done)
    return resolved


def _followed(spec: StepSpec, carried: int | None, info: ModelInfo) -> tuple[StepSpec, int | None]:
    """The step with the focus as its neuron where it names none, and the focus after it."""
    field = spec.neuron_field
    if field is None:
        return spec, carried
    if field.name in spec.model_fields_set:  # its own neuron wins and is followed
        own = getattr(spec, field.name)
        return spec, carried if own is None else own
    if carried is None or not field.takes_focus:
        return spec, carried
    layer = info.layers.get(getattr(spec, field.layer))
    if layer is None or carried >= layer.shape[0]:
        # Its own default; a layer the model lacks is reported by the step's check.
        return spec, carried
    return spec.model_copy(update={field.name: carried}), carried
