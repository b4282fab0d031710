"""Training histories: which iterations are kept, that keeping them changes nothing,
that every kept number is what torch computes, and that a damaged history is refused.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_folder_training import make_folder

from cnn_model import ModelError, store, synthetic
from cnn_model.history import (
    MAX_SNAPSHOTS,
    NO_HISTORY,
    STEP_PARAMETERS,
    Snapshots,
    history_digest,
    read_history,
    save_with_history,
    snapshot_iterations,
)
from cnn_model.network import TinyVGG
from cnn_model.train import TrainConfig, TrainResult, train
from rendering import cnnlesson
from scenes.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent / "hostile"))
from harness import run_capped

SEED = 5
CONFIG = TrainConfig(seed=SEED, epochs=2, batch_size=20, snapshots=8)
STEPS_PER_EPOCH = 120 // 20


# --- which iterations -------------------------------------------------------------------


@pytest.mark.parametrize("total", [12, 100, 250, 3500, 100_000])
@pytest.mark.parametrize("count", [3, 5, 8, 20, MAX_SNAPSHOTS])
def test_snapshot_iterations_are_log_spaced_from_the_start_to_the_end(
    total: int, count: int
) -> None:
    points = snapshot_iterations(total, count)
    assert points[:2] == [0, 1] and points[-1] == total
    assert all(a < b for a, b in itertools.pairwise(points))
    assert len(points) == min(count, total + 1)
    if total + 1 <= count:
        assert points == list(range(total + 1))
        return
    # Log-spaced from 1 to the end: each point about the same factor above the one
    # before. Rounding to whole iterations may force a larger factor where the points
    # are close together (2/1, 3/2), never elsewhere, and never a much smaller one.
    ideal = total ** (1 / (len(points) - 2))
    for a, b in itertools.pairwise(points[1:]):
        assert b / a <= max(1.35 * ideal, (a + 1) / a), (a, b, ideal)
        if (a + 1) / a < ideal:
            assert b / a >= ideal / 1.35, (a, b, ideal)
    # Dense where most changes: half the points come before about the geometric middle
    # (when there are few enough points for whole iterations to allow it).
    if 8 <= len(points) <= 20 and total >= 100:
        assert points[len(points) // 2] <= 2 * math.sqrt(total)


@pytest.mark.parametrize(("total", "count"), [(0, 5), (1, 5), (2, 20), (10, 20), (63, 64)])
def test_small_trainings_keep_every_iteration(total: int, count: int) -> None:
    assert snapshot_iterations(total, count) == list(range(total + 1))


@pytest.mark.parametrize("total", [0, 1, 12, 3500])
def test_zero_snapshots_keep_none(total: int) -> None:
    assert snapshot_iterations(total, 0) == []
    assert snapshot_iterations(total, -3) == []


def test_fewer_than_three_snapshots_still_keep_the_start_the_first_step_and_the_end() -> None:
    # The lesson on training needs the random start, Adam's first step and the result.
    assert snapshot_iterations(3500, 1) == [0, 1, 3500]
    assert snapshot_iterations(3500, 2) == [0, 1, 3500]


# --- training with snapshots ------------------------------------------------------------


class Runs:
    def __init__(self) -> None:
        self.x, self.y = synthetic.generate(120, "train", seed=3, workers=1)
        self.hx, self.hy = synthetic.generate(40, "heldout", seed=3, workers=1)
        self.first = self.train(CONFIG)
        self.second = self.train(CONFIG)
        self.without = self.train(TrainConfig(seed=SEED, epochs=2, batch_size=20, snapshots=0))

    def train(self, config: TrainConfig) -> TrainResult:
        return train(self.x, self.y, self.hx, self.hy, 10, config)


@pytest.fixture(scope="module")
def runs() -> Runs:
    return Runs()


def history_of(result: TrainResult) -> Snapshots:
    assert result.snapshots is not None
    return result.snapshots


def as_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 64, 64, 3) as the model reads it: float32 (N, 3, 64, 64) in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).contiguous()


def model_from(state: dict[str, np.ndarray]) -> TinyVGG:
    model = TinyVGG(num_classes=10)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    return model.eval()


def batch_of(iteration: int, n: int = 120) -> torch.Tensor:
    """The indices of the training batch of ``iteration``, shuffled as train() does:
    one permutation per epoch from one generator seeded with the seed."""
    shuffler = torch.Generator().manual_seed(SEED)
    epoch, step = divmod(iteration, STEPS_PER_EPOCH)
    for _ in range(epoch + 1):
        order = torch.randperm(n, generator=shuffler)
    return order[step * CONFIG.batch_size : (step + 1) * CONFIG.batch_size]


def test_training_with_snapshots_is_deterministic(runs: Runs) -> None:
    a, b = history_of(runs.first), history_of(runs.second)
    assert a.iterations == b.iterations == snapshot_iterations(2 * STEPS_PER_EPOCH, 8)
    assert len(a.iterations) == 8
    assert a.metrics == b.metrics and a.record == b.record
    for state_a, state_b in zip(a.states, b.states, strict=True):
        assert state_a.keys() == state_b.keys() == store.expected_shapes(10).keys()
        for name, value in state_a.items():
            assert value.dtype == state_b[name].dtype == np.float32
            assert np.array_equal(value, state_b[name]), name
    assert a.step_gradients.keys() == set(STEP_PARAMETERS)
    for name, value in a.step_gradients.items():
        assert value.dtype == np.float32 and np.array_equal(value, b.step_gradients[name])
    # The last snapshot is the trained model, bit for bit.
    final = runs.first.model.state_dict()
    assert a.states[-1].keys() == final.keys()
    for name, value in final.items():
        assert np.array_equal(a.states[-1][name], value.numpy()), name


def test_recording_snapshots_does_not_change_the_training(runs: Runs) -> None:
    assert runs.without.snapshots is None
    trained, plain = runs.first.model.state_dict(), runs.without.model.state_dict()
    for name, value in trained.items():
        assert torch.equal(value, plain[name]), name
    assert runs.first.history == runs.without.history
    assert runs.first.accuracy == runs.without.accuracy


def test_snapshot_zero_is_the_random_start_and_the_next_is_one_adam_step(runs: Runs) -> None:
    history = history_of(runs.first)
    torch.manual_seed(SEED)  # as train() does, just before it builds the model
    start = TinyVGG(num_classes=10).state_dict()
    for name, value in start.items():
        assert np.array_equal(history.states[0][name], value.numpy()), name
    first = history.record["first_step"]
    assert first["weight_decay"] == 0.0 and first["eps"] == 1e-8
    assert first["lr"] == pytest.approx(CONFIG.max_lr / 25)  # OneCycleLR starts at max/25
    assert history.iterations[1] == 1
    lr, eps = first["lr"], first["eps"]
    for name in STEP_PARAMETERS:
        before = history.states[0][name].astype(np.float64)
        after = history.states[1][name]
        grad = history.step_gradients[name].astype(np.float64)
        # Adam's first step, its moments bias-corrected: m̂ = g and v̂ = g², whatever the betas.
        expected = -lr * grad / (np.abs(grad) + eps)
        change = after.astype(np.float64) - before
        # The weights are float32: the step lands on the nearest float32, half a unit
        # in the last place (ulp) of the new weight away at most. The step itself is
        # some thousands of ulps, so this tolerance still pins it down.
        ulp = np.spacing(np.abs(after)).astype(np.float64)
        assert np.all(np.abs(change - expected) <= 1e-5 * np.abs(expected) + 1e-9 + ulp), name
        assert np.median(np.abs(expected) / ulp) > 100
    # Every other parameter moved too (one step of the whole model), none by more than lr.
    for name in history.states[0]:
        change = history.states[1][name] - history.states[0][name]
        assert np.abs(change).max() <= lr * 1.0001 and np.abs(change).max() > lr / 2, name


def test_the_first_step_gradient_and_loss_are_the_first_batchs(runs: Runs) -> None:
    history = history_of(runs.first)
    model = model_from(history.states[0]).train()
    batch = batch_of(0)
    loss = F.cross_entropy(model(as_input(runs.x[batch.numpy()])), torch.from_numpy(runs.y)[batch])
    loss.backward()
    first = history.record["first_step"]
    assert first["batch_loss"] == pytest.approx(loss.item(), rel=1e-6, abs=1e-6)
    assert history.metrics[0]["train_loss"] == first["batch_loss"]
    named = dict(model.named_parameters())
    for name in STEP_PARAMETERS:
        grad = named[name].grad
        assert grad is not None
        np.testing.assert_allclose(history.step_gradients[name], grad.numpy(), rtol=1e-4, atol=1e-9)


def test_every_snapshots_numbers_are_what_torch_computes_from_its_weights(runs: Runs) -> None:
    history = history_of(runs.first)
    images, labels = as_input(runs.hx), torch.from_numpy(runs.hy)
    train_images, train_labels = torch.from_numpy(runs.x), torch.from_numpy(runs.y)
    schedule = one_cycle_rates(2 * STEPS_PER_EPOCH)
    for index, (iteration, entry) in enumerate(
        zip(history.iterations, history.metrics, strict=True)
    ):
        assert entry["iteration"] == iteration
        assert entry["epoch"] == round(iteration / STEPS_PER_EPOCH, 4)
        assert entry["lr"] == pytest.approx(schedule[iteration], rel=1e-12)
        model = model_from(history.states[index])
        with torch.no_grad():
            logits = model(images)
        assert entry["heldout_loss"] == pytest.approx(
            float(F.cross_entropy(logits, labels)), abs=1e-6
        )
        assert entry["heldout_accuracy"] == int((logits.argmax(1) == labels).sum()) / len(labels)
        # Right after a snapshot at iteration k-1, the snapshot at k holds the loss of
        # one batch, the one at iteration k-1, computed with the weights of k-1.
        if index > 0 and history.iterations[index - 1] == iteration - 1:
            previous = model_from(history.states[index - 1])
            batch = batch_of(iteration - 1).numpy()
            with torch.no_grad():
                loss = F.cross_entropy(
                    previous(as_input(train_images[batch].numpy())), train_labels[batch]
                )
            assert entry["train_loss"] == pytest.approx(float(loss), rel=1e-6, abs=1e-6)
    assert sum(history.iterations[i - 1] == history.iterations[i] - 1 for i in range(1, 8)) >= 4


def one_cycle_rates(total: int) -> list[float]:
    """OneCycleLR's learning rate after 0, 1, ... ``total`` steps, on its own."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimiser = torch.optim.Adam([parameter], lr=CONFIG.max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=CONFIG.max_lr, total_steps=total
    )
    rates = [optimiser.param_groups[0]["lr"]]
    for _ in range(total):
        optimiser.step()
        schedule.step()
        rates.append(optimiser.param_groups[0]["lr"])
    return rates


