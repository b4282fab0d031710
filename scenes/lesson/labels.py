"""What each step is called: its chapter in ``chapters.vtt``, on the page and in the manifest.

A step's name is its ``chapter:``, else its ``title:``, else a name made from
what it shows, in the lesson's language: its layer and neuron ("Convolution:
conv_1_1, neuron 3"), a pooling variant ("Pooling: max_pool_1, average"), a
class ("Softmax: class star"), a title card's text and subtitle. No two chapters of one
video share a name: names that still collide are numbered in the lesson's
order ("ReLU: relu_1_1 (1)", "ReLU: relu_1_1 (2)").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .. import i18n
from ..i18n import _, integer, ngettext
from ..steps.kit.base import StepSpec
from ..steps.kit.common import channel_name
from ..steps.types.filter_gallery import known_label
from .cues import sentences

MAX_LABEL = 80  # characters of a text made into a name
LISTED_FILTERS = 3


def type_name(kind: str) -> str:
    """What a step of type ``kind`` is called, in the current language."""
    names = {
        "title": _("Title"),
        "text": _("Text"),
        "overview": _("Overview"),
        "input": _("Input"),
        "convolution": _("Convolution"),
        "conv_elastic": _("Convolution, channel by channel"),
        "hyperparameters": _("Hyperparameters"),
        "relu": _("ReLU"),
        "max_pool": _("Pooling"),
        "flatten": _("Flatten"),
        "softmax": _("Softmax"),
        "classify": _("Classification"),
        "custom_convolution": _("Convolution by hand"),
        "filter_gallery": _("Image filters"),
        "training": _("Training"),
        "features": _("What a layer learned"),
    }
    return names.get(kind, kind.replace("_", " ").capitalize())


class ClassNames:
    """The model's classes and how the lesson shows them, to name a step's class."""

    def __init__(self, classes: Sequence[str] = (), shown: Sequence[str] | None = None) -> None:
        self.classes = list(classes)
        self.shown = list(shown) if shown is not None else list(classes)

    def name(self, value: str | int) -> str:
        """A class given by name or index, as the lesson shows it."""
        if isinstance(value, int):
            return self.shown[value] if 0 <= value < len(self.shown) else integer(value)
        if value in self.classes:
            return self.shown[self.classes.index(value)]
        return value


def _cut(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` on one line, cut at a word to at most ``limit`` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def _size(rows: Any) -> tuple[int, int]:
    return len(rows), len(rows[0]) if rows else 0


def _details(spec: Any, classes: ClassNames) -> list[str]:
    """What tells this step from others of its type, in the current language."""
    kind = spec.type
    found: list[str] = []
    if kind in ("convolution", "conv_elastic", "relu", "max_pool"):
        found.append(spec.layer)
        if spec.neuron is not None:
            found.append(_("neuron {neuron}").format(neuron=integer(spec.neuron)))
        if kind == "max_pool" and spec.mode != "max":
            found.append(_("average") if spec.mode == "average" else _("global average"))
    elif kind == "overview" and spec.focus is not None:
        found.append(spec.focus)
        if spec.focus_neuron is not None:
            found.append(_("neuron {neuron}").format(neuron=integer(spec.focus_neuron)))
    elif kind == "input":
        found.append(channel_name("input", spec.channel))
    elif kind == "hyperparameters":
        size, kernel = integer(spec.input_size), integer(spec.kernel_size)
        found += [
            _("input {height}×{width}").format(height=size, width=size),
            _("kernel {height}×{width}").format(height=kernel, width=kernel),
            _("padding {padding}").format(padding=integer(spec.padding)),
            _("stride {stride}").format(stride=integer(spec.stride)),
        ]
        if spec.compare:
            count = len(spec.compare)
            found.append(
                ngettext("{count} more setting", "{count} more settings", count).format(
                    count=integer(count)
                )
            )
    elif kind == "custom_convolution":
        (h, w), (kh, kw) = _size(spec.input), _size(spec.kernel)
        found += [
            _("input {height}×{width}").format(height=integer(h), width=integer(w)),
            _("kernel {height}×{width}").format(height=integer(kh), width=integer(kw)),
        ]
        if spec.padding:
            found.append(_("padding {padding}").format(padding=integer(spec.padding)))
        if spec.stride != 1:
            found.append(_("stride {stride}").format(stride=integer(spec.stride)))
    elif kind == "filter_gallery":
        names = [known_label(f.name) if f.kernel is None else f.name for f in spec.filters]
        found += names[:LISTED_FILTERS] + (["…"] if len(names) > LISTED_FILTERS else [])
    elif kind in ("softmax", "flatten") and spec.class_name is not None:
        found.append(_("class {name}").format(name=classes.name(spec.class_name)))
    elif kind == "training" and spec.label is not None:
        found.append(_("class {name}").format(name=classes.name(spec.label)))
    elif kind == "features":
        found.append(spec.layer)
    elif kind == "classify":
        count = min(spec.top, len(classes.classes)) if classes.classes else spec.top
        found.append(
            ngettext("top {count} class", "top {count} classes", count).format(count=integer(count))
        )
    return found


def content_name(spec: StepSpec, classes: ClassNames | None = None) -> str:
    """A name for the step made from what it shows, in the current language."""
    text = getattr(spec, "text", None)
    if spec.type == "title" and isinstance(text, str):
        subtitle = getattr(spec, "subtitle", None)
        return _cut(f"{text} — {subtitle}" if subtitle else text)
    if spec.type == "text":
        first = sentences(text)[0] if isinstance(text, str) and sentences(text) else None
        bullets = getattr(spec, "bullets", None) or []
        written = first or getattr(spec, "formula", None) or (bullets[0] if bullets else None)
        if written:
            return _cut(str(written))
    details = _details(spec, classes or ClassNames())
    if not details:
        return type_name(spec.type)
    # Translators: a chapter's name: a step type, then what it shows ("ReLU: relu_1_1, neuron 3").
    return _("{name}: {details}").format(name=type_name(spec.type), details=", ".join(details))


def step_label(spec: StepSpec, language: str = "en", classes: ClassNames | None = None) -> str:
    """A step's own name: its ``chapter:``, its ``title:``, else one made from what it
    shows, in ``language``."""
    own = getattr(spec, "chapter", None) or spec.title
    if own:
        return " ".join(own.split())
    with i18n.using(language if i18n.known(language) else i18n.DEFAULT):
        return content_name(spec, classes)


def distinct(names: Sequence[str]) -> list[str]:
    """``names`` with every name that occurs more than once numbered in order ("(1)",
    "(2)"), never giving a name another one already has."""
    counts = Counter(names)
    taken = {name for name in names if counts[name] == 1}
    used: Counter[str] = Counter()
    found = []
    for name in names:
        if counts[name] == 1:
            found.append(name)
            continue
        number = used[name] + 1
        while f"{name} ({number})" in taken:
            number += 1
        used[name] = number
        found.append(f"{name} ({number})")
        taken.add(found[-1])
    return found
