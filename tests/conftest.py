from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

import cnn_model
from scenes.steps.kit.base import LayerInfo, ModelInfo

ROOT = Path(__file__).resolve().parents[1]

# A trace is computed on one thread (its sums in one order, on any machine): the
# torch references the tests compute beside it do the same, so they agree to the bit.
torch.set_num_threads(1)
# CNN Explainer's reference copy (never in the repository): beside the checkout,
# or wherever CNN_EXPLAINER_REFERENCE points. Tests that need it skip without it.
SHARED_EXPLAINER = Path(
    os.environ.get("CNN_EXPLAINER_REFERENCE", ROOT.parent / "shared" / "cnn-explainer")
)


@pytest.fixture(scope="session")
def default_model() -> cnn_model.TinyVGG:
    return cnn_model.load_model("default")


@pytest.fixture(scope="session")
def model_info() -> ModelInfo:
    """What validation knows of the default model's layers (ten classes, no torch)."""
    from cnn_model.tinyvgg import layer_specs

    layers = {s.name: LayerInfo(s.name, s.kind, s.output_shape) for s in layer_specs()}
    return ModelInfo("default", [f"class {n}" for n in range(10)], layers)


# Every part of a trace a step type may read beyond the image's pass.
ALL_PARTS = ("learning", *(f"features:{layer}" for layer in cnn_model.CONV_LAYERS))


@pytest.fixture(scope="session")
def star_trace(default_model: cnn_model.TinyVGG) -> cnn_model.Trace:
    """The star sample's trace through the default model, with every part."""
    from cnn_model.learning import add_parts

    result = cnn_model.trace(default_model, ROOT / "lessons" / "images" / "star_1.png")
    add_parts(result, cnn_model.resolve("default"), default_model, list(ALL_PARTS))
    return result


# No test may depend on this machine's own state: the user's cache (a fetched
# CNN Explainer model adds samples and models), trained models, or settings
# pointing elsewhere. The whole session (module fixtures included) runs with
# folders of its own, and every test with fresh ones; subprocesses inherit them.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="cnnlesson-tests-"))
for _name in (
    "CNNLESSON_SAMPLES",
    "CNNLESSON_CONFIGS",
    "CNNLESSON_DEBUG",
    "CNNLESSON_PUBLISH_DELAY",
):
    os.environ.pop(_name, None)
os.environ["CNNLESSON_DATA"] = str(_SESSION_HOME / "data")
os.environ["CNNLESSON_CACHE"] = str(_SESSION_HOME / "cache")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-test user data and cache folders, so tests never touch the real ones
    nor each other's (every test gets them; ask for it to know where they are)."""
    monkeypatch.setenv("CNNLESSON_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CNNLESSON_CACHE", str(tmp_path / "cache"))
    return tmp_path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="write the golden frames (tests/golden/) anew instead of comparing",
    )
