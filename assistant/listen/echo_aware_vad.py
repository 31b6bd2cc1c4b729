"""Voice activity of the user while Parley may be talking: the speech probability of each microphone frame,
with Parley's own voice kept out of it.

Every frame is looked at twice while something plays:

- after echo cancellation (`EchoCanceller`), through an `EchoGate` that holds what the canceller leaks. This
  is the view that hears the user over a loud echo, once the canceller has converged on it;
- as the microphone captured it, through a gate of its own that has learned how loud the echo is before any
  cancellation (12 dB of margin; closed until it has measured). This is the view that hears the user when
  there is little or no echo to learn from: headphones, a quiet speaker, a microphone far from it. There,
  WebRTC's AEC3 takes the user's voice for echo it has not found yet and suppresses it while Parley talks.
  Measured with Parley's voice reading a story and "Stop, stop. Tell me something else." spoken over it
  (tests/test_echo_aware_vad.py's set-up; 15 onsets and delays): with no echo at all, speech opened after
  cancellation 5-64 frames (0.2-2 s) after the first word, or never (1 of 15); as captured, after 3-6
  frames (96-192 ms). With an echo 10 or 20 dB down both views open within 5-8 frames.

A frame's probability is the higher of the two views that pass their gates; with nothing playing it is the
cleaned view's. The frames handed on (to the endpointer, and from there to Whisper) are the cleaned ones.
Without echo cancellation (headphones chosen in the settings) there is one view, the microphone's own.

While nothing has played within the gates' window neither gate holds anything and the captured view's verdict is
not used: only the cleaned view's VAD runs, and the captured view's VAD takes over its state when something plays
(the same audio but for the canceller's noise suppression), so listening costs one VAD while Parley is quiet.

Not thread-safe: the listening thread owns it.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from assistant.listen.echo_gate import EchoGate, EchoGateConfig, rms
from assistant.listen.voice_activity import FRAME, SileroVad

log = logging.getLogger(__name__)

# The gate on the captured audio: echo that no canceller has touched can swing with the room and the volume
# knob, so it takes a frame 4x (12 dB) louder than the loudest echo measured, and nothing before measuring.
RAW_GATE = EchoGateConfig(margin=4.0, initial_return=float("inf"))


class EchoAwareVad:
    """Speech probability per 512-sample frame of the user's voice, with Parley's own voice held out.

    `make_vad` builds a Silero VAD (one per view: they keep state from frame to frame); `echo` is the
    echo canceller, or None when echo cancellation is off."""

    def __init__(self, make_vad: Callable[[], SileroVad], echo=None,
                 gate: EchoGateConfig = EchoGateConfig(), raw_gate: EchoGateConfig = RAW_GATE) -> None:
        self._echo = echo
        self._vad = make_vad()
        self._raw_vad = make_vad() if echo is not None else None
        self._gate = EchoGate(gate) if echo is not None else None
        self._raw_gate = EchoGate(raw_gate) if echo is not None else None
        self._cleaned = np.zeros(0, np.float32)
        self._captured = np.zeros(0, np.float32)
        self._raw_behind = False  # the captured view's VAD skipped frames (the canceller idled)
        self.captured_frames: list[np.ndarray] = []  # the last push's frames as captured (see push)

    def reset(self) -> None:
        """Forget the VAD state and any partial frame (a new microphone stream)."""
        self._vad.reset()
        if self._raw_vad is not None:
            self._raw_vad.reset()
        self._cleaned = np.zeros(0, np.float32)
        self._captured = np.zeros(0, np.float32)
        self._raw_behind = False

    @property
    def quiet(self) -> bool:
        """Nothing has played within the echo gates' window (or echo cancellation is off)."""
        return self._echo is None or not (self._gate.playing or self._raw_gate.playing)

    @property
    def missing(self) -> int:
        """Microphone samples still needed to complete the next frame (of the view that is further behind, give
        or take the few samples the canceller holds)."""
        if self._echo is None:
            return FRAME - len(self._cleaned)
        return FRAME - min(len(self._cleaned), len(self._captured))

    def push(self, captured: np.ndarray, played: np.ndarray, now: float) -> list[tuple[np.ndarray, float]]:
        """The microphone's new audio and what the speaker played since the last call (both mono float32 at
        16 kHz; `played` is ignored without echo cancellation), at time `now` (seconds, monotonic).

        Returns each whole frame completed, cleaned, with the probability that it is the user speaking; the same
        frames as captured, before cancellation, are in `captured_frames` after the call."""
        if self._echo is None:
            self._cleaned = np.concatenate([self._cleaned, captured])
            frames = []
            while len(self._cleaned) >= FRAME:
                frame, self._cleaned = self._cleaned[:FRAME], self._cleaned[FRAME:]
                frames.append((frame, self._vad.probability(frame)))
            self.captured_frames = [frame for frame, _ in frames]
            return frames
        was_idle = getattr(self._echo, "idle", False)
        self._echo.played(played)
        if was_idle and not getattr(self._echo, "idle", False):
            # Something plays after the canceller was bypassed: until it has caught up again its leak is as at the
            # start, so the gate on its output goes back to the assumed residual, as for the first reply.
            self._gate.forget()
        self._gate.played(played, now)
        self._raw_gate.played(played, now)
        # The canceller returns whole 10 ms frames and holds the rest: the captured view runs up to 10 ms
        # ahead of the cleaned one, which is close enough to pair their 32 ms frames.
        self._cleaned = np.concatenate([self._cleaned, self._echo.captured(captured)])
        self._captured = np.concatenate([self._captured, captured])
        # Nothing played within the window: the captured view's gate is open and its VAD's verdict unused, so it
        # is skipped (it takes over the cleaned view's state when something plays).
        same = not self._raw_gate.playing
        frames = []
        self.captured_frames = []
        while len(self._cleaned) >= FRAME and len(self._captured) >= FRAME:
            frame, self._cleaned = self._cleaned[:FRAME], self._cleaned[FRAME:]
            raw, self._captured = self._captured[:FRAME], self._captured[FRAME:]
            frames.append((frame, self._probability(frame, raw, same)))
            self.captured_frames.append(raw)
        return frames

    def _probability(self, frame: np.ndarray, raw: np.ndarray, same: bool = False) -> float:
        if same:
            self._raw_behind = True
            cleaned = self._vad.probability(frame)
            return cleaned if self._gate.allows(rms(frame)) else 0.0
        if self._raw_behind:  # the captured view's VAD continues from the frames the cleaned one heard
            self._raw_vad.take_state(self._vad)
            self._raw_behind = False
        cleaned = self._vad.probability(frame)
        raw_probability = self._raw_vad.probability(raw)  # every frame: the VAD's state follows the stream
        if not self._gate.allows(rms(frame)):
            cleaned = 0.0  # no louder than Parley's own echo can be after cancellation
        if not self._raw_gate.playing or not self._raw_gate.allows(rms(raw)):
            return cleaned
        if raw_probability > 0.5 >= cleaned:
            log.debug("speech over playback heard only as captured: %.4f, played %.4f, echo return %.3f",
                      rms(raw), self._raw_gate.played_level, self._raw_gate.echo_return)
        return max(cleaned, raw_probability)

