"""CNN Explainer's model: fetching, checksums, conversion and numeric parity.

The parity reference below is written directly from the Keras layout in
model.json and the weight shard (channels-last convolutions and flatten),
without going through cnn_model.explainer's conversion.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

import cnn_model
from cnn_model import ModelError, explainer, samples, store
from cnn_model.tinyvgg import LAYER_NAMES
from conftest import ROOT, SHARED_EXPLAINER
from rendering import cnnlesson

needs_shared = pytest.mark.skipif(
    not (SHARED_EXPLAINER / "model.json").is_file(),
    reason=f"CNN Explainer's reference copy is not at {SHARED_EXPLAINER} "
    "(tests that need its weights and images are skipped)",
)
EXPECTED_TOP1 = {
    "espresso_1": ("espresso", 0.880),
    "koala_1": ("koala", 0.953),
    "bus_1": ("school bus", 0.995),
    "car_1": ("sport car", 0.966),
    "pizza_1": ("pizza", 0.991),
}
# The model computes in float32, the reference in float64: a layer may differ by
# this much relative to its own largest magnitude (at least 1). float32 has about
# 7 significant digits, and the dense layer sums 1,690 products, whose order
# differs between CPUs' vector units.
PARITY_TOLERANCE = 1e-5


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return cnnlesson(*args, env={"COLUMNS": "500", **(env or {})}, timeout=300)


# --- an independent Keras-layout reference ------------------------------


class KerasReference:
    """CNN Explainer's Sequential model evaluated from model.json and the shard, in float64."""

    def __init__(self, folder: Path) -> None:
        document = json.loads((folder / "model.json").read_text())
        self.layers: list[dict[str, Any]] = document["modelTopology"]["model_config"]["config"][
            "layers"
        ]
        self.weights: dict[str, np.ndarray] = {}
        for group in document["weightsManifest"]:
            raw = b"".join((folder / name).read_bytes() for name in group["paths"])
            offset = 0
            for entry in group["weights"]:
                count = math.prod(entry["shape"])
                values = np.frombuffer(raw, dtype="<f4", count=count, offset=offset)
                self.weights[entry["name"]] = values.reshape(entry["shape"]).astype(np.float64)
                offset += 4 * count
            assert offset == len(raw)

    def run(self, image_hwc: np.ndarray) -> dict[str, np.ndarray]:
        """Every layer's output, channels last, for an (H, W, 3) float input."""
        x = image_hwc.astype(np.float64)
        out = {"input": x}
        for layer in self.layers:
            kind, config = layer["class_name"], layer["config"]
            name = config["name"]
            if kind == "Conv2D":
                kernel = self.weights[f"{name}/kernel"]  # [kh, kw, in, out]
                kh, kw = kernel.shape[:2]
                windows = sliding_window_view(x, (kh, kw), axis=(0, 1))  # (y, x, c, i, j)
                x = np.einsum("yxcij,ijco->yxo", windows, kernel) + self.weights[f"{name}/bias"]
            elif kind == "Activation":
                assert config["activation"] == "relu"
                x = np.maximum(x, 0.0)
            elif kind == "MaxPooling2D":
                h, w, c = x.shape
                x = x[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))
            elif kind == "Flatten":
                x = x.reshape(-1)  # row-major over (y, x, c): channels last
            elif kind == "Dense":
                x = x @ self.weights[f"{name}/kernel"] + self.weights[f"{name}/bias"]
                exp = np.exp(x - x.max())
                out["softmax"] = exp / exp.sum()
            else:
                raise AssertionError(f"unexpected layer {kind}")
            out[name] = x
        return out


def keras_input(path: Path) -> np.ndarray:
    """CNN Explainer's preprocessing: RGB (grey expanded), / 255, no resize."""
    with Image.open(path) as image:
        assert image.size == (64, 64)
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def as_keras_layout(name: str, value: np.ndarray) -> np.ndarray:
    """A trace activation (channels first) in the reference's channels-last layout."""
    return value.transpose(1, 2, 0) if value.ndim == 3 else value


