"""Opening a sound device's stream (sounddevice / PortAudio), and what the microphone (capture/microphone.py) and
the speaker (playback/speaker.py) share: the devices and rates (`AudioConfig`), whether a stream still runs
(`StreamOwner`), closing it without hanging (`bounded`), and the error that says a device can't be used.

The callbacks only copy: the microphone's into a preallocated ring that the voice-activity thread drains, the
speaker's out of the playback ring. Rates: a stream opens at the rate Parley wants (16 kHz in, the voice's rate out)
when the device takes it, else at the device's own rate with a streaming resampler (soxr) on the consumer's side,
never in the callback.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

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


class AudioDeviceError(RuntimeError):
    """No usable sound device; the message says which and what to do."""


def open_stream(kind: str, name: str, wanted_rate: int, block_ms: int, callback, raw: bool = False):
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


class StreamOwner:
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
        return bounded(lambda: stream.close(ignore_errors=True), timeout, f"closing-{type(self).__name__.lower()}")


def bounded(call, timeout: float, name: str) -> bool:
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
