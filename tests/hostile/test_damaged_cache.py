"""A damaged or planted render cache is rendered anew, never used or quoted.

The clip cache lies inside the output folder, where anything may have been
put: truncated clips, records that are not JSON, links to files elsewhere.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av

from corpus import BASE, SECRET, bait
from harness import run_capped

RENDER = ["render", "hostile.yaml", "-q", "d", "-o", "media/out", "--quiet"]


def frames(video: Path) -> int:
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_damaged_cache_is_rendered_anew(tmp_path: Path) -> None:
    bait(tmp_path)
    (tmp_path / "hostile.yaml").write_text(
        BASE + "  - type: title\n    text: Second\n", encoding="utf-8"
    )
    first = run_capped(RENDER, cwd=tmp_path, timeout=180)
    assert first.returncode == 0, first.output
    folder = tmp_path / "media" / "out" / "hostile"
    clips = tmp_path / "media" / "out" / ".cache" / "clips"
    second = (folder / "steps" / "02-title.mp4").read_bytes()
    videos = sorted(clips.glob("*.mp4"), key=lambda p: p.read_bytes() == second)
    assert len(videos) == 2 and videos[1].read_bytes() == second
    # The first step's record is not JSON; the second step's clip is garbage,
    # then a link to a file whose text must never reach the output.
    videos[0].with_name(videos[0].name + ".json").write_text("garbage", encoding="utf-8")
    videos[1].write_bytes(b"not a video")
    for damage in ("garbage", "link"):
        if damage == "link":
            videos[1].unlink()
            videos[1].symlink_to(tmp_path / "outside" / "secret.txt")
        run = run_capped(RENDER, cwd=tmp_path, timeout=180)
        assert run.returncode == 0, run.output
        assert "Traceback" not in run.output and SECRET not in run.output
        manifest = json.loads((folder / "manifest.json").read_text())
        cached = [step["cached"] for step in manifest["steps"]]
        assert cached == ([False, False] if damage == "garbage" else [True, False])
        assert frames(folder / "hostile.mp4") == manifest["frames"]
        assert not videos[1].is_symlink() and videos[1].stat().st_size > 1000
        assert SECRET not in (folder / "steps" / "02-title.mp4").read_bytes().decode("latin-1")
    assert (tmp_path / "outside" / "secret.txt").read_text().startswith("root:")


def test_damaged_traces_speech_and_folders_in_the_cache_are_made_anew(tmp_path: Path) -> None:
    bait(tmp_path)
    (tmp_path / "voiced.yaml").write_text(
        "title: Voiced\nvoice: en\nsteps:\n  - type: classify\n    narration: It is {prediction}.\n",
        encoding="utf-8",
    )
    command = ["render", "voiced.yaml", "-q", "d", "-o", "media/out", "--quiet"]
    first = run_capped(command, cwd=tmp_path, timeout=180)
    assert first.returncode == 0, first.output
    cache = tmp_path / "media" / "out" / ".cache"
    folder = tmp_path / "media" / "out" / "voiced"
    expected = json.loads((folder / "manifest.json").read_text())
    (trace,) = (cache / "traces").glob("*.npz")
    (speech,) = (cache / "speech").glob("*.wav")
    (clip,) = (cache / "clips").glob("*.mp4")
    secret = tmp_path / "outside" / "secret.txt"
    damages = {
        "folders": lambda p: (p.unlink(), p.mkdir(), (p / "x").write_text("x")),
        "garbage": lambda p: p.write_bytes(b"RIFF garbage"),
        "links": lambda p: (p.unlink(), p.symlink_to(secret)),
    }
    for name, damage in damages.items():
        for path in (trace, speech, clip):
            if path.is_dir():
                shutil.rmtree(path)
                path.write_bytes(b"")
            damage(path)
        run = run_capped(command, cwd=tmp_path, timeout=180)
        assert run.returncode == 0, f"{name}: {run.output}"
        assert "Traceback" not in run.output and SECRET not in run.output
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["prediction"] == expected["prediction"], name
        assert manifest["steps"][0]["values"] == expected["steps"][0]["values"], name
        assert frames(folder / "voiced.mp4") == manifest["frames"]
        for path in (trace, speech, clip):
            assert path.is_file() and not path.is_symlink(), (name, path)
    assert secret.read_text().startswith("root:")
    assert list((cache / "jobs").iterdir()) == []
