"""Speech with espeak-ng, an offline text-to-speech engine (Debian: espeak-ng).

Each narration is spoken into a WAV once, cached by its text and voice.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from cnn_model.safeio import is_regular

from .atomic import writing

ENGINE = "espeak-ng"
RATE = 22050  # espeak-ng's own sample rate

WORDS_PER_MINUTE = 155
# Longer than any step may last (a step's narration is capped at 10 minutes).
MAX_SECONDS = 3600


class VoiceError(Exception):
    pass


def available() -> bool:
    return shutil.which(ENGINE) is not None


def voices() -> list[str]:
    """The voice names espeak-ng knows (e.g. en, en-us, en-gb)."""
    if not available():
        return []
    listing = subprocess.run([ENGINE, "--voices"], capture_output=True, text=True).stdout
    names = set()
    for line in listing.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            # The language code column: espeak-ng 1.51 lists one code it does not
            # accept with -v, the only one in capitals (chr-US-Qaaa-x-west);
            # its voice is still there under its file name (chr).
            if parts[1] == parts[1].lower():
                names.add(parts[1])
            names.add(parts[4].split("/")[-1])  # the voice file name
    return sorted(names)


def speak(text: str, voice: str, folder: Path) -> Path:
    """A WAV of ``text`` in ``voice``, made once and kept in ``folder``."""
    key = hashlib.sha256(f"{ENGINE}|{voice}|{WORDS_PER_MINUTE}|{text}".encode()).hexdigest()[:24]
    path = folder / f"{key}.wav"
    if _usable(path):
        return path
    if not available():
        raise VoiceError(f"voice-over needs {ENGINE}: apt-get install {ENGINE}")
    folder.mkdir(parents=True, exist_ok=True)
    # Whatever was at the name (damaged, a link, a folder) is replaced.
    with writing(path, cache_entry=True) as staged:
        # The text goes on standard input: as an argument, a narration that
        # starts with "-" would be read as an option.
        done = subprocess.run(
            [ENGINE, "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(staged), "--stdin"],
            input=text,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not staged.is_file() or staged.stat().st_size <= 44:
            raise VoiceError(f"{ENGINE} failed for voice {voice!r}: {done.stderr.strip()}")
    return path


def _usable(path: Path) -> bool:
    """Whether the cached speech at ``path`` is a regular file (not a link) that reads
    as espeak-ng's mono 16-bit WAV of at most ``MAX_SECONDS``."""
    if not is_regular(path, follow_links=False):
        return False
    try:
        with wave.open(str(path)) as handle:
            return (
                handle.getnchannels() == 1
                and handle.getsampwidth() == 2
                and 8000 <= handle.getframerate() <= 48000
                and 0 < handle.getnframes() <= MAX_SECONDS * handle.getframerate()
            )
    except (OSError, EOFError, wave.Error):
        return False


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the sample rate."""
    with wave.open(str(path)) as handle:
        rate = handle.getframerate()
        channels = handle.getnchannels()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
    samples = data.astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def seconds(path: Path) -> float:
    samples, rate = read_wav(path)
    return len(samples) / rate
