"""``features``: what a convolution layer learned, from the images that excite it most.

For each neuron of one convolution layer (``neurons``, default all ten) the
step shows its top ``k`` images from the model's own held-out data: the
images in which the neuron's largest value, anywhere in its map, is highest.
Each picture outlines the receptive field of that value (the input pixels it
sees) and has the value written under it with 2 decimals.

The step first explains the receptive field on one image (the best image of
the shown neuron whose best value is largest, never a neuron that hardly
answers): the layer's map with that value's cell marked, joined to the pixels
it sees. The rows come in pages of at most five neurons, the same pages in
every aspect (so a narration cue names one), laid out in the columns that let
the pictures be largest; a note under them says how large the field is and
which images were searched. Last, the field of each neuron's
best image is shown enlarged: the edge or colour blob a ``conv_1_1`` neuron
answers to, the part of a shape a ``conv_2_2`` neuron does.

Every number (the top images, their maxima and positions, the field's size
and step) comes from the trace's ``features`` part
(:func:`cnn_model.learning.features`); nothing is computed here.
:func:`plan` chooses and writes all of it; :func:`build` draws it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Circle,
    Create,
    FadeIn,
    FadeOut,
    Group,
    ImageMobject,
    LaggedStart,
    Mobject,
    Rectangle,
    Square,
    VGroup,
    VMobject,
)
from pydantic import Field

from cnn_model.errors import ModelError
from cnn_model.learning import FEATURES_PART, TOP_K, LayerFeatures

from ... import i18n
from ...i18n import _, integer, ngettext
from ...visuals.colors import hex_to_rgb
from ...visuals.glyphs import number_text
from ...visuals.heatmap import MapView, image_mobject
from ...visuals.image_panels import zoom_lines
from ...visuals.layout import Box, Frame, largest_fitting
from ...visuals.text import BODY, LABEL, SMALL, text
from ...visuals.theme import Theme
from ..kit.base import Add, Beat, FieldParts, Hold, Item, ModelInfo, Phase, StepContext, StepSpec
from ..kit.checks import KIND_NAMES, layer_of_kind
from ..kit.common import title_for
from ..kit.record import Recorder
from ..kit.registry import Numbered, Phases, StepType, register
from ..kit.wrap import stacked, wrap_lines

if TYPE_CHECKING:
    from cnn_model.trace import Trace

NEURONS = 10  # every convolution layer of TinyVGG has ten
PER_PAGE = 5  # rows on one page: what a square frame shows legibly, k up to 8
GAP_PIXELS = 6  # background pixels between a row's pictures, in the images' own pixels
MIN_PICTURE = 0.6  # a picture's height in frame units; smaller: texts would shrink
MAX_PICTURE = 1.6
LABEL_GAP = 0.2  # a row's label to its first picture
VALUE_GAP = 0.07  # a picture to its value
ROW_GAP = 0.2
COLUMN_GAP = 0.6
NOTE_GAP = 0.3  # the rows to the note under them
EXAMPLE_GAP = 1.3  # the example image to the map (the zoom lines run there)
MAX_EXAMPLE = 3.6
MIN_CELL = 0.12  # a map's cells smaller than this get a ring around the one shown
MAX_PATCH = 2.0  # an enlarged field in the closing gallery
PATCH_GAP = 0.3


class FeaturesSpec(StepSpec):
    type: Literal["features"]
    layer: str = Field(
        "conv_1_1",
        description="The convolution layer whose neurons are shown (conv_1_1, conv_1_2, "
        "conv_2_1 or conv_2_2): the deeper, the larger the field each value sees.",
    )
    neurons: list[Annotated[int, Field(ge=0)]] = Field(
        list(range(NEURONS)),
        min_length=1,
        max_length=NEURONS,
        description="The neurons shown, one row each, in this order (default: all ten).",
    )
    k: int = Field(
        4,
        ge=1,
        le=TOP_K,
        description=f"Images shown per neuron, its most exciting first (1 to {TOP_K}).",
    )


def pages_of(count: int) -> list[range]:
    """The rows of each page: at most ``PER_PAGE``, as even as possible (7 make 4 and 3)."""
    pages = max(1, math.ceil(count / PER_PAGE))
    bounds = [round(i * count / pages) for i in range(pages + 1)]
    return [range(a, b) for a, b in itertools.pairwise(bounds)]


def page_count(spec: FeaturesSpec) -> int:
    return len(pages_of(len(spec.neurons)))


# --- checks -----------------------------------------------------------------


def data_errors(info: ModelInfo) -> list[tuple[FieldParts, str]]:
    """An error unless the model's card says which images it learned from, and they
    are still there: its features are searched in them when the lesson renders."""
    from cnn_model import synthetic
    from cnn_model.store import read_card

    location = info.location
    if location is None:
        return []
    train = "train one with `cnnlesson model train` to see what its neurons learned"
    try:
        card = read_card(location)
    except ModelError as exc:
        return [((), f"{exc}; {train}")]
    data = card.get("data")
    source = data.get("source") if isinstance(data, dict) else None
    if source == "generated":
        assert isinstance(data, dict)
        drawn = data.get("generator")
        if drawn != synthetic.GENERATOR_VERSION:
            return [
                (
                    (),
                    f"model '{location.name}' learned from images drawn by generator "
                    f"{drawn!r}, which this version cannot draw again (it draws "
                    f"{synthetic.GENERATOR_VERSION!r}); {train}",
                )
            ]
        return []
    if source == "folder":
        assert isinstance(data, dict)
        path = data.get("path")
        if isinstance(path, str) and Path(path).is_dir():
            return []
        return [
            (
                (),
                f"the images model '{location.name}' was trained on are gone (its card names "
                f"the folder {path!r}, which is not a folder now); put them back or {train}",
            )
        ]
    return [
        (
            (),
            f"model '{location.name}' does not say which images it was trained on (its card "
            f"has no 'data'), so its neurons' top images cannot be found; {train}",
        )
    ]


def check(spec: FeaturesSpec, info: ModelInfo | None) -> list[tuple[FieldParts, str]]:
    """A convolution layer, neurons it has (each once), and a model whose images are known."""
    if info is None:
        return []
    layer, errors = layer_of_kind(info, spec.layer, ("conv",))
    if layer is not None:
        count = layer.shape[0]
        reason = f"{spec.layer} has {count} neurons"
    else:
        counts = [s.shape[0] for s in info.layers.values() if s.kind == "conv"] or [NEURONS]
        count = max(counts)
        what = KIND_NAMES["conv"].removeprefix("a ")
        reason = f"every {what} of model '{info.name}' has {count} neurons"
    first: dict[int, int] = {}
    for i, neuron in enumerate(spec.neurons):
        if neuron >= count:
            errors.append(
                (
                    ("neurons", i),
                    f"expected a neuron from 0 to {count - 1} ({reason}), got {neuron}",
                )
            )
        elif neuron in first:
            errors.append(
                (
                    ("neurons", i),
                    f"neuron {neuron} is listed twice (first as neurons[{first[neuron]}]); "
                    "list each neuron once",
                )
            )
        first.setdefault(neuron, i)
    return errors + data_errors(info)


# --- the plan ---------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """One of a neuron's top images: where its largest value is, and that value."""

    rank: int  # 0: the neuron's best image
    image: int  # row of the features' ``images``
    data_index: int  # the image's index in the data set
    label: int  # its class
    value: float  # the neuron's largest value in it
    text: str  # as written
    position: tuple[int, int]  # (y, x) of that value in the layer's map
    box: tuple[int, int, int, int]  # its receptive field: top, left, bottom, right (exclusive)


