"""Reading and writing audio files: WAV, FLAC, OGG (and MP3), any rate and channel count."""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

SPEECH_RATE = 16000  # what the VAD and Whisper take


class AudioFileError(ValueError):
    """An audio file can't be used; the message names it and says why."""


def read_audio(path: Path, rate: int = SPEECH_RATE) -> np.ndarray:
    """Decode `path` to mono float32 at `rate` Hz (channels averaged, polyphase resampling)."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        audio, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(
            f"{path}: not a readable audio file ({exc}); use WAV, FLAC, OGG or MP3"
        ) from exc
    if audio.size == 0:
        raise AudioFileError(f"{path}: the file holds no audio")
    return resample(audio.mean(axis=1), source_rate, rate)


def resample(audio: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """Band-limited polyphase resampling (scipy), float32 out."""
    if source_rate == rate:
        return np.ascontiguousarray(audio, dtype=np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(rate, source_rate).limit_denominator(1000)
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, rate: int) -> Path:
    """Write mono float audio as 16-bit PCM WAV, atomically (temporary file, then rename)."""
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".wav", dir=path.parent)
    os.close(fd)
    try:
        soundfile.write(tmp, np.clip(audio, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
