"""The step scenes' camera draws what Manim's own camera draws.

:class:`ImageBoxCamera` composites an image onto its own box instead of the
whole frame; it must not change a single pixel. Both cameras draw the same
images, every way a scene may place them (scaled, rotated, sheared, faded,
half out of the frame on each side, wholly out, larger than the frame, too
thin to show, sharp and smooth), over and under vector shapes, and the two
frames are compared to the bit.

It also fills runs of glyphs (shapes with one fill colour and no stroke) as
one path: the same pixels, but for a few levels at anti-aliased edges that
two glyphs share.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from manim import (
    DEGREES,
    DOWN,
    LEFT,
    RIGHT,
    UP,
    Camera,
    Circle,
    ImageMobject,
    Mobject,
    Square,
    Text,
    Triangle,
    VMobject,
)
from manim.mobject.types.image_mobject import RESAMPLING_ALGORITHMS

import cnn_model
from conftest import ROOT
from dry_run import step_job, trace_file
from scenes.render.camera import ImageBoxCamera, StillLayers
from scenes.render.worker import build_scene, configure_manim, run
from scenes.visuals.glyphs import number_text

FRAME_HEIGHT = 8.0


def pixels(height: int, width: int, seed: int) -> np.ndarray:
    """A random RGBA image whose alpha holds fully transparent, opaque and partial pixels."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    image[..., 3] = rng.choice([0, 255, 90, 200], size=(height, width))
    return image


def image(
    height: int = 6,
    width: int = 8,
    seed: int = 0,
    resampling: str = "nearest",
    size: float = 2.0,
) -> ImageMobject:
    mob = ImageMobject(pixels(height, width, seed))
    mob.set_resampling_algorithm(RESAMPLING_ALGORITHMS[resampling])
    return mob.scale_to_fit_height(size)


def images(frame_width: float) -> list[ImageMobject]:
    """Images placed every way a step may place them, each a little different."""
    half_w, half_h = frame_width / 2, FRAME_HEIGHT / 2
    return [
        image(seed=1).shift(2 * LEFT + UP),
        image(seed=2, resampling="bicubic").shift(2 * RIGHT + UP),
        image(seed=3, resampling="bilinear", height=64, width=64, size=3).shift(DOWN),
        # Half out of the frame on each side, and off two corners at once.
        image(seed=4).move_to(half_w * LEFT),
        image(seed=5, resampling="bicubic").move_to(half_w * RIGHT + 0.3 * UP),
        image(seed=6).move_to(half_h * UP + LEFT),
        image(seed=7, resampling="bilinear").move_to(half_h * DOWN + 0.5 * RIGHT),
        image(seed=8).move_to(half_w * LEFT + half_h * UP),
        image(seed=9, resampling="bicubic").move_to(half_w * RIGHT + half_h * DOWN),
        # A hair past the left and top edges: Manim truncates those coordinates toward 0.
        image(seed=10).align_to(half_w * LEFT + half_h * UP, LEFT + UP).shift(0.013 * (LEFT + UP)),
        # Wholly out of the frame.
        image(seed=11).move_to((half_w + 2) * RIGHT),
        image(seed=12).move_to((half_h + 2) * UP + 3 * LEFT),
        # Rotated, flipped, sheared, squashed by a turn out of the picture, faded.
        image(seed=14).rotate(30 * DEGREES).shift(3 * LEFT + DOWN),
        image(seed=15, resampling="bicubic").rotate(90 * DEGREES).shift(3 * RIGHT + DOWN),
        image(seed=16).flip(RIGHT).shift(1.5 * UP),
        image(seed=17, resampling="bilinear").apply_matrix([[1, 0.6, 0], [0, 1, 0], [0, 0, 1]]),
        image(seed=18).rotate(70 * DEGREES, axis=RIGHT).shift(2.5 * DOWN + 2 * RIGHT),
        image(seed=19, resampling="bicubic").set_opacity(0.5).shift(0.5 * RIGHT),
        # Tiny: a pixel or two, a sliver too thin to show, a line, a point, edge on.
        image(height=1, width=1, seed=20, size=0.05).shift(UP + RIGHT),
        image(seed=21, size=0.3).shift(2 * UP + 2 * RIGHT),
        image(seed=22).stretch(0.001, 1).shift(0.7 * DOWN),
        image(seed=23).stretch(0, 0).shift(0.4 * LEFT),
        image(seed=24).scale(0).shift(0.2 * UP),
        image(seed=25).rotate(90 * DEGREES, axis=RIGHT).shift(1.2 * DOWN),
    ]


def huge() -> ImageMobject:
    """A faded image larger than the frame on every side."""
    return image(seed=13, resampling="bicubic", size=3 * FRAME_HEIGHT).set_opacity(0.3)


