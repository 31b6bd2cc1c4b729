"""The speaker's stream: its callback plays what the voice wrote into the playback ring, and copies whatever it
plays into a second ring, the echo canceller's reference. While Parley has nothing to say for a while the stream
rests (closed: no callback 100 times a second to hand out silence); a reply starts it again."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from assistant.runtime.audio_stream import (CLOSE_WAIT_S, FIRST_BLOCK_S, STALL_S, AudioConfig, StreamOwner, bounded,
                                            open_stream)
from assistant.runtime.ring_buffer import PlaybackBuffer

log = logging.getLogger(__name__)

# The stream rests only after it has played this much silence since its last sound. The echo canceller learns that
# nothing plays from the silence it is handed (capture/echo_cancel.py: bypassed after 1 s of it); a stream closed
# sooner hands it nothing at all, and it went on cancelling the last sound's echo from the microphone: a chime
# followed by a rest left the question after the wake word full of holes, transcribed as nothing.
SILENCE_BEFORE_REST_S = 1.5


class Speaker(StreamOwner):
    """The output stream, playing whatever the voice wrote into `buffer` (silence when it's empty).

    While nothing is to play for a while its stream can rest (`rest()`: closed, so no callback runs 100 times a
    second to hand out silence, and the sound server's client threads sleep), and `wake()` (or `arm()`, at the
    start of a reply) opens it again. A resting speaker counts as active."""

    def __init__(self, config: AudioConfig, voice_rate: int) -> None:
        self.config = config
        self.voice_rate = voice_rate
        # The ring must exist before the first callback, at the rate the device ends up with: the
        # device's rate is at most 48 kHz, so size for that and keep the voice's rate when it is taken.
        # It exists before start() too, so that a speaker that failed to open still takes writes.
        self.buffer = PlaybackBuffer(48000 * 120)  # two minutes of reply
        self.rate = voice_rate  # the device's rate, once start() has opened it
        self.reference = PlaybackBuffer(voice_rate * 6)  # what was played, for the echo canceller
        self._stream = None
        self.first_sound_time = 0.0  # time.monotonic() of the first block with audio since arm()
        self.last_sound_time = 0.0  # time.monotonic() of the newest block with audio
        self._armed = False
        self.underruns = 0
        self.replaces_lost = False  # opened on the system default in place of a speaker that stopped
        self._rest_lock = threading.Lock()
        self._resting = False
        self._woke_at = 0.0

    def start(self) -> None:
        self._opened_at = time.monotonic()
        self._stream, self.rate = open_stream("output", self.config.output_device, self.voice_rate,
                                               self.config.block_ms, self._callback)

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status and status.output_underflow:
            self.underruns += 1
        played = self.buffer.read_into(outdata[:, 0])
        if played:
            self.last_sound_time = time.monotonic()
            if self._armed:
                self.first_sound_time = self.last_sound_time
                self._armed = False
        self.reference.write(outdata[:, 0])
        self.last_block_time = time.monotonic()

    def arm(self) -> None:
        """Note the time of the next block that carries audio (the start of a reply) in first_sound_time; a resting
        stream starts again."""
        self.first_sound_time = 0.0
        self._armed = True
        self.wake()

    @property
    def resting(self) -> bool:
        return self._resting

    @property
    def active(self) -> bool:
        return self._resting or super().active

    @property
    def stalled(self) -> bool:
        if self._resting or (self._woke_at and time.monotonic() - self._woke_at < STALL_S):
            return False  # stopped on purpose, or started again just now (its first block is still to come)
        return super().stalled

    def rest(self) -> bool:
        """Close the stream while nothing is queued and it has played SILENCE_BEFORE_REST_S of silence (from a
        thread that is not the callback's); True if it rests now. Nothing queued is lost: `wake()` before writing
        again.

        Closed rather than stopped: a stopped ALSA/PulseAudio stream that starts again plays later than before
        (measured on the rig: its echo came back out of the canceller's reach), a stream opened afresh plays as
        the first one did."""
        with self._rest_lock:
            stream = self._stream
            if (self._resting or stream is None or not stream.active or self.stalled or self.buffer.queued
                    or time.monotonic() - self.last_sound_time < SILENCE_BEFORE_REST_S):
                return self._resting
            self._stream = None
            if not bounded(lambda: stream.close(ignore_errors=True), CLOSE_WAIT_S, "rest-speaker"):
                return False  # the device is going: no stream, so `active` is False and the speaker is replaced
            self._resting = True
            log.debug("speaker resting")
            return True

    def wake(self) -> None:
        """Open the stream of a resting speaker again (tens of ms: a reply's first audio is further off than that).
        If the device can't be opened any more, `active` turns False and the speaker is replaced."""
        with self._rest_lock:
            if not self._resting:
                return
            self._resting = False
            self._woke_at = time.monotonic()
            opened: list = []

            def reopen() -> None:
                opened.append(open_stream("output", self.config.output_device, self.rate, self.config.block_ms,
                                           self._callback))

            if bounded(reopen, FIRST_BLOCK_S, "wake-speaker") and opened[0][1] == self.rate:
                self._stream = opened[0][0]
                log.debug("speaker awake")
            elif opened:  # (another rate: the device changed under the same name; the speaker is replaced)
                opened[0][0].close(ignore_errors=True)

    def resample_for_device(self, audio: np.ndarray, rate: int) -> np.ndarray:
        """Voice audio converted to the device rate (on the caller's thread, not the callback)."""
        if rate == self.rate:
            return audio
        from assistant.audio_files import resample

        return resample(audio, rate, self.rate)
