from __future__ import annotations

import os
from pathlib import Path

import pytest

import cnn_model

ROOT = Path(__file__).resolve().parents[1]
# CNN Explainer's reference copy (never in the repository): beside the checkout,
# or wherever CNN_EXPLAINER_REFERENCE points. Tests that need it skip without it.
SHARED_EXPLAINER = Path(
    os.environ.get("CNN_EXPLAINER_REFERENCE", ROOT.parent / "shared" / "cnn-explainer")
)


@pytest.fixture(scope="session")
def default_model() -> cnn_model.TinyVGG:
    return cnn_model.load_model("default")


@pytest.fixture(scope="session")
def star_trace(default_model: cnn_model.TinyVGG) -> cnn_model.Trace:
    return cnn_model.trace(default_model, ROOT / "lessons" / "images" / "star_1.png")


@pytest.fixture()
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-test user data and cache folders, so tests never touch the real ones."""
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
