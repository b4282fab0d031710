"""``training``: how TinyVGG learned, from real snapshots of its own training.

The article's five steps of backpropagation, with the model's recorded
history replayed on the lesson's image and its true class:

1. ``start``: the random ``conv_1_1`` kernels of iteration 0 (each input
   channel's 3x3 weights on the brown-white-green scale, ±max|w| of the
   kernel) and the image's ten probabilities beside the one-hot target.
2. ``error``: the loss training really minimised, cross-entropy, written out
   with this image's numbers; the article's squared error beside it.
3. ``gradient``: one weight of one kernel: its gradient for this image
   (torch autograd at iteration 0), the batch's gradient the first step
   used, what plain gradient descent would do with it, what the optimiser
   did (Adam's first step is lr · g / (|g| + ε), about lr · sign(g)), and
   the real change to iteration 1.
4. ``learning``: the kernels snapshot by snapshot, the loss and accuracy
   curves drawn as they go (iterations on a log scale), the image's
   probabilities moving toward the target.
5. ``result``: the trained kernels, the held-out accuracy and the image's
   prediction (the last snapshot is the model itself: ``cnnlesson classify``
   says the same).

Every number comes from the trace's learning part
(:class:`cnn_model.learning.Learning`); each drawn value is recorded with its
snapshot's iteration. :func:`plan` chooses and writes it all; :func:`build`
draws it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Create,
    FadeIn,
    FadeOut,
    Group,
    Line,
    Mobject,
    Rectangle,
    Transform,
    VGroup,
)
from pydantic import Field

from cnn_model.history import NO_HISTORY
from cnn_model.learning import LEARNING_PART
from cnn_model.tinyvgg import CHANNELS, KERNEL

from ... import i18n
from ...i18n import _
from ...visuals.colors import diverging_t, hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.grid import NumberGrid
from ...visuals.heatmap import image_mobject
from ...visuals.layout import Box, bounds, fit
from ...visuals.numbers import fmt, short_name
from ...visuals.text import BODY, LABEL, text
from ...visuals.vector_cells import fmt_wide
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import ClassName, class_errors, class_index
from ..kit.common import title_for
from ..kit.record import Recorder
from ..kit.registry import Phases, StepType, register

if TYPE_CHECKING:
    from cnn_model.trace import Trace

    from ...visuals.layout import Frame

PHASES = ("start", "error", "gradient", "learning", "result")
KERNEL_GAP = 0.16
BAR_PITCH = 0.34
BAR_H = 0.22
TARGET_GAP = 1.05  # from the probabilities' right edge to the targets'


@dataclass(frozen=True)
class Sizes:
    """How big the parts are drawn in a frame (before the layout fits them)."""

    kernel: float  # height of one kernel's picture (3 channels of 3x3 side by side)
    bar: float  # length of a full probability bar
    chart: tuple[float, float]  # width and height of a chart's axes
    image: float  # the input image's side
    room: float  # left under the layout for the result (0: it replaces the charts)

    @classmethod
    def of(cls, frame: Frame) -> Sizes:
        if frame.landscape:
            return cls(0.58, 1.7, (3.4, 1.45), 1.1, 1.2)
        if frame.portrait:
            return cls(0.58, 1.7, (3.2, 1.45), 1.1, 1.4)
        return cls(0.42, 1.0, (2.9, 0.95), 0.8, 0.0)


LEARN_SECONDS = 0.45  # per snapshot in the learning phase


class TrainingSpec(StepSpec):
    type: Literal["training"]
    label: ClassName = Field(
        None,
        description="The image's true class, by name or index; default: the class the "
        "sample's name begins with (star_1: star).",
    )
    kernel: int = Field(
        0,
        ge=0,
        description="The conv_1_1 kernel whose weight the gradient phase follows (its "
        "weight with the steepest gradient for this image).",
    )


# --- the class of the lesson's image ---------------------------------------------------


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


def class_from_name(image: str | None, classes: list[str]) -> str | None:
    """The class an image's name says: a sample's "star_1" or a file "star.png",
    "photos/cat-12.jpg", or the folder a file lies in ("data/cat/001.jpg")."""
    if not image:
        return None
    known = {_key(c): c for c in classes}
    parts = re.split(r"[\\/]", image.strip())
    stem = parts[-1]
    stem = re.sub(r"\.(png|jpe?g|gif|bmp|webp|tiff?|ppm)$", "", stem, flags=re.IGNORECASE)
    candidates = [stem, re.sub(r"[_\- ]?\d+$", "", stem)]
    if len(parts) > 1:
        candidates.append(parts[-2])
    for candidate in candidates:
        found = known.get(_key(candidate))
        if found is not None:
            return found
    return None


def _check(spec: TrainingSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    if info is None:
        return []
    errors = class_errors(info, spec.label, "label")
    if spec.kernel >= CHANNELS:
        errors.append(
            (
                ("kernel",),
                f"expected a kernel from 0 to {CHANNELS - 1} (conv_1_1 has {CHANNELS} "
                f"kernels), got {spec.kernel}",
            )
        )
    if spec.label is None and class_from_name(info.image, info.classes) is None:
        shown = f"'{info.image}'" if info.image else "the lesson's image"
        errors.append(
            (
                ("label",),
                f"the image's name ({shown}) does not say its true class; give "
                f"`label: CLASS`, one of {', '.join(info.classes[:12])}",
            )
        )
    if info.location is not None:
        problem = _history_problem(info)
        if problem is not None:
            errors.append(((), problem))
    return errors


def _history_problem(info: ModelInfo) -> str | None:
    """Why the model's training history cannot be shown, if it cannot."""
    from cnn_model.errors import ModelError
    from cnn_model.history import read_history

    assert info.location is not None
    try:
        read_history(info.location)
    except ModelError as exc:
        text_ = str(exc)
        if text_ == NO_HISTORY:
            return f"model '{info.name}': {NO_HISTORY}"
        return text_
    return None


