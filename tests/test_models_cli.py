"""Naming models, listing them, and classifying any image through the CLI."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import cnn_model
from cnn_model import ImageError, ModelError, store
from cnn_model.images import MAX_PIXELS, load_input, open_image
from cnn_model.network import TinyVGG
from conftest import ROOT
from rendering import cnnlesson
from scenes.cli import main

DEFAULT_CLASSES = cnn_model.load_model("default").classes


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cnnlesson(*args, env={"COLUMNS": "500"}, timeout=300)  # one error, one line


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The real command in this process (fast); returns status, stdout, stderr.

    stderr comes back without whitespace: the console wraps long messages at
    the terminal width, even inside paths.
    """
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, squash(captured.err)


def squash(text: str) -> str:
    return "".join(text.split())


def save_trained(name: str, classes: list[str]) -> Path:
    torch.manual_seed(1)
    model = TinyVGG(num_classes=len(classes))
    weights, card = store.trained_paths(name)
    store.save_model(model, weights, {"name": name, "classes": classes, "accuracy": 0.5}, card)
    return weights


# --- naming and listing ---------------------------------------------------


def test_model_list_shows_what_is_available_and_what_can_be_fetched(
    isolated_home: Path, capsys
) -> None:
    status, stdout, _ = run(capsys, "model", "list", "--json")
    assert status == 0
    listing = json.loads(stdout)
    rows = {row["name"]: row for row in listing["models"]}
    assert list(rows) == ["default", "cnn-explainer"]
    assert rows["default"]["source"] == "shipped" and rows["default"]["available"]
    assert rows["default"]["weights"] == str(store.PACKAGE_WEIGHTS / "default.safetensors")
    assert not rows["cnn-explainer"]["available"]
    assert rows["cnn-explainer"]["fetch"].startswith("cnnlesson model fetch cnn-explainer")
    assert listing["trained_models_dir"] == str(isolated_home / "data" / "models")
    assert listing["cache_dir"] == str(isolated_home / "cache")

    weights = save_trained("three-things", ["a", "b", "c"])
    status, stdout, _ = run(capsys, "model", "list", "--json")
    rows = {row["name"]: row for row in json.loads(stdout)["models"]}
    assert rows["three-things"]["source"] == "trained"
    assert rows["three-things"]["weights"] == str(weights)
    assert rows["three-things"]["classes"] == ["a", "b", "c"]

    status, stdout, _ = run(capsys, "model", "list")
    assert status == 0
    assert "three-things" in stdout and "not fetched" in stdout and "model fetch" in stdout


def test_the_same_names_work_for_info_classify_and_load(isolated_home: Path, capsys) -> None:
    weights = save_trained("mine", ["left", "right"])
    image = str(ROOT / "lessons" / "images" / "star_1.png")
    for name in ("mine", str(weights), str(weights.parent)):
        status, stdout, _ = run(capsys, "model", "info", "--model", name, "--json")
        assert status == 0
        info = json.loads(stdout)
        assert info["classes"] == ["left", "right"]
        assert info["layers"][-1]["output_shape"] == [2]
        status, stdout, _ = run(capsys, "classify", image, "--model", name, "--json")
        assert status == 0
        assert set(json.loads(stdout)["probabilities"]) == {"left", "right"}
        assert cnn_model.load_model(name).classes == ["left", "right"]
    assert cnn_model.resolve("mine").source == "trained"
    assert cnn_model.resolve(str(weights)).source == "path"