@dataclass(frozen=True)
class NeuronRow:
    neuron: int
    label: str  # "neuron 3"
    shots: tuple[Shot, ...]  # best first


@dataclass(frozen=True)
class FeaturesPlan:
    """What the ``features`` step shows, chosen from the trace; no Mobject is made here."""

    title: str
    layer: str
    field_size: int
    jump: int
    map_shape: tuple[int, int]  # the layer's map: (height, width)
    rows: tuple[NeuronRow, ...]
    example: int  # the row whose best image explains the receptive field
    pages: tuple[tuple[int, ...], ...]  # the rows of each page
    k: int  # images a row shows
    images: np.ndarray  # (N, 64, 64, 3) uint8: the images a ``Shot.image`` indexes
    example_caption: str  # over the example image
    map_caption: str  # names the layer's map (over it, or under it in a tall frame)
    map_beside: bool  # the map beside the example image (not under it: a tall frame)
    example_value: str  # under the map: the value the field belongs to
    explanation: tuple[str, ...]  # sentences under the example
    note: tuple[str, str]  # the field's size; the images searched
    gallery_heading: str  # over the enlarged fields
    values: tuple[dict[str, Any], ...]  # every number shown, as the recorder keeps it
    facts: dict[str, Any]


def size_text(size: int) -> str:
    """A square's size as written: "14 × 14"."""
    return f"{integer(size)} × {integer(size)}"