def _complete(spec: TrainingSpec, info: ModelInfo) -> TrainingSpec:
    """The step with its class as an index (the names on screen may be translated),
    taken from the image's name when the step gives none."""
    label = spec.label
    if label is None:
        label = class_from_name(info.image, info.classes)
    if isinstance(label, str):
        label = info.classes.index(label)
    return spec.model_copy(update={"label": label})


# --- the plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What one snapshot shows: its kernels and the image's probabilities."""

    iteration: int
    kernels: np.ndarray  # (10, 3, 3, 3)
    spans: tuple[float, ...]  # each kernel's colour range: 2 · max|w|
    probabilities: tuple[float, ...]
    probability_texts: tuple[str, ...]
    loss: float | None  # training loss (mean over the batches since the last snapshot)
    accuracy: float | None  # held-out


@dataclass(frozen=True)
class TrainingPlan:
    label: int
    classes: tuple[str, ...]  # as shown
    snapshots: tuple[Snapshot, ...]
    iteration_texts: tuple[str, ...]
    target_texts: tuple[str, ...]
    # error
    loss_lines: tuple[str, ...]
    squared_lines: tuple[str, ...]
    # gradient
    kernel: int
    weight: tuple[int, int, int]  # channel, y, x in the kernel
    weight_grid: tuple[tuple[str, ...], ...]  # the weight's channel of the kernel (3, 3)
    gradient_lines: tuple[tuple[str, str], ...]  # what each is, and its numbers
    # learning / result
    loss_top: float
    total: int
    result_lines: tuple[str, ...]
    prediction: int
    sizes: Sizes  # how big the parts are drawn in the step's frame
    values: tuple[dict[str, Any], ...]
    maps: tuple[dict[str, Any], ...]
    facts: dict[str, Any]


def _span(kernel: np.ndarray) -> float:
    peak = float(np.abs(kernel).max())
    return 2 * peak if peak > 0 else 1.0


def _number(value: float) -> str:
    """A small gradient or change: plain to 6 places, else with a power of ten."""
    return fmt_wide(value, 6, 3)


