"""Narration sound: recordings read safely, loudness, the track, and the muxed video."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest

from conftest import ROOT
from scenes import speech
from scenes.audio import (
    MAX_RECORDING_SECONDS,
    TRACK_RATE,
    AudioError,
    Sound,
    excerpt,
    normalise,
    read_recording,
    recording_seconds,
    spoken,
    track,
)
from scenes.export.voice import mux

TONE_SECONDS = 1.5
FREQUENCY = 440.0


def tone(seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * FREQUENCY * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.repeat(pcm, channels).tobytes())
    return path


def encode(path: Path, container: str, codec: str, rate: int, layout: str) -> Path:
    """A 1.5 s tone encoded with PyAV. Debian's FFmpeg has no libvorbis: FFmpeg's own
    Vorbis encoder is marked experimental (and wants stereo), so it is asked for as such."""
    options = {"strict": "experimental"} if codec == "vorbis" else {}
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout, options=options)
        channels = 1 if layout == "mono" else 2
        frame = av.AudioFrame.from_ndarray(
            np.tile(tone(TONE_SECONDS, rate), (channels, 1)), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        assert isinstance(stream, av.AudioStream)
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


# Every encoder this needs is in PyAV's wheel (and Debian's FFmpeg): flac, vorbis
# (FFmpeg's own; there is no libvorbis), libopus, libmp3lame and aac.
ENCODED = {
    "tone.flac": ("flac", "flac", 44100, "mono"),
    "tone.ogg": ("ogg", "vorbis", 44100, "stereo"),
    "tone.opus": ("ogg", "libopus", 48000, "mono"),
    "tone.mp3": ("mp3", "libmp3lame", 44100, "mono"),
    "tone.m4a": ("ipod", "aac", 44100, "mono"),
}


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("recordings")
    made = {
        "tone.wav": write_wav(folder / "tone.wav", tone(TONE_SECONDS, 44100), 44100),
        "stereo.wav": write_wav(folder / "stereo.wav", tone(TONE_SECONDS, 22050), 22050, 2),
        "surround.wav": write_wav(folder / "surround.wav", tone(TONE_SECONDS, 48000), 48000, 6),
    }
    for name, (container, codec, rate, layout) in ENCODED.items():
        made[name] = encode(folder / name, container, codec, rate, layout)
    return made


@pytest.mark.parametrize("name", ["tone.wav", "stereo.wav", "surround.wav", *ENCODED])
def test_recordings_of_every_format_read_at_the_track_rate(
    recordings: dict[str, Path], name: str
) -> None:
    sound = read_recording(recordings[name])
    assert sound.rate == TRACK_RATE
    assert sound.samples.dtype == np.float32 and sound.samples.ndim == 1
    assert abs(sound.seconds - TONE_SECONDS) < 0.05
    assert abs(recording_seconds(recordings[name]) - sound.seconds) < 1e-9
    # Channels are averaged: six of the same tone are that tone, not six times it.
    middle = sound.samples[round(0.25 * TRACK_RATE) : round(1.25 * TRACK_RATE)]
    assert abs(float(np.sqrt(np.mean(middle**2))) - 0.5 / np.sqrt(2)) < 0.03
    assert float(np.max(np.abs(sound.samples))) <= 1.0
    # Still a 440 Hz tone after decoding, mixing and resampling.
    spectrum = np.abs(np.fft.rfft(sound.samples))
    peak = np.argmax(spectrum) * TRACK_RATE / len(sound.samples)
    assert abs(peak - FREQUENCY) < 5


def test_a_recordings_name_does_not_matter(recordings: dict[str, Path], tmp_path: Path) -> None:
    renamed = tmp_path / "actually-flac.wav"
    renamed.write_bytes(recordings["tone.flac"].read_bytes())
    assert abs(read_recording(renamed).seconds - TONE_SECONDS) < 0.05


def _bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    (folder / "folder.wav").mkdir()
    (folder / "text.wav").write_text("This is not a recording.\n" * 20)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "cut.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    write_wav(folder / "quiet.wav", np.zeros(48000, dtype=np.float32), 48000)
    write_wav(folder / "many.wav", tone(0.1, 8000), 8000, channels=16)
    write_wav(folder / "slow.wav", tone(0.5, 4000), 4000)
    os.symlink("loop-b.wav", folder / "loop-a.wav")
    os.symlink("loop-a.wav", folder / "loop-b.wav")
    not_audio = "not an audio file (WAV, FLAC, OGG, MP3 or M4A) that can be decoded"
    return {
        "missing": (folder / "missing.wav", "no such file"),
        "folder": (folder / "folder.wav", "a folder, not a file"),
        "text": (folder / "text.wav", not_audio),
        "empty": (folder / "empty.wav", "an empty file, not a recording"),
        "cut": (folder / "cut.wav", not_audio),
        "silent": (folder / "quiet.wav", "the recording is silent"),
        "loop": (folder / "loop-a.wav", "a loop of symbolic links"),
        "channels": (folder / "many.wav", "the recording has 16 channels; it may have 1 to 8"),
        "rate": (
            folder / "slow.wav",
            "the recording's sample rate is 4,000 Hz; it may be 8,000 to 384,000 Hz",
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "folder", "text", "empty", "cut", "silent", "loop", "channels", "rate"],
)
def test_what_is_not_a_usable_recording_is_one_line(tmp_path: Path, case: str) -> None:
    path, reason = _bad_inputs(tmp_path)[case]
    with pytest.raises(AudioError) as caught:
        read_recording(path)
    assert str(caught.value) == f"{path}: {reason}"
    assert caught.value.reason == reason
    assert "\n" not in str(caught.value)


def test_a_recording_cut_short_says_where(recordings: dict[str, Path], tmp_path: Path) -> None:
    whole = recordings["tone.flac"].read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole[: len(whole) * 9 // 10])
    with pytest.raises(AudioError) as caught:
        read_recording(cut)
    assert caught.value.reason.startswith("the recording cannot be decoded past 1.")
    assert caught.value.reason.endswith(" s (damaged or cut short)")


def test_a_video_in_an_m4a_is_not_a_recording(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", 0.5)
    with pytest.raises(AudioError, match="no audio stream"):
        read_recording(video)


def test_a_control_character_in_the_name_stays_escaped(tmp_path: Path) -> None:
    with pytest.raises(AudioError) as caught:
        read_recording(tmp_path / "a\nb.wav")
    assert "\n" not in str(caught.value) and "a\\nb.wav: no such file" in str(caught.value)


def test_a_recording_longer_than_ten_minutes_is_refused_at_the_cap(tmp_path: Path) -> None:
    # 8 kHz 8-bit mono: 4.8 MB for 10 minutes. Decoding stops at the cap.
    path = tmp_path / "long.wav"
    rate, seconds = 8000, MAX_RECORDING_SECONDS + 120
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(1)
        handle.setframerate(rate)
        t = np.arange(rate * seconds) / rate
        handle.writeframes(
            (128 + 60 * np.sin(2 * np.pi * FREQUENCY * t)).astype(np.uint8).tobytes()
        )
    with pytest.raises(AudioError) as caught:
        read_recording(path)
    assert caught.value.reason == "the recording lasts 12 minutes; a cue may last at most 10"


FIFO_SCRIPT = """
import sys
from pathlib import Path
from scenes.audio import AudioError, read_recording
try:
    read_recording(Path(sys.argv[1]))