def quadrilateral() -> ImageMobject:
    """An image pulled into a quadrilateral that is no parallelogram."""
    mob = image(seed=26, resampling="bicubic").shift(3.5 * LEFT + 2 * UP)
    mob.points[3] += 0.7 * RIGHT + 0.4 * DOWN
    return mob


def shapes(frame_width: float) -> list[Mobject]:
    """Vector shapes to draw the images over and under (opaque, translucent, stroked)."""
    return [
        Square(6, fill_color="#3366aa", fill_opacity=1, stroke_width=0).shift(2 * LEFT),
        Circle(2.5, fill_color="#cc4422", fill_opacity=0.6, stroke_width=8).shift(2 * RIGHT),
        Triangle(fill_color="#22aa55", fill_opacity=0.8).scale(3).to_edge(RIGHT, buff=0),
        Square(3, stroke_width=12, stroke_color="#ffcc00").shift(0.5 * UP),
    ]


def sliver(pixel_height: int) -> ImageMobject:
    """A long image 0.4 pixels thin, slanted across many pixel centres: it would
    colour some, but Manim draws nothing thinner than half a pixel."""
    mob = image(seed=27).stretch_to_fit_height(0.4 * FRAME_HEIGHT / pixel_height)
    return mob.rotate(30 * DEGREES).shift(1.5 * DOWN + 3 * RIGHT)


def frame(
    camera_class: type[Camera], mobjects: list[Mobject], width: int, height: int, frame_width: float
) -> np.ndarray:
    camera = camera_class(
        pixel_width=width,
        pixel_height=height,
        frame_width=frame_width,
        frame_height=FRAME_HEIGHT,
        background_color="#f0eee8",
    )
    camera.capture_mobjects(mobjects)
    return camera.pixel_array.copy()


# 16:9 at 480p, and sizes whose pixels per unit are no round number (9:16, square).
@pytest.mark.parametrize("width,height", [(854, 480), (270, 481), (333, 333)])
def test_images_are_drawn_exactly_as_manims_camera_draws_them(width: int, height: int) -> None:
    frame_width = FRAME_HEIGHT * width / height
    below, above = shapes(frame_width)[:3], shapes(frame_width)[3:]
    maps: list[Mobject] = [*images(frame_width), quadrilateral(), sliver(height)]
    # Images between shapes: the camera draws them in runs of one kind.
    scene = [*below[:2], *maps[:12], below[2], *maps[12:], *above]

    ours = frame(ImageBoxCamera, scene, width, height, frame_width)
    manims = frame(Camera, scene, width, height, frame_width)
    assert ours.shape == (height, width, 4)
    differ = np.argwhere(np.any(ours != manims, axis=-1))
    assert np.array_equal(ours, manims), f"{len(differ)} pixels differ, first at {differ[:5]}"

    # The images did show (the comparison is of something), on every edge of the frame.
    bare = frame(Camera, [*below, *above], width, height, frame_width)
    changed = np.any(ours != bare, axis=-1)
    assert 0.05 < changed.mean() < 0.9
    assert changed[:, 0].any() and changed[:, -1].any() and changed[0].any() and changed[-1].any()

    # One image larger than the frame, over all of it.
    scene = [*scene, huge()]
    ours = frame(ImageBoxCamera, scene, width, height, frame_width)
    assert np.array_equal(ours, frame(Camera, scene, width, height, frame_width))
    covered = np.any(ours != manims, axis=-1)  # all but its transparent pixels
    assert covered.mean() > 0.5
    assert covered[:, 0].any() and covered[:, -1].any() and covered[0].any() and covered[-1].any()


def glyph_scene() -> list[Mobject]:
    """Texts and numbers as steps draw them, with shapes between and over them that
    must keep their place in the drawing order."""
    font = "DejaVu Sans"
    mobs: list[Mobject] = [Square(5, fill_color="#dde4ee", fill_opacity=1, stroke_width=0)]
    for row in range(5):
        for col in range(6):
            value = f"{(row * 6 + col - 14) / 7:.2f}"
            number = number_text(value, font, 13 + row, "#223344" if col % 3 else "#aa2211")
            mobs.append(number.move_to([-6 + 1.3 * col, 3.2 - 0.45 * row, 0]))
    mobs += [
        Text("Convolution: the kernel slides", font=font, font_size=26).shift(0.6 * DOWN),
        # Over the text: an opaque square, then text again over the square.
        Square(1.2, fill_color="#3366aa", fill_opacity=1, stroke_width=0).shift(0.6 * DOWN),
        Text("over", font=font, font_size=22, color="#ffffff").shift(0.6 * DOWN),
        Text("ReLU(x) = max(0, x)", font=font, font_size=20, t2c={"max": "#cc4422"}).shift(
            1.6 * DOWN + 3 * RIGHT
        ),
        Text("bold 3×3", font=font, font_size=24, weight="BOLD").shift(2.4 * DOWN + 3 * LEFT),
        Text("faded", font=font, font_size=30).set_opacity(0.4).shift(3 * RIGHT + UP),
        Text("gone", font=font, font_size=30).set_opacity(0).shift(2 * RIGHT + 2 * UP),
        Circle(0.8, stroke_width=6, fill_color="#22aa55", fill_opacity=0.5).shift(3 * RIGHT + UP),
        Square(1.5, stroke_width=0, fill_opacity=1)
        .set_fill(["#ff0000", "#0000ff"])
        .shift(5 * RIGHT + 2.5 * DOWN),
        Text("after the gradient", font=font, font_size=18).shift(5 * RIGHT + 3.5 * DOWN),
        Text("a stroked text", font=font, font_size=24, stroke_width=1).shift(3.3 * DOWN),
    ]
    return mobs