def searched_text(data: dict[str, Any], k: int) -> str:
    """Which images the top ones were chosen from: "top 4 of 2,000 held-out images"."""
    count = int(data.get("count", 0))
    values = {"k": integer(k), "count": integer(count)}
    if data.get("source") == "folder":
        values["folder"] = Path(str(data.get("path", ""))).name
        if str(data.get("split", "")).startswith("held-out"):
            line = ngettext(
                "top {k} of {count} held-out image from {folder}",
                "top {k} of {count} held-out images from {folder}",
                count,
            )
        else:
            line = ngettext(
                "top {k} of {count} image in {folder}",
                "top {k} of all {count} images in {folder}",
                count,
            )
        return line.format(**values)
    line = ngettext(
        "top {k} of {count} held-out image", "top {k} of {count} held-out images", count
    )
    return line.format(**values)


def _row(found: LayerFeatures, neuron: int, k: int, shown: Recorder, layer: str) -> NeuronRow:
    shots = []
    for rank in range(k):
        image = int(found.top[neuron, rank])
        y, x = (int(v) for v in found.positions[neuron, rank])
        value = float(found.maxima[neuron, rank])
        data_index = int(found.data_index[image])
        written = shown.number(layer, [neuron, y, x], value, 2, kind="feature_max")
        shown.values[-1]["image"] = data_index  # which image of the data set it is in
        shots.append(
            Shot(
                rank=rank,
                image=image,
                data_index=data_index,
                label=int(found.labels[image]),
                value=value,
                text=written,
                position=(y, x),
                box=found.box(neuron, rank),
            )
        )
    label = _("neuron {neuron}").format(neuron=integer(neuron))
    return NeuronRow(neuron, label, tuple(shots))


def plan(spec: FeaturesSpec, trace: Trace, frame: Frame) -> FeaturesPlan:
    """Every row's images, values and fields, the pages and the texts, and where the
    layer's map goes in ``frame``; builds no Mobject."""
    found = trace.features.get(spec.layer)
    if found is None:
        raise ValueError(f"the trace has no features of {spec.layer}; its step asks for them")
    shown = Recorder()
    k = min(spec.k, found.top.shape[1])
    rows = tuple(_row(found, n, k, shown, spec.layer) for n in spec.neurons)
    h, w = (int(v) for v in trace.activations[spec.layer].shape[1:])
    # The example: the neuron whose best value is largest (the first of equals).
    example = max(range(len(rows)), key=lambda i: (rows[i].shots[0].value, -i))
    chosen = rows[example]
    best = chosen.shots[0]
    # The example's value is written a second time, under the map: recorded again.
    example_value = shown.number(
        spec.layer, [chosen.neuron, *best.position], best.value, 2, kind="feature_max"
    )
    shown.values[-1]["image"] = best.data_index
    field = size_text(found.field_size)
    explanation = (
        _("This value sees only the outlined {size} pixels: its receptive field.").format(
            size=field
        ),
        ngettext(
            "The fields of neighbouring values are {jump} pixel apart.",
            "The fields of neighbouring values are {jump} pixels apart.",
            found.jump,
        ).format(jump=integer(found.jump)),
    )
    return FeaturesPlan(
        title=_("What {layer} learned").format(layer=spec.layer),
        layer=spec.layer,
        field_size=found.field_size,
        jump=found.jump,
        map_shape=(h, w),
        rows=rows,
        example=example,
        pages=tuple(tuple(page) for page in pages_of(len(rows))),
        k=k,
        images=found.images,
        example_caption=_("input image ({height}×{width})").format(
            height=integer(found.images.shape[1]), width=integer(found.images.shape[2])
        ),
        map_caption=_("{layer} · neuron {neuron} ({height}×{width})").format(
            layer=spec.layer, neuron=integer(chosen.neuron), height=integer(h), width=integer(w)
        ),
        map_beside=not frame.portrait,
        example_value=_("its largest value: {value}").format(value=example_value),
        explanation=explanation,
        note=(
            _("receptive field {size} pixels").format(size=field),
            searched_text(found.data, k),
        ),
        gallery_heading=_("The receptive field in each neuron's top image, enlarged"),
        values=tuple(shown.values),
        facts={
            "layer": spec.layer,
            "field_size": found.field_size,
            "jump": found.jump,
            "neurons": list(spec.neurons),
            "k": k,
            "data": dict(found.data),
            "pages": len(pages_of(len(rows))),
            "rows": [
                {
                    "neuron": row.neuron,
                    "images": [s.data_index for s in row.shots],
                    "labels": [s.label for s in row.shots],
                    "maxima": [s.value for s in row.shots],
                    "positions": [list(s.position) for s in row.shots],
                    "boxes": [list(s.box) for s in row.shots],
                }
                for row in rows
            ],
            "example": {"neuron": chosen.neuron, "image": best.data_index},
        },
    )