def plan(spec: TrainingSpec, trace: Trace, frame: Frame) -> TrainingPlan:
    learn = trace.learning
    if learn is None:
        raise RuntimeError("this step needs the trace's learning part")
    shown = Recorder()
    label = class_index(trace, spec.label)
    names = tuple(trace.classes)
    iterations = [int(i) for i in learn.iterations]
    snapshots = []
    for s, iteration in enumerate(iterations):
        kernels = learn.kernels[s]
        spans = tuple(_span(k) for k in kernels)
        for n, (kernel, span) in enumerate(zip(kernels, spans, strict=True)):
            shown.heatmap(
                "conv_1_1", [n], kernel, (-span / 2, span / 2), "weight", iteration=iteration
            )
        probabilities = [float(p) for p in learn.probabilities[s]]
        texts = tuple(
            shown.number("softmax", [c], p, 3, "probability", iteration=iteration)
            for c, p in enumerate(probabilities)
        )
        loss = float(learn.train_losses[s])
        accuracy = float(learn.heldout_accuracies[s])
        if math.isfinite(loss):
            shown.number("training", [], loss, 3, "train_loss", iteration=iteration)
        if math.isfinite(accuracy):
            shown.number("training", [], accuracy, 3, "heldout_accuracy", iteration=iteration)
        snapshots.append(
            Snapshot(
                iteration,
                kernels,
                spans,
                tuple(probabilities),
                texts,
                loss if math.isfinite(loss) else None,
                accuracy if math.isfinite(accuracy) else None,
            )
        )
    target_texts = tuple(
        shown.number("target", [c], 1.0 if c == label else 0.0, 0, "target")
        for c in range(len(names))
    )
    # error: cross-entropy and the squared error at iteration 0
    first, last = iterations[0], iterations[-1]
    p0 = float(learn.probabilities[0, label])
    loss0 = learn.loss(label, 0)
    p_text = shown.number("softmax", [label], p0, 4, "probability", iteration=first)
    loss_text = shown.number("loss", [label], loss0, 4, "loss", iteration=first)
    name = short_name(names[label])
    loss_lines = (
        _("cross-entropy, what training minimised:"),
        f"L = −log p({name}) = −log {p_text} = {loss_text}",
    )
    squared = learn.squared_error(label, 0)
    squared_text = shown.number("loss", [label], squared, 4, "squared_error", iteration=first)
    squared_lines = (
        _("the article's total error, for comparison:"),
        f"½ Σ (target − p)² = {squared_text}",
    )
    # gradient: one weight of the kernel asked for, iteration 0 to 1
    kernel = spec.kernel
    c, y, x = learn.steepest(label, kernel)
    index = (kernel, c, y, x)
    grid = tuple(
        tuple(
            shown.number(
                "conv_1_1",
                [kernel, c, i, j],
                float(learn.kernels[0, kernel, c, i, j]),
                2,
                "weight",
                iteration=first,
            )
            for j in range(KERNEL)
        )
        for i in range(KERNEL)
    )
    w0 = float(learn.kernels[(0, *index)])
    w1 = float(learn.kernels[(1, *index)])
    grad = float(learn.gradients[(label, *index)])
    batch = float(learn.step_gradient[index])
    lr = float(learn.facts["first_lr"])
    g_text = shown.number(
        "conv_1_1", list(index), grad, kind="gradient", text=_number(grad), iteration=first
    )
    b_text = shown.number(
        "conv_1_1", list(index), batch, kind="batch_gradient", text=_number(batch), iteration=first
    )
    lr_text = shown.number(
        "training", [], lr, kind="learning_rate", text=_number(lr), iteration=first
    )
    plain = learn.plain_step(index)
    plain_text = shown.number(
        "conv_1_1", list(index), plain, kind="plain_step", text=_number(plain), iteration=first
    )
    adam = learn.adam_first_step(index)
    adam_text = shown.number(
        "conv_1_1", list(index), adam, kind="adam_step", text=_number(adam), iteration=first
    )
    w0_text = shown.number("conv_1_1", list(index), w0, 6, "weight", iteration=first)
    w1_text = shown.number("conv_1_1", list(index), w1, 6, "weight", iteration=iterations[1])
    change_text = shown.number(
        "conv_1_1",
        list(index),
        w1 - w0,
        kind="weight_change",
        text=_number(w1 - w0),
        iteration=first,
    )
    optimiser = learn.optimiser
    weight_name = f"w[{kernel}, {c}, {y}, {x}]"
    gradient_lines = [
        (
            _("its gradient for this image (autograd at iteration 0):"),
            f"∂L/∂{weight_name} = {g_text}",
        ),
        (
            _("the gradient of the batch of {count} images the first step used:").format(
                count=i18n.integer(int(learn.facts["batch_size"]))
            ),
            f"g = {b_text}",
        ),
        (
            _("plain gradient descent would move the weight by"),
            _("−lr · g = {step}   (lr = {lr})").format(step=plain_text, lr=lr_text),
        ),
    ]
    if optimiser == "Adam":
        gradient_lines.append(
            (
                _("Adam is not w − lr · g: its first step is about lr in size"),
                f"−lr · g / (|g| + ε) = {adam_text}",
            )
        )
    else:
        gradient_lines.append((_("the optimiser is {name}").format(name=optimiser), ""))
    gradient_lines.append(
        (
            _("the real change from iteration {a} to {b}:").format(
                a=i18n.integer(first), b=i18n.integer(iterations[1])
            ),
            f"{w0_text} → {w1_text}   ({change_text})",
        )
    )
    # result
    final_p = float(learn.probabilities[-1, label])
    prediction = int(np.argmax(learn.probabilities[-1]))
    accuracy = float(learn.heldout_accuracies[-1])
    result_lines = []
    if math.isfinite(accuracy):
        acc_text = shown.number("training", [], accuracy, 3, "heldout_accuracy", iteration=last)
        result_lines.append(
            _("held-out accuracy: {accuracy} (iteration {iteration})").format(
                accuracy=acc_text, iteration=i18n.integer(last)
            )
        )
    pred_text = shown.number(
        "softmax",
        [prediction],
        float(learn.probabilities[-1, prediction]),
        4,
        "probability",
        iteration=last,
    )
    result_lines.append(
        _("prediction: {name} ({probability})").format(
            name=short_name(names[prediction]), probability=pred_text
        )
    )
    start_text = shown.number("softmax", [label], p0, 3, "probability", iteration=first)
    end_text = shown.number("softmax", [label], final_p, 3, "probability", iteration=last)
    result_lines.append(f"p({name}): {start_text} → {end_text}")
    losses = [s.loss for s in snapshots if s.loss is not None]
    loss_top = max(losses) if losses else 1.0
    return TrainingPlan(
        label=label,
        classes=names,
        snapshots=tuple(snapshots),
        iteration_texts=tuple(i18n.integer(i) for i in iterations),
        target_texts=target_texts,
        loss_lines=loss_lines,
        squared_lines=squared_lines,
        kernel=kernel,
        weight=(c, y, x),
        weight_grid=grid,
        gradient_lines=tuple(gradient_lines),
        loss_top=loss_top,
        total=last,
        result_lines=tuple(result_lines),
        prediction=prediction,
        sizes=Sizes.of(frame),
        values=tuple(shown.values),
        maps=tuple(shown.maps),
        facts={
            "label": label,
            "iterations": iterations,
            "kernel": kernel,
            "weight": [kernel, c, y, x],
            "optimiser": optimiser,
            "prediction": prediction,
        },
    )


