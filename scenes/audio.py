"""Narration sound: an author's recordings and espeak-ng's speech on one 48 kHz track.

A recording is untrusted input. It is read as a regular file of at most
``MAX_RECORDING_BYTES`` (:func:`cnn_model.safeio.read_regular`: a FIFO, a
device, a folder or a link loop is named, never waited on), decoded from
memory with PyAV only when its container is WAV, FLAC, Ogg, MP3 or M4A and
its codec one those files hold, frame by frame, and refused once it passes
``MAX_RECORDING_SECONDS`` or ``MAX_PACKETS``: no file can make the decoder
run or allocate without bound. Every failure is an :class:`AudioError` of
one line.

Every sound here is mono float32 in [-1, 1]; a track is at ``TRACK_RATE``.
Sounds are loudness-normalised (ITU-R BS.1770, with pyloudnorm) before they
are laid on a track, so a quiet recording and espeak-ng's speech sound
alike.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from cnn_model.safeio import FileRefused, read_regular

from .speech import read_wav

TRACK_RATE = 48000

MAX_RECORDING_BYTES = 64 * 1024 * 1024
MAX_RECORDING_SECONDS = 600  # a step's narration may last at most 10 minutes
# A real 10-minute recording has at most some 50,000 packets (an AAC or MP3
# frame, an Ogg packet, a few KB of WAV); a file of millions of tiny ones
# would keep the decoder busy for minutes without making any sound.
MAX_PACKETS = 500_000
MAX_CHANNELS = 8
MIN_RATE, MAX_RATE = 8000, 384000  # sample rates (Hz) a recording may have
SILENCE_PEAK = 1e-3  # a recording whose loudest sample is below this is silent

TARGET_LUFS = -18.0  # every cue's loudness on the track (ITU-R BS.1770 integrated)
PEAK_CEILING_DB = -1.0  # normalisation never lifts a peak above this (dBFS)
_MEASURE_BLOCK = 0.4  # pyloudnorm's gating block (seconds): shorter clips are padded

# FFmpeg's demuxer names of the containers an author may send.
CONTAINERS = {
    "wav": "WAV",
    "flac": "FLAC",
    "ogg": "OGG",
    "mp3": "MP3",
    "mov,mp4,m4a,3gp,3g2,mj2": "M4A",
}
# The codecs those files hold (WAV: any PCM); no other decoder ever sees the data.
CODECS = frozenset({"flac", "vorbis", "opus", "mp3", "mp3float", "aac"})
_KINDS = "WAV, FLAC, OGG, MP3 or M4A"


class AudioError(Exception):
    """A recording that cannot be used: ``"<name>: <reason>"``, one short line.

    ``name`` is the path as given (control characters escaped); ``reason``
    alone suits a message that names the file its own way.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.name = _printable(str(path))
        self.reason = reason
        super().__init__(f"{self.name}: {reason}")


