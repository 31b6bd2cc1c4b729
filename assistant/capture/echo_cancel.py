"""Acoustic echo cancellation: keeps Parley's own voice, played on the speakers, out of the microphone.

Without it, the voice coming back from the speakers into the microphone looks like speech to the
voice-activity detector, and Parley interrupts (or transcribes) itself. This runs the WebRTC audio
processing module (the AEC3 echo canceller, optional noise suppression and high-pass filter; no
gain control, so the VAD and Whisper get the level as it is) through the native library of the
`livekit` package (`livekit.rtc.AudioProcessingModule`), prebuilt in its wheels.

How to feed it: from the consumer threads of the two audio callbacks, never inside a callback.

- `played(samples)`: the far end, each block exactly as the output callback handed it to the
  speaker, as playback goes. It must arrive no later than its echo reaches `captured()`, so pass
  each block on as it is handed to the device (it is heard an output latency later), not after it
  has been heard. Running ahead of the capture side by up to about 200 ms works; half a second or
  more (a whole utterance at once) overruns the WebRTC render buffer and the echo gets through.
- `captured(samples)`: the near end, the microphone, as it comes. Returns the cleaned audio.

Both take mono float32 at `EchoConfig.sample_rate`, shape (n,) or (n, 1), in blocks of any length.
The WebRTC module works on frames of exactly 10 ms, so each side buffers up to one frame:
`captured()` returns only whole processed frames and holds the remainder (fewer than
`sample_rate // 100` samples) for the next call. Over time the output is exactly as long as the
input and sample-aligned with it, delayed by less than 10 ms; one call may return fewer or more
samples than it was given, or none.

`stream_delay_ms` / `set_delay_ms()` give WebRTC the delay from a sample passed to `played()` to its
echo passed to `captured()` (0 to 500 ms, clamped). AEC3 finds and tracks the actual delay itself
(echo delays up to about 500 ms), so the value is a hint; measured, it makes no difference.

Stalls: a late capture consumer is harmless (its frames are still paired in order), but if the
playback consumer stalls for longer than the output latency plus the acoustic delay, the far end
arrives after its echo and some echo gets through until AEC3 re-converges (about 2-3 s).

Idle (`EchoConfig.idle_after_ms`; 0 turns it off): once the far end has been silent (exact zeros, as the speaker plays when it has nothing) for
`EchoConfig.idle_after_ms`, longer than any echo tail, there is no echo left to cancel and the module is
bypassed: `captured()` passes the microphone through unchanged (the samples it held first) and `played()`
drops the silence, so listening costs nothing here while Parley is quiet. The first played sound that is
not silence ends the bypass with a fresh module (2 ms to make): that sound reaches `played()` before its echo
reaches `captured()` (an output latency ahead), so the new module hears the far end first and finds the delay
itself. A module kept from before the bypass does worse: AEC3 pairs the two sides by how many frames each has
been fed, and the bypass starves both for different spans (the speaker rests and reopens meanwhile), so it
resumed with a stale alignment and, on re-finding the delay ~1 s into the reply, let the echo through whole for a
few frames (a recorded 20-reply session on the test rig, replayed: 53 frames of echo at over 30% of the
microphone's level with the module kept, none with a fresh one per reply; live, one run in four paused a reply
on its own echo). `idle` says which.

If the native module cannot load, `available` is False, a warning is logged once per process and
`captured()` returns its input unchanged (no buffering); the same if the module fails later (logged
once). With `enabled=False` (headphones) nothing is loaded and audio passes through unchanged.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

_INT16_SCALE = 32768.0
_MAX_DELAY_MS = 500  # WebRTC refuses larger stream delays

_warn_lock = threading.Lock()
_warned_unavailable = False


@dataclass(frozen=True)
class EchoConfig:
    enabled: bool = True  # off for headphones: no echo to cancel
    sample_rate: int = 16000  # APM processing rate, mono; a multiple of 100 (10 ms frames)
    stream_delay_ms: int = 40  # from playing a sample to hearing it (measured by the engine, updated live)
    noise_suppression: bool = True
    high_pass_filter: bool = True
    # Far end silent this long: nothing plays and its echo has died away (the echo gate expects echo up to
    # 600 ms after the last sound), so the module is bypassed until something plays (0: never). Its runs cost 1.3%
    # of a core while Parley listens to silence. It comes back as a fresh module (see above), and the gate on its
    # output starts from the assumed residual again (EchoAwareVad), as for a first reply.
    idle_after_ms: int = 1000


def _warn_unavailable_once(reason: str) -> None:
    global _warned_unavailable
    with _warn_lock:
        if _warned_unavailable:
            return
        _warned_unavailable = True
    log.warning(
        "echo cancellation is unavailable (%s): the microphone is used as it is, so Parley may hear "
        "its own voice; use headphones, or reinstall Parley's Python packages (livekit)", reason
    )


def _clamp_delay(ms: int) -> int:
    return min(max(0, int(ms)), _MAX_DELAY_MS)


def _as_mono(samples: np.ndarray) -> np.ndarray:
    """Mono float32, 1-D: accepts shape (n,) or (n, 1) as sounddevice gives it."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim == 2 and audio.shape[1] == 1:
        audio = audio[:, 0]
    if audio.ndim != 1:
        raise ValueError(f"echo cancellation takes mono audio, shape (n,) or (n, 1); got {audio.shape}")
    return audio


