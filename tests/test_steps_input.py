"""The ``input`` step: every pixel value it shows equals the image read independently."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from pydantic import ValidationError

from conftest import ROOT
from dry_run import dry_run, trace_file
from rendering import rgb_frames, run_render
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from scenes.steps.types.input import InputSpec, plan
from scenes.visuals.layout import Frame
from torch_reference import parse_shown, reference_layers

ASPECTS = ("16:9", "9:16", "1:1")
STAR = ROOT / "lessons" / "images" / "star_1.png"


def network_input(path: Path) -> np.ndarray:
    """uint8 (64, 64, 3) as cnn_model.images specifies it, recomputed here with PIL:
    short side resized to 64 (Lanczos), centre crop."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    w, h = rgb.size
    if (w, h) != (64, 64):
        scale = 64 / min(w, h)
        new_w, new_h = max(64, round(w * scale)), max(64, round(h * scale))
        rgb = rgb.resize((new_w, new_h), Image.Resampling.LANCZOS)
        left, top = (new_w - 64) // 2, (new_h - 64) // 2
        rgb = rgb.crop((left, top, left + 64, top + 64))
    return np.asarray(rgb, dtype=np.uint8)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 240x160 picture (not square, not 64x64), so the crop and the resize matter."""
    rng = np.random.default_rng(5)
    y = np.linspace(0, 1, 160)[:, None, None]
    top, bottom = np.array([90.0, 150.0, 230.0]), np.array([170.0, 210.0, 200.0])
    sky = np.broadcast_to(top + (bottom - top) * y, (160, 240, 3))
    sky = sky + rng.normal(0, 6, (160, 240, 3))
    image = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 115, 240, 160], fill=(60, 140, 50))
    draw.ellipse([30, 20, 70, 60], fill=(255, 210, 40))
    draw.rectangle([95, 70, 150, 125], fill=(200, 60, 40))
    path = tmp_path_factory.mktemp("images") / "house.png"
    image.save(path)
    return path


@pytest.fixture(scope="module")
def photo_trace(default_model, photo, tmp_path_factory):
    return trace_file(default_model, photo, tmp_path_factory.mktemp("traces"))


def check_recorded_pixels(record: dict[str, Any], pixels: np.ndarray, model) -> int:
    """Every recorded number against ``pixels`` (read here) and torch's input layer."""
    torch_input = reference_layers(model, pixels)["input"]
    for entry in record["values"]:
        assert entry["layer"] == "input", entry
        c, y, x = entry["index"]
        if entry["kind"] == "activation":
            assert entry["value"] == pytest.approx(pixels[y, x, c] / 255, abs=1e-7), entry
            assert entry["value"] == pytest.approx(float(torch_input[c, y, x]), abs=1e-7)
            assert entry["text"] == f"{pixels[y, x, c] / 255:.2f}", entry
        else:
            assert entry["kind"] == "pixel", entry
            assert entry["value"] == float(pixels[y, x, c]), entry
            assert entry["text"] == str(int(pixels[y, x, c])), entry
        assert parse_shown(entry["text"]) == pytest.approx(
            entry["value"], abs=0.005 if entry["kind"] == "activation" else 0
        )
    return len(record["values"])


@pytest.mark.parametrize("aspect", ASPECTS)
def test_input_shows_real_pixels_of_the_original_in_every_aspect(
    default_model, photo, photo_trace, aspect, tmp_path: Path
) -> None:
    _, path = photo_trace
    pixels = network_input(photo)
    step = {"type": "input", "channel": 0}
    record = dry_run(step, tmp_path, path, aspect, image_file=photo)
    assert record["overflow"] == []
    # 5x5 patch as integers and as /255, plus one pixel's three channels.
    assert check_recorded_pixels(record, pixels, default_model) == 2 * 25 + 3
    facts = record["facts"]
    # The centre 160x160 square of the 240x160 original is what is resized to 64x64.
    assert facts["original"] == {"size": [240, 160], "crop": [40.0, 0.0, 200.0, 160.0]}
    # The default patch is the 5x5 window of the red channel whose values vary most.
    red = pixels[..., 0].astype(np.float64)
    spread = {(y, x): red[y : y + 5, x : x + 5].std() for y in range(60) for x in range(60)}
    best = max(spread.values())
    patch = facts["patch"]
    assert spread[(patch["y"], patch["x"])] == pytest.approx(best)
    assert facts["patch_chosen"] is True
    shown = {tuple(v["index"]) for v in record["values"] if v["kind"] == "activation"}
    assert shown == {(0, patch["y"] + i, patch["x"] + j) for i in range(5) for j in range(5)}
    # Maps: the colour image and its three channels, each with its real range.
    maps = record["maps"]
    assert [m["index"] for m in maps] == [[], [0], [1], [2]]
    assert maps[0]["scale"] == "rgb" and maps[0]["shape"] == [3, 64, 64]
    for c in range(3):
        assert maps[c + 1]["min"] == pytest.approx(pixels[..., c].min() / 255, abs=1e-7)
        assert maps[c + 1]["max"] == pytest.approx(pixels[..., c].max() / 255, abs=1e-7)
        assert maps[c + 1]["range"] == [0.0, 1.0] and maps[c + 1]["scale"] == "Greys"


