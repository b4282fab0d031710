"""A voiced German lesson rendered for real: a recording and the synthetic voice, each
cue at its phase, the sound where the cue starts, and every file in the lesson's language."""

from __future__ import annotations

import itertools
import json
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from conftest import ROOT
from scenes import speech
from scenes.render.pipeline import render_lesson

TONE_SECONDS = 2.6  # longer than the relu graph's own animation
FREQUENCY = 440.0

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng is not installed")


def write_tone(path: Path, seconds: float, rate: int = 44100) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * FREQUENCY * t) * 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


LESSON = """\
title: Stimme und Bild
language: de
voice: de
image: {image}
translations: [stimme-en.yaml]
steps:
  - type: title
    text: ReLU
    narration: Willkommen. Das Netz sagt {{prediction}} mit {{probability}}.
  - type: relu
    layer: relu_1_1
    neuron: 3
    narration:
      - say: Ein Ton, so lang wie eine Aufnahme.
        at: {first}
        audio: voice/ton.wav
      - say: Danach werden die negativen Werte zu null.
"""


TRANSLATION = """\
title: Voice and picture
language: en
image: {image}
steps:
  - type: title
    text: ReLU
    narration: Welcome. The network says {{prediction}} with {{probability}}.
  - type: relu
    layer: relu_1_1
    neuron: 3
    narration:
      - say: A tone as long as a recording.
        at: {first}
      - say: Then the negative values become zero.
"""


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def decoded_audio(video: Path) -> tuple[np.ndarray, int]:
    with av.open(str(video)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        rate = stream.codec_context.sample_rate
        chunks = [frame.to_ndarray().mean(axis=0) for frame in container.decode(stream)]
    return np.concatenate(chunks).astype(np.float32), rate


def energy(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    part = samples[round(start * rate) : round(end * rate)]
    return float(np.sqrt(np.mean(part**2))) if len(part) else 0.0


def peak_frequency(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    part = samples[round(start * rate) : round(end * rate)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    return float(np.fft.rfftfreq(len(part), 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from scenes.steps import registry

    folder = tmp_path_factory.mktemp("voiced")
    write_tone(folder / "voice" / "ton.wav", TONE_SECONDS)
    relu_phases = registry.get("relu").phases.names(
        registry.get("relu").spec.model_validate({"type": "relu", "layer": "relu_1_1"})
    )
    for name, text in (("stimme.yaml", LESSON), ("stimme-en.yaml", TRANSLATION)):
        (folder / name).write_text(
            text.format(image=ROOT / "lessons" / "images" / "star_1.png", first=relu_phases[0]),
            encoding="utf-8",
        )
    result = render_lesson(folder / "stimme.yaml", out=folder / "media", quality="d", jobs=2)
    manifest = json.loads(result.manifest.read_text("utf-8"))
    return result.video.parent, manifest


def test_every_cue_lies_in_its_phase_and_the_phases_in_order(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    _, manifest = rendered
    fps = manifest["fps"]
    for step in manifest["steps"]:
        phases = step["phases"]
        assert phases[0]["start"] == step["start"]
        assert phases[-1]["end"] == pytest.approx(step["start"] + step["duration"], abs=1e-6)
        for before, after in itertools.pairwise(phases):
            assert before["end"] == after["start"]
        by_name = {p["name"]: p for p in phases}
        for cue in step["cues"]:
            phase = by_name[cue["phase"]]
            assert phase["start"] <= cue["start"] < cue["end"] <= phase["end"]
            assert cue["start"] * fps == pytest.approx(round(cue["start"] * fps), abs=1e-4)
    relu = manifest["steps"][1]
    recorded, spoken_cue = relu["cues"]
    assert recorded["audio"] == "voice/ton.wav"
    assert recorded["start"] == relu["phases"][0]["start"]  # a cue starts with its phase
    assert recorded["end"] - recorded["start"] >= TONE_SECONDS - 1e-6
    first = relu["phases"][0]
    assert first["end"] - first["start"] >= TONE_SECONDS  # held for the recording
    assert spoken_cue["phase"] == relu["phases"][1]["name"]  # the next phase in order
    assert spoken_cue["audio"] == "espeak-ng:de"
    assert manifest["voice"]["recordings"] == 1
    # The video ends when the last phase ends.
    assert manifest["duration"] == pytest.approx(manifest["steps"][-1]["phases"][-1]["end"])


def test_the_sound_is_the_recording_at_its_cue_and_speech_at_the_others(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    folder, manifest = rendered
    samples, rate = decoded_audio(folder / manifest["video"])
    assert len(samples) / rate == pytest.approx(manifest["duration"], abs=0.05)
    relu = manifest["steps"][1]
    tone_cue, speech_cue = relu["cues"]
    start = tone_cue["start"]
    # Quiet just before the cue, the tone (440 Hz) from its start, as long as it lasts.
    assert energy(samples, rate, start - 0.25, start - 0.02) < 0.01
    assert energy(samples, rate, start + 0.05, start + TONE_SECONDS - 0.1) > 0.05
    assert peak_frequency(samples, rate, start + 0.1, start + 1.1) == pytest.approx(
        FREQUENCY, abs=5
    )
    # The synthetic voice speaks the other cues where they start.
    assert energy(samples, rate, speech_cue["start"], speech_cue["end"]) > 0.01
    welcome = manifest["steps"][0]["cues"][0]
    assert energy(samples, rate, welcome["start"], welcome["end"]) > 0.01


def test_each_step_clip_carries_its_captions_and_its_sound(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    folder, manifest = rendered
    relu = manifest["steps"][1]
    clip = folder / relu["clip"]
    samples, rate = decoded_audio(clip)
    tone_start = relu["cues"][0]["start"] - relu["start"]
    assert peak_frequency(samples, rate, tone_start + 0.1, tone_start + 1.1) == pytest.approx(
        FREQUENCY, abs=5
    )
    vtt = (folder / relu["captions"]).read_text("utf-8")
    assert vtt.startswith("WEBVTT")
    assert "Ein Ton, so lang wie eine Aufnahme." in vtt
    assert "Willkommen" not in vtt  # another step's words


def test_a_german_lesson_speaks_german_numbers_names_and_page(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    folder, manifest = rendered
    assert manifest["language"] == "de"
    said = manifest["steps"][0]["cues"][1]["text"]
    probability = manifest["prediction"]["probability"]
    assert said == f"Das Netz sagt Stern mit {probability:.3f}.".replace(".", ",", 1)
    shown = [v["text"] for v in manifest["steps"][1]["values"]]
    assert shown and any("," in text for text in shown)
    assert not any("." in text for text in shown)
    page = (folder / "index.html").read_text("utf-8")
    assert '<html lang="de">' in page
    assert 'srclang="de"' in page and 'label="Deutsch"' in page
    assert "<strong>Stern</strong>" in page  # the prediction as the lesson names it
    captions = (folder / "captions.vtt").read_text("utf-8")
    assert "Willkommen." in captions


def test_rendering_again_replaces_the_step_captions_it_wrote(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    folder, manifest = rendered
    own = folder / "steps" / "notes.txt"
    own.write_text("mine", encoding="utf-8")
    # A German lesson: its render is the de variant, in media/stimme/de/.
    lesson = Path(manifest["source"])
    assert folder == lesson.parent / "media" / "stimme" / "de"
    again = render_lesson(lesson, out=lesson.parent / "media", quality="d")
    assert again.video.parent == folder
    assert again.rendered == []  # every clip from the cache
    assert own.read_text(encoding="utf-8") == "mine"  # the author's file is kept
    assert (folder / manifest["steps"][1]["captions"]).read_text("utf-8").startswith("WEBVTT")


def test_a_translation_is_a_caption_track_on_the_same_phases(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    import webvtt

    folder, manifest = rendered
    assert manifest["caption_tracks"] == [{"language": "en", "file": "captions.en.vtt"}]
    english = list(webvtt.read(str(folder / "captions.en.vtt")))
    relu = manifest["steps"][1]
    first = relu["phases"][0]
    (tone,) = [c for c in english if c.text == "A tone as long as a recording."]
    assert seconds(tone.start) == pytest.approx(first["start"], abs=2e-3)
    assert seconds(tone.end) <= first["end"] + 2e-3
    said = " ".join(c.text.replace("\n", " ") for c in english)
    assert "The network says star with 0.99" in said  # English names and numbers
    page = (folder / "index.html").read_text("utf-8")
    assert 'srclang="en"' in page and 'label="English"' in page
    assert 'srclang="de"' in page