# --- the example: one value's receptive field --------------------------------


def _outline(
    picture: Mobject, size: tuple[int, int], box: tuple[int, ...], **style: Any
) -> Rectangle:
    """A rectangle around the source pixels ``box`` (top, left, bottom, right) of an
    image of ``size`` (height, width) drawn as ``picture``."""
    top, left, bottom, right = box
    unit_y, unit_x = picture.height / size[0], picture.width / size[1]
    rect = Rectangle(width=(right - left) * unit_x, height=(bottom - top) * unit_y, **style)
    corner = picture.get_corner(UP + LEFT)
    rect.move_to(corner + RIGHT * (left + right) / 2 * unit_x + DOWN * (top + bottom) / 2 * unit_y)
    return rect


def field_mark(
    picture: Mobject, size: tuple[int, int], box: tuple[int, ...], theme: Theme, width: float
) -> VGroup:
    """The receptive field outlined in the accent colour over a wider line in the
    background's, so it shows on dark and light pictures alike."""
    halo = _outline(picture, size, box, stroke_color=theme.background, stroke_width=width + 1.6)
    line = _outline(picture, size, box, stroke_color=theme.accent, stroke_width=width)
    return VGroup(halo, line)


def _map_pixels(shape: tuple[int, int], theme: Theme) -> np.ndarray:
    """The layer's map as empty cells; a faint checkerboard tells the cells apart where
    they are large enough to see."""
    h, w = shape
    rgb = np.empty((h, w, 3), dtype=np.uint8)
    rgb[:] = hex_to_rgb(theme.empty_cell)
    if max(h, w) <= 32:
        shade = (
            np.array(hex_to_rgb(theme.empty_cell), dtype=np.float64) * 0.7
            + np.array(hex_to_rgb(theme.grid_line), dtype=np.float64) * 0.3
        )
        checker = (np.add.outer(np.arange(h), np.arange(w)) % 2).astype(bool)
        rgb[checker] = np.round(shade).astype(np.uint8)
    return rgb


@dataclass
class _Example:
    image_caption: VMobject
    image: ImageMobject
    image_border: Rectangle
    map_caption: VMobject
    map_view: MapView
    value: VMobject
    explanation: VMobject
    # Made once placed: the field on the image, the value's cell, the lines between.
    field: VGroup | None = None
    cell: Rectangle | None = None
    lines: VGroup | None = None
    ring: Circle | None = None

    def panels(self) -> tuple[Group, Group]:
        return (
            Group(self.image_caption, self.image, self.image_border),
            Group(self.map_caption, self.map_view, self.value),
        )

    def group(self) -> Group:
        marks = [m for m in (self.field, self.cell, self.lines, self.ring) if m is not None]
        return Group(*self.panels(), self.explanation, *marks)


