"""Pieces several step types use: map colours, panels, titles, pacing."""

from __future__ import annotations

import numpy as np
from manim import DOWN, UP, FadeIn, Group, Mobject, Text

from cnn_model.tinyvgg import SOURCE_CONV
from cnn_model.trace import Trace

from ...i18n import _, decimal_symbol
from ...visuals.colors import ColourScale, hex_to_rgb
from ...visuals.heatmap import MapView, map_rgb
from ...visuals.layout import fit
from ...visuals.legend import Legend
from ...visuals.ranges import activation_range
from ...visuals.text import LABEL, TITLE, text
from ...visuals.theme import Theme
from .base import Beat, StepContext
from .record import Recorder

# The input's channels, as identifiers; :func:`colour_name` and :func:`channel_name`
# give the words shown on screen.
INPUT_CHANNELS = ("red", "green", "blue")


def colour_name(channel: int) -> str:
    """An input channel's colour in the lesson's language: "red", "rot", "rouge"."""
    return (_("red"), _("green"), _("blue"))[channel]


def channel_name(layer: str, channel: int) -> str:
    """ "red channel" for the input, else "channel 3", in the lesson's language."""
    if layer == "input":
        return (_("red channel"), _("green channel"), _("blue channel"))[channel]
    return _("channel {channel}").format(channel=channel)


def list_separator() -> str:
    """What separates numbers in a list: ", " ("max(0.10, 0.16)"), or "; " where the
    decimal separator is a comma ("max(0,10; 0,16)")."""
    return "; " if decimal_symbol() == "," else ", "


def layer_label(layer: str, channel: int, shape: tuple[int, ...]) -> str:
    size = "×".join(str(s) for s in shape)
    name = channel_name(layer, channel)
    if layer == "input":
        return _("input · {channel} ({size})").format(channel=name, size=size)
    return f"{layer} · {name} ({size})"


class MapColours:
    """How one layer's maps are coloured in this lesson and how that is recorded."""

    def __init__(self, trace: Trace, layer: str, theme: Theme, scope: str) -> None:
        self.layer = layer
        self.is_input = layer == "input"
        if self.is_input:
            self.scale: ColourScale = theme.input
            self.full_range: float | None = None
            self.lo, self.hi = 0.0, 1.0
        else:
            self.scale = theme.activation
            self.full_range = activation_range(trace.activations, layer, scope)
            self.lo, self.hi = -self.full_range / 2, self.full_range / 2

    @property
    def source_conv(self) -> str | None:
        return None if self.is_input else SOURCE_CONV[self.layer]

    def rgb(self, values: np.ndarray) -> np.ndarray:
        return map_rgb(values, self.scale, self.full_range)

    def legend(self, theme: Theme, width: float = 2.6, font_size: float = 16) -> Legend:
        if self.is_input:
            title = _("pixel value (/255)")
            return Legend(
                self.scale,
                0.0,
                1.0,
                title,
                theme.font,
                theme.text,
                width=width,
                font_size=font_size,
            )
        title = (
            _("{layer} range").format(layer=self.layer)
            if self.layer == self.source_conv
            else _("{layer} ({source} range)").format(layer=self.layer, source=self.source_conv)
        )
        return Legend(
            self.scale,
            self.lo,
            self.hi,
            title,
            theme.font,
            theme.text,
            width=width,
            mid=0.0,
            font_size=font_size,
        )


def map_panel(
    trace: Trace,
    layer: str,
    channel: int,
    colours: MapColours,
    theme: Theme,
    recorder: Recorder,
    height: float = 3.2,
    values: np.ndarray | None = None,
    blank: bool = False,
    label: str | None = None,
    *,
    legend: bool = True,
    first: np.ndarray | None = None,
) -> tuple[Group, MapView]:
    """A labelled heat-map of one channel, recorded as the map it shows.

    The map is ``values`` (default: the trace's ``layer[channel]``), recorded
    under ``layer`` and ``[channel]`` with the colour range and scale of
    ``colours``. A builder that paints it in later starts the view with empty
    cells (``blank``) or other colours (``first``: e.g. the map an operation
    turns into this one). Its legend goes under it unless ``legend`` is False
    (steps whose maps share one legend place that themselves).
    """
    data = trace.activations[layer][channel] if values is None else values
    rgb = colours.rgb(data) if first is None else first
    if blank:
        rgb = np.empty_like(rgb)
        rgb[...] = hex_to_rgb(theme.empty_cell)
    view = MapView(rgb, height, theme.grid_line)
    recorder.heatmap(layer, [channel], data, (colours.lo, colours.hi), colours.scale.name)
    caption = text(label or layer_label(layer, channel, data.shape), theme, LABEL)
    caption.next_to(view, UP, buff=0.15)
    if not legend:
        return Group(caption, view), view
    key = colours.legend(theme, width=min(2.6, view.width))
    key.next_to(view, DOWN, buff=0.2)
    return Group(caption, view, key), view


def lively_channel(maps: np.ndarray) -> int:
    """The channel of (C, H, W) maps with the most values on both sides of zero.

    Steps that may leave their neuron to the lesson's model use it, so a
    lesson shows something worth seeing whatever the model: a map that is
    all zero (dead for this image) is never picked while another is alive.
    """
    negatives = (maps < 0).reshape(len(maps), -1).sum(axis=1)
    positives = (maps > 0).reshape(len(maps), -1).sum(axis=1)
    spread = maps.reshape(len(maps), -1).std(axis=1)
    both = np.minimum(negatives, positives)
    if both.max() > 0:
        return int(np.argmax(both))
    return int(np.argmax(spread))


def chosen(neuron: int | None) -> int:
    """A neuron field after the builder has filled in its default."""
    if neuron is None:
        raise ValueError("the step's neuron should have been chosen before building")
    return neuron


def title_for(ctx: StepContext, default: str) -> Text:
    """The step's heading, placed in the title area of the frame."""
    heading = ctx_title(ctx, default)
    title = text(heading, ctx.theme, TITLE, weight="BOLD")
    fit(title, ctx.frame.title_box())
    return title


def ctx_title(ctx: StepContext, default: str) -> str:
    return ctx.title or default


def intro(mobjects: list[Mobject], run_time: float = 1.0) -> Beat:
    return Beat([FadeIn(m) for m in mobjects], run_time)
