"""Training TinyVGG on an image folder, end to end, and using the result."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import cnn_model
from cnn_model import ImageError, ModelError, folder, store
from cnn_model.train import TrainConfig
from conftest import ROOT
from rendering import cnnlesson
from scenes.cli import main

CLASSES = ("dark", "light", "split")
PER_CLASS = 20
NAME = "tiny-folder"
SIZES = ((64, 64), (96, 80), (50, 70), (128, 128), (200, 90))


def draw(kind: str, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A dark, a light, or a dark-left/light-right picture with a few random blobs."""
    w, h = size
    tint = rng.uniform(0, 1, 3)
    if kind == "split":
        base = np.empty((h, w, 3))
        base[:, : w // 2] = 20 + 60 * tint
        base[:, w // 2 :] = 170 + 70 * tint
    else:
        lo, hi = (10, 90) if kind == "dark" else (165, 245)
        base = np.broadcast_to(lo + (hi - lo) * tint, (h, w, 3)).copy()
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(noisy)
    pen = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        x, y = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
        r = rng.uniform(3, min(w, h) / 6)
        shade = np.clip(base[int(y), int(x)] + rng.normal(0, 40, 3), 0, 255)
        pen.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in shade))
    return image


def make_folder(root: Path, per_class: int = PER_CLASS) -> Path:
    """Three classes of images in assorted sizes, modes and formats."""
    for k, kind in enumerate(CLASSES):
        target = root / kind
        target.mkdir(parents=True)
        for i in range(per_class):
            image = draw(kind, np.random.default_rng([k, i]), SIZES[i % len(SIZES)])
            form = i % 4
            if form == 0:
                image.save(target / f"{i:02d}.png")
            elif form == 1:
                image.convert("L").save(target / f"{i:02d}.jpg", quality=90)
            elif form == 2:
                image.convert("RGBA").save(target / f"{i:02d}.webp")
            else:
                image.convert("P").save(target / f"{i:02d}.gif")
    (root / "dark" / "README.txt").write_text("notes are not images\n")
    (root / ".hidden").mkdir()
    return root


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return cnnlesson(*args, env={"COLUMNS": "500", **env})