def _example(p: FeaturesPlan, ctx: StepContext) -> _Example:
    theme, box = ctx.theme, ctx.frame.content_box()
    best = p.rows[p.example].shots[0]
    image = image_mobject(p.images[best.image], 1.0)
    border = Rectangle(width=1.0, height=1.0, stroke_color=theme.grid_line, stroke_width=1.5)
    view = MapView(_map_pixels(p.map_shape, theme), 1.0, theme.grid_line)
    lines = [wrap_lines(sentence, theme, BODY, box.width) for sentence in p.explanation]
    explanation = stacked([line for sentence in lines for line in sentence], theme, BODY)
    example = _Example(
        image_caption=text(p.example_caption, theme, LABEL),
        image=image,
        image_border=border,
        map_caption=text(p.map_caption, theme, LABEL),
        map_view=view,
        value=text(p.example_value, theme, LABEL),
        explanation=explanation,
    )
    side = p.map_beside

    def place(size: float) -> Group:
        example.image.height = size
        example.image.move_to(np.zeros(3))
        example.image_border.stretch_to_fit_width(size).stretch_to_fit_height(size)
        example.image_border.move_to(example.image)
        example.image_caption.next_to(example.image, UP, buff=0.15)
        example.map_view.scale_to_fit_height(size)
        if side:
            example.map_view.next_to(example.image, RIGHT, buff=EXAMPLE_GAP)
            example.map_caption.next_to(example.map_view, UP, buff=0.15)
            example.value.next_to(example.map_view, DOWN, buff=0.15)
        else:  # the caption under the map, out of the way of the lines from above
            example.map_view.next_to(example.image, DOWN, buff=EXAMPLE_GAP)
            example.map_caption.next_to(example.map_view, DOWN, buff=0.15)
            example.value.next_to(example.map_caption, DOWN, buff=0.1)
        panels = Group(*example.panels())
        example.explanation.next_to(panels, DOWN, buff=0.35)
        return Group(panels, example.explanation)

    def fits(size: float) -> bool:
        group = place(size)
        return group.width <= box.width and group.height <= box.height

    group = place(largest_fitting(fits, 0.8, MAX_EXAMPLE, 12))
    group.move_to(box.center)
    example.field = field_mark(example.image, p.images.shape[1:3], best.box, theme, 3.0)
    y, x = best.position
    cell = example.map_view.cell
    example.cell = Square(
        side_length=cell,
        stroke_color=theme.accent,
        stroke_width=2,
        fill_color=theme.highlight,
        fill_opacity=1.0,
    ).move_to(
        example.map_view.get_corner(UP + LEFT)
        + np.array([(x + 0.5) * cell, -(y + 0.5) * cell, 0.0])
    )
    example.lines = zoom_lines(example.field, example.cell, theme.accent, 1.5)
    if cell < MIN_CELL:  # a cell of a large map is a dot: a ring around it finds it
        ring = Circle(radius=MIN_CELL, stroke_color=theme.accent, stroke_width=2.5)
        example.ring = ring.move_to(example.cell)
    return example


# --- the rows ---------------------------------------------------------------


@dataclass
class _Row:
    """One neuron's row: its label, its pictures (one image), their fields and values."""

    label: VMobject
    strip: ImageMobject
    borders: VGroup
    fields: VGroup
    values: VGroup

    def group(self) -> Group:
        return Group(self.label, self.strip, self.borders, self.fields, self.values)


def _strip_pixels(p: FeaturesPlan, row: NeuronRow, theme: Theme) -> np.ndarray:
    """The row's pictures side by side in one image, the background between them:
    one image to draw instead of k (each image costs a full-frame composite)."""
    size = p.images.shape[1]
    width = p.k * size + (p.k - 1) * GAP_PIXELS
    strip = np.empty((size, width, 3), dtype=np.uint8)
    strip[:] = hex_to_rgb(theme.background)
    for shot in row.shots:
        left = shot.rank * (size + GAP_PIXELS)
        strip[:, left : left + size] = p.images[shot.image]
    return strip


