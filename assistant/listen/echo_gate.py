"""Double-talk gate: while Parley speaks, can this microphone frame be the user, or only Parley's echo?

The echo canceller leaks while it adapts (at the start of the first reply, when the room changes),
and a leak loud enough passes the VAD: Parley would interrupt itself. The gate is the classic answer
of telephone echo cancellers (Geigel's detector), made adaptive. It learns how much of what the
speaker played is still there after echo cancellation (the residual echo, as a ratio of the played
level), and lets a frame count as speech only when it is `margin` times louder than the loudest
residual that ratio allows. A person talking over Parley does that easily; the echo does not. Once
the canceller has converged the residual is small and the gate lets a soft voice through; while it
leaks, the gate holds the leak. With nothing playing the gate is open.

Pure logic, no audio devices: `played()` takes what the speaker played, `allows()` the level of one
microphone frame after echo cancellation, both from the listening thread. `EchoAwareVad` also keeps a
second gate on the frames as captured, before cancellation (the same logic: there the "residual" is the
whole echo).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EchoGateConfig:
    """Tuning of `EchoGate`."""

    # How long a played sound can still come back (output and input latency plus the room; about
    # 0.3 s through PulseAudio here): the echo of a
    # frame is compared with the loudest block played this long before it.
    window_ms: int = 600
    # Residual echo assumed until measured: -6 dB, the usual design figure for speakerphones (inf: the
    # gate holds everything that plays until it has measured).
    initial_return: float = 0.5
    # How much louder than the loudest possible echo a frame must be to count as the user.
    margin: float = 2.0
    # Below this played level (RMS) nothing audible is playing: the gate is open.
    min_played_level: float = 0.003
    # Frames of measured residual kept (about 3 s of playback at 32 ms frames) and how many are
    # needed before the measurement replaces the assumption.
    history_frames: int = 100
    min_measured_frames: int = 15
    # The residual is this percentile of the measured ratios: the loud end of the echo, not its mean.
    percentile: float = 90.0


class EchoGate:
    """Decides per microphone frame whether it may be the user while the speaker plays."""

    def __init__(self, config: EchoGateConfig = EchoGateConfig()) -> None:
        self.config = config
        self._played: collections.deque[tuple[float, float]] = collections.deque()  # (time, level)
        self._ratios: collections.deque[float] = collections.deque(maxlen=config.history_frames)

    def played(self, audio: np.ndarray, now: float) -> None:
        """What the speaker played since the last call (any length, any rate), at time `now` (seconds)."""
        if len(audio):
            self._played.append((now, rms(audio)))
        horizon = now - self.config.window_ms / 1000
        while self._played and self._played[0][0] < horizon:
            self._played.popleft()

    @property
    def played_level(self) -> float:
        """The loudest level played within the window: what the echo can be at most, before the return."""
        return max((level for _, level in self._played), default=0.0)

    @property
    def playing(self) -> bool:
        """Whether anything audible played within the window (else the gate is open)."""
        return self.played_level >= self.config.min_played_level

    @property
    def echo_return(self) -> float:
        """The measured (or, early on, assumed) ratio of the echo left after cancellation to the played level."""
        if len(self._ratios) < self.config.min_measured_frames:
            return self.config.initial_return
        return float(np.clip(np.percentile(self._ratios, self.config.percentile), 0.01, 4.0))

    def forget(self) -> None:
        """Drop the measured residual (back to the assumed one until measured again): the canceller is to re-adapt,
        after it was bypassed while nothing played."""
        self._ratios.clear()

    def allows(self, level: float) -> bool:
        """Whether a frame whose level after echo cancellation is `level` may be the user. While
        something plays, the frame also teaches the gate how much echo is left."""
        played = self.played_level
        if played < self.config.min_played_level:
            return True
        threshold = self.config.margin * self.echo_return * played
        self._ratios.append(level / played)
        return level > threshold


def rms(audio: np.ndarray) -> float:
    """The level of a block of audio: its root mean square (0 for an empty one)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    return float(np.sqrt(np.dot(audio, audio) / len(audio))) if len(audio) else 0.0  # (np.mean: 10x the time)
