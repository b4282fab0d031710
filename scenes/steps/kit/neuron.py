"""Which field of a step names the neuron (channel) it shows: the lesson's focus."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NeuronField:
    """The field of a step type that names the neuron (channel) it shows, and the field
    that names the layer the neuron belongs to.

    A step that leaves the field out shows the lesson's focus, when its layer has
    that channel; a step that sets it passes its neuron on to the steps after it.
    With ``takes_focus=False`` leaving the field out means something of its own (the
    overview's ``focus_neuron``: the whole layer), so only a value given passes on.
    """

    name: str = "neuron"
    layer: str = "layer"
    takes_focus: bool = True