def _row_mobjects(p: FeaturesPlan, row: NeuronRow, theme: Theme) -> _Row:
    return _Row(
        label=text(row.label, theme, LABEL),
        strip=image_mobject(_strip_pixels(p, row, theme), 1.0),
        borders=VGroup(),
        fields=VGroup(),
        values=VGroup(*[number_text(s.text, theme.font, SMALL, theme.text) for s in row.shots]),
    )


def _strip_ratio(k: int, size: int) -> float:
    """A strip's width over its height."""
    return (k * size + (k - 1) * GAP_PIXELS) / size


@dataclass(frozen=True)
class PageLayout:
    columns: int
    per_column: int
    picture: float  # each picture's height (and width)
    label_width: float
    row_height: float
    row_width: float

    def size(self) -> tuple[float, float]:
        width = self.columns * self.row_width + (self.columns - 1) * COLUMN_GAP
        height = self.per_column * self.row_height + (self.per_column - 1) * ROW_GAP
        return width, height


def page_layout(
    box: Box, rows: int, k: int, label_width: float, label_height: float, value_height: float
) -> PageLayout:
    """The columns that let ``rows`` rows of ``k`` pictures be largest in ``box`` with
    texts at their size (pictures at least ``MIN_PICTURE``: a page holds few enough rows)."""
    ratio = _strip_ratio(k, 64)
    best: PageLayout | None = None
    for columns in range(1, rows + 1):
        per_column = math.ceil(rows / columns)
        room_w = box.width - (columns - 1) * COLUMN_GAP - columns * (label_width + LABEL_GAP)
        room_h = box.height - (per_column - 1) * ROW_GAP - per_column * (VALUE_GAP + value_height)
        picture = min(room_w / (columns * ratio), room_h / per_column, MAX_PICTURE)
        if best is not None and picture <= best.picture + 1e-9:
            continue
        row_height = max(picture, label_height) + VALUE_GAP + value_height
        best = PageLayout(
            columns,
            per_column,
            picture,
            label_width,
            row_height,
            label_width + LABEL_GAP + picture * ratio,
        )
    assert best is not None
    return best


def place_row(
    r: _Row, row: NeuronRow, layout: PageLayout, corner: np.ndarray, p: FeaturesPlan, theme: Theme
) -> None:
    """Lay one row out with its top-left corner at ``corner``."""
    size = layout.picture
    r.strip.height = size
    r.strip.move_to(corner + RIGHT * (layout.label_width + LABEL_GAP), aligned_edge=UP + LEFT)
    r.label.move_to(np.array([corner[0], r.strip.get_center()[1], 0.0]), aligned_edge=LEFT)
    unit = size / p.images.shape[1]
    pitch = (p.images.shape[1] + GAP_PIXELS) * unit
    left, top = r.strip.get_left()[0], r.strip.get_top()[1]
    borders, fields = [], []
    for shot, value in zip(row.shots, r.values, strict=True):
        x = left + shot.rank * pitch
        border = Rectangle(width=size, height=size, stroke_color=theme.grid_line, stroke_width=1.2)
        border.move_to(np.array([x + size / 2, top - size / 2, 0.0]))
        borders.append(border)
        fields.append(field_mark(border, p.images.shape[1:3], shot.box, theme, 2.0))
        value.move_to(np.array([x + size / 2, top - size - VALUE_GAP, 0.0]), aligned_edge=UP)
    r.borders = VGroup(*borders)
    r.fields = VGroup(*fields)


def _note(p: FeaturesPlan, theme: Theme, width: float) -> VMobject:
    """The field's size and the images searched: one line if it fits, else more."""
    one = " · ".join(p.note)
    if text(one, theme, LABEL).width <= width:
        lines = [one]
    else:
        lines = [line for part in p.note for line in wrap_lines(part, theme, LABEL, width)]
    return stacked(lines, theme, LABEL, theme.muted)


@dataclass
class _Pages:
    rows: list[_Row]  # one per row of the plan, each placed in its page's slot
    layout: PageLayout
    note: VMobject


