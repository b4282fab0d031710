"""Golden frames: the last frame of key steps, compared pixel by pixel.

They guard the look (layout, colours, fonts) that the numeric tests cannot
see. Each frame is rendered exactly as `cnnlesson preview` renders it (the
step's last frame at 480p) and compared with tests/golden/<name>.png.
(Manim's own frames_comparison needs Cairo 1.18; Debian 12 has 1.16.)

After an intended change of the look, or of the shipped model's weights,
render them anew, look at them, and commit them:

    make golden     # = .venv/bin/python -m pytest tests/test_golden_frames.py --update-golden
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import cnn_model
from conftest import ROOT
from dry_run import step_job
from scenes.render.worker import run

GOLDEN = Path(__file__).parent / "golden"
# A frame matches when almost every pixel is within a few levels of the golden
# one: anti-aliasing may differ by a level here and there between machines.
LEVELS = 8
MISMATCH_RATIO = 0.002

CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    # name: (step, theme, aspect)
    "convolution": (
        {
            "type": "convolution",
            "layer": "conv_1_1",
            "neuron": 0,
            "channel": 0,
            "positions": 1,
            "sweep_seconds": 1,
        },
        "cnn-explainer",
        "16:9",
    ),
    "conv_elastic_dark": (
        {"type": "conv_elastic", "layer": "conv_2_1", "neuron": 4},
        "dark",
        "16:9",
    ),
    "overview_portrait": ({"type": "overview"}, "cnn-explainer", "9:16"),
    "custom_convolution_colorblind": (
        {
            "type": "custom_convolution",
            "input": [
                [1, 1, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 1, 1, 1],
                [0, 0, 1, 1, 0],
                [0, 1, 1, 0, 0],
            ],
            "kernel": [[1, 0, 1], [0, 1, 0], [1, 0, 1]],
        },
        "colorblind",
        "16:9",
    ),
    "hyperparameters_square": (
        {"type": "hyperparameters", "input_size": 5, "kernel_size": 3, "padding": 1, "stride": 2},
        "cnn-explainer",
        "1:1",
    ),
    # The four largest step types, each in another look.
    "max_pool_dark": ({"type": "max_pool", "layer": "max_pool_1", "neuron": 3}, "dark", "16:9"),
    "flatten_portrait": ({"type": "flatten"}, "cnn-explainer", "9:16"),
    "input_colorblind": ({"type": "input"}, "colorblind", "16:9"),
    "softmax_square_dark": ({"type": "softmax"}, "dark", "1:1"),
}


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("golden") / "star.npz"
    cnn_model.save_trace(
        cnn_model.trace(
            cnn_model.load_model("default"), ROOT / "lessons" / "images" / "star_1.png"
        ),
        path,
    )
    return path


def last_frame(step: dict[str, Any], theme: str, aspect: str, trace: Path, out: Path) -> np.ndarray:
    from scenes.steps import registry

    uses_trace = registry.get(step["type"]).needs_trace
    job = step_job(
        step,
        out,
        trace if uses_trace else None,
        aspect,
        theme,
        mode="last_frame",
        image_file=ROOT / "lessons" / "images" / "star_1.png",
    )
    run(job)
    assert job.clip is not None
    with Image.open(job.clip) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("name", list(CASES))
def test_golden_frame(
    name: str, trace_path: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    step, theme, aspect = CASES[name]
    frame = last_frame(step, theme, aspect, trace_path, tmp_path)
    golden = GOLDEN / f"{name}.png"
    if request.config.getoption("--update-golden"):
        GOLDEN.mkdir(exist_ok=True)
        Image.fromarray(frame).save(golden, optimize=True)
        return
    assert golden.is_file(), f"no golden frame {golden}: run `make golden`, look at it, commit it"
    with Image.open(golden) as image:
        expected = np.asarray(image.convert("RGB"))
    assert frame.shape == expected.shape
    off = np.abs(frame.astype(int) - expected.astype(int)).max(axis=-1) > LEVELS
    if off.mean() > MISMATCH_RATIO:
        diff = tmp_path / f"{name}-actual.png"
        Image.fromarray(frame).save(diff)
        pytest.fail(
            f"{name}: {off.mean():.2%} of pixels differ from {golden} (actual frame: "
            f"{diff}); if the change is intended, run `make golden`"
        )