def test_unknown_model_names_list_the_known_ones(isolated_home: Path) -> None:
    save_trained("mine", ["left", "right"])
    done = cli("classify", str(ROOT / "lessons" / "images" / "star_1.png"), "--model", "nope")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "unknown model 'nope'" in done.stderr
    assert "default, cnn-explainer, mine" in done.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("default", "reserved"),
        ("cnn-explainer", "reserved"),
        ("../escape", "invalid model name"),
        ("with space", "invalid model name"),
        ("x.safetensors", "invalid model name"),
        ("", "invalid model name"),
    ],
)
def test_names_a_model_cannot_be_saved_under(name: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        store.check_new_name(name)


def test_saved_weights_are_byte_for_byte_reproducible(tmp_path: Path) -> None:
    model = cnn_model.load_model("default")
    digests = []
    for i in range(2):
        weights = tmp_path / f"m{i}.safetensors"
        digests.append(store.save_model(model, weights, {}, tmp_path / f"m{i}.json"))
        loaded = load_file(str(weights))  # the safetensors library reads our files
        for key, value in model.state_dict().items():
            assert torch.equal(loaded[key], value), key
    assert digests[0] == digests[1]
    assert (tmp_path / "m0.safetensors").read_bytes() == (tmp_path / "m1.safetensors").read_bytes()
    assert store.load_model(tmp_path / "m0.safetensors").flatten_order == "chw"


# --- any image in, clear refusals ----------------------------------------


def _noise(size: tuple[int, int], channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], channels) if channels > 1 else (size[1], size[0])
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _make_images(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}

    def keep(name: str, image: Image.Image, **options: object) -> None:
        path = folder / name
        image.save(path, **options)
        made[name] = path

    keep("wide.png", Image.fromarray(_noise((300, 200), 3)))
    rgba = _noise((120, 90), 4)
    rgba[:, :40, 3] = 0
    keep("rgba.png", Image.fromarray(rgba))
    keep("palette.gif", Image.fromarray(_noise((80, 130), 3)).convert("P"))
    keep("cmyk.jpg", Image.fromarray(_noise((100, 100), 3)).convert("CMYK"))
    grey16 = (_noise((70, 90), 1).astype(np.uint16) * 257).astype(np.uint16)
    keep("grey16.png", Image.fromarray(grey16))
    keep("grey.jpg", Image.fromarray(_noise((64, 64), 1)))
    keep("bw.bmp", Image.fromarray(_noise((65, 66), 1)).convert("1"))
    keep("tall.webp", Image.fromarray(_noise((40, 200), 3)))
    keep("float.tiff", Image.fromarray(_noise((64, 80), 1).astype(np.float32) / 255.0))
    keep("la.png", Image.fromarray(_noise((64, 64), 3)).convert("LA"))
    return made