def _pages(p: FeaturesPlan, ctx: StepContext) -> _Pages:
    """Every page's rows in the same slots, and the note under them; the rows of the
    fullest page and the note are centred in the content box."""
    theme, box = ctx.theme, ctx.frame.content_box()
    rows = [_row_mobjects(p, row, theme) for row in p.rows]
    note = _note(p, theme, box.width)
    room = Box(box.left, box.bottom + note.height + NOTE_GAP, box.right, box.top)
    layout = page_layout(
        room,
        max(len(page) for page in p.pages),
        p.k,
        max(r.label.width for r in rows),
        max(r.label.height for r in rows),
        max(v.height for r in rows for v in r.values),
    )
    width, height = layout.size()
    top = box.center[1] + (height + NOTE_GAP + note.height) / 2
    left = box.center[0] - width / 2
    for page in p.pages:
        for slot, index in enumerate(page):
            column, line = divmod(slot, layout.per_column)
            corner = np.array(
                [
                    left + column * (layout.row_width + COLUMN_GAP),
                    top - line * (layout.row_height + ROW_GAP),
                    0.0,
                ]
            )
            place_row(rows[index], p.rows[index], layout, corner, p, theme)
    note.move_to(np.array([box.center[0], top - height - NOTE_GAP, 0.0]), aligned_edge=UP)
    return _Pages(rows, layout, note)


# --- the enlarged fields ------------------------------------------------------


@dataclass
class _Cell:
    label: VMobject
    picture: Group  # the enlarged field and its border


@dataclass
class _Gallery:
    heading: VMobject
    cells: list[_Cell]  # each neuron's label over its best image's field, enlarged
    patch: float  # the enlarged fields' size


def field_pixels(p: FeaturesPlan, shot: Shot) -> np.ndarray:
    """The pixels of ``shot``'s image inside its receptive field."""
    top, left, bottom, right = shot.box
    return p.images[shot.image][top:bottom, left:right]


def _gallery(p: FeaturesPlan, ctx: StepContext, bottom: float) -> _Gallery:
    """The enlarged fields in the columns that let them be largest above ``bottom``."""
    theme, box = ctx.theme, ctx.frame.content_box()
    heading = stacked(wrap_lines(p.gallery_heading, theme, LABEL, box.width), theme, LABEL)
    labels = [text(row.label, theme, LABEL) for row in p.rows]
    label_width = max(m.width for m in labels)
    label_height = max(m.height for m in labels)
    room_h = box.top - bottom - heading.height - 0.3
    count = len(p.rows)
    size, columns = 0.0, 1
    for cols in range(1, count + 1):
        lines = math.ceil(count / cols)
        if cols * label_width + (cols - 1) * PATCH_GAP > box.width:
            break
        wide = (box.width - (cols - 1) * PATCH_GAP) / cols
        tall = (room_h - (lines - 1) * PATCH_GAP - lines * (label_height + 0.1)) / lines
        fitting = min(wide, tall, MAX_PATCH)
        if fitting > size + 1e-9:
            size, columns = fitting, cols
    cell_w = max(size, label_width)
    cell_h = label_height + 0.1 + size
    lines = math.ceil(count / columns)
    grid_h = lines * cell_h + (lines - 1) * PATCH_GAP
    whole = heading.height + 0.3 + grid_h
    top = (box.top + bottom) / 2 + whole / 2
    heading.move_to(np.array([box.center[0], top, 0.0]), aligned_edge=UP)
    cells = []
    for index, (row, label) in enumerate(zip(p.rows, labels, strict=True)):
        line, column = divmod(index, columns)
        in_line = min(columns, count - line * columns)  # a short last line is centred
        x = box.center[0] + (column - (in_line - 1) / 2) * (cell_w + PATCH_GAP)
        y = top - heading.height - 0.3 - line * (cell_h + PATCH_GAP)
        patch = image_mobject(field_pixels(p, row.shots[0]), size)
        patch.move_to(np.array([x, y - label_height - 0.1 - size / 2, 0.0]))
        border = Rectangle(width=size, height=size, stroke_color=theme.accent, stroke_width=2.5)
        border.move_to(patch)
        label.move_to(np.array([x, y - label_height / 2, 0.0]))
        cells.append(_Cell(label, Group(patch, border)))
    return _Gallery(heading, cells, size)


# --- the step ---------------------------------------------------------------