@dataclass(frozen=True, eq=False)
class Sound:
    """Mono float32 samples in [-1, 1] at ``rate`` samples a second."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


# --- reading ------------------------------------------------------------------


def read_recording(path: Path) -> Sound:
    """An author's recording, mixed to mono and resampled to ``TRACK_RATE``.

    WAV, FLAC, Ogg (Vorbis or Opus), MP3 or M4A (AAC), whatever the file's
    name says. Raises :class:`AudioError` for anything else, for a recording
    longer than ``MAX_RECORDING_SECONDS`` and for a silent one.
    """
    try:
        data = read_regular(path, MAX_RECORDING_BYTES)
    except FileRefused as exc:
        raise AudioError(path, str(exc)) from None
    if not data:
        raise AudioError(path, "an empty file, not a recording")
    try:
        samples = _decode(path, data)
    except AudioError:
        raise
    except (av.FFmpegError, ValueError, OSError, RuntimeError, EOFError, IndexError):
        # Whatever the demuxer or a decoder makes of a damaged file (a
        # UnicodeDecodeError from its tags is a ValueError too).
        raise AudioError(path, _not_audio()) from None
    if len(samples) == 0:
        raise AudioError(path, "the recording holds no sound")
    if not np.all(np.isfinite(samples)):
        raise AudioError(path, _not_audio())
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise AudioError(path, "the recording is silent")
    np.clip(samples, -1.0, 1.0, out=samples)
    return Sound(samples, TRACK_RATE)


def recording_seconds(path: Path) -> float:
    """How long the recording at ``path`` lasts (decoded: its tags may say anything).

    Validation and the render both ask: the answer is kept for the file as it is
    (its size and modification time), so each recording is decoded once for it.
    """
    try:
        status = os.stat(path)
    except OSError:
        return read_recording(path).seconds  # says why it cannot be read
    return _seconds(str(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _seconds(path: str, size: int, modified: int) -> float:
    return read_recording(Path(path)).seconds


def _not_audio() -> str:
    return f"not an audio file ({_KINDS}) that can be decoded"


def _decode(path: Path, data: bytes) -> np.ndarray:
    limit = MAX_RECORDING_SECONDS * TRACK_RATE
    # metadata_errors: tags that are not UTF-8 are not the recording's fault.
    with av.open(io.BytesIO(data), mode="r", metadata_errors="replace") as container:
        if container.format.name not in CONTAINERS:
            raise AudioError(path, _not_audio())
        if not container.streams.audio:
            raise AudioError(path, "the file holds no sound (no audio stream)")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        if not (codec in CODECS or (codec.startswith("pcm_") and container.format.name == "wav")):
            kind = CONTAINERS[container.format.name]
            raise AudioError(
                path,
                f"{_printable(codec)[:20]} audio in {kind}; "
                "a recording holds PCM, FLAC, Vorbis, Opus, MP3 or AAC",
            )
        chunks: list[np.ndarray] = []
        total = 0
        try:
            for samples in _resampled(path, container, stream):
                chunks.append(samples)
                total += len(samples)
                if total > limit:
                    raise AudioError(path, _too_long(container))
        except (av.FFmpegError, ValueError, OSError, RuntimeError, EOFError, IndexError):
            if total == 0:
                raise
            # Most often a file cut short (an upload or a copy that stopped).
            at = _number(round(total / TRACK_RATE, 1))
            raise AudioError(
                path, f"the recording cannot be decoded past {at} s (damaged or cut short)"
            ) from None
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _resampled(path: Path, container: Any, stream: Any) -> Iterator[np.ndarray]:
    """The stream's sound, frame by frame, as mono float32 at ``TRACK_RATE``."""
    resampler: av.AudioResampler | None = None
    setup: tuple[str, str, int] | None = None
    for count, packet in enumerate(container.demux(stream)):
        if count >= MAX_PACKETS:
            raise AudioError(path, f"{_not_audio()} (more than {MAX_PACKETS:,} packets)")
        for frame in packet.decode():
            # A stream may change its rate or channels midway (MP3 and AAC can):
            # the resampler is set up again for the new kind of frame.
            kind = (frame.format.name, frame.layout.name, frame.sample_rate)
            channels = frame.layout.nb_channels
            if not 1 <= channels <= MAX_CHANNELS:
                raise AudioError(
                    path, f"the recording has {channels} channels; it may have 1 to {MAX_CHANNELS}"
                )
            if not MIN_RATE <= frame.sample_rate <= MAX_RATE:
                # One second at 1 Hz is 48,000 samples at the track's rate.
                raise AudioError(
                    path,
                    f"the recording's sample rate is {frame.sample_rate:,} Hz; "
                    f"it may be {MIN_RATE:,} to {MAX_RATE:,} Hz",
                )
            if resampler is None or kind != setup:
                if resampler is not None:
                    yield from _mono(resampler.resample(None))
                # In the frame's own channels, averaged here (FFmpeg's own downmix
                # adds 5.1's channels up and clips). Packed: PyAV miscounts the
                # planes of a planar frame of 8 channels or more, and crashes.
                resampler = av.AudioResampler(
                    format="flt", layout=frame.layout.name, rate=TRACK_RATE
                )
                setup = kind
            yield from _mono(resampler.resample(frame))
    if resampler is not None:
        yield from _mono(resampler.resample(None))