# --- drawing -----------------------------------------------------------------------------


def _kernel_picture(kernel: np.ndarray, span: float, ctx: StepContext, height: float) -> Mobject:
    """One kernel: its three input channels' 3x3 weights side by side, as colours."""
    theme = ctx.theme
    rgb = theme.weight.rgb(diverging_t(kernel, span))  # (3, 3, 3, 3): channel, y, x, rgb
    gap = np.array(hex_to_rgb(theme.background), dtype=np.uint8)
    width = 3 * KERNEL + 2
    picture = np.empty((KERNEL, width, 3), dtype=np.uint8)
    picture[:] = gap
    for ch in range(3):
        picture[:, ch * (KERNEL + 1) : ch * (KERNEL + 1) + KERNEL] = rgb[ch]
    image = image_mobject(picture, height)
    image.stretch_to_fit_width(height * width / KERNEL)
    return image


@dataclass
class _Gallery:
    """The ten kernels of one snapshot in a grid, under a heading."""

    pictures: list[Mobject]
    group: Group  # the heading, the kernels' frames and the kernels


def _gallery(snap: Snapshot, ctx: StepContext, columns: int, z: Sizes) -> _Gallery:
    theme = ctx.theme
    pictures = [
        _kernel_picture(k, span, ctx, z.kernel)
        for k, span in zip(snap.kernels, snap.spans, strict=True)
    ]
    cell_w = pictures[0].width
    frames = []
    for n, picture in enumerate(pictures):
        row, col = divmod(n, columns)
        picture.move_to(np.array([col * (cell_w + 0.3), -row * (z.kernel + KERNEL_GAP), 0.0]))
        frame = Rectangle(
            width=picture.width + 0.06,
            height=picture.height + 0.06,
            stroke_color=theme.grid_line,
            stroke_width=1,
        ).move_to(picture)
        frames.append(frame)
    heading = VGroup(
        text(_("conv_1_1 kernels"), theme, LABEL, theme.text),
        text(_("red · green · blue"), theme, LABEL, theme.muted),
    ).arrange(DOWN, buff=0.08, aligned_edge=LEFT)
    body = Group(*frames, *pictures)
    heading.next_to(body, UP, buff=0.2).align_to(body, LEFT)
    return _Gallery(pictures, Group(heading, body))


def _iteration_label(
    p: TrainingPlan, s: int, ctx: StepContext, where: Mobject, scale: float
) -> Mobject:
    """Which snapshot the kernels are, under them, left-aligned (at the layout's scale)."""
    shown = _("iteration {n}").format(n=p.iteration_texts[s])
    label = number_text(shown, ctx.theme.font, BODY * scale, ctx.theme.accent)
    label.next_to(where, DOWN, buff=0.22 * scale)
    label.align_to(where, LEFT)
    return label


@dataclass
class _Bars:
    names: VGroup
    tracks: VGroup
    bars: VGroup
    numbers: VGroup
    targets: VGroup
    headers: VGroup
    image: Mobject
    outline: Rectangle
    group: Group


def _bar_width(p: float, length: float) -> float:
    return max(length * min(max(p, 0.0), 1.0), 0.02)


def _number_column(texts: tuple[str, ...], ctx: StepContext, right: float, size: float) -> VGroup:
    column = VGroup()
    for i, shown in enumerate(texts):
        number = number_text(shown, ctx.theme.font, size, ctx.theme.text)
        number.move_to(np.array([right - number.width / 2, -i * BAR_PITCH, 0.0]))
        column.add(number)
    return column