class Trained:
    def __init__(
        self, data: Path, home: Path, done: subprocess.CompletedProcess[str], seconds: float
    ):
        self.data = data
        self.home = home
        self.done = done
        self.seconds = seconds
        self.env = {"CNNLESSON_DATA": str(home / "data"), "CNNLESSON_CACHE": str(home / "cache")}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    home = tmp_path_factory.mktemp("home")
    data = make_folder(home / "images")
    start = time.perf_counter()
    env = {"CNNLESSON_DATA": str(home / "data"), "CNNLESSON_CACHE": str(home / "cache")}
    done = cli(
        "model", "train", "--data", str(data), "--name", NAME,
        "--epochs", "10", "--batch-size", "8", env=env,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    print(f"\nfolder training: {seconds:.1f} s\n{done.stdout}")
    return Trained(data, home, done, seconds)


@pytest.fixture()
def trained_home(trained: Trained, monkeypatch: pytest.MonkeyPatch) -> Trained:
    for key, value in trained.env.items():
        monkeypatch.setenv(key, value)
    return trained


def test_training_on_a_folder_runs_end_to_end(trained_home: Trained) -> None:
    t = trained_home
    assert t.seconds < 180
    # Progress on stderr: the split, reading, every epoch.
    assert "3 classes (dark 20, light 20, split 20): 48 training and 12 held-out" in t.done.stderr
    assert "ignoring 1 file that is not an image: dark/README.txt" in t.done.stderr
    assert "reading images: 60/60" in t.done.stderr
    assert "epoch 10/10" in t.done.stderr
    assert "held-out accuracy" in t.done.stdout
    assert f"`model: {NAME}`" in t.done.stdout

    model = cnn_model.load_model(NAME)
    assert model.num_classes == 3 and model.classes == list(CLASSES)
    assert model.output.weight.shape == (3, 1690)
    location = store.resolve(NAME)
    assert location.source == "trained"
    assert location.weights == t.home / "data" / "models" / NAME / "model.safetensors"
    card = model.card
    assert card["name"] == NAME and card["classes"] == list(CLASSES)
    assert card["accuracy_split"] == "heldout" and card["heldout_count"] == 12
    assert card["train_count"] == 48 and card["seed"] == 0 and card["epochs"] == 10
    assert card["data"]["path"] == str(t.data.resolve())
    assert card["data"]["class_counts"] == {"dark": 20, "light": 20, "split": 20}
    assert card["data"]["file_list_sha256"] == folder.scan(t.data).file_list_sha256()
    assert card["command"].startswith("cnnlesson model train --data ")
    assert card["sha256"] == store.sha256_file(location.weights) == model.sha256
    assert "centre-cropped" in card["preprocessing"]
    # These classes are easy: a model that learned them scores well on unseen images.
    assert card["accuracy"] >= 0.8


def test_reported_accuracy_is_what_the_model_scores_on_the_heldout_split(
    trained_home: Trained,
) -> None:
    model = cnn_model.load_model(NAME)
    _, heldout = folder.split(folder.scan(trained_home.data), 0.2, seed=0)
    assert len(heldout) == 12
    assert sorted(label for _, label in heldout) == [0] * 4 + [1] * 4 + [2] * 4
    correct = sum(cnn_model.trace(model, path).prediction == label for path, label in heldout)
    assert model.card["accuracy"] == round(correct / len(heldout), 4)
    assert (
        f"held-out accuracy {model.card['accuracy']:.4f} on 12 images" in trained_home.done.stdout
    )


def test_trained_model_is_named_like_any_other(trained_home: Trained, capsys) -> None:
    image = str(trained_home.data / "light" / "01.jpg")
    assert main(["classify", image, "--model", NAME, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"] == NAME and list(payload["probabilities"]) == list(CLASSES)
    assert main(["model", "list", "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)["models"]]
    assert names == ["default", "cnn-explainer", NAME]
    weights = store.resolve(NAME).weights
    assert main(["classify", image, "--model", str(weights), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["probabilities"] == payload["probabilities"]


@pytest.mark.render
def test_trained_model_renders_in_a_lesson(trained_home: Trained) -> None:
    import av

    from manifest_check import check_values

    t = trained_home
    lesson = t.home / "trained_lesson.yaml"
    lesson.write_text(
        f"title: My own model\n"
        f"model: {NAME}\n"
        f"image: images/split/00.png\n"
        "steps:\n"
        "  - type: title\n"
        "    text: Trained on my images\n"
        "  - type: convolution\n"
        "    layer: conv_1_1\n"
        "    neuron: 2\n"
        "    channel: 1\n"
        "    positions: 1\n"
        "    sweep_seconds: 1\n"
    )
    out = t.home / "media"
    done = cli("render", str(lesson), "-q", "l", "-o", str(out), "--quiet", env=t.env)
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((video.parent / "manifest.json").read_text())
    model = cnn_model.load_model(NAME)
    assert manifest["model"]["name"] == NAME
    assert manifest["model"]["classes"] == list(CLASSES)
    assert manifest["model"]["sha256"] == model.sha256
    step = manifest["steps"][1]
    pixels = cnn_model.trace(model, t.data / "split" / "00.png").image
    assert check_values(step["values"], model, pixels, step["facts"]) >= 27
    with av.open(str(video)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == manifest["frames"] > 0


def test_trained_model_gets_the_training_and_features_lessons(trained_home: Trained) -> None:
    """The default course's chapters on training and learned features, with a model
    trained on the author's own folder: its history, its held-out images, its classes."""
    import av

    t = trained_home
    image = t.data / "split" / "00.png"  # its class is its folder's name
    model = cnn_model.load_model(NAME)
    for name in ("training", "features"):
        out = t.home / f"media-{name}"
        done = cli(
            "render", str(ROOT / "lessons" / f"{name}.yaml"), "--model", NAME,
            "--image", str(image), "-q", "l", "-o", str(out), "--quiet", env=t.env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        video = Path(done.stdout.strip().splitlines()[-1])
        manifest = json.loads((video.parent / "manifest.json").read_text())
        assert manifest["model"]["classes"] == list(CLASSES)
        with av.open(str(video)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == manifest["frames"] > 0
        steps = manifest["steps"]
        if name == "training":
            (step,) = steps
            history = json.loads(
                (t.home / "data" / "models" / NAME / "model.history.json").read_text()
            )
            last = history["snapshots"][-1]["iteration"]
            assert step["facts"]["label"] == CLASSES.index("split")
            assert step["facts"]["iterations"] == [s["iteration"] for s in history["snapshots"]]
            # The last snapshot is the model: its probabilities are the model's own.
            probabilities = cnn_model.trace(model, image).probabilities
            shown = {
                v["index"][0]: v["value"]
                for v in step["values"]
                if v["kind"] == "probability" and v.get("iteration") == last
            }
            assert shown == pytest.approx({c: float(p) for c, p in enumerate(probabilities)})
        else:
            heldout = folder.split(folder.scan(t.data), 0.2, 0)[1]
            for step in steps:
                assert step["facts"]["data"]["source"] == "folder"
                assert step["facts"]["data"]["count"] == len(heldout) == 12


def test_training_is_deterministic(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "images", per_class=6)
    config = TrainConfig(seed=3, epochs=2, batch_size=4)
    first, card_a = folder.train_folder(data, config, "test")
    second, card_b = folder.train_folder(data, config, "test")
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    assert card_a["data"]["file_list_sha256"] == card_b["data"]["file_list_sha256"]
    assert card_a["accuracy"] == card_b["accuracy"]


# --- the split -----------------------------------------------------------


def _fake_folder(counts: dict[str, int]) -> folder.ImageFolder:
    root = Path("/nowhere")
    files = [[root / c / f"{i:03d}.png" for i in range(n)] for c, n in counts.items()]
    return folder.ImageFolder(root, list(counts), files)


def test_split_is_stratified_deterministic_and_keeps_every_class() -> None:
    data = _fake_folder({"a": 50, "b": 7, "c": 2, "d": 1})
    train, held = folder.split(data, 0.2, seed=0)
    held_counts = {c: sum(1 for _, label in held if label == i) for i, c in enumerate(data.classes)}
    assert held_counts == {"a": 10, "b": 1, "c": 1, "d": 0}
    train_counts = {c: sum(1 for _, lab in train if lab == i) for i, c in enumerate(data.classes)}
    assert train_counts == {"a": 40, "b": 6, "c": 1, "d": 1}
    assert not {p for p, _ in train} & {p for p, _ in held}
    assert folder.split(data, 0.2, seed=0) == (train, held)
    assert folder.split(data, 0.2, seed=1)[1] != held
    # Adding a class leaves the other classes' splits alone.
    more = _fake_folder({"a": 50, "b": 7, "c": 2, "d": 1, "e": 9})
    assert [p for p, _ in folder.split(more, 0.2, seed=0)[1] if p.parent.name == "a"] == [
        p for p, _ in held if p.parent.name == "a"
    ]
    assert folder.split(data, 0.0, seed=0)[1] == []
    with pytest.raises(ModelError, match="held-out fraction"):
        folder.split(data, 1.0)


# --- refusals ------------------------------------------------------------


def squash(text: str) -> str:
    """Text without whitespace: the console wraps long messages, even inside paths."""
    return "".join(text.split())


def _run(capsys, *args: str) -> tuple[int, str]:
    status = main(list(args))
    return status, squash(capsys.readouterr().err)


def test_folders_that_cannot_be_trained_on_are_refused(isolated_home: Path, capsys) -> None:
    root = isolated_home / "bad"
    one = root / "one-class"
    (one / "cats").mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(one / "cats" / "a.png")
    Image.new("RGB", (64, 64)).save(one / "loose.png")
    empty = root / "empty-class"
    (empty / "cats").mkdir(parents=True)
    (empty / "dogs").mkdir()
    (empty / "birds").mkdir()
    Image.new("RGB", (64, 64)).save(empty / "cats" / "a.png")
    (empty / "dogs" / "notes.txt").write_text("x")
    not_a_folder = root / "file.txt"
    not_a_folder.write_text("x")
    cases = {
        root / "missing": "no such folder",
        not_a_folder: "not a folder",
        one: "at least 2 classes, one sub-folder of images per class; found 1 (cats); "
        "the 1 images directly in it belong in class sub-folders",
        empty: "class folders have no images: birds, dogs",
    }
    for path, message in cases.items():
        status, err = _run(capsys, "model", "train", "--data", str(path), "--name", "x")
        assert status == 2, path
        assert squash(message) in err, err
    assert not (isolated_home / "data" / "models").exists()


def test_unreadable_images_are_named(isolated_home: Path, capsys) -> None:
    data = make_folder(isolated_home / "images", per_class=3)
    (data / "light" / "broken.png").write_text("not really a png")
    (data / "split" / "cut.jpg").write_bytes((data / "split" / "01.jpg").read_bytes()[:200])
    with pytest.raises(ImageError) as caught:
        folder.train_folder(data, TrainConfig(epochs=1), "test")
    message = str(caught.value)
    assert message.startswith("2 unreadable images")
    assert "light/broken.png: not an image" in message and "split/cut.jpg" in message
    status, err = _run(capsys, "model", "train", "--data", str(data), "--name", "x")
    assert status == 2 and "broken.png" in err
    assert not (isolated_home / "data" / "models").exists()


@pytest.mark.parametrize("name", ["default", "cnn-explainer", "no/slash"])
def test_reserved_and_invalid_names_are_refused(isolated_home: Path, capsys, name: str) -> None:
    data = make_folder(isolated_home / "images", per_class=2)
    status, err = _run(capsys, "model", "train", "--data", str(data), "--name", name)
    assert status == 2
    assert "reserved" in err or "invalidmodelname" in err
    assert not (isolated_home / "data" / "models").exists()


def test_refusal_through_the_real_command_has_no_traceback(isolated_home: Path) -> None:
    root = isolated_home / "one"
    (root / "only").mkdir(parents=True)
    done = cli("model", "train", "--data", str(root), "--name", "x", env={})
    assert done.returncode == 2
    assert "at least 2 classes" in done.stderr and "Traceback" not in done.stderr