@pytest.mark.parametrize("theme", ["dark", "colorblind"])
def test_input_explicit_patch_in_other_themes(
    default_model, star_trace, theme, tmp_path: Path
) -> None:
    path = tmp_path / "star.npz"
    from cnn_model.trace import save_trace

    save_trace(star_trace, path)
    step = {"type": "input", "channel": 2, "patch_column": 56, "patch_row": 0, "patch_size": 8}
    record = dry_run(step, tmp_path, path, "9:16", theme, image_file=STAR)
    assert record["overflow"] == []
    pixels = network_input(STAR)
    assert np.array_equal(pixels, star_trace.image)
    assert check_recorded_pixels(record, pixels, default_model) == 2 * 64 + 3
    indices = [tuple(v["index"]) for v in record["values"] if v["kind"] == "activation"]
    assert indices[0] == (2, 0, 56) and indices[-1] == (2, 7, 63)
    # The sample is already 64x64: no separate original is shown.
    assert record["facts"]["original"] is None
    assert record["facts"]["original_reason"] == "the original is already 64×64"
    assert record["facts"]["patch_chosen"] is False


def test_input_without_an_image_path_shows_the_64x64_only(photo_trace, tmp_path: Path) -> None:
    _, path = photo_trace
    record = dry_run({"type": "input"}, tmp_path, path, "1:1")
    assert record["overflow"] == []
    assert record["facts"]["original"] is None
    assert record["facts"]["original_reason"] == "the job names no image file"


def test_input_ignores_an_image_that_is_not_the_traced_one(photo_trace, tmp_path: Path) -> None:
    _, path = photo_trace
    record = dry_run({"type": "input"}, tmp_path, path, "16:9", image_file=STAR)
    assert record["facts"]["original"] is None
    assert record["facts"]["original_reason"] == (
        "the image file does not give the trace's 64×64 input"
    )


def write_lesson(tmp_path: Path, steps: str) -> Path:
    path = tmp_path / "lesson.yaml"
    path.write_text(f"title: t\nmodel: default\nimage: star_1\nsteps:\n{steps}", encoding="utf-8")
    return path


def test_input_validation_messages(tmp_path: Path) -> None:
    path = write_lesson(
        tmp_path,
        "  - type: input\n"
        "    patch_column: 62\n"
        "    patch_row: 60\n"
        "    patch_size: 5\n"
        "  - type: input\n"
        "    channel: 3\n"
        "    patch_size: 9\n"
        "    patch_column: -1\n"
        "  - type: input\n"
        "    patch_size: 8\n"
        "    patch_row: 57\n"
        "  - type: input\n"
        "    zoom: 3\n",
    )
    file = display_path(path)
    fits = "must fit in the 64×64 input"
    assert [str(e) for e in validate_lesson(path)] == [
        f"{file}:6:19: steps[0].patch_column: expected a patch_column from 0 to 59 "
        f"(the 5×5 patch {fits}), got 62",
        f"{file}:7:16: steps[0].patch_row: expected a patch_row from 0 to 59 "
        f"(the 5×5 patch {fits}), got 60",
        f"{file}:10:14: steps[1].channel: expected an integer from 0 to 2, got 3",
        f"{file}:11:17: steps[1].patch_size: expected an integer from 2 to 8, got 9",
        f"{file}:12:19: steps[1].patch_column: expected an integer ≥ 0, got -1",
        f"{file}:15:16: steps[2].patch_row: expected a patch_row from 0 to 56 "
        f"(the 8×8 patch {fits}), got 57",
        f"{file}:17:5: steps[3].zoom: unknown field; an input step's fields are: title, "
        "chapter, narration, patch_row, patch_column, channel, patch_size",
    ]


