"""Endpointing: when the user starts and stops talking, from per-frame VAD speech probabilities.

`Endpointer.push` takes one frame (512 samples at 16 kHz, 32 ms) with its probability and returns what
happened at that frame. Speech opens after `start_frames` consecutive frames at or above
`start_threshold` (one loud click isn't speech); once open, only frames below the lower
`stop_threshold` count as silence (hysteresis, so a soft syllable doesn't end the turn), and
`end_silence_ms` of them end it. Frames are numbered from 0 since creation or `reset`.

Events are `Event(kind, frame, utterance)`: the kind is an `EndpointEvent`, `frame` the index of the
frame that caused it. SPEECH_END carries the `Utterance`, and so does PAUSE (the turn so far, after
`pause_ms` of silence, for work that can start before the end is certain); when a turn is cut at
`max_utterance_s`, MAX_LENGTH comes first in the same list, then SPEECH_END (reason "max_length"), so
a caller that only transcribes SPEECH_END still gets every turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

__all__ = ["EndpointConfig", "EndpointEvent", "Endpointer", "Event", "Utterance"]


@dataclass(frozen=True)
class EndpointConfig:
    """Tuning of `Endpointer`. Durations are rounded to whole frames (see each field)."""

    # Probability that opens speech.
    start_threshold: float = 0.5
    # Once speech is open, only frames below this count as silence (hysteresis against soft syllables).
    stop_threshold: float = 0.35
    # Consecutive frames >= start_threshold needed to open speech (2 = 64 ms): filters clicks.
    start_frames: int = 2
    # Audio kept from before the opening run so the first syllable isn't lost (rounded up to frames).
    pre_roll_ms: int = 320
    # Voiced span (first opening frame to last voiced frame) shorter than this is noise: a cough, a door.
    min_speech_ms: int = 200
    # Silence that ends a hands-free turn (the first whole frame count reaching it: 500 ms = 16 frames).
    end_silence_ms: int = 500
    # Silence kept after the last voiced frame (rounded down to frames); Whisper needs no more.
    keep_trailing_ms: int = 200
    # Silence after which the turn *may* be over: a PAUSE event carries the utterance so far, so that
    # transcription can start before end_silence_ms confirms the end (0 = no PAUSE events).
    pause_ms: int = 0
    # Further silences at which PAUSE comes again, each carrying the same utterance (the end-of-turn model is
    # asked again as the silence grows); each must exceed pause_ms.
    pause_again_ms: tuple[int, ...] = ()
    # A turn that never ends is cut when its audio (pre-roll included) would exceed this.
    max_utterance_s: float = 30.0
    # Samples per frame, as the VAD takes them.
    frame_samples: int = 512
    # Sample rate of the frames.
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if not 0.0 <= self.stop_threshold <= self.start_threshold <= 1.0:
            raise ValueError(f"need 0 <= stop_threshold <= start_threshold <= 1: {self}")
        if self.start_frames < 1 or self.frame_samples < 1 or self.sample_rate < 1:
            raise ValueError(f"invalid EndpointConfig: {self}")
        if min(self.pre_roll_ms, self.min_speech_ms, self.end_silence_ms, self.keep_trailing_ms) < 0:
            raise ValueError(f"durations must not be negative: {self}")
        if self.pause_again_ms and (not self.pause_ms or min(self.pause_again_ms) <= self.pause_ms):
            raise ValueError(f"pause_again_ms must come after pause_ms: {self}")
        if self.max_frames <= self.pre_roll_frames + self.start_frames:
            raise ValueError(f"max_utterance_s must be longer than pre-roll plus the opening run: {self}")

    @property
    def frame_ms(self) -> float:
        return self.frame_samples * 1000 / self.sample_rate

    @property
    def pre_roll_frames(self) -> int:
        return math.ceil(self.pre_roll_ms / self.frame_ms)

    @property
    def trailing_frames(self) -> int:
        return int(self.keep_trailing_ms // self.frame_ms)

    @property
    def pause_frames(self) -> tuple[int, ...]:
        """The silent-frame counts at which PAUSE comes (none when pause_ms is 0)."""
        if not self.pause_ms:
            return ()
        return tuple(math.ceil(ms / self.frame_ms) for ms in (self.pause_ms, *self.pause_again_ms))

    @property
    def max_frames(self) -> int:
        return int(self.max_utterance_s * self.sample_rate) // self.frame_samples


class EndpointEvent(Enum):
    """What happened at a frame."""

    SPEECH_START = "speech_start"  # speech just opened: the barge-in trigger
    SPEECH_END = "speech_end"  # a turn ended; the event carries its Utterance
    TOO_SHORT = "too_short"  # speech closed before min_speech_ms: a false start, resume what it interrupted
    MAX_LENGTH = "max_length"  # the turn was cut at max_utterance_s (a SPEECH_END follows)
    PAUSE = "pause"  # pause_ms of silence: the turn may be over; carries the utterance so far


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays field by field is ambiguous
class Utterance:
    """One turn of speech.

    `audio` is 16 kHz float32 mono: pre-roll, speech, and at most `keep_trailing_ms` of trailing silence.
    Frame indices count every frame pushed since creation or reset; the audio covers frames
    `start_frame` (the first pre-roll frame) up to, not including, `end_frame`, so
    `len(audio) == (end_frame - start_frame) * frame_samples`. `last_voiced_frame` is the last frame at
    or above stop_threshold (measure latency from its end). `reason`: "silence", "max_length" or "released".
    """

    audio: np.ndarray
    start_frame: int
    end_frame: int
    last_voiced_frame: int
    reason: str


@dataclass(frozen=True)
class Event:
    """An endpointing event: its kind, the frame that caused it, and the utterance for SPEECH_END."""

    kind: EndpointEvent
    frame: int
    utterance: Utterance | None = None


class Endpointer:
    """The endpointing state machine; see the module docstring. Not thread-safe: one thread feeds it."""

    def __init__(self, config: EndpointConfig = EndpointConfig()) -> None:
        self.config = config
        # The last frames pushed, whatever the state: the pre-roll and opening run are taken from here.
        self._history = np.zeros((config.pre_roll_frames + config.start_frames, config.frame_samples), np.float32)
        self._audio = np.zeros((config.max_frames, config.frame_samples), np.float32)
        self._pause_frames = config.pause_frames
        self.reset()

    def reset(self) -> None:
        """Forget everything: back to listening, frame numbering restarts at 0."""
        self._next_frame = 0  # index the next pushed frame gets
        self._floor = 0  # no pre-roll from before here: those frames belong to the previous turn
        self._run = 0  # consecutive frames >= start_threshold while listening
        self._speaking = False
        self._captured = 0  # frames in self._audio
        self._start_frame = 0  # index of self._audio[0]
        self._opened_frame = 0  # first frame of the opening run
        self._last_voiced = 0
        self._silence = 0  # consecutive silent frames while speaking

    @property
    def speaking(self) -> bool:
        """True between SPEECH_START and the event that closes the turn."""
        return self._speaking

    def push(self, frame: np.ndarray, probability: float) -> list[Event]:
        """Feed one frame with its VAD probability; returns the events at this frame (usually none)."""
        config = self.config
        if frame.shape != (config.frame_samples,):
            raise ValueError(f"frames must have {config.frame_samples} samples, got shape {frame.shape}")
        index = self._next_frame
        self._next_frame += 1
        self._history[index % len(self._history)] = frame
        if not self._speaking:
            self._run = self._run + 1 if probability >= config.start_threshold else 0
            if self._run < config.start_frames:
                return []
            self._open(index)
            return [Event(EndpointEvent.SPEECH_START, index)]

        self._audio[self._captured] = frame
        self._captured += 1
        if probability >= config.stop_threshold:
            self._last_voiced, self._silence = index, 0
        else:
            self._silence += 1
        voiced_ms = (self._last_voiced - self._opened_frame + 1) * config.frame_ms
        if self._silence * config.frame_ms >= config.end_silence_ms:
            if voiced_ms < config.min_speech_ms:
                self._close()
                return [Event(EndpointEvent.TOO_SHORT, index)]
            return [Event(EndpointEvent.SPEECH_END, index, self._close("silence"))]
        if self._captured >= config.max_frames:
            utterance = self._close("max_length")
            return [Event(EndpointEvent.MAX_LENGTH, index), Event(EndpointEvent.SPEECH_END, index, utterance)]
        if self._silence in self._pause_frames and voiced_ms >= config.min_speech_ms:
            # Once at least keep_trailing_ms of silence has passed, this is exactly the utterance
            # SPEECH_END will carry if no speech follows.
            return [Event(EndpointEvent.PAUSE, index, self._utterance("silence"))]
        return []

    @property
    def last_voiced_frame(self) -> int:
        """Index of the last frame at or above stop_threshold in the open turn."""
        return self._last_voiced

    def audio_so_far(self) -> np.ndarray:
        """The open turn's audio up to now, pre-roll and all the silence after its last voiced frame included."""
        return self._audio[: self._captured].reshape(-1).copy()

    @property
    def silence_ms(self) -> float:
        """Silence since the last voiced frame of the open turn."""
        return self._silence * self.config.frame_ms

    def end_now(self, reason: str = "released") -> Utterance | None:
        """End the turn at once with what was captured, or None if speech never opened: push-to-talk's release
        (reason "released"), or the end-of-turn model's verdict ("complete").

        No silence wait and no min_speech_ms check: the key press, or the pause that made the model decide,
        already says this was meant as speech.
        """
        return self._close(reason) if self._speaking else None

    def _open(self, index: int) -> None:
        config = self.config
        self._opened_frame = index - config.start_frames + 1
        first = max(self._opened_frame - config.pre_roll_frames, self._floor, index + 1 - len(self._history))
        for position, frame_index in enumerate(range(first, index + 1)):
            self._audio[position] = self._history[frame_index % len(self._history)]
        self._captured = index + 1 - first
        self._start_frame = first
        self._last_voiced, self._silence = index, 0
        self._speaking = True

    def _close(self, reason: str | None = None) -> Utterance | None:
        # Back to listening; the next opening needs a fresh run and takes no pre-roll from this turn.
        utterance = self._utterance(reason or "")
        self._speaking, self._run, self._floor = False, 0, utterance.end_frame
        return utterance if reason else None

    def _utterance(self, reason: str) -> Utterance:
        """The turn as it would end now: up to the last voiced frame and the trailing silence kept."""
        config = self.config
        keep = min(self._captured, self._last_voiced - self._start_frame + 1 + config.trailing_frames)
        end_frame = self._start_frame + keep
        return Utterance(
            audio=self._audio[:keep].reshape(-1).copy(),
            start_frame=self._start_frame,
            end_frame=end_frame,
            last_voiced_frame=self._last_voiced,
            reason=reason,
        )