# --- on disk ------------------------------------------------------------------------------


def card_for_test() -> dict[str, Any]:
    return {"name": "x", "classes": list(synthetic.CLASSES), "accuracy": 0.1}


@pytest.fixture(scope="module")
def saved(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding x.safetensors, x.json and x's history, as training saves them."""
    folder = tmp_path_factory.mktemp("saved")
    weights = folder / "x.safetensors"
    save_with_history(
        runs.first.model, weights, card_for_test(), folder / "x.json", runs.first.snapshots
    )
    return folder


def assert_same_history(read: Snapshots, written: Snapshots) -> None:
    assert read.iterations == written.iterations
    assert read.metrics == written.metrics
    for got, want in zip(read.states, written.states, strict=True):
        assert got.keys() == want.keys()
        for name in want:
            assert got[name].dtype == np.float32 and np.array_equal(got[name], want[name]), name
    for name, value in written.step_gradients.items():
        assert np.array_equal(read.step_gradients[name], value)
    assert read.record["first_step"] == written.record["first_step"]


def test_a_saved_history_reads_back_the_same(
    runs: Runs, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = history_of(runs.first)
    weights, card_path = store.trained_paths("with-history")
    digest = save_with_history(runs.first.model, weights, card_for_test(), card_path, written)
    tensors = weights.with_name("model.history.safetensors")
    record_path = weights.with_name("model.history.json")
    card = json.loads(card_path.read_text())
    assert card["history"] == {
        "tensors": tensors.name,
        "record": record_path.name,
        "snapshots": 8,
        "tensors_sha256": hashlib.sha256(tensors.read_bytes()).hexdigest(),
    }
    record = json.loads(record_path.read_text())
    assert record["weights_sha256"] == digest == card["sha256"]
    assert record["tensors"] == tensors.name and record["snapshots"] == written.metrics
    assert_same_history(read_history(store.resolve(str(weights))), written)
    assert_same_history(read_history(store.resolve("with-history")), written)
    # The model itself is used as before.
    assert main(["model", "info", "--model", "with-history", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sha256"] == digest and info["classes"] == list(synthetic.CLASSES)
    assert main(["model", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert rows["with-history"]["problem"] is None
    assert rows["with-history"]["weights"] == str(weights)


def test_the_shipped_model_has_a_history_ending_in_its_weights() -> None:
    history = read_history(store.shipped_default())
    assert len(history.iterations) == 20 and history.iterations[:2] == [0, 1]
    accuracies = [m["heldout_accuracy"] for m in history.metrics]
    assert accuracies[0] < 0.3 < 0.8 < accuracies[-1]


# --- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("folder") / "images")


def train_cli(folder: Path, out: Path, snapshots: str) -> Any:
    return cnnlesson(
        "model", "train", "--data", str(folder), "--epochs", "1", "--batch-size", "8",
        "--snapshots", snapshots, "--out", str(out), "--quiet",
        env={"COLUMNS": "500"}, timeout=300,
    )  # fmt: skip


def test_the_train_command_writes_the_history_beside_the_weights(
    image_folder: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "x.safetensors"
    done = train_cli(image_folder, weights, "5")
    assert done.returncode == 0, done.stderr
    # 48 training images in batches of 8: 6 steps.
    kept = snapshot_iterations(6, 5)
    assert len(kept) == 5
    assert f"training history: 5 snapshots (iterations 0 to {kept[-1]}) beside the weights" in (
        done.stdout
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "x.history.json",
        "x.history.safetensors",
        "x.json",
        "x.safetensors",
    ]
    card = json.loads((tmp_path / "x.json").read_text())
    assert card["history"]["tensors"] == "x.history.safetensors"
    assert card["history"]["record"] == "x.history.json"
    history = read_history(store.resolve(str(weights)))
    assert history.iterations == kept
    assert history.record["num_classes"] == 3 and history.record["heldout_count"] == 12
    assert [m["iteration"] for m in history.metrics] == kept


def test_the_train_command_keeps_no_history_when_told(image_folder: Path, tmp_path: Path) -> None:
    weights = tmp_path / "x.safetensors"
    done = train_cli(image_folder, weights, "0")
    assert done.returncode == 0, done.stderr
    assert "training history" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.safetensors"]
    assert "history" not in json.loads((tmp_path / "x.json").read_text())
    with pytest.raises(ModelError) as refused:
        read_history(store.resolve(str(weights)))
    assert str(refused.value) == NO_HISTORY


@pytest.mark.parametrize(
    ("count", "message"),
    [("65", "expected at most 64, got 65"), ("-1", "expected at least 0, got -1")],
)
def test_the_train_command_refuses_snapshot_counts_out_of_range(
    image_folder: Path, tmp_path: Path, count: str, message: str
) -> None:
    done = train_cli(image_folder, tmp_path / "x.safetensors", count)
    assert done.returncode == 2
    assert "--snapshots" in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


# --- damaged histories ----------------------------------------------------------------------


def copy_model(saved: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(saved, folder)
    return folder / "x.safetensors"


def patch_value(path: Path, tensor: str, index: int, value: float) -> float:
    """Write ``value`` (as float32) over element ``index`` of ``tensor`` in a safetensors
    file, in place; returns the value that was there."""
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    at = 8 + size + header[tensor]["data_offsets"][0] + 4 * index
    old = float(np.frombuffer(bytes(data[at : at + 4]), dtype="<f4")[0])
    data[at : at + 4] = np.array([value], dtype="<f4").tobytes()
    path.write_bytes(bytes(data))
    return old


def refusal(weights: Path) -> str:
    with pytest.raises(ModelError) as refused:
        read_history(store.resolve(str(weights)))
    return str(refused.value)


def test_a_history_whose_last_snapshot_is_not_the_weights_is_refused(
    saved: Path, tmp_path: Path
) -> None:
    weights = copy_model(saved, tmp_path)
    tensors = weights.with_name("x.history.safetensors")
    name = "000012/conv_2_1.weight"
    old = patch_value(tensors, name, 7, 0.0)
    patch_value(tensors, name, 7, float(np.nextafter(np.float32(old), np.float32(1))))
    message = refusal(weights)
    assert message.startswith(str(tensors)) and "its last snapshot is not the model's weights" in (
        message
    )


def test_a_history_with_nan_is_refused(saved: Path, tmp_path: Path) -> None:
    weights = copy_model(saved, tmp_path)
    tensors = weights.with_name("x.history.safetensors")
    patch_value(tensors, "000003/output.weight", 100, float("nan"))
    message = refusal(weights)
    assert message.startswith(str(tensors))
    assert "tensor 000003/output.weight holds a value that is not a finite number" in message


def test_a_history_with_a_changed_middle_snapshot_is_refused(saved: Path, tmp_path: Path) -> None:
    # Only the last snapshot is the weights: an earlier one is checked by the hash the
    # card and the record were written with.
    weights = copy_model(saved, tmp_path)
    tensors = weights.with_name("x.history.safetensors")
    patch_value(tensors, "000001/conv_1_1.weight", 3, 0.5)
    message = refusal(weights)
    assert message == (
        f"{tensors}: not the file its model card names (its SHA-256 differs); "
        "the training history is damaged or belongs to another model"
    )


def test_a_history_with_a_wrongly_shaped_tensor_is_refused(saved: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    weights = copy_model(saved, tmp_path)
    tensors = weights.with_name("x.history.safetensors")
    data = tensors.read_bytes()
    metadata = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]
    arrays = load_file(str(tensors))
    arrays["000002/conv_1_2.weight"] = arrays["000002/conv_1_2.weight"][:, :, :, :2].copy()
    save_file(arrays, str(tensors), metadata=metadata)
    message = refusal(weights)
    assert message.startswith(str(tensors)) and "000002/conv_1_2.weight" in message


def test_a_history_with_bytes_after_its_last_tensor_is_refused(saved: Path, tmp_path: Path) -> None:
    weights = copy_model(saved, tmp_path)
    tensors = weights.with_name("x.history.safetensors")
    tensors.write_bytes(tensors.read_bytes() + b"\0" * 12)
    message = refusal(weights)
    assert message == f"{tensors}: 12 bytes follow the last tensor"


def test_a_record_that_describes_other_snapshots_is_refused(saved: Path, tmp_path: Path) -> None:
    weights = copy_model(saved, tmp_path)
    record_path = weights.with_name("x.history.json")
    record = json.loads(record_path.read_text())
    assert record["snapshots"][-2]["iteration"] == 8
    record["snapshots"][-2]["iteration"] = 7  # still in order: only the tensors disagree
    record_path.write_text(json.dumps(record))
    message = refusal(weights)
    tensors = weights.with_name("x.history.safetensors")
    assert message == f"{tensors}: its snapshots are not the ones x.history.json describes"


@pytest.mark.parametrize("where", ["parent", "absolute"])
@pytest.mark.parametrize("key", ["tensors", "record"])
def test_a_card_may_only_name_history_files_beside_the_weights(
    saved: Path, tmp_path: Path, key: str, where: str
) -> None:
    weights = copy_model(saved, tmp_path)
    real = weights.with_name(f"x.history.{'safetensors' if key == 'tensors' else 'json'}")
    # A perfectly good history file elsewhere: only where it lies is wrong.
    elsewhere = tmp_path / f"elsewhere{real.suffix}"
    shutil.copy(real, elsewhere)
    card_path = weights.with_name("x.json")
    card = json.loads(card_path.read_text())
    card["history"][key] = f"../{elsewhere.name}" if where == "parent" else str(elsewhere)
    card_path.write_text(json.dumps(card))
    message = refusal(weights)
    assert message == f"{card_path}: 'history.{key}' must be a file name beside the weights"


@pytest.mark.parametrize("name", ["x.history.safetensors", "x.history.json"])
def test_a_missing_history_file_is_refused(saved: Path, tmp_path: Path, name: str) -> None:
    weights = copy_model(saved, tmp_path)
    weights.with_name(name).unlink()
    message = refusal(weights)
    assert message == f"{weights.with_name(name)}: cannot read this training history (no such file)"


@pytest.mark.parametrize("name", ["x.history.safetensors", "x.history.json"])
def test_a_history_file_that_is_a_fifo_is_refused_without_blocking(
    saved: Path, tmp_path: Path, name: str
) -> None:
    weights = copy_model(saved, tmp_path)
    fifo = weights.with_name(name)
    fifo.unlink()
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            read_history(store.resolve(str(weights)))
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():
        # Blocked opening the FIFO: open its other end so the thread can finish.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=5)
        pytest.fail(f"reading a history whose {name} is a FIFO blocked")
    assert len(outcome) == 1 and isinstance(outcome[0], ModelError), outcome
    assert str(outcome[0]) == (
        f"{fifo}: cannot read this training history (a named pipe (FIFO), not a regular file)"
    )


# --- lessons on a model without a (usable) history -------------------------------------------

LESSON = (
    "title: Training\nmodel: ./default.safetensors\nsteps:\n  - type: training\n    label: star\n"
)


def default_copy(tmp_path: Path, with_history: bool) -> None:
    shipped = store.shipped_default()
    shutil.copy(shipped.weights, tmp_path / "default.safetensors")
    assert shipped.card is not None
    card = json.loads(shipped.card.read_text())
    if with_history:
        for name in ("tensors", "record"):
            shutil.copy(shipped.card.with_name(card["history"][name]), tmp_path)
    else:
        del card["history"]
    (tmp_path / "default.json").write_text(json.dumps(card))
    (tmp_path / "lesson.yaml").write_text(LESSON)


def validate(tmp_path: Path) -> Any:
    run = run_capped(["validate", "lesson.yaml"], cwd=tmp_path, env={"COLUMNS": "500"}, timeout=60)
    assert run.returncode == 2, run.output
    assert "Traceback" not in run.output
    return run


def test_a_training_step_on_a_model_without_history_is_a_located_error(tmp_path: Path) -> None:
    default_copy(tmp_path, with_history=False)
    run = validate(tmp_path)
    assert f"lesson.yaml:4:5: steps[0]: model 'default': {NO_HISTORY}" in run.output
    assert "1 error" in run.output


@pytest.mark.parametrize("damage", ["nan", "fifo"])
def test_a_training_step_on_a_damaged_history_is_a_located_error(
    tmp_path: Path, damage: str
) -> None:
    default_copy(tmp_path, with_history=True)
    tensors = tmp_path / "default.history.safetensors"
    if damage == "nan":
        patch_value(tensors, "000000/conv_1_1.weight", 0, float("nan"))
        reason = "tensor 000000/conv_1_1.weight holds a value that is not a finite number"
    else:
        tensors.unlink()
        os.mkfifo(tensors)
        reason = "cannot read this training history (a named pipe (FIFO), not a regular file)"
    run = validate(tmp_path)
    assert run.seconds < 30
    located = [line for line in run.output.splitlines() if line.startswith("lesson.yaml:4:5: ")]
    assert len(located) == 1 and "steps[0]: " in located[0] and reason in located[0], run.output
    assert "1 error" in run.output


def test_the_cache_key_digest_is_the_read_historys(saved: Path, tmp_path: Path) -> None:
    # A render keys its cache by the card and the record alone, before reading the
    # tensors: the same digest, which the record's edit changes.
    weights = copy_model(saved, tmp_path)
    location = store.resolve(str(weights))
    assert history_digest(location) == read_history(location).digest != ""
    record_path = weights.with_name("x.history.json")
    record_path.write_text(record_path.read_text() + " ")
    changed = history_digest(location)
    assert changed == read_history(location).digest
    assert changed != history_digest(store.resolve(str(saved / "x.safetensors")))
    card_path = weights.with_name("x.json")
    card = json.loads(card_path.read_text())
    del card["history"]
    card_path.write_text(json.dumps(card))
    assert history_digest(location) == ""