@pytest.fixture()
def fetched(isolated_home: Path) -> cnn_model.TinyVGG:
    explainer.fetch(SHARED_EXPLAINER)
    return cnn_model.load_model("cnn-explainer")


# --- parity --------------------------------------------------------------


@needs_shared
def test_every_layer_matches_the_keras_reference_on_every_sample(fetched) -> None:
    reference = KerasReference(SHARED_EXPLAINER)
    images = sorted((SHARED_EXPLAINER / "img").glob("*.jpeg"))
    assert len(images) == 21
    worst = dict.fromkeys([*LAYER_NAMES, "softmax"], 0.0)
    scale = dict.fromkeys([*LAYER_NAMES, "softmax"], 1.0)
    for path in images:
        t = cnn_model.trace(fetched, path)
        ref = reference.run(keras_input(path))
        np.testing.assert_array_equal(t.image.astype(np.float64) / 255.0, ref["input"])
        for name in LAYER_NAMES:
            got = as_keras_layout(name, t.activations[name].astype(np.float64))
            assert got.shape == ref[name].shape, (path.name, name)
            worst[name] = max(worst[name], float(np.abs(got - ref[name]).max()))
            scale[name] = max(scale[name], float(np.abs(ref[name]).max()))
        np.testing.assert_array_equal(t.logits, t.activations["output"])
        worst["softmax"] = max(
            worst["softmax"], float(np.abs(t.probabilities - ref["softmax"]).max())
        )
    print("\nmax |difference| over all 21 sample images, converted model vs Keras reference:")
    for name, value in worst.items():
        print(f"  {name:<11} {value:.3e} (largest |value| {scale[name]:.3g})")
    bad = {name: value for name, value in worst.items() if value > PARITY_TOLERANCE * scale[name]}
    assert not bad, f"layers differing by more than {PARITY_TOLERANCE} of their scale: {bad}"


@needs_shared
@pytest.mark.parametrize("sample", sorted(EXPECTED_TOP1))
def test_top1_matches_cnn_explainer(fetched, sample: str) -> None:
    path = samples.find_sample(sample)
    assert path is not None and path.parent == explainer.images_dir()
    t = cnn_model.trace(fetched, path)
    label, probability = EXPECTED_TOP1[sample]
    assert t.predicted_class == label
    assert round(float(t.probabilities[t.prediction]), 3) == probability


@needs_shared
def test_a_wrong_flatten_order_disagrees_with_the_reference(fetched) -> None:
    """Guards the test above: the same weights flattened channels-first must fail parity."""
    reference = KerasReference(SHARED_EXPLAINER)
    assert fetched.flatten_order == "hwc"
    flipped = store.load_model("cnn-explainer")
    flipped.flatten_order = "chw"
    for sample in EXPECTED_TOP1:
        path = SHARED_EXPLAINER / "img" / f"{sample}.jpeg"
        ref = reference.run(keras_input(path))
        right = cnn_model.trace(fetched, path)
        wrong = cnn_model.trace(flipped, path)
        # Same feature maps, different vector order: the parity check must notice.
        np.testing.assert_array_equal(
            right.activations["max_pool_2"], wrong.activations["max_pool_2"]
        )
        assert np.abs(wrong.activations["flatten"] - ref["flatten"]).max() > 100 * PARITY_TOLERANCE
        assert np.abs(wrong.logits - ref["output"]).max() > 100 * PARITY_TOLERANCE
    # And the espresso no longer comes out as in the article.
    espresso = cnn_model.trace(flipped, SHARED_EXPLAINER / "img" / "espresso_1.jpeg")
    assert round(float(espresso.probabilities[espresso.prediction]), 3) != 0.880


