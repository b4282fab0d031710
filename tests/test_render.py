from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

import cnn_model
from conftest import ROOT
from manifest_check import check_values

pytestmark = pytest.mark.render
SMOKE = ROOT / "tests" / "lessons" / "smoke.yaml"


@pytest.fixture(scope="module")
def smoke_render(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("media")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scenes.cli",
            "render",
            str(SMOKE),
            "-q",
            "l",
            "-o",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip().splitlines()[-1])
    assert video == out / "smoke" / "smoke.mp4"
    manifest = json.loads((out / "smoke" / "manifest.json").read_text())
    return video, manifest


def test_video_decodes_with_expected_size_and_duration(smoke_render) -> None:
    video, manifest = smoke_render
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(stream)]
        assert (stream.codec_context.width, stream.codec_context.height) == (854, 480)
        assert stream.codec_context.name == "h264"
    assert len(frames) == manifest["frames"] == sum(s["frames"] for s in manifest["steps"])
    duration = len(frames) / 15
    assert duration == pytest.approx(manifest["duration"], abs=1e-6)
    # A title card plus one explained window and a one-second sweep.
    assert 8 < duration < 40
    # The last frame is not blank: the finished output map is on screen.
    last = frames[-1].to_ndarray(format="rgb24")
    assert last.std() > 10


def test_manifest_steps_are_back_to_back(smoke_render) -> None:
    _, manifest = smoke_render
    starts = [s["start"] for s in manifest["steps"]]
    ends = [s["start"] + s["duration"] for s in manifest["steps"]]
    assert starts[0] == 0
    assert starts[1:] == pytest.approx(ends[:-1])
    assert [s["type"] for s in manifest["steps"]] == ["title", "convolution"]
    assert [s["clip"] for s in manifest["steps"]] == [
        "steps/01-title.mp4",
        "steps/02-convolution.mp4",
    ]


def test_manifest_values_equal_torch(smoke_render) -> None:
    _, manifest = smoke_render
    model = cnn_model.load_model("default")
    pixels = cnn_model.trace(model, ROOT / "lessons" / "images" / "star_1.png").image
    step = manifest["steps"][1]
    kinds = {v["kind"] for v in step["values"]}
    assert {"activation", "weight", "bias", "product", "channel_sum", "other_channels_sum"} <= kinds
    checked = check_values(step["values"], model, pixels, step["facts"])
    # One explained window plus the quick ones: 9 inputs, 9 weights, 9 products each.
    assert checked >= 9 * 3
    # The drawn output values are the real conv_1_2 activations of neuron 3.
    shown = [v for v in step["values"] if v["kind"] == "activation" and v["layer"] == "conv_1_2"]
    assert shown and all(v["index"][0] == 3 for v in shown)
    maps = {(m["layer"], tuple(m["index"])) for m in step["maps"]}
    assert ("relu_1_1", (4,)) in maps and ("conv_1_2", (3,)) in maps


def test_clips_are_published_per_step(smoke_render) -> None:
    video, manifest = smoke_render
    for step in manifest["steps"]:
        clip = video.parent / step["clip"]
        with av.open(str(clip)) as container:
            assert container.streams.video[0].frames == step["frames"]