def test_old_patch_names_are_declared_renamed() -> None:
    """patch_x and patch_y name the column and row: the loader renames them before
    validation, giving the very spec the new names give."""
    assert InputSpec.renamed == {"patch_x": "patch_column", "patch_y": "patch_row"}
    old = {"type": "input", "channel": 1, "patch_x": 7, "patch_y": 3}
    renamed = {InputSpec.renamed.get(key, key): value for key, value in old.items()}
    spec = InputSpec.model_validate(renamed)
    assert (spec.patch_column, spec.patch_row) == (7, 3)
    assert spec == InputSpec.model_validate(
        {"type": "input", "channel": 1, "patch_column": 7, "patch_row": 3}
    )
    with pytest.raises(ValidationError):  # the old names are not fields any more
        InputSpec.model_validate(old)


@pytest.mark.parametrize(
    ("step", "aspect"),
    [
        ({"type": "input"}, "16:9"),
        ({"type": "input", "channel": 2, "patch_size": 8, "patch_column": 56}, "9:16"),
        ({"type": "input", "channel": 1, "patch_size": 3, "patch_row": 10}, "1:1"),
    ],
    ids=["default", "given-column", "given-row"],
)
def test_plan_pixels_are_the_trace_input_times_255(
    star_trace, step: dict[str, Any], aspect: str
) -> None:
    """The plan alone (no scene): its numbers against torch's input tensor."""
    p = plan(InputSpec.model_validate(step), star_trace, Frame.for_aspect(aspect))
    tensor = torch.from_numpy(star_trace.activations["input"]).double()  # (3, 64, 64)
    levels = torch.from_numpy(network_input(STAR).copy()).permute(2, 0, 1).double()  # PIL, here
    assert torch.equal(torch.round(tensor * 255), levels)
    c, row, col, n = p.channel, p.row, p.column, p.size
    assert (row, col) == (step.get("patch_row", row), step.get("patch_column", col))
    assert p.chosen is not ("patch_row" in step and "patch_column" in step)
    window = (slice(row, row + n), slice(col, col + n))
    cells = [(c, row + i, col + j) for i in range(n) for j in range(n)]
    for grid, expected, kind in (
        (p.ints, levels[c][window], "pixel"),
        (p.fracs, tensor[c][window], "activation"),
    ):
        numbers = [number for line in grid for number in line]
        assert [x.index for x in numbers] == cells
        assert {(x.layer, x.kind) for x in numbers} == {("input", kind)}
        values = torch.tensor([x.value for x in numbers], dtype=torch.float64)
        values = values.reshape(n, n)
        torch.testing.assert_close(values, expected, atol=1e-7, rtol=0)
    assert [x.text for line in p.ints for x in line] == [
        str(int(v)) for v in levels[c][window].flatten()
    ]
    # The centre pixel, written out in its three channels.
    cy, cx = p.pixel
    assert (cy, cx) == (row + n // 2, col + n // 2)
    assert [x.index for x in p.pixel_values] == [(k, cy, cx) for k in range(3)]
    assert [x.value for x in p.pixel_values] == levels[:, cy, cx].tolist()
    if "patch_row" not in step and "patch_column" not in step:
        # Where the channel's 0-255 levels vary most (torch's population std).
        spread = levels[c].unfold(0, n, 1).unfold(1, n, 1).double().std(dim=(-2, -1), correction=0)
        assert spread[row, col] == pytest.approx(float(spread.max()))


@pytest.mark.render
def test_input_smoke_render(tmp_path: Path) -> None:
    lesson = ROOT / "tests" / "lessons" / "input_step.yaml"
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "l"]
    video, manifest = run_render([*command, "-o", str(tmp_path), "--quiet"])
    frames = rgb_frames(video)
    assert len(frames) == manifest["frames"]
    assert 8 < len(frames) / 15 < 40
    # The last frame holds the zoomed grid: dark and light cells, not a blank frame.
    assert frames[-1].std() > 20
    step = manifest["steps"][0]
    # The engine passes the lesson's image path; this sample is already 64x64.
    assert step["facts"]["original_reason"] == "the original is already 64×64"
    pixels = network_input(STAR)
    values = step["values"]
    assert step["type"] == "input" and len(values) == 2 * 9 + 3
    for entry in values:
        c, y, x = entry["index"]
        expected = pixels[y, x, c] if entry["kind"] == "pixel" else pixels[y, x, c] / 255
        assert entry["value"] == pytest.approx(float(expected), abs=1e-7)