@needs_shared
def test_conversion_layout_and_card(fetched) -> None:
    location = store.resolve("cnn-explainer")
    assert location.source == "fetched"
    assert location.weights == explainer.cache_dir() / "model.safetensors"
    with open(location.weights, "rb") as handle:
        header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    assert json.loads(header["__metadata__"]["cnnlesson"])["flatten_order"] == "hwc"
    assert store.read_facts(location.weights).flatten_order == "hwc"
    card = store.read_card(location)
    assert card["classes"] == [
        "lifeboat",
        "ladybug",
        "pizza",
        "bell pepper",
        "school bus",
        "koala",
        "espresso",
        "red panda",
        "orange",
        "sport car",
    ]
    assert fetched.classes == card["classes"]
    assert card["licence"] == "MIT" and "Polo Club of Data Science" in card["attribution"]
    assert card["source"]["commit"] == explainer.COMMIT
    assert card["source"]["files"]["model.json"] == explainer.SHA256["model.json"]
    assert card["sha256"] == store.sha256_file(location.weights) == fetched.sha256
    assert "no resize" in card["preprocessing"]
    # Kernel [kh, kw, in, out] became (out, in, kh, kw): spot-check one weight by hand.
    raw = (SHARED_EXPLAINER / "group1-shard1of1.bin").read_bytes()
    kernel = np.frombuffer(raw, dtype="<f4", count=3 * 3 * 3 * 10).reshape(3, 3, 3, 10)
    assert float(fetched.conv_1_1.weight.detach()[7, 2, 0, 1]) == float(kernel[0, 1, 2, 7])


def test_unfetched_model_says_how_to_fetch_it(isolated_home: Path) -> None:
    with pytest.raises(ModelError, match=r"model fetch cnn-explainer"):
        store.resolve("cnn-explainer")
    assert "cnn-explainer" in store.known_names()
    assert explainer.images_dir() is None


# --- refusing other architectures ----------------------------------------


def _copy_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(SHARED_EXPLAINER / "model.json", folder / "model.json")
    shutil.copy(SHARED_EXPLAINER / "group1-shard1of1.bin", folder / "group1-shard1of1.bin")
    return folder


def _edit(folder: Path, change) -> Path:
    path = folder / "model.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return path


def _layers(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["modelTopology"]["model_config"]["config"]["layers"]


def _weights(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["weightsManifest"][0]["weights"]


@needs_shared
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: _layers(d)[2]["config"].update(strides=[2, 2]), r"conv_1_2\): strides"),
        (lambda d: _layers(d)[5]["config"].update(padding="same"), r"conv_2_1\): padding"),
        (lambda d: _layers(d)[1]["config"].update(activation="tanh"), r"relu_1_1\): activation"),
        (lambda d: _layers(d)[4].update(class_name="AveragePooling2D"), r"is a AveragePooling2D"),
        (lambda d: _layers(d).pop(3), r"layers are \[.*\], expected"),
        (lambda d: _layers(d)[11]["config"].update(units=5), r"output\): units is 5"),
        (lambda d: _weights(d)[0].update(dtype="float16"), r"dtype 'float16'"),
        (lambda d: _weights(d)[0].update(shape=[3, 3, 3, 9]), r"bytes of the weight shards"),
        (lambda d: d["weightsManifest"][0].update(paths=["../x.bin"]), r"unsafe"),
        (lambda d: d.pop("modelTopology"), r"no modelTopology"),
    ],
)
def test_conversion_refuses_anything_but_tinyvgg(tmp_path: Path, change, message: str) -> None:
    path = _edit(_copy_model(tmp_path), change)
    with pytest.raises(ModelError, match=message):
        explainer.convert(path)


@needs_shared
def test_conversion_refuses_a_short_shard(tmp_path: Path) -> None:
    folder = _copy_model(tmp_path)
    shard = folder / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-40])
    with pytest.raises(ModelError, match=r"end before output/bias"):
        explainer.convert(folder / "model.json")


# --- fetching ------------------------------------------------------------