@pytest.mark.parametrize("width,height", [(854, 480), (1920, 1080), (333, 333)])
def test_runs_of_glyphs_filled_together_give_the_frame_manim_draws(
    width: int, height: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame_width = FRAME_HEIGHT * width / height
    scene = glyph_scene()
    manims = frame(Camera, scene, width, height, frame_width)
    one_by_one: list[VMobject] = []
    display = ImageBoxCamera.display_vectorized

    def counted(camera: ImageBoxCamera, vmobject: VMobject, ctx: object) -> ImageBoxCamera:
        one_by_one.append(vmobject)
        return display(camera, vmobject, ctx)

    monkeypatch.setattr(ImageBoxCamera, "display_vectorized", counted)
    ours = frame(ImageBoxCamera, scene, width, height, frame_width)

    shapes = [m for mob in scene for m in mob.family_members_with_points()]
    assert len(one_by_one) < len(shapes) / 4  # the glyphs were filled together
    drawn_alone = {id(m) for m in one_by_one}
    for mob in scene:  # the stroked and the gradient shapes were drawn as Manim draws them
        stroked = isinstance(mob, (Circle, Square)) and mob.get_stroke_width() > 0
        if stroked or len(mob.fill_rgbas) > 1:
            assert id(mob) in drawn_alone
    assert id(scene[-1][0]) in drawn_alone  # a glyph with a stroke

    # Cairo's scan converter rounds the coverage of a pixel row by what else crosses
    # it, so edges may round differently: a few levels, now and then more at a
    # corner (once 187 levels, a notch in Manim's own glyph that one path lacks).
    difference = np.abs(ours.astype(int) - manims.astype(int)).max(axis=-1)
    assert (difference > 2).mean() < 1e-3
    assert (difference > 8).mean() < 2e-5, f"{np.count_nonzero(difference > 8)} pixels"
    # The comparison is of something: the texts drew much of the frame.
    bare = frame(Camera, scene[:1], width, height, frame_width)
    assert np.any(ours != bare, axis=-1).mean() > 0.05


def test_step_scenes_draw_with_the_image_box_camera(tmp_path: Path) -> None:
    job = step_job({"type": "title", "text": "Kernels"}, tmp_path)
    configure_manim(job, tmp_path / "media")
    scene = build_scene(job)
    assert type(scene.renderer.camera) is ImageBoxCamera


def test_still_shapes_drawn_once_give_the_frames_manim_draws(
    default_model: cnn_model.TinyVGG, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real max_pool step (its window moves over a grid of still numbers): every
    frame drawn with still layers is compared with Manim's own drawing of the same
    frame, shape by shape; only anti-aliased edges may round a level or two apart."""
    star = ROOT / "lessons" / "images" / "star_1.png"
    _trace, path = trace_file(default_model, star, tmp_path)
    step = {"type": "max_pool", "layer": "max_pool_1", "neuron": 0, "patch_windows": 2}
    job = step_job(step, tmp_path, path, mode="video")
    worst: list[int] = []
    layered_frames = [0]
    draw = StillLayers.draw

    def checked(layers: StillLayers, order: list[Mobject]) -> bool:
        background = layers.camera.pixel_array.copy()
        if not draw(layers, order):
            return False
        ours = layers.camera.pixel_array.copy()
        layers.camera.pixel_array[...] = background
        Camera.capture_mobjects(layers.camera, order, include_submobjects=False)
        worst.append(int(np.abs(ours.astype(int) - layers.camera.pixel_array.astype(int)).max()))
        layered_frames[0] += any(layer.box[2] for layer in layers.layers)
        return True

    monkeypatch.setattr(StillLayers, "draw", checked)
    record = run(job)
    assert layered_frames[0] > 0.3 * record["frames"]  # most animation frames use layers
    assert max(worst) <= 2
