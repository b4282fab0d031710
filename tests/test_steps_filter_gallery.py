"""The ``filter_gallery`` step: every result equals torch's conv2d on the same input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT
from dry_run import dry_run, trace_file
from rendering import rgb_frames, run_render
from scenes.lesson.errors import display_path
from scenes.lesson.load import validate_lesson
from torch_reference import parse_shown, reference_layers

ASPECTS = ("16:9", "9:16", "1:1")

# The classic kernels, typed in again here (Wikipedia, "Kernel (image processing)";
# Sobel-Feldman), so the test does not read them from the code under test.
CLASSIC = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "edge_detection_1": [[1, 0, -1], [0, 0, 0], [-1, 0, 1]],
    "edge_detection_2": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "edge_detection_3": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "box_blur": (np.ones((3, 3)) / 9).tolist(),
    "gaussian_blur": (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16).tolist(),
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
}


@pytest.fixture(scope="module")
def star(default_model, tmp_path_factory):
    return trace_file(
        default_model, ROOT / "lessons" / "images" / "star_1.png", tmp_path_factory.mktemp("traces")
    )


def torch_source(model, pixels: np.ndarray, source: str) -> torch.Tensor:
    """(1, 1, 64, 64): BT.601 luminance or one channel of torch's input layer."""
    x = torch.from_numpy(reference_layers(model, pixels)["input"]).double()
    if source == "luminance":
        lum = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    else:
        lum = x[("red", "green", "blue").index(source)]
    return lum[None, None]


def check_gallery(
    record: dict[str, Any],
    model,
    pixels: np.ndarray,
    kernels: list[list[list[float]]],
    source: str,
    padding: int,
) -> None:
    """Maps, colour ranges and kernel numbers against F.conv2d."""
    image = torch_source(model, pixels, source)
    maps = record["maps"]
    assert maps[0]["layer"] == "filter.source"
    assert maps[0]["min"] == pytest.approx(float(image.min()), abs=1e-6)
    assert maps[0]["max"] == pytest.approx(float(image.max()), abs=1e-6)
    outputs = [m for m in maps if m["layer"] == "filter.output"]
    assert [m["index"] for m in outputs] == [[i] for i in range(len(kernels))]
    values = record["values"]
    for i, (kernel, shown) in enumerate(zip(kernels, outputs, strict=True)):
        weight = torch.tensor(kernel, dtype=torch.float64)[None, None]
        expected = F.conv2d(image, weight, padding=padding)[0, 0]
        assert shown["shape"] == list(expected.shape)
        assert shown["min"] == pytest.approx(float(expected.min()), abs=1e-6)
        assert shown["max"] == pytest.approx(float(expected.max()), abs=1e-6)
        peak = float(expected.abs().max())
        assert shown["range"] == pytest.approx([-peak, peak], abs=1e-6)
        # The legend's two ends are drawn numbers, recorded with the map's index.
        ends = {v["kind"]: v for v in values if v["layer"] == "filter.output" and v["index"] == [i]}
        assert ends["range_high"]["value"] == pytest.approx(peak, abs=1e-6)
        assert ends["range_low"]["value"] == pytest.approx(-peak, abs=1e-6)
        assert parse_shown(ends["range_low"]["text"]) == pytest.approx(-peak, abs=0.005)
        # The kernel as drawn: plain numbers, or integers with a "1/d" factor.
        cells = {
            tuple(v["index"][1:]): v
            for v in values
            if v["layer"] == "filter.kernel" and len(v["index"]) == 3 and v["index"][0] == i
        }
        assert sorted(cells) == [(r, c) for r in range(len(kernel)) for c in range(len(kernel))]
        factor = [v for v in values if v["kind"] == "kernel_factor" and v["index"] == [i]]
        scale = factor[0]["value"] if factor else 1.0
        if factor:
            numerator, denominator = factor[0]["text"].split("/")
            assert int(numerator) == 1 and 1 / int(denominator) == pytest.approx(scale)
        for (r, c), v in cells.items():
            assert v["value"] * scale == pytest.approx(kernel[r][c], abs=1e-12), v
            assert parse_shown(v["text"]) * scale == pytest.approx(kernel[r][c], abs=0.006)
            assert v["kind"] == ("kernel_numerator" if factor else "kernel")


@pytest.mark.parametrize("aspect", ASPECTS)
def test_classic_filters_equal_torch_in_every_aspect(
    default_model, star, aspect, tmp_path: Path
) -> None:
    trace, path = star
    record = dry_run({"type": "filter_gallery"}, tmp_path, path, aspect=aspect)
    assert record["overflow"] == []
    names = [
        "identity",
        "edge_detection_1",
        "edge_detection_2",
        "edge_detection_3",
        "sharpen",
        "box_blur",
        "gaussian_blur",
    ]
    assert [f["name"] for f in record["facts"]["filters"]] == names
    check_gallery(record, default_model, trace.image, [CLASSIC[n] for n in names], "luminance", 0)
    facts = record["facts"]
    # Text never shrinks: a frame too small for every panel shows them in pages.
    assert facts["text_scale"] == pytest.approx(1.0)
    assert facts["map_height"] >= 1.3
    assert facts["pages"] == (3 if aspect == "1:1" else 1)