def _renumbered(numbers: VGroup, texts: tuple[str, ...], ctx: StepContext, scale: float) -> VGroup:
    """New numbers in the places of ``numbers``, right-aligned as they are."""
    column = VGroup()
    for old, shown in zip(numbers, texts, strict=True):
        new = number_text(shown, ctx.theme.font, LABEL * scale, ctx.theme.text)
        new.move_to(old, aligned_edge=RIGHT)
        column.add(new)
    return column


def _bars(
    p: TrainingPlan, snap: Snapshot, ctx: StepContext, image_pixels: np.ndarray, z: Sizes
) -> _Bars:
    theme = ctx.theme
    names = VGroup()
    for i, name in enumerate(p.classes):
        label = text(short_name(name), theme, LABEL, theme.accent if i == p.label else theme.text)
        label.move_to(np.array([-label.width / 2, -i * BAR_PITCH, 0.0]))
        names.add(label)
    x0 = 0.2
    tracks, bars = VGroup(), VGroup()
    for i, prob in enumerate(snap.probabilities):
        track = Rectangle(width=z.bar, height=BAR_H, stroke_width=0)
        track.set_fill(theme.empty_cell, opacity=1)
        track.move_to(np.array([x0 + z.bar / 2, -i * BAR_PITCH, 0.0]))
        bar = Rectangle(width=_bar_width(prob, z.bar), height=BAR_H, stroke_width=0)
        bar.set_fill(theme.accent if i == p.label else theme.muted, opacity=1)
        bar.move_to(track.get_left(), aligned_edge=LEFT)
        tracks.add(track)
        bars.add(bar)
    numbers_right = x0 + z.bar + 0.85
    numbers = _number_column(snap.probability_texts, ctx, numbers_right, LABEL)
    targets = _number_column(p.target_texts, ctx, numbers_right + TARGET_GAP, LABEL)
    head_p = text("p", theme, LABEL, theme.muted)
    head_p.move_to(np.array([numbers_right - head_p.width / 2, BAR_PITCH * 1.1, 0.0]))
    head_t = text(_("target"), theme, LABEL, theme.muted)
    head_t.move_to(np.array([numbers_right + TARGET_GAP - head_t.width / 2, BAR_PITCH * 1.1, 0.0]))
    headers = VGroup(head_p, head_t)
    outline = Rectangle(
        width=numbers_right + TARGET_GAP + 0.1 - names.get_left()[0] + 0.2,
        height=BAR_PITCH * 0.95,
        stroke_color=theme.accent,
        stroke_width=2,
    )
    outline.move_to(
        np.array(
            [(names.get_left()[0] + numbers_right + TARGET_GAP + 0.1) / 2, -p.label * BAR_PITCH, 0]
        )
    )
    image = image_mobject(image_pixels, z.image)
    image.next_to(Group(names, headers), UP, buff=0.25)
    image.align_to(names, LEFT)
    caption = text(
        _("true class: {name}").format(name=short_name(p.classes[p.label])),
        theme,
        LABEL,
        theme.text,
    )
    caption.next_to(image, RIGHT, buff=0.25)
    image_group = Group(image, caption)
    group = Group(image_group, names, tracks, bars, numbers, targets, headers, outline)
    return _Bars(names, tracks, bars, numbers, targets, headers, image_group, outline, group)


@dataclass
class _Chart:
    """A chart's axes and labels, and where its values lie before it is placed."""

    frame: VGroup  # the axes: the first line starts at the points' origin
    points: list[np.ndarray | None]  # where each snapshot's value lies (None: no value)
    group: VGroup  # the axes and their labels