def _installed_nothing() -> None:
    assert not explainer.cache_dir().exists()
    parent = explainer.cache_dir().parent
    leftovers = list(parent.iterdir()) if parent.exists() else []
    assert leftovers == [], leftovers


@needs_shared
def test_fetch_from_local_folder_via_cli(isolated_home: Path) -> None:
    done = cli("model", "fetch", "cnn-explainer", "--from", str(SHARED_EXPLAINER))
    assert done.returncode == 0, done.stderr
    assert "23 files verified" in done.stdout
    assert "[23/23] img/white.jpeg" in done.stderr  # per-file progress
    for name, digest in explainer.SHA256.items():
        assert store.sha256_file(explainer.cache_dir() / name) == digest
    model = cnn_model.load_model("cnn-explainer")
    assert model.num_classes == 10 and model.flatten_order == "hwc"
    assert samples.find_sample("espresso_1") == explainer.cache_dir() / "img" / "espresso_1.jpeg"
    assert samples.find_sample("white") == explainer.cache_dir() / "img" / "white.jpeg"
    assert "espresso_1" in samples.sample_names()
    # A second fetch finds everything verified and changes nothing.
    before = explainer.cache_dir().stat().st_mtime_ns
    again = cli("model", "fetch", "cnn-explainer", "--from", str(SHARED_EXPLAINER))
    assert again.returncode == 0 and "already fetched and verified" in again.stdout
    assert explainer.cache_dir().stat().st_mtime_ns == before


@needs_shared
def test_fetch_from_file_url(isolated_home: Path) -> None:
    url = SHARED_EXPLAINER.as_uri()
    assert url.startswith("file://")
    result = explainer.fetch(url)
    assert not result.already_present and result.source == url + "/"
    card = store.read_card(result.location)
    assert card["source"]["fetched_from"] == url + "/"
    t = cnn_model.trace(cnn_model.load_model("cnn-explainer"), samples.find_sample("koala_1"))
    assert t.predicted_class == "koala"


@needs_shared
def test_fetch_from_a_clone_of_the_repository(isolated_home: Path) -> None:
    clone = isolated_home / "clone"
    for name in explainer.SHA256:
        target = clone / explainer.upstream_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_EXPLAINER / name, target)
    assert (clone / "public/assets/data/model.json").is_file()
    assert (clone / "public/assets/img/espresso_1.jpeg").is_file()
    explainer.fetch(clone)
    assert cnn_model.load_model("cnn-explainer").classes[6] == "espresso"


@needs_shared
def test_a_corrupted_file_is_rejected_and_nothing_installed(isolated_home: Path) -> None:
    copy = isolated_home / "copy"
    shutil.copytree(SHARED_EXPLAINER, copy)
    damaged = copy / "img" / "koala_2.jpeg"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.chmod(0o644)
    damaged.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ModelError) as caught:
        explainer.fetch(copy)
    message = str(caught.value)
    assert "img/koala_2.jpeg" in message
    assert explainer.SHA256["img/koala_2.jpeg"] in message and actual in message
    _installed_nothing()
    with pytest.raises(ModelError, match="has not been fetched"):
        cnn_model.load_model("cnn-explainer")

    # Through the CLI: one line, exit status 2, no traceback.
    done = cli("model", "fetch", "cnn-explainer", "--from", str(copy), "--quiet")
    assert done.returncode == 2
    assert "checksum mismatch" in done.stderr and "Traceback" not in done.stderr
    _installed_nothing()


@needs_shared
def test_a_failed_refetch_keeps_the_good_install(isolated_home: Path) -> None:
    explainer.fetch(SHARED_EXPLAINER)
    good = store.sha256_file(explainer.cache_dir() / "model.safetensors")
    copy = isolated_home / "copy"
    shutil.copytree(SHARED_EXPLAINER, copy)
    shard = copy / "group1-shard1of1.bin"
    shard.chmod(0o644)
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"group1-shard1of1.bin: checksum mismatch"):
        explainer.fetch(copy, force=True)
    assert store.sha256_file(explainer.cache_dir() / "model.safetensors") == good
    assert sorted(p.name for p in explainer.cache_dir().parent.iterdir()) == [explainer.COMMIT]
    assert cnn_model.load_model("cnn-explainer").sha256 == good