@pytest.mark.parametrize(("aspect", "theme"), [("9:16", "dark"), ("16:9", "colorblind")])
def test_literal_kernels_on_a_channel_with_padding(
    default_model, star, aspect, theme, tmp_path: Path
) -> None:
    trace, path = star
    literal = [
        [0.1, 0.2, 0.3, 0.2, 0.1],
        [0, 0, 0, 0, 0],
        [-0.1, -0.2, -0.3, -0.2, -0.1],
        [0.05, 0, 0, 0, 0.05],
        [1, 1, 1, 1, 1],
    ]
    eighths = [[0.125, 0.25, 0.125], [0.25, 0.5, 0.25], [0.125, 0.25, 0.125]]
    step = {
        "type": "filter_gallery",
        "source": "green",
        "padding": 2,
        "filters": [
            "sobel_y",
            {"name": "stripes", "kernel": literal},
            {"name": "eighths", "kernel": eighths},
            {"name": "one", "kernel": [[-2]]},
        ],
    }
    record = dry_run(step, tmp_path, path, aspect=aspect, theme=theme)
    assert record["overflow"] == []
    kernels = [CLASSIC["sobel_y"], literal, eighths, [[-2]]]
    check_gallery(record, default_model, trace.image, kernels, "green", 2)
    outputs = [m["shape"] for m in record["maps"] if m["layer"] == "filter.output"]
    assert outputs == [[66, 66], [64, 64], [66, 66], [68, 68]]
    # Eighths are drawn as 1/8 x integers; tenths and twentieths as decimals.
    factors = [v["text"] for v in record["values"] if v["kind"] == "kernel_factor"]
    assert factors == ["1/8"]
    texts = [v["text"] for v in record["values"] if v["kind"] == "kernel" and v["index"][0] == 1]
    assert texts[:5] == ["0.10", "0.20", "0.30", "0.20", "0.10"]


def write_lesson(tmp_path: Path, steps: str) -> Path:
    path = tmp_path / "lesson.yaml"
    path.write_text(f"title: t\nmodel: default\nimage: star_1\nsteps:\n{steps}", encoding="utf-8")
    return path


KNOWN = (
    "identity, edge_detection_1, edge_detection_2, edge_detection_3, sharpen, box_blur, "
    "gaussian_blur, sobel_x, sobel_y"
)


def test_filter_names_and_kernels_are_checked(tmp_path: Path) -> None:
    path = write_lesson(
        tmp_path,
        "  - type: filter_gallery\n"
        "    filters:\n"
        "      - sharpn\n"
        "      - edge\n"
        "      - name: even\n"
        "        kernel: [[1, 2], [3, 4]]\n"
        "      - name: wide\n"
        "        kernel: [[1, 2, 3], [4, 5, 6]]\n"
        "      - name: huge\n"
        "        kernel: [[1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1],"
        "[1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1],"
        "[1,1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1,1]]\n"
        "      - name: empty\n"
        "        kernel: []\n"
        "      - name: ragged\n"
        "        kernel: [[1, 2, 3], [1, 2], [1, 2, 3]]\n"
        "      - {name: nan, kernel: [[.nan]]}\n",
    )
    file = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [
        f"{file}:7:9: steps[0].filters[0]: unknown filter 'sharpn' (did you mean 'sharpen'?); "
        f"known filters: {KNOWN}; or give a kernel: {{name: ..., kernel: [[...]]}}",
        f"{file}:8:9: steps[0].filters[1]: unknown filter 'edge'; "
        f"known filters: {KNOWN}; or give a kernel: {{name: ..., kernel: [[...]]}}",
        f"{file}:10:17: steps[0].filters[2].kernel: expected a kernel of odd size "
        "(3x3, 5x5 or 7x7), got 2x2",
        f"{file}:12:17: steps[0].filters[3].kernel: expected a square kernel "
        "(as many rows as columns), got 2x3",
        f"{file}:14:17: steps[0].filters[4].kernel: expected a kernel of at most 7x7, got 9x9",
        f"{file}:16:17: steps[0].filters[5].kernel: expected a square kernel of odd size "
        "(3x3, 5x5 or 7x7), got an empty one",
        f"{file}:18:29: steps[0].filters[6].kernel[1]: expected 3 numbers like row 0 "
        "(rows must be equally long), got 2",
        f"{file}:19:31: steps[0].filters[7].kernel[0][0]: expected a finite number "
        "within ±1e6, got nan",
    ]


