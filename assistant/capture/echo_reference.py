"""What the speaker played, as the echo canceller needs it: at the capture rate, silence handed out cheaply."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)


class ReferenceResampler:
    """What the speaker played, at the capture rate, for the echo canceller's reference stream."""

    def __init__(self, speaker: Callable[[], object], rate: int,
                 on_new_speaker: Callable[[], None] = lambda: None) -> None:
        """`speaker()` is the current speaker: it is replaced when the output device vanishes, and then
        `on_new_speaker()` is called (on the reader's thread), before the new one's first samples are read."""
        self._speaker = speaker
        self._on_new_speaker = on_new_speaker
        self._rate = rate
        self._playing = None
        self._stream = None
        self._silent = 0  # samples of silence in a row, at the speaker's rate
        self._owed = 0.0  # fraction of a sample of silence not yet handed out

    def read(self) -> np.ndarray:
        import soxr

        speaker = self._speaker()
        if speaker is not self._playing:
            if self._playing is not None:
                self._on_new_speaker()
            self._playing = speaker
            self._stream = soxr.ResampleStream(speaker.rate, self._rate, 1, dtype="float32")
            self._silent = 0
            self._owed = 0.0
        ring = speaker.reference
        if not ring.queued:
            return np.zeros(0, np.float32)  # nothing played since the last call (or the speaker rests)
        out = np.empty(ring.queued, np.float32)
        got = ring.read_into(out)
        out = out[:got]
        if got and not out.any():
            self._silent += got
            if self._silent > speaker.rate // 10:
                # Silence, and the resampler's filter has long been flushed with it: its output would be zeros.
                self._owed += got * self._rate / speaker.rate
                count = int(self._owed)
                self._owed -= count
                return np.zeros(count, np.float32)
        else:
            self._silent = 0
        return self._stream.resample_chunk(out)


def make_echo_canceller(rate: int):
    try:
        from assistant.capture.echo_cancel import EchoCanceller, EchoConfig
    except ImportError:
        log.warning("echo cancellation is not available")
        return None
    canceller = EchoCanceller(EchoConfig(sample_rate=rate))
    return canceller if canceller.available else None
