"""Playing audio on the output device."""

from __future__ import annotations

import numpy as np

from assistant.runtime.audio_stream import AudioDeviceError


def play_blocking(audio: np.ndarray, rate: int, device: str | None = None) -> None:
    """Play mono float32 audio on `device` (None = the system default) and wait until it ends."""
    import sounddevice as sd

    # Some backends (ALSA's PulseAudio plugin) drop the last tens of ms when a stream stops right
    # at the end of its data: a short silent tail keeps the final word whole.
    audio = np.concatenate([np.asarray(audio, dtype=np.float32), np.zeros(rate // 5, np.float32)])
    try:
        sd.play(audio, rate, device=device or None)
        sd.wait()
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioDeviceError(
            f"cannot play sound on {device or 'the default output device'} ({exc}); connect a speaker, "
            "pick another output device in the settings, or write the audio to a file with -o OUT.wav"
        ) from exc