def _to_pcm16(audio: np.ndarray) -> bytearray:
    return bytearray(np.clip(np.rint(audio * _INT16_SCALE), -32768, 32767).astype(np.int16).tobytes())


class EchoCanceller:
    """WebRTC echo cancellation between what Parley plays and what the microphone hears.

    `played()` and `captured()` may be called from two different threads at once; each side keeps
    its own buffer under its own lock, and every call into the native module holds one shared lock.
    """

    def __init__(self, config: EchoConfig) -> None:
        if config.sample_rate <= 0 or config.sample_rate % 100:
            raise ValueError(f"sample_rate must be a positive multiple of 100 Hz, got {config.sample_rate}")
        self.config = config
        self._frame = config.sample_rate // 100  # samples per 10 ms
        self._apm_lock = threading.Lock()  # every native call
        self._far_lock = threading.Lock()  # far-end buffer (playback thread)
        self._near_lock = threading.Lock()  # near-end buffer (capture thread)
        self._far = np.zeros(0, np.float32)
        self._near = np.zeros(0, np.float32)
        self._delay_ms = _clamp_delay(config.stream_delay_ms)
        self._silent_far = 0  # far-end samples of silence in a row
        self._idle_after = config.sample_rate * config.idle_after_ms // 1000 if config.idle_after_ms > 0 else 0
        self._idle = False
        self._apm = None
        self._rtc = None
        if config.enabled:
            self._open()

    def _open(self) -> None:
        try:
            from livekit import rtc

            apm = rtc.AudioProcessingModule(
                echo_cancellation=True,
                noise_suppression=self.config.noise_suppression,
                high_pass_filter=self.config.high_pass_filter,
                auto_gain_control=False,  # the VAD and Whisper want the level as it is
            )
            apm.set_stream_delay_ms(self._delay_ms)
        except Exception as exc:  # ImportError, OSError from the native library, RuntimeError from it
            _warn_unavailable_once(f"{type(exc).__name__}: {exc}")
            return
        self._rtc, self._apm = rtc, apm

    @property
    def available(self) -> bool:
        """True when echo is being cancelled: enabled, and the native module loaded and works."""
        return self._apm is not None

    @property
    def delay_ms(self) -> int:
        return self._delay_ms

    def set_delay_ms(self, ms: int) -> None:
        """The delay from `played()` to the echo in `captured()`, as the engine measures it (live)."""
        self._delay_ms = _clamp_delay(ms)

    @property
    def idle(self) -> bool:
        """True while the module is bypassed: the far end has been silent for `idle_after_ms` (and stays so)."""
        return self._idle

    def new_echo_path(self) -> None:
        """The speaker was replaced (its device vanished): what the module learnt of the old one's echo does not
        hold for the new one, and nothing has played there yet. It starts afresh, bypassed until the new speaker
        plays (kept adapted to the old path, it took the user's first words on the new one for echo)."""
        log.info("a new speaker: the echo canceller starts afresh")
        with self._far_lock, self._near_lock:
            self._far = np.zeros(0, np.float32)
            self._silent_far = self._idle_after
            self._idle = bool(self._idle_after)
            if not self._idle:
                self._reopen()  # (else the new speaker's first sound brings a fresh module)

    def _reopen(self) -> None:
        """A fresh native module in place of the working one (none after a failure: it stays off)."""
        with self._apm_lock:
            if self._apm is not None:
                self._apm = None
                self._open()

    def played(self, samples: np.ndarray) -> None:
        """Far end: mono float32 at `sample_rate`, exactly what the speaker played, any length."""
        if self._apm is None:
            return
        audio = _as_mono(samples)
        with self._far_lock:
            if self._idle_after:
                if len(audio) and not audio.any():
                    self._silent_far += len(audio)
                    if self._idle:
                        return  # nothing to cancel: the silence is not fed
                    if self._silent_far >= self._idle_after:
                        self._idle = True  # from the next captured() on; what is held here is silence
                        self._far = np.zeros(0, np.float32)
                        return
                elif len(audio):
                    self._silent_far = 0
                    if self._idle:  # something plays: cancel from its first sample on, with a fresh module
                        self._idle = False
                        self._reopen()
            frames, self._far = self._split(np.concatenate([self._far, audio]))
            for frame in frames:
                if not self._run("process_reverse_stream", self._pcm_frame(frame)):
                    return

    def captured(self, samples: np.ndarray) -> np.ndarray:
        """Near end: mono float32 microphone audio at `sample_rate`, any length → cleaned float32.

        Returns the whole 10 ms frames processed so far; the remainder (< 10 ms) waits for the
        next call. Passes audio through unchanged when echo cancellation is off or unavailable.
        """
        audio = _as_mono(samples)
        if self._apm is None or self._idle:
            with self._near_lock:
                if not len(self._near):
                    return audio.copy()
                # left over from before idling (or a failure): sample-aligned, no longer held
                pending, self._near = self._near, np.zeros(0, np.float32)
            return np.concatenate([pending, audio])
        with self._near_lock:
            frames, self._near = self._split(np.concatenate([self._near, audio]))
            cleaned = []
            for index, frame in enumerate(frames):
                pcm = self._pcm_frame(frame)
                if not self._run("process_stream", pcm, delay_ms=self._delay_ms):
                    cleaned.extend(frames[index:])  # the module failed: the rest passes through
                    break
                cleaned.append(np.frombuffer(pcm.data, dtype=np.int16).astype(np.float32) / _INT16_SCALE)
            return np.concatenate(cleaned) if cleaned else np.zeros(0, np.float32)

    def _split(self, audio: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        whole = len(audio) - len(audio) % self._frame
        frames = [audio[i : i + self._frame] for i in range(0, whole, self._frame)]
        return frames, audio[whole:].copy()

    def _pcm_frame(self, frame: np.ndarray):
        return self._rtc.AudioFrame(_to_pcm16(frame), self.config.sample_rate, 1, self._frame)

    def _run(self, method: str, frame, delay_ms: int | None = None) -> bool:
        """One native call under the shared lock; on failure, log it and turn the canceller off."""
        with self._apm_lock:
            apm = self._apm
            if apm is None:
                return False
            try:
                if delay_ms is not None:
                    # WebRTC wants the delay before every capture frame when echo cancellation is on.
                    apm.set_stream_delay_ms(delay_ms)
                getattr(apm, method)(frame)
                return True
            except Exception:
                log.exception("echo cancellation failed; the microphone is used as it is from now on")
                self._apm = None
                return False