except AudioError as exc:
    print(exc)
"""


def _capped() -> None:
    cap = 1536 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_is_named_never_read(tmp_path: Path, kind: str) -> None:
    """Run apart, under a memory cap and a timeout: a regression would wait on the
    pipe or read /dev/zero without end."""
    if kind == "fifo":
        path = tmp_path / "voice.wav"
        os.mkfifo(path)
        reason = "a named pipe (FIFO), not a regular file"
    else:
        path, reason = Path("/dev/zero"), "a character device, not a regular file"
    done = subprocess.run(
        [sys.executable, "-c", FIFO_SCRIPT, str(path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_capped,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{path}: {reason}"


def lufs(sound: Sound) -> float:
    return float(pyloudnorm.Meter(sound.rate).integrated_loudness(sound.samples.astype(float)))


@pytest.mark.parametrize("amplitude", [0.005, 0.9])
def test_quiet_and_loud_end_at_the_target_loudness(amplitude: float) -> None:
    sound = Sound(tone(2.0, TRACK_RATE, amplitude), TRACK_RATE)
    done = normalise(sound, -18.0)
    assert abs(lufs(done) - -18.0) < 1.0
    assert float(np.max(np.abs(done.samples))) <= 1.0
    assert done.rate == TRACK_RATE and len(done.samples) == len(sound.samples)


def test_normalising_never_clips() -> None:
    # Clicks: quiet on average, so the loudness gain would push them far past full scale.
    samples = np.zeros(TRACK_RATE * 2, dtype=np.float32)
    samples[:: TRACK_RATE // 10] = 0.5
    done = normalise(Sound(samples, TRACK_RATE), -18.0)
    assert abs(float(np.max(np.abs(done.samples))) - 10 ** (-1 / 20)) < 1e-4


def test_short_and_silent_clips() -> None:
    short = normalise(Sound(tone(0.1, TRACK_RATE, 0.01), TRACK_RATE))
    assert 0.01 < float(np.max(np.abs(short.samples))) <= 10 ** (-1 / 20) + 1e-6
    quiet = Sound(np.zeros(1000, dtype=np.float32), TRACK_RATE)
    assert normalise(quiet) is quiet
    empty = Sound(np.zeros(0, dtype=np.float32), TRACK_RATE)
    assert normalise(empty) is empty


def onset(samples: np.ndarray, rate: int, threshold: float = 0.1) -> float:
    return float(np.argmax(np.abs(samples) > threshold)) / rate


def test_track_places_each_sound_at_its_start() -> None:
    beep = Sound(tone(1.0, TRACK_RATE), TRACK_RATE)
    made = track([(2.0, beep), (4.5, beep)], 5.0)
    assert made.rate == TRACK_RATE and made.seconds == 5.0
    assert abs(onset(made.samples, TRACK_RATE) - 2.0) < 0.01
    assert not np.any(np.abs(made.samples[: 2 * TRACK_RATE - 10]) > 1e-6)
    assert float(np.max(np.abs(made.samples[round(4.6 * TRACK_RATE) :]))) > 0.4  # cut at 5 s
    loud = Sound(np.full(TRACK_RATE, 0.8, dtype=np.float32), TRACK_RATE)
    assert float(np.max(track([(0.0, loud), (0.0, loud)], 1.0).samples)) == 1.0
    with pytest.raises(ValueError):
        track([(0.0, Sound(np.zeros(10, dtype=np.float32), 22050))], 1.0)


def test_excerpt_is_padded_with_silence() -> None:
    made = track([(1.0, Sound(tone(1.0, TRACK_RATE), TRACK_RATE))], 3.0)
    part = excerpt(made, 0.5, 4.0)
    assert part.seconds == 3.5
    assert abs(onset(part.samples, TRACK_RATE) - 0.5) < 0.01
    assert not np.any(part.samples[round(2.5 * TRACK_RATE) :])
    assert excerpt(made, 5.0, 6.0).seconds == 1.0


def test_espeak_wav_at_the_track_rate(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "speech.wav", tone(TONE_SECONDS, speech.RATE), speech.RATE)
    sound = spoken(wav)
    assert sound.rate == TRACK_RATE and abs(sound.seconds - TONE_SECONDS) < 0.002
    spectrum = np.abs(np.fft.rfft(sound.samples))
    assert abs(np.argmax(spectrum) * TRACK_RATE / len(sound.samples) - FREQUENCY) < 2
    if speech.available():
        said = speech.speak("One convolution.", "en", tmp_path / "speech")
        assert abs(spoken(said).seconds - speech.seconds(said)) < 0.002


def make_video(path: Path, seconds: float, fps: int = 24) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for i in range(round(seconds * fps)):
            pixels = np.full((64, 64, 3), (i * 7) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        out.set_chapters(
            [
                {"id": 1, "start": 0, "end": 1000, "time_base": Fraction(1, 1000), "metadata": {}},
                {
                    "id": 2,
                    "start": 1000,
                    "end": 3000,
                    "time_base": Fraction(1, 1000),
                    "metadata": {},
                },
            ]
        )
    return path


def test_mux_adds_the_track_as_aac_where_it_belongs(tmp_path: Path) -> None:
    video = make_video(tmp_path / "silent.mp4", 3.0)
    # A little longer than the video: the track is cut to the video's end.
    voice = track([(1.0, normalise(Sound(tone(1.0, TRACK_RATE), TRACK_RATE)))], 3.2)
    target = tmp_path / "voiced.mp4"
    mux(video, voice, target)
    with av.open(str(target)) as done:
        assert len(done.chapters()) == 2
        video_stream = done.streams.video[0]
        audio = done.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.rate == TRACK_RATE
        assert video_stream.duration is not None and video_stream.time_base is not None
        video_seconds = float(video_stream.duration * video_stream.time_base)
        frames = 0
        for packet in done.demux(video_stream):
            frames += packet.size > 0
        done.seek(0)
        samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in done.decode(audio=0)])
    assert frames == 72 and abs(video_seconds - 3.0) < 1e-6
    aac_frame = 1024 / TRACK_RATE
    assert abs(len(samples) / TRACK_RATE - video_seconds) <= aac_frame
    assert abs(onset(samples, TRACK_RATE) - 1.0) <= aac_frame
    assert float(np.max(np.abs(samples[: round(0.9 * TRACK_RATE)]))) < 0.01


def test_normalising_a_minute_is_quick() -> None:
    # Loudness is measured over the whole lesson track: a minute must not take long.
    started = time.monotonic()
    normalise(Sound(tone(60.0, TRACK_RATE), TRACK_RATE))
    assert time.monotonic() - started < 5