@needs_shared
def test_a_missing_file_in_the_local_copy_is_named(isolated_home: Path) -> None:
    copy = isolated_home / "copy"
    shutil.copytree(SHARED_EXPLAINER, copy)
    (copy / "img").chmod(0o755)
    (copy / "img" / "white.jpeg").unlink()
    with pytest.raises(ModelError, match=r"white.jpeg: missing from the local copy"):
        explainer.fetch(copy)
    _installed_nothing()


def test_an_unreachable_url_fails_fast_and_clearly(isolated_home: Path) -> None:
    start = time.perf_counter()
    done = cli("model", "fetch", "cnn-explainer", "--from", "http://127.0.0.1:9/")
    seconds = time.perf_counter() - start
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "cannot download http://127.0.0.1:9/model.json" in done.stderr
    assert "--from FOLDER" in done.stderr  # says what to do instead
    assert seconds < 20  # interpreter start-up included; the refusal itself is instant
    _installed_nothing()


def test_a_server_that_does_not_speak_http_and_a_broken_address(isolated_home: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def answer_garbage() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"GARBAGE\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        with pytest.raises(ModelError, match=r"bad answer \(BadStatusLine"):
            explainer.fetch(f"http://127.0.0.1:{port}/")
    finally:
        server.close()
    done = cli("model", "fetch", "cnn-explainer", "--from", "http://[::1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not a usable folder or address" in done.stderr
    _installed_nothing()


def test_fetch_from_a_folder_that_does_not_exist(isolated_home: Path) -> None:
    with pytest.raises(ModelError, match="no such folder"):
        explainer.fetch(isolated_home / "nowhere")
    empty = isolated_home / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=r"no model\.json here"):
        explainer.fetch(empty)
    _installed_nothing()


# --- the commands of "done when" ------------------------------------------


@needs_shared
def test_classify_espresso_with_cnn_explainer(isolated_home: Path) -> None:
    explainer.fetch(SHARED_EXPLAINER)
    image = SHARED_EXPLAINER / "img" / "espresso_1.jpeg"
    done = cli("classify", str(image), "--model", "cnn-explainer")
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0].split()
    assert first == ["espresso", "0.880"]
    as_json = cli("classify", str(image), "--model", "cnn-explainer", "--json")
    payload = json.loads(as_json.stdout)
    assert payload["model"] == "cnn-explainer" and payload["prediction"] == "espresso"
    assert list(payload["probabilities"]) == list(explainer.CLASSES)
    assert round(payload["probabilities"]["espresso"], 3) == 0.880


@pytest.mark.render
@needs_shared
def test_lesson_with_cnn_explainer_renders(isolated_home: Path) -> None:
    import av

    from manifest_check import check_values

    explainer.fetch(SHARED_EXPLAINER)
    lesson = ROOT / "tests" / "lessons" / "explainer_espresso.yaml"
    out = isolated_home / "media"
    done = cli("render", str(lesson), "-q", "l", "-o", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((video.parent / "manifest.json").read_text())
    model = cnn_model.load_model("cnn-explainer")
    assert manifest["model"]["name"] == "cnn-explainer"
    assert manifest["model"]["sha256"] == model.sha256
    assert manifest["prediction"]["class"] == "espresso"
    assert round(manifest["prediction"]["probability"], 3) == 0.880
    step = manifest["steps"][1]
    pixels = cnn_model.trace(model, samples.find_sample("espresso_1")).image
    assert check_values(step["values"], model, pixels, step["facts"]) >= 27
    with av.open(str(video)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == manifest["frames"] > 0
    assert frames[-1].to_ndarray(format="rgb24").std() > 10