def test_filter_fields_are_checked(tmp_path: Path) -> None:
    path = write_lesson(
        tmp_path,
        "  - type: filter_gallery\n"
        "    filters:\n"
        "      - 5\n"
        "      - name: typo\n"
        "        kernal: [[1]]\n"
        "      - kernel: [[1]]\n"
        "      - name: x\n"
        "        kernel: [[1, a]]\n"
        "    source: alpha\n"
        "    padding: 4\n"
        "  - type: filter_gallery\n"
        "    filters: []\n",
    )
    file = display_path(path)
    assert [str(e) for e in validate_lesson(path)] == [
        f"{file}:7:9: steps[0].filters[0]: expected a filter name or a mapping with name "
        "and kernel, got 5",
        f"{file}:8:9: steps[0].filters[1]: unknown key 'kernal' (did you mean 'kernel'?); "
        "a filter mapping has name and kernel",
        f"{file}:10:9: steps[0].filters[2]: expected a name in this filter mapping "
        "(and a kernel), got none",
        f"{file}:12:22: steps[0].filters[3].kernel[0][1]: expected a number, got 'a' (text)",
        f"{file}:13:13: steps[0].source: expected one of 'luminance', 'red', 'green', "
        "'blue', got 'alpha' (text)",
        f"{file}:14:14: steps[0].padding: expected an integer from 0 to 3, got 4",
        f"{file}:16:14: steps[1].filters: expected at least one item, got an empty list",
    ]


@pytest.mark.render
def test_filter_gallery_smoke_render(default_model, tmp_path: Path) -> None:
    lesson = ROOT / "tests" / "lessons" / "input_filter_gallery.yaml"
    command = [sys.executable, "-m", "scenes.cli", "render", str(lesson), "-q", "l"]
    video, manifest = run_render([*command, "-o", str(tmp_path), "--quiet"])
    frames = rgb_frames(video)
    assert len(frames) == manifest["frames"]
    assert 4 < len(frames) / 15 < 30
    assert frames[-1].std() > 20
    step = manifest["steps"][0]
    pixels = cnn_pixels(default_model)
    kernels = [CLASSIC["sobel_x"], [[1, 2, 1], [2, 4, 2], [1, 2, 1]]]
    check_gallery(step, default_model, pixels, kernels, "luminance", 0)


def cnn_pixels(model) -> np.ndarray:
    import cnn_model

    return cnn_model.trace(model, ROOT / "lessons" / "images" / "star_1.png").image


@pytest.mark.parametrize(
    ("source", "padding", "names"),
    [
        ("luminance", 0, ["identity", "sharpen", "gaussian_blur", "sobel_y"]),
        ("blue", 3, ["box_blur", "edge_detection_3"]),
    ],
)
def test_plan_equals_torch(default_model, star_trace, source, padding, names) -> None:
    """The plan alone (no scene): each result, its range and its kernel's numbers."""
    from scenes.steps.types.filter_gallery import FilterGallerySpec, plan
    from scenes.visuals.layout import Frame

    literal = [[0.5, 0, -0.5], [1, 0, -1], [0.5, 0, -0.5]]
    spec = FilterGallerySpec.model_validate(
        {
            "type": "filter_gallery",
            "source": source,
            "padding": padding,
            "filters": [*names, {"name": "mine", "kernel": literal}],
        }
    )
    p = plan(spec, star_trace, Frame.for_aspect("16:9"))
    image = torch_source(default_model, star_trace.image, source)
    np.testing.assert_allclose(p.source, image[0, 0].numpy(), atol=1e-6)
    kernels = [CLASSIC[n] for n in names] + [literal]
    assert len(p.filters) == len(kernels)
    for i, (fp, kernel) in enumerate(zip(p.filters, kernels, strict=True)):
        weight = torch.tensor(kernel, dtype=torch.float64)[None, None]
        expected = F.conv2d(image, weight, padding=padding)[0, 0].numpy()
        np.testing.assert_allclose(fp.result, expected, atol=1e-6)
        peak = float(np.abs(expected).max())
        assert fp.colour_range == pytest.approx((-peak, peak), abs=1e-6)
        low, high = fp.ends
        assert (low.kind, high.kind, low.index, high.index) == (
            "range_low",
            "range_high",
            (i,),
            (i,),
        )
        assert parse_shown(high.text) == pytest.approx(peak, abs=0.005 + 1e-6)
        assert fp.size_text == f"{expected.shape[0]}×{expected.shape[1]}"
        scale = 1.0
        if fp.factor is not None:
            assert fp.factor.text.startswith("1/")
            scale = 1 / int(fp.factor.text[2:])
        written = [[parse_shown(s.text) * scale for s in row] for row in fp.kernel_texts]
        np.testing.assert_allclose(written, kernel, atol=1e-12)