def _chart(
    title_text: str,
    values: list[float | None],
    top: float,
    top_text: str,
    iterations: list[int],
    ctx: StepContext,
    z: Sizes,
) -> _Chart:
    """A small chart: the values at each snapshot, iterations on a log scale."""
    theme = ctx.theme
    width, height = z.chart
    scale = math.log10(1 + iterations[-1])

    def at(iteration: int, value: float) -> np.ndarray:
        x = width * math.log10(1 + iteration) / scale if scale > 0 else 0.0
        return np.array([x, height * min(max(value / top, 0.0), 1.0), 0.0])

    axes = VGroup(
        Line(np.array([0, 0, 0.0]), np.array([width, 0, 0.0]), color=theme.muted, stroke_width=2),
        Line(np.array([0, 0, 0.0]), np.array([0, height, 0.0]), color=theme.muted, stroke_width=2),
    )
    labels = VGroup()
    for shown, y in (("0", 0.0), (top_text, height)):
        tick = number_text(shown, theme.font, LABEL, theme.text)
        tick.move_to(np.array([-0.1 - tick.width / 2, y, 0.0]))
        labels.add(tick)
    tick_at = [0] + [10**k for k in range(1, 7) if 10**k <= iterations[-1]]
    for iteration in tick_at:
        mark = number_text(i18n.integer(iteration), theme.font, LABEL, theme.text)
        x = at(iteration, 0.0)[0]
        mark.move_to(np.array([x, -0.25, 0.0]))
        labels.add(mark)
        if iteration:
            axes.add(Line(np.array([x, 0, 0.0]), np.array([x, -0.06, 0.0]), color=theme.muted))
    heading = text(title_text, theme, LABEL, theme.text)
    heading.next_to(axes, UP, buff=0.3).align_to(axes, LEFT)
    caption = text(_("iteration (log scale)"), theme, LABEL, theme.muted)
    caption.next_to(labels[-1], DOWN, buff=0.1).align_to(axes, RIGHT)
    labels.add(heading, caption)
    points = [at(i, v) if v is not None else None for i, v in zip(iterations, values, strict=True)]
    return _Chart(axes, points, VGroup(axes, labels))


def _segments(chart: _Chart, scale: float, ctx: StepContext) -> list[Line | None]:
    """The curve's piece drawn on reaching each snapshot (None: nothing to draw), in the
    chart's place: its axes start at the origin of its points, at the layout's scale."""
    origin = chart.frame[0].get_start()
    pieces: list[Line | None] = []
    previous = None
    for point in chart.points:
        if point is None:
            pieces.append(None)
            continue
        here = origin + point * scale
        start = previous if previous is not None else here - np.array([1e-3, 0, 0])
        pieces.append(Line(start, here, color=ctx.theme.accent, stroke_width=3))
        previous = here
    return pieces


def _lines(lines: tuple[str, ...] | list[str], ctx: StepContext, size: float = BODY) -> VGroup:
    group = VGroup(*[number_text(line, ctx.theme.font, size, ctx.theme.text) for line in lines])
    return group.arrange(DOWN, buff=0.22, aligned_edge=LEFT)


def _weight_grids(
    p: TrainingPlan, ctx: StepContext, snap: Snapshot, beside: bool
) -> tuple[Group, Mobject]:
    """The followed kernel (its three channels as colours), the channel of the followed
    weight with its weights written (under it, or ``beside`` it), and that weight's cell."""
    theme = ctx.theme
    kernel = snap.kernels[p.kernel]
    span = snap.spans[p.kernel]
    c, y, x = p.weight
    picture = _kernel_picture(kernel, span, ctx, 0.9)
    rgb = theme.weight.rgb(diverging_t(kernel[c], span))
    grid = NumberGrid(
        [list(r) for r in p.weight_grid], rgb, 1.05, theme.font, LABEL, theme.grid_line
    )
    channel = (_("red"), _("green"), _("blue"))[c]
    heading = VGroup(
        text(_("kernel {n} at iteration 0").format(n=p.kernel), theme, LABEL, theme.text),
        text(_("its {channel} channel:").format(channel=channel), theme, LABEL, theme.muted),
    )
    heading[0].next_to(picture, UP, buff=0.15).align_to(picture, LEFT)
    if beside:
        heading[1].next_to(picture, DOWN, buff=0.25).align_to(picture, LEFT)
        grid.next_to(picture, RIGHT, buff=0.5).align_to(heading[0], UP)
    else:
        heading[1].next_to(picture, DOWN, buff=0.25).align_to(picture, LEFT)
        grid.next_to(heading[1], DOWN, buff=0.15).align_to(picture, LEFT)
    return Group(heading, picture, grid), grid.squares[y * KERNEL + x]


def _explained(p: TrainingPlan, ctx: StepContext) -> VGroup:
    """The gradient phase's lines: what each number is (muted), then the number."""
    theme = ctx.theme
    items = VGroup()
    for caption, formula in p.gradient_lines:
        item = VGroup(number_text(caption, theme.font, LABEL, theme.muted))
        if formula:
            item.add(number_text(formula, theme.font, BODY, theme.text))
        items.add(item.arrange(DOWN, buff=0.1, aligned_edge=LEFT))
    return items.arrange(DOWN, buff=0.22, aligned_edge=LEFT)


