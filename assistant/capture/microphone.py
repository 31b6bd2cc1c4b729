"""The microphone's stream: its callback copies each block into a preallocated ring, which the voice-activity
thread drains with `read()` (resampled to the capture rate there, never in the callback)."""

from __future__ import annotations

import time

import numpy as np

from assistant.runtime.audio_stream import AudioConfig, StreamOwner, open_stream
from assistant.runtime.ring_buffer import PlaybackBuffer


class Microphone(StreamOwner):
    """The input stream. `read()` returns what was captured since the last call, at `capture_rate`."""

    def __init__(self, config: AudioConfig) -> None:
        self.config = config
        self._ring = PlaybackBuffer(config.capture_rate * 4 * 6)  # 6 s at up to 4x the target rate
        self._stream = None
        self._resampler = None
        self.last_block_time = 0.0  # time.monotonic() of the newest block the device delivered
        self.overflows = 0

    def start(self) -> None:
        self._opened_at = time.monotonic()
        self._stream, rate = open_stream("input", self.config.input_device, self.config.capture_rate,
                                          self.config.block_ms, self._callback, raw=True)
        if rate != self.config.capture_rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.config.capture_rate, 1, dtype="float32")
        self.device_rate = rate

    def _callback(self, indata, frames, time_info, status) -> None:
        if status and status.input_overflow:
            self.overflows += 1
        # (a buffer: a Raw stream skips the numpy array sounddevice would build for every 10 ms block)
        self._ring.write(np.frombuffer(indata, np.float32))
        self.last_block_time = time.monotonic()

    def read(self) -> np.ndarray:
        """Everything captured since the last call (float32 mono at capture_rate); may be empty."""
        queued = self._ring.queued
        if not queued:
            return np.zeros(0, np.float32)
        out = np.empty(queued, np.float32)
        got = self._ring.read_into(out)
        audio = out[:got]
        if self._resampler is not None:
            audio = self._resampler.resample_chunk(audio)
        return audio
