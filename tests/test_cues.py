"""Narration cues: sentences, their phases, their timing and their captions."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenes.export.captions import chunks, cue_captions
from scenes.lesson.cues import place_cues, sentences
from scenes.render.timing import (
    CUE_GAP,
    MIN_CAPTION,
    TimedCue,
    cue_seconds,
    phase_seconds,
    placed,
)
from scenes.steps import registry

PHASES = ["intro", "window 1", "window 2", "sweep", "result"]


def conv(narration: object) -> object:
    return registry.get("convolution").spec.model_validate(
        {"type": "convolution", "layer": "conv_1_1", "neuron": 0, "narration": narration}
    )


def test_sentences_split_at_sentence_ends_only() -> None:
    text = (
        "The kernel is 3×3, e.g. nine weights. Its sum is 0.88! Is that large? "
        "Yes… and z. B. bei Schrittweite 2. bleibt es so. Next."
    )
    assert sentences(text) == [
        "The kernel is 3×3, e.g. nine weights.",
        "Its sum is 0.88!",
        "Is that large?",
        "Yes… and z. B. bei Schrittweite 2. bleibt es so.",
        "Next.",
    ]
    assert sentences("  ") == []
    assert sentences("No stop at the end") == ["No stop at the end"]


def test_plain_text_takes_the_phases_in_order_and_stays_in_the_last() -> None:
    spec = conv("One. Two. Three. Four. Five. Six. Seven.")
    cues, problems = place_cues(spec, PHASES, Path("."))
    assert problems == []
    assert [c.phase for c in cues] == [*PHASES, "result", "result"]
    assert [c.text for c in cues][:2] == ["One.", "Two."]


def test_cues_without_at_follow_the_previous_cue() -> None:
    spec = conv(
        [
            {"say": "About the sweep.", "at": "sweep"},
            {"say": "Then the result."},
            {"say": "Still the result."},
            {"say": "More of the result.", "at": "result"},
        ]
    )
    cues, problems = place_cues(spec, PHASES, Path("/lesson"))
    assert problems == []
    assert [c.phase for c in cues] == ["sweep", "result", "result", "result"]
    assert [c.where for c in cues] == [("narration", i) for i in range(4)]


def test_unknown_and_backward_phases_are_refused_with_the_phases_listed() -> None:
    spec = conv(
        [
            {"say": "A.", "at": "window 9"},
            {"say": "B.", "at": "sweep"},
            {"say": "C.", "at": "intro"},
        ]
    )
    cues, problems = place_cues(spec, PHASES, Path("."))
    assert [c.text for c in cues] == ["B."]
    (first_where, first), (second_where, second) = problems
    assert first_where == ("narration", 0, "at")
    assert "no phase 'window 9'" in first and "intro, window 1, window 2, sweep, result" in first
    assert second_where == ("narration", 2, "at")
    assert "'intro' comes before 'sweep'" in second


def test_recordings_are_read_from_the_lesson_folder() -> None:
    spec = conv([{"say": "A.", "audio": "voice/a.wav"}])
    (cue,), _ = place_cues(spec, PHASES, Path("/course/lessons"))
    assert cue.audio == Path("/course/lessons/voice/a.wav")


def test_a_cue_lasts_its_sound_or_reading_time_and_at_least_its_captions() -> None:
    assert cue_seconds("one two three", 150, None) == pytest.approx(max(1.2 + 0.4, MIN_CAPTION))
    assert cue_seconds("one two three", 150, 3.5) == 3.5
    assert cue_seconds("Hi.", 150, 0.3) == MIN_CAPTION
    long = " ".join(["word"] * 60)  # three captions at least
    assert cue_seconds(long, 400, 1.0) >= 3 * MIN_CAPTION


def test_cues_are_placed_in_their_phase_on_whole_frames() -> None:
    fps = 15
    cues = [
        TimedCue("First.", "intro", 1.5),
        TimedCue("Second.", "intro", 2.0),
        TimedCue("Third.", "result", 1.3),
    ]
    needs = phase_seconds(cues, fps)
    assert needs["intro"] >= 1.5 + 2.0 + 2 * CUE_GAP
    assert needs["intro"] * fps == pytest.approx(round(needs["intro"] * fps))
    # What the scene did: intro held to its need, result shorter than the clip.
    intro_end = round(needs["intro"] * fps)
    phases = [
        {"name": "intro", "first_frame": 0, "end_frame": intro_end},
        {"name": "result", "first_frame": intro_end, "end_frame": intro_end + 40},
    ]
    spans, timed = placed(phases, cues, first_frame=30, frames=intro_end + 45, fps=fps)
    assert spans[0] == {"name": "intro", "start": 2.0, "end": round((30 + intro_end) / 15, 6)}
    assert spans[1]["end"] == round((30 + intro_end + 45) / 15, 6)  # the clip's end
    for cue in timed:
        span = next(s for s in spans if s["name"] == cue["phase"])
        assert span["start"] <= cue["start"] < cue["end"] <= span["end"]
        assert cue["start"] * fps == pytest.approx(round(cue["start"] * fps))
    assert timed[0]["start"] == spans[0]["start"]  # a cue starts when its phase starts
    assert timed[1]["start"] >= timed[0]["end"] + CUE_GAP - 1 / fps
    assert timed[2]["start"] == spans[1]["start"]


def test_captions_split_long_cues_evenly_without_a_lone_last_word() -> None:
    text = (
        "Without padding the output shrinks to three by three, because the kernel "
        "cannot reach beyond the edge of the input height."
    )
    parts = chunks(text)
    assert len(parts) == 2
    for part in parts:
        lines = part.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        assert len(part.split()) >= 3
    captions = cue_captions(0, text, 10.0, 14.0)
    assert captions[0].start == 10.0 and captions[-1].end == 14.0
    assert all(c.end - c.start >= 1.2 for c in captions)
    assert chunks("Short.") == ["Short."]


def test_the_default_course_has_no_caption_shorter_than_its_minimum() -> None:
    from conftest import ROOT
    from scenes.lesson.load import load_lesson

    course = load_lesson(ROOT / "lessons" / "course.yaml")
    wpm = course.header.words_per_minute
    shown = 0
    for cues in course.cues:
        for cue in cues:
            seconds = cue_seconds(cue.text, wpm, None)
            for caption in cue_captions(0, cue.text, 0.0, seconds):
                shown += 1
                assert caption.end - caption.start >= MIN_CAPTION - 1e-3, caption
                words = caption.text.split()
                assert len(words) >= 2 or len(cue.text.split()) == 1, caption  # no lone word
    assert shown >= 40


def test_a_long_sentence_of_a_plain_text_is_one_cue() -> None:
    words = " ".join(["word"] * 700)  # one sentence of 3,499 characters
    cues, problems = place_cues(conv(words), PHASES, Path("."))
    assert problems == [] and [len(c.text) for c in cues] == [len(words)]