def build(spec: TrainingSpec, ctx: StepContext) -> Iterator[Item]:
    trace = ctx.need_trace()
    rec, frame = ctx.recorder, ctx.frame
    if spec.label is None:
        raise ValueError("a training step needs its image's true class (label)")
    p = plan(spec, trace, frame)
    rec.facts.update(p.facts)
    rec.values.extend(dict(v) for v in p.values)
    rec.maps.extend(dict(m) for m in p.maps)
    z = p.sizes
    first = p.snapshots[0]
    iterations = [s.iteration for s in p.snapshots]
    gallery = _gallery(first, ctx, 2, z)
    bars = _bars(p, first, ctx, trace.image, z)
    loss_chart = _chart(
        _("training loss"),
        [s.loss for s in p.snapshots],
        p.loss_top,
        fmt(p.loss_top, 1),
        iterations,
        ctx,
        z,
    )
    acc_chart = _chart(
        _("held-out accuracy"), [s.accuracy for s in p.snapshots], 1.0, "1", iterations, ctx, z
    )
    charts = Group(loss_chart.group, acc_chart.group)
    layout = _arrange(gallery.group, charts, bars.group, frame, z)
    # The layout was shrunk to fit: what is made later is made at its scale.
    scale = gallery.pictures[0].height / z.kernel
    counter = _iteration_label(p, 0, ctx, gallery.group, scale)
    error_text = VGroup(_lines(p.loss_lines, ctx), _lines(p.squared_lines, ctx)).arrange(
        DOWN, buff=0.45, aligned_edge=LEFT
    )
    fit(error_text, _error_box(bars.group, frame))

    yield Add([title_for(ctx, _("How the network learned"))])
    yield Phase("start")
    yield Beat([FadeIn(gallery.group), FadeIn(counter)], 1.0)
    yield Beat(
        [FadeIn(bars.image), FadeIn(bars.names), FadeIn(bars.tracks), FadeIn(bars.headers)], 0.8
    )
    yield Beat([FadeIn(bars.bars), FadeIn(bars.numbers)], 0.8)
    yield Beat([FadeIn(bars.targets), FadeIn(bars.outline)], 0.8)
    yield Hold(1.0)

    yield Phase("error")
    yield Beat([FadeOut(gallery.group), FadeOut(counter)], 0.5)
    yield Beat([FadeIn(error_text[0])], 1.0)
    yield Hold(0.8)
    yield Beat([FadeIn(error_text[1])], 1.0)
    yield Hold(1.2)

    yield Phase("gradient")
    yield Beat([FadeOut(bars.group), FadeOut(error_text)], 0.6)
    square = not frame.landscape and not frame.portrait
    grids, cell = _weight_grids(p, ctx, first, beside=square)
    explained = _explained(p, ctx)
    block = Group(grids, explained).arrange(RIGHT if frame.landscape else DOWN, buff=0.6)
    fit(block, frame.content_box())
    side = cell.width * 1.08
    mark = Rectangle(width=side, height=side, stroke_color=ctx.theme.accent, stroke_width=4)
    mark.move_to(cell)
    yield Beat([FadeIn(grids)], 0.8)
    yield Beat([Create(mark)], 0.5)
    for item in explained:
        yield Beat([FadeIn(item)], 0.7)
        yield Hold(0.5)
    yield Hold(1.0)

    yield Phase("learning")
    yield Beat([FadeOut(grids), FadeOut(mark), FadeOut(explained)], 0.6)
    yield Beat([FadeIn(gallery.group), FadeIn(counter), FadeIn(bars.group), FadeIn(charts)], 0.8)
    pictures = list(gallery.pictures)
    numbers = bars.numbers
    curves = [_segments(chart, scale, ctx) for chart in (loss_chart, acc_chart)]
    for s in range(1, len(p.snapshots)):
        snap = p.snapshots[s]
        new_pictures = []
        for old, kernel, span in zip(pictures, snap.kernels, snap.spans, strict=True):
            new = _kernel_picture(kernel, span, ctx, old.height)
            new.stretch_to_fit_width(old.width)
            new_pictures.append(new.move_to(old))
        new_counter = _iteration_label(p, s, ctx, gallery.group, scale)
        new_numbers = _renumbered(numbers, snap.probability_texts, ctx, scale)
        yield Add([counter, numbers], remove=True)
        yield Add([new_counter, new_numbers])
        counter, numbers = new_counter, new_numbers
        grown = []
        for bar, track, prob in zip(bars.bars, bars.tracks, snap.probabilities, strict=True):
            target = Rectangle(width=_bar_width(prob, track.width), height=bar.height)
            target.set_stroke(width=0).set_fill(bar.get_fill_color(), opacity=1)
            target.move_to(track.get_left(), aligned_edge=LEFT)
            grown.append(Transform(bar, target))
        drawn = [Create(piece) for curve in curves if (piece := curve[s]) is not None]
        fades = [FadeOut(old) for old in pictures] + [FadeIn(new) for new in new_pictures]
        yield Beat([*fades, *grown, *drawn], LEARN_SECONDS)
        pictures = new_pictures
    yield Hold(1.0)

    yield Phase("result")
    result = _lines(p.result_lines, ctx, LABEL)
    if z.room > 0:
        free = _free_below(layout, frame)
        fit(result, free)
        result.move_to(free.center)
        yield Beat([FadeIn(result)], 1.0)
    else:  # no room under the layout: the result takes the charts' place
        edges = bounds(charts)
        assert edges is not None  # the charts draw their axes
        fit(result, Box(*edges))
        result.move_to(charts)
        drawn_curves = [piece for curve in curves for piece in curve if piece is not None]
        yield Beat([FadeOut(charts), *[FadeOut(piece) for piece in drawn_curves]], 0.5)
        yield Beat([FadeIn(result)], 1.0)
    yield Hold(2.0)