def _mono(frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
    """Each packed float frame's channels averaged into one."""
    for frame in frames:
        channels = frame.layout.nb_channels
        samples = frame.to_ndarray().reshape(-1)
        if channels > 1:
            samples = samples.reshape(-1, channels).mean(axis=1)
        yield samples.astype(np.float32, copy=False)


def _too_long(container: Any) -> str:
    cap = MAX_RECORDING_SECONDS / 60
    declared = container.duration / av.time_base if container.duration else 0.0
    if declared > MAX_RECORDING_SECONDS and math.isfinite(declared):
        length = f"{_number(declared / 60)} minutes"
    else:
        length = f"more than {_number(cap)} minutes"
    return f"the recording lasts {length}; a cue may last at most {_number(cap)}"


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0") if value < 1e6 else f"{value:.3g}"


def _printable(text: str) -> str:
    """``text`` with control and invisible characters escaped, so it stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --- espeak-ng ----------------------------------------------------------------


def spoken(path: Path) -> Sound:
    """An espeak-ng WAV (see :func:`scenes.speech.speak`) at ``TRACK_RATE``."""
    samples, rate = read_wav(path)
    return resample(Sound(samples, rate), TRACK_RATE)


def resample(sound: Sound, rate: int = TRACK_RATE) -> Sound:
    """``sound`` at ``rate`` samples a second (FFmpeg's resampler)."""
    if sound.rate == rate:
        return sound
    if len(sound.samples) == 0:
        return Sound(np.zeros(0, dtype=np.float32), rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(sound.samples, dtype=np.float32)[None, :], format="flt", layout="mono"
    )
    frame.sample_rate = sound.rate
    parts = [*_mono(resampler.resample(frame)), *_mono(resampler.resample(None))]
    return Sound(np.clip(np.concatenate(parts), -1.0, 1.0), rate)


# --- loudness and the track ---------------------------------------------------


def loudness(sound: Sound) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770); ``-inf`` for silence.

    A clip shorter than the measure's 0.4 s block is measured padded with silence.
    """
    samples = sound.samples.astype(np.float64)
    block = math.ceil(_MEASURE_BLOCK * sound.rate) + 1
    if len(samples) < block:
        samples = np.concatenate([samples, np.zeros(block - len(samples))])
    # Imported here: it brings SciPy's signal module (about 0.9 s), which lesson
    # validation and renders without sound never need.
    import pyloudnorm

    with np.errstate(divide="ignore", invalid="ignore"):
        return float(pyloudnorm.Meter(sound.rate).integrated_loudness(samples))


def normalise(sound: Sound, target_lufs: float = TARGET_LUFS) -> Sound:
    """``sound`` at ``target_lufs`` integrated loudness, its peaks at most -1 dBFS.

    When the loudness gain would lift a peak above -1 dBFS, the gain is
    limited to bring the peak to -1 dBFS instead (the sound is then quieter
    than the target, never clipped). Silence stays as it is.
    """
    measured = loudness(sound)
    peak = float(np.max(np.abs(sound.samples))) if len(sound.samples) else 0.0
    if not math.isfinite(measured) or peak == 0.0:
        return sound
    ceiling = 10.0 ** (PEAK_CEILING_DB / 20.0)
    gain = 10.0 ** ((target_lufs - measured) / 20.0)
    out = sound.samples.astype(np.float64) * min(gain, ceiling / peak)
    return Sound(np.clip(out, -1.0, 1.0).astype(np.float32), sound.rate)


def track(parts: list[tuple[float, Sound]], duration: float) -> Sound:
    """One mono track of ``duration`` seconds at ``TRACK_RATE``, each sound at its start.

    A sound that runs past the end is cut there (one that starts before 0 loses
    its beginning); overlapping sounds add up, and the sum is clipped to [-1, 1].
    Every sound must be at ``TRACK_RATE`` (see :func:`resample`).
    """
    total = np.zeros(max(0, round(duration * TRACK_RATE)), dtype=np.float32)
    for start, sound in parts:
        if sound.rate != TRACK_RATE:
            raise ValueError(f"a sound at {sound.rate} Hz on a {TRACK_RATE} Hz track")
        at = round(start * TRACK_RATE)
        samples = sound.samples
        if at < 0:
            samples, at = samples[-at:], 0
        end = min(len(total), at + len(samples))
        if end > at:
            total[at:end] += samples[: end - at]
    return Sound(np.clip(total, -1.0, 1.0), TRACK_RATE)


def excerpt(sound: Sound, start: float, end: float) -> Sound:
    """The part of ``sound`` from ``start`` to ``end`` seconds, padded with silence
    where ``sound`` is shorter."""
    first = max(0, round(start * sound.rate))
    length = max(0, round(end * sound.rate) - first)
    out = np.zeros(length, dtype=np.float32)
    part = sound.samples[first : first + length]
    out[: len(part)] = part
    return Sound(out, sound.rate)
