"""Writes that nothing planted in an output folder can redirect, and caches that
refuse what they did not write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import cnn_model
from cnn_model import safeio
from cnn_model.trace import Trace, load_trace, save_trace
from scenes import atomic
from scenes.export import publish


def test_a_link_planted_at_the_next_temporary_name_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    tokens = iter(["guessed", "guessed", "fresh"])
    monkeypatch.setattr(safeio.secrets, "token_hex", lambda n: next(tokens))
    planted = out / safeio.temp_name("part", ".json")
    planted.symlink_to(victim)
    # A hard link too: O_EXCL refuses any existing name, not only links.
    with atomic.writing(out / "page.json") as path:
        assert path != planted and path.name.startswith(".cnnlesson-")
        path.write_text("new")
    assert victim.read_text() == "keep me"
    assert (out / "page.json").read_text() == "new"
    assert not (out / "page.json").is_symlink()


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "m.json").symlink_to(victim)
    model = cnn_model.load_model("default")
    cnn_model.store.save_model(model, tmp_path / "m.safetensors", {}, tmp_path / "m.json")
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "m.json").is_symlink()
    assert json.loads((tmp_path / "m.json").read_text())["weights"] == "m.safetensors"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_folder_in_the_way_is_named_or_cleared_in_a_cache(tmp_path: Path) -> None:
    (tmp_path / "poster.png").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        atomic.write_json(tmp_path / "poster.png", {})
    assert caught.value.filename == str(tmp_path / "poster.png")
    (tmp_path / "entry.json").mkdir()
    (tmp_path / "entry.json" / "x").write_text("damage")
    atomic.write_json(tmp_path / "entry.json", {"a": 1}, cache_entry=True)
    assert json.loads((tmp_path / "entry.json").read_text()) == {"a": 1}


def test_an_interrupted_publish_without_exchange_puts_the_old_folder_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, staging = tmp_path / "lesson", tmp_path / ".cnnlesson-1-x.staging"
    folder.mkdir()
    (folder / "manifest.json").write_text("old")
    staging.mkdir()
    (staging / "manifest.json").write_text("new")
    calls = []

    def pause() -> None:
        calls.append(1)
        if len(calls) == 2:  # the old folder is aside, the new one not yet in place
            raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "_pause", pause)
    with pytest.raises(KeyboardInterrupt):
        atomic.publish_folder(staging, folder, allow_exchange=False)
    assert (folder / "manifest.json").read_text() == "old"


def test_an_altered_trace_in_the_cache_is_refused(star_trace: Trace, tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    save_trace(star_trace, path)
    assert load_trace(path).classes == star_trace.classes
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    bad_logits = {**arrays, "logits": np.full(3, np.nan, np.float32)}
    bad_meta = {
        **arrays,
        "meta": np.frombuffer(json.dumps({**meta, "classes": 5}).encode(), np.uint8),
    }
    not_a_map = {**arrays, "meta": np.frombuffer(b"[1, 2]", np.uint8)}
    missing = {k: v for k, v in arrays.items() if k != "activations/conv_1_1"}
    for altered in (bad_logits, bad_meta, not_a_map, missing):
        np.savez(path, **altered)
        with pytest.raises(ValueError):
            load_trace(path)


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_folder_an_earlier_version_set_aside_is_put_back(tmp_path: Path) -> None:
    aside = tmp_path / f".render-{_dead_pid()}-aside-lesson"
    aside.mkdir()
    (aside / "manifest.json").write_text("the old render")
    mine = tmp_path / ".render-1234567-backup"  # the author's, named alike: never touched
    mine.mkdir()
    atomic.remove_stale(tmp_path, recursive=False)
    assert (tmp_path / "lesson" / "manifest.json").read_text() == "the old render"
    assert mine.is_dir()


def test_a_damaged_manifest_lets_the_new_render_replace_its_files(tmp_path: Path) -> None:
    folder, staging = tmp_path / "lesson", tmp_path / ".cnnlesson-1-x.staging"
    for root, text in ((folder, "old"), (staging, "new")):
        (root / "steps").mkdir(parents=True)
        (root / "index.html").write_text(text)
        (root / "steps" / "01-title.mp4").write_text(text)
    (folder / "manifest.json").write_text("{")  # damaged: cannot say what was rendered
    (staging / "manifest.json").write_text("{}")
    (folder / "notes.txt").write_text("mine")
    assert publish.carry_over(folder, staging) == ["notes.txt"]
    assert (staging / "index.html").read_text() == "new"
