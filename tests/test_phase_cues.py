"""Every step type, one cue tied to each of its phases: the step's scene holds each phase
until its cue is done, and the manifest's timing puts every cue inside its phase."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from test_phases import SPECS

import cnn_model
from conftest import ALL_PARTS, ROOT
from dry_run import dry_run, trace_file
from scenes.render.timing import TimedCue, phase_seconds, placed
from scenes.steps import REGISTRY

FPS = 15


def richest(name: str) -> dict[str, Any]:
    """The step of this type (from test_phases' table) with the most phases."""
    step_type = REGISTRY[name]
    return max(
        SPECS[name],
        key=lambda f: len(
            step_type.phases.names(step_type.spec.model_validate({"type": name, **f}))
        ),
    )


@pytest.fixture(scope="module")
def star(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = cnn_model.load_model("default")
    folder = tmp_path_factory.mktemp("traces")
    return trace_file(model, ROOT / "lessons" / "images" / "star_1.png", folder, ALL_PARTS)[1]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_one_cue_per_phase_lands_inside_its_phase(name: str, star: Path, tmp_path: Path) -> None:
    step_type = REGISTRY[name]
    step = {"type": name, **richest(name)}
    phases = step_type.phases.names(step_type.spec.model_validate(step))
    # Short cues and long ones in turn: a long cue makes its phase wait for it.
    cues = [
        TimedCue(f"About {phase}.", phase, seconds)
        for phase, seconds in zip(phases, itertools.cycle([1.2, 6.0]), strict=False)
    ]
    needs = phase_seconds(cues, FPS)
    record = dry_run(
        step,
        tmp_path,
        star if step_type.needs_trace else None,
        phase_seconds=needs,
        image_file=ROOT / "lessons" / "images" / "star_1.png",
    )
    recorded = record["phases"]
    assert [p["name"] for p in recorded] == phases
    assert recorded[0]["first_frame"] == 0
    for before, after in itertools.pairwise(recorded):
        assert before["end_frame"] == after["first_frame"]
    for phase in recorded:  # each phase lasts at least as long as its cue asks
        assert phase["end_frame"] - phase["first_frame"] >= round(needs[phase["name"]] * FPS)
    spans, timed = placed(recorded, cues, first_frame=45, frames=record["frames"], fps=FPS)
    assert spans[0]["start"] == 3.0
    assert spans[-1]["end"] == pytest.approx((45 + record["frames"]) / FPS, abs=1e-6)
    for span, cue in zip(spans, timed, strict=True):
        assert cue["phase"] == span["name"]
        assert cue["start"] == span["start"]  # a cue starts when its phase starts
        assert span["start"] < cue["end"] <= span["end"]
