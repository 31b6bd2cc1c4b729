"""Microphone and speaker streams (sounddevice / PortAudio).

The callbacks only copy: the microphone's into a preallocated ring that the voice-activity
thread drains, the speaker's out of the playback ring. Whatever the speaker plays is also copied
into a second ring, the echo canceller's reference. Rates: a stream opens at the rate Parley
wants (16 kHz in, the voice's rate out) when the device takes it, else at the device's own rate
with a streaming resampler (soxr) on the consumer's side, never in the callback. While Parley has nothing to say
for a while the speaker's stream rests (stopped: no callback 100 times a second to hand out silence); a reply
starts it again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from assistant.playback.play_blocking import AudioDeviceError
from assistant.playback.ring_buffer import PlaybackBuffer

log = logging.getLogger(__name__)

# A device that vanishes does not always end its stream: through PulseAudio (ALSA's pulse plugin) a killed or
# suspended source leaves PortAudio's stream "active" with no more callbacks. A running stream whose callbacks have
# stopped for this long has lost its device (one block is 10 ms; a busy machine delays them by tens of ms, and
# on this 2-core machine with two audio daemons and models running, gaps of over a second were seen, and of over
# two seconds when other programs started up beside it: an hour on the rig reported a speaker that had not gone)...
STALL_S = 4.0
# ...or, before its first callback, for this long (an idle PulseAudio source can take ~2 s to wake up).
FIRST_BLOCK_S = 3.0
# How long stop() waits for PortAudio to close a stream.
CLOSE_WAIT_S = 0.5


@dataclass(frozen=True)
class AudioConfig:
    """Which devices, and the rates the engines use."""

    input_device: str = ""  # "" = system default
    output_device: str = ""
    capture_rate: int = 16000  # VAD and Whisper
    block_ms: int = 10  # PortAudio block: small blocks make barge-in fast


def _open_stream(kind: str, name: str, wanted_rate: int, block_ms: int, callback, raw: bool = False):
    """Open and start a mono float32 stream at `wanted_rate` if the device takes it, else at its own rate.
    `raw`: the callback gets the block as a buffer (sounddevice's Raw streams), not as a numpy array.

    Returns (stream, rate). AudioDeviceError, saying what to do, when the device can't be opened.
    """
    import sounddevice as sd

    device = name or None
    label = "microphone" if kind == "input" else "speaker"
    try:
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings
        try:
            check(device=device, samplerate=wanted_rate, channels=1, dtype="float32")
            rate = wanted_rate
        except Exception:
            rate = int(sd.query_devices(device, kind=kind)["default_samplerate"])
        if kind == "input":
            stream_class = sd.RawInputStream if raw else sd.InputStream
        else:
            stream_class = sd.RawOutputStream if raw else sd.OutputStream
        stream = stream_class(device=device, samplerate=rate, channels=1, dtype="float32",
                              blocksize=int(rate * block_ms / 1000), callback=callback)
        stream.start()
    except Exception as exc:
        raise AudioDeviceError(
            f"cannot open the {label} {name or '(system default)'}: {exc}. "
            f"Connect one or pick another {kind} device in the settings"
        ) from exc
    log.info("%s open: %s at %d Hz", label, stream.device, rate)
    return stream, rate


class _StreamOwner:
    """Holds a PortAudio stream: whether it still runs (a vanished device stops or stalls it), and closing it."""

    _stream = None
    _opened_at = 0.0  # time.monotonic() when the stream was started
    last_block_time = 0.0  # time.monotonic() of the newest callback

    @property
    def active(self) -> bool:
        """The stream runs and its device still delivers blocks."""
        return bool(self._stream is not None and self._stream.active) and not self.stalled

    @property
    def stalled(self) -> bool:
        """The stream claims to run but its callbacks stopped (or never came): the device is gone."""
        if self._stream is None or not self._stream.active:
            return False
        if self.last_block_time:
            return time.monotonic() - self.last_block_time > STALL_S
        return time.monotonic() - self._opened_at > FIRST_BLOCK_S

    @property
    def worked(self) -> bool:
        """The device took (or gave) blocks for longer than a stall lasts, whatever it does now. (A stream opened
        on a device that hangs gets the few blocks that fill its buffer, and then none.)"""
        return self.last_block_time - self._opened_at > STALL_S

    def wait_for_first_block(self, timeout: float = FIRST_BLOCK_S, give_up=lambda: False) -> bool:
        """Wait until the device has delivered a block since the stream started (True), or `timeout` passed
        or `give_up()` says to stop waiting (False)."""
        deadline = time.monotonic() + timeout
        while not self.last_block_time:
            if self._stream is None or not self._stream.active or time.monotonic() > deadline or give_up():
                return False
            time.sleep(0.01)
        return True

    def stop(self, timeout: float = CLOSE_WAIT_S) -> bool:
        """Close the stream, waiting at most `timeout` s: on a device that vanished, PortAudio's close can
        block inside ALSA for good, and nothing must hang on that (the closing goes on in the background).
        Returns whether it closed in time."""
        stream, self._stream = self._stream, None
        if stream is None:
            return True
        return _bounded(lambda: stream.close(ignore_errors=True), timeout, f"closing-{type(self).__name__.lower()}")


class Microphone(_StreamOwner):
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
        self._stream, rate = _open_stream("input", self.config.input_device, self.config.capture_rate,
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


def _bounded(call, timeout: float, name: str) -> bool:
    """Run `call` (a PortAudio start, stop or close) on a thread of its own, waiting at most `timeout` s: on a device
    that vanished ALSA can block for good. Returns whether it returned in time without raising."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except Exception as exc:  # reported by the caller's log line
            failed.append(exc)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive() or failed:
        log.warning("%s %s", name, f"failed: {failed[0]}" if failed else "is stuck; left to finish in the background")
        return False
    return True


class Speaker(_StreamOwner):
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
        self._armed = False
        self.underruns = 0
        self.replaces_lost = False  # opened on the system default in place of a speaker that stopped
        self._rest_lock = threading.Lock()
        self._resting = False
        self._woke_at = 0.0

    def start(self) -> None:
        self._opened_at = time.monotonic()
        self._stream, self.rate = _open_stream("output", self.config.output_device, self.voice_rate,
                                               self.config.block_ms, self._callback)

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status and status.output_underflow:
            self.underruns += 1
        played = self.buffer.read_into(outdata[:, 0])
        if played and self._armed:
            self.first_sound_time = time.monotonic()
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
        """Close the stream while nothing is queued (from a thread that is not the callback's); True if it rests
        now. Nothing queued is lost: `wake()` before writing again.

        Closed rather than stopped: a stopped ALSA/PulseAudio stream that starts again plays later than before
        (measured on the rig: its echo came back out of the canceller's reach), a stream opened afresh plays as
        the first one did."""
        with self._rest_lock:
            stream = self._stream
            if self._resting or stream is None or not stream.active or self.stalled or self.buffer.queued:
                return self._resting
            self._stream = None
            if not _bounded(lambda: stream.close(ignore_errors=True), CLOSE_WAIT_S, "rest-speaker"):
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
                opened.append(_open_stream("output", self.config.output_device, self.rate, self.config.block_ms,
                                           self._callback))

            if _bounded(reopen, FIRST_BLOCK_S, "wake-speaker") and opened[0][1] == self.rate:
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