def test_classify_accepts_any_size_mode_and_format(tmp_path: Path, capsys) -> None:
    made = _make_images(tmp_path / "images")
    modes = {name: Image.open(path).mode for name, path in made.items()}
    assert modes["cmyk.jpg"] == "CMYK" and modes["grey16.png"].startswith("I")
    assert modes["palette.gif"] == "P" and modes["float.tiff"] == "F"
    for name, path in made.items():
        status, stdout, stderr = run(capsys, "classify", str(path), "--json")
        assert status == 0, (name, stderr)
        payload = json.loads(stdout)
        assert set(payload) == {"image", "model", "prediction", "probabilities"}
        assert payload["image"] == str(path) and payload["model"] == "default"
        assert list(payload["probabilities"]) == DEFAULT_CLASSES
        assert payload["prediction"] == max(
            payload["probabilities"], key=payload["probabilities"].get
        )
        assert sum(payload["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_deep_images_are_scaled_not_clipped(tmp_path: Path) -> None:
    grey = _noise((70, 90), 1)
    Image.fromarray(grey).save(tmp_path / "grey8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    Image.fromarray(grey.astype(np.float32) / 255.0).save(tmp_path / "float.tiff")
    eight = load_input(tmp_path / "grey8.png")
    np.testing.assert_array_equal(load_input(tmp_path / "grey16.png"), eight)
    np.testing.assert_array_equal(load_input(tmp_path / "float.tiff"), eight)
    assert eight.std() > 20  # not all white


def test_transparency_is_shown_over_white(tmp_path: Path) -> None:
    clear = np.zeros((64, 64, 4), dtype=np.uint8)
    Image.fromarray(clear).save(tmp_path / "clear.png")
    assert (load_input(tmp_path / "clear.png") == 255).all()
    # A transparent colour (tRNS) in greyscale, RGB and palette PNGs counts too.
    for mode, colour in (("L", 0), ("RGB", (0, 0, 0)), ("P", 0)):
        Image.new(mode, (64, 64), colour).save(tmp_path / f"{mode}.png", transparency=colour)
        assert (load_input(tmp_path / f"{mode}.png") == 255).all(), mode


def test_camera_rotation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((32, 64, 3), dtype=np.uint8)
    pixels[:, :32] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    shown = open_image(tmp_path / "photo.jpg")
    assert shown.size == (32, 64)
    top, bottom = np.asarray(shown)[5, 16], np.asarray(shown)[-5, 16]
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[0] < 60


def _truncated_png(path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_noise((200, 200), 3)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _bomb_png(path: Path) -> None:
    """A valid PNG header claiming 100,000 x 100,000 pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_bad_images_are_refused_clearly(tmp_path: Path, capsys) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not a picture\n")
    truncated = tmp_path / "cut.png"
    _truncated_png(truncated)
    bomb = tmp_path / "bomb.png"
    _bomb_png(bomb)
    cases = {
        text: "not an image in a format read here",
        truncated: "damaged or truncated",
        bomb: "too large",
        tmp_path / "missing.png": "no such image file",
    }
    for path, message in cases.items():
        with pytest.raises(ImageError, match=message):
            load_input(path)
        status, _, stderr = run(capsys, "classify", str(path))
        assert status == 2, path
        assert squash(message) in stderr and path.name in stderr
    big = tmp_path / "big.png"
    Image.new("1", (MAX_PIXELS // 4000 + 1, 4000)).save(big)
    with pytest.raises(ImageError, match="40,000,000 pixels"):
        open_image(big)


def test_bad_image_through_the_real_command_has_no_traceback(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.png"
    _truncated_png(truncated)
    done = cli("classify", str(truncated), "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "cut.png" in done.stderr and "truncated" in done.stderr
    assert "Traceback" not in done.stderr


def _safetensors(path: Path, header: dict) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return path


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"__metadata__": {"cnnlesson": 5}}, "not a readable safetensors file"),
        ({"__metadata__": [1]}, "not a readable safetensors file"),
        (
            {
                "__metadata__": {
                    "cnnlesson": json.dumps(
                        {"format": store.FORMAT, "num_classes": 10, "flatten_order": "chw"}
                    )
                },
                "conv_1_1.weight": "not a tensor",
            },
            "not TinyVGG with 10 classes",
        ),
        (
            {
                "__metadata__": {
                    "cnnlesson": json.dumps(
                        {"format": store.FORMAT, "num_classes": 10**9, "flatten_order": "chw"}
                    )
                }
            },
            "damaged metadata",
        ),
    ],
)
def test_crafted_weight_headers_are_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], header: dict, message: str
) -> None:
    weights = _safetensors(tmp_path / "odd.safetensors", header)
    with pytest.raises(ModelError, match=message):
        store.read_facts(weights)
    image = str(ROOT / "lessons" / "images" / "star_1.png")
    status, _, err = run(capsys, "classify", image, "--model", str(weights))
    assert status == 2 and squash(message) in err and "Traceback" not in err


def test_shapes_of_the_shipped_model_are_tinyvggs() -> None:
    facts = store.read_facts(store.PACKAGE_WEIGHTS / "default.safetensors")
    assert facts.shapes == store.expected_shapes(10)
    assert facts.shapes["output.weight"] == [10, 1690]


def test_train_refuses_bad_options_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args, message in (
        (["--seed", "-1"], "expected at least 0, got -1"),
        (["--train-count", "0"], "expected at least 1, got 0"),
        (["--heldout", "1.5"], "expected a fraction from 0 up to 1, got 1.5"),
        (["--out", "m.pt"], "--out must end in .safetensors, got m.pt"),
        (["--out", str(blocker / "m.safetensors")], "is inside a file, not a folder"),
    ):
        done = cli("model", "train", "--quiet", *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and "epoch" not in done.stdout