def build(spec: FeaturesSpec, ctx: StepContext) -> Iterator[Item]:
    p = plan(spec, ctx.need_trace(), ctx.frame)
    rec = ctx.recorder
    rec.values.extend(dict(v) for v in p.values)
    title = title_for(ctx, p.title)
    example = _example(p, ctx)
    pages = _pages(p, ctx)
    gallery = _gallery(p, ctx, pages.note.get_top()[1] + NOTE_GAP)
    rec.facts.update(
        {
            **p.facts,
            "columns": pages.layout.columns,
            "rows_per_column": pages.layout.per_column,
            "picture_height": pages.layout.picture,
            "patch_size": gallery.patch,
        }
    )
    assert example.field is not None and example.cell is not None and example.lines is not None

    yield Add([title])
    yield Phase("field")
    image_panel, _map_panel = example.panels()
    yield Beat([FadeIn(image_panel), FadeIn(Group(example.map_caption, example.map_view))], 1.0)
    yield Beat(
        [
            Create(example.field),
            FadeIn(example.cell),
            *([Create(example.ring)] if example.ring is not None else []),
            Create(example.lines),
            FadeIn(example.value),
        ],
        1.2,
    )
    yield Beat([FadeIn(example.explanation)], 0.8)
    yield Hold(1.5)
    previous: list[Mobject] = [example.group()]
    for number, page in enumerate(p.pages, 1):
        yield Phase(f"neurons {number}")
        shown = [pages.rows[i] for i in page]
        yield Beat([FadeOut(m) for m in previous], 0.5)
        arriving = [FadeIn(pages.note)] if number == 1 else []
        yield Beat(
            [
                *arriving,
                LaggedStart(
                    *[FadeIn(Group(r.label, r.strip, r.borders)) for r in shown], lag_ratio=0.25
                ),
            ],
            1.6,
        )
        yield Beat([*(Create(r.fields) for r in shown), *(FadeIn(r.values) for r in shown)], 0.9)
        yield Hold(1.2)
        previous = [r.group() for r in shown]
    yield Phase("patches")
    yield Beat([FadeOut(m) for m in previous], 0.5)
    # The last page's fields grow into their enlargements; the labels fade in over them.
    on_screen = set(p.pages[-1])
    arrivals = [
        FadeIn(cell.picture, target_position=pages.rows[i].fields[0].get_center(), scale=0.3)
        if i in on_screen
        else FadeIn(cell.picture)
        for i, cell in enumerate(gallery.cells)
    ]
    labels = [FadeIn(cell.label) for cell in gallery.cells]
    yield Beat([*arrivals, FadeIn(gallery.heading), *labels], 1.2)
    yield Hold(2.0)


def fill(spec: FeaturesSpec, trace: Trace, classes: list[str], language: str) -> dict[str, str]:
    """The step's own placeholders, from the trace's features, in ``language``."""
    found = trace.features[spec.layer]
    with i18n.using(language):
        return {
            "layer": spec.layer,
            "field": size_text(found.field_size),
            "jump": integer(found.jump),
            "images": integer(int(found.data.get("count", 0))),
            "k": integer(min(spec.k, found.top.shape[1])),
        }


def planned_seconds(spec: FeaturesSpec) -> float:
    """The field, about five seconds a page, the enlarged fields."""
    return 4.5 + 4.3 * page_count(spec) + 3.2


register(
    StepType(
        name="features",
        spec=FeaturesSpec,
        build=build,
        check=check,
        summary="What a convolution layer learned: each neuron's top images from the model's "
        "own held-out data, its receptive field outlined, and the fields enlarged.",
        planned_seconds=planned_seconds,
        phases=Phases(
            (
                "field",
                Numbered("neurons", count=page_count, counted_by="neurons, five a page"),
                "patches",
            )
        ),
        trace_parts=lambda spec: (f"{FEATURES_PART}{spec.layer}",),
        placeholders={
            "layer": "the layer whose neurons are shown",
            "field": "the size of its receptive field in input pixels, like 14 × 14",
            "jump": "how many input pixels apart the fields of neighbouring values are",
            "images": "how many images the top ones were chosen from (the model's held-out data)",
            "k": "how many top images each neuron shows",
        },
        fill=fill,
    )
)