def _error_box(bars: Mobject, frame: Frame) -> Box:
    """Where the loss is written while the kernels are away: beside the bars in a wide
    frame, under them otherwise."""
    content = frame.content_box()
    if frame.landscape:
        right = bars.get_left()[0] - 0.5
        return Box(content.left, bars.get_bottom()[1], right, bars.get_top()[1])
    return Box(content.left, content.bottom, content.right, bars.get_bottom()[1] - 0.3)


def _free_below(layout: Group, frame: Frame) -> Box:
    content = frame.content_box()
    return Box(content.left, content.bottom, content.right, layout.get_bottom()[1] - 0.15)


def _arrange(gallery: Group, charts: Group, bars: Group, frame: Frame, z: Sizes) -> Group:
    """Kernels, charts and bars side by side (wide), stacked (tall) or kernels and bars
    over the charts (square); room is left under them for the result."""
    content = frame.content_box()
    if frame.landscape:
        charts.arrange(DOWN, buff=0.75, aligned_edge=LEFT)
        whole = Group(gallery, charts, bars).arrange(RIGHT, buff=0.6, aligned_edge=UP)
    elif frame.portrait:
        charts.arrange(RIGHT, buff=0.7, aligned_edge=DOWN)
        whole = Group(gallery, bars, charts).arrange(DOWN, buff=0.7)
    else:
        charts.arrange(RIGHT, buff=0.7, aligned_edge=DOWN)
        top = Group(gallery, bars).arrange(RIGHT, buff=0.5, aligned_edge=UP)
        whole = Group(top, charts).arrange(DOWN, buff=0.5)
    fit(whole, Box(content.left, content.bottom + z.room, content.right, content.top))
    whole.align_to(np.array([0, content.top, 0]), UP)
    return whole


def _fill(spec: TrainingSpec, trace: Trace, classes: list[str], language: str) -> dict[str, str]:
    """The step's own placeholders, from the history replayed on the image."""
    learn = trace.learning
    if learn is None or spec.label is None:
        return {}
    label = class_index(trace, spec.label)
    names = classes or trace.classes
    last = len(learn.iterations) - 1
    accuracy = float(learn.heldout_accuracies[-1])
    with i18n.using(language):
        return {
            "true_class": names[label],
            "start_probability": i18n.number(float(learn.probabilities[0, label]), 3),
            "trained_probability": i18n.number(float(learn.probabilities[last, label]), 3),
            "start_loss": i18n.number(learn.loss(label, 0), 3),
            "trained_loss": i18n.number(learn.loss(label, last), 3),
            "squared_error": i18n.number(learn.squared_error(label, 0), 3),
            "accuracy": i18n.number(accuracy, 3) if math.isfinite(accuracy) else "—",
            "optimiser": learn.optimiser,
            "snapshots": i18n.integer(len(learn.iterations)),
            "iterations": i18n.integer(int(learn.iterations[-1])),
            "batch": i18n.integer(int(learn.facts["batch_size"])),
        }


PLACEHOLDERS = {
    "true_class": "the image's true class",
    "start_probability": "its probability at iteration 0",
    "trained_probability": "its probability once trained",
    "start_loss": "the image's cross-entropy at iteration 0",
    "trained_loss": "the image's cross-entropy once trained",
    "squared_error": "the article's squared error at iteration 0",
    "accuracy": "the held-out accuracy once trained",
    "optimiser": "the optimiser's name (Adam)",
    "snapshots": "how many snapshots the history keeps",
    "iterations": "how many iterations training took",
    "batch": "images per training step",
}


register(
    StepType(
        name="training",
        spec=TrainingSpec,
        build=build,
        check=_check,
        complete=_complete,
        summary="How the network learned, from its recorded training: random kernels, the "
        "loss, one weight's gradient and step, the kernels and curves snapshot by snapshot, "
        "and the trained result.",
        phases=Phases(PHASES),
        trace_parts=lambda spec: (LEARNING_PART,),
        placeholders=PLACEHOLDERS,
        fill=_fill,
    )
)
