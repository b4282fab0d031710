"""The typed step job: its cache key, its JSON round trip, and the one route settings take."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from conftest import ROOT
from scenes import render_lesson
from scenes.lesson.errors import LessonInvalid
from scenes.render.job import ModelRef, PartRange, Picture, StepJob, ThemeLook
from scenes.visuals.theme import load_theme

LOOK = ThemeLook.of(load_theme("cnn-explainer"))


def a_job(**picture: Any) -> StepJob:
    fields: dict[str, Any] = {
        "step": {"type": "relu", "layer": "relu_1_1", "neuron": 3},
        "narration": "ReLU keeps the positive values.",
        "phase_seconds": {"graph": 4.0},
        "theme": LOOK,
        "model": ModelRef(sha256="a" * 64, name="default", classes=("star", "heart")),
        "image_sha256": "b" * 64,
        "image_file_sha256": "c" * 64,
    }
    fields.update(picture)
    return StepJob(
        picture=Picture(**fields),
        code="d" * 64,
        trace=Path("/cache/traces/t.npz"),
        trace_sha256="e" * 64,
        image_file=Path("/lessons/images/star_1.png"),
        clip=Path("/cache/clips/k.mp4"),
        record=Path("/cache/clips/k.mp4.json"),
    )


# Another value for every field of the picture: each changes what the step shows.
CHANGED: dict[str, Any] = {
    "step": {"type": "relu", "layer": "relu_1_1", "neuron": 4},
    "narration": "Another sentence.",
    "phase_seconds": {"graph": 5.0},
    "language": "de",
    "theme": ThemeLook.of(load_theme("dark")),
    "aspect": "9:16",
    "pixel_height": 1080,
    "fps": 60,
    "colour_range": "global",
    "mode": "last_frame",
    "model": ModelRef(sha256="a" * 64, name="default", classes=("star", "moon")),
    "image_sha256": "f" * 64,
    "image_file_sha256": "0" * 64,
    "parts_sha256": "1" * 64,
}


def test_every_picture_field_is_tried() -> None:
    assert set(CHANGED) == set(Picture.model_fields)


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_each_pixel_field_changes_the_key(name: str) -> None:
    assert a_job(**{name: CHANGED[name]}).key() != a_job().key()


def test_a_theme_colour_or_a_class_name_changes_the_key() -> None:
    darker = LOOK.model_copy(update={"accent": "#000000"})
    assert a_job(theme=darker).key() != a_job().key()
    renamed = ModelRef(sha256="a" * 64, name="mine", classes=("star", "heart"))
    assert a_job(model=renamed).key() != a_job().key()


def test_the_code_changes_the_key_and_paths_do_not() -> None:
    job = a_job()
    assert job.model_copy(update={"code": "9" * 64}).key() != job.key()
    moved = job.moved(
        trace=Path("/elsewhere/t.npz"),
        image_file=None,
        clip=Path("/other/clip.mp4"),
        record=Path("/other/clip.json"),
        trace_sha256="1" * 64,
    )
    assert moved.key() == job.key()
    # A part of the step draws some of its animations: joined, the parts are its clip.
    assert job.moved(part=PartRange(first=120, end=None)).key() == job.key()
    non_pixel = set(StepJob.model_fields) - {"picture", "code"}
    assert non_pixel == {"trace", "trace_sha256", "image_file", "clip", "record", "part"}


def test_a_job_reads_back_from_its_json_and_refuses_anything_else() -> None:
    job = a_job()
    assert StepJob.read(job.to_json()) == job
    data = json.loads(job.to_json())
    data["picture"]["settings"] = {"image_path": "/x"}  # no free-form dict
    with pytest.raises(ValidationError):
        StepJob.read(json.dumps(data))
    data = json.loads(job.to_json())
    data["picture"]["aspect"] = "4:3"
    with pytest.raises(ValidationError):
        StepJob.read(json.dumps(data))
    with pytest.raises(ValidationError):
        Picture(**{**a_job().picture.model_dump(), "fps": 0})


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("aspect", "4:3", "render_lesson: aspect=: expected one of '16:9', '9:16', '1:1'"),
        ("theme", "nope", "render_lesson: theme=: unknown theme 'nope'"),
        ("quality", "ultra", "render_lesson: quality=: expected one of 'draft'"),
        ("words_per_minute", 20, "render_lesson: words_per_minute=: expected an integer"),
    ],
)
def test_the_api_refuses_a_bad_setting_located_before_anything_is_traced(
    tmp_path: Path, setting: str, value: object, expected: str
) -> None:
    out = tmp_path / "media"
    with pytest.raises(LessonInvalid) as caught:
        render_lesson(ROOT / "lessons" / "convolution.yaml", out=out, **{setting: value})
    assert str(caught.value.errors[0]).startswith(expected), caught.value
    assert not out.exists()  # nothing traced, nothing rendered


def test_the_api_names_an_unknown_setting() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'colour'.*aspect"):
        render_lesson(ROOT / "lessons" / "convolution.yaml", colour="red")


def test_command_line_flags_are_derived_from_the_settings() -> None:
    from scenes.cli import build_parser
    from scenes.lesson.spec import overridable

    help_text = build_parser().parse_args(["render", "x.yaml"])
    for name in overridable():
        assert hasattr(help_text, name)
    args = build_parser().parse_args(["render", "x.yaml", "--words-per-minute", "120", "-q", "h"])
    assert (args.words_per_minute, args.quality) == ("120", "h")
