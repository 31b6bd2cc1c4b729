"""Wake-word mode: which hands-free turns are meant for Parley.

A turn is answered when the wake phrase was heard in it ("Hey Jarvis, what's the capital of France?" in one breath:
the words after the phrase are the question, the phrase itself is cut off), or when it begins inside the follow-up
window: a few seconds after a reply played out, or after the phrase said on its own ("Hey Jarvis." … "What time is
it?"). Anything else (a colleague on a call, the TV) is heard and ignored. While Parley speaks, only the phrase
interrupts it.

`WakeGate` is used by the listening thread only; it is fed the same 32 ms frames as the endpointer, numbered alike.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass

import numpy as np

from assistant.listen.endpointing import Utterance

log = logging.getLogger(__name__)

FRAME = 512
# The detector hears the phrase ~100-250 ms after its last sound; the question is cut this long before that point, so
# that its first word is not clipped (what is left of the phrase is taken off the transcript's words).
CUT_BEFORE_MS = 160
# Detections this close together (frames) are the same phrase, heard by both detectors.
ONE_PHRASE_FRAMES = 47  # 1.5 s
# Less voiced audio than this after the phrase: the phrase was said on its own.
MIN_QUESTION_MS = 400
# At a pause (the turn may go on), a question needs this much: "Hey Jarvis," and a breath leaves a sliver of the
# phrase after the cut, which Whisper turned into a whole invented sentence ("It is an absolute strength.") that
# the end-of-turn model then called finished. A shorter question ends when its silence does.
MIN_QUESTION_AT_PAUSE_MS = 640


@dataclass(frozen=True)
class WakeConfig:
    """Wake-word mode's settings."""

    phrase: str = "hey_jarvis"  # a model of the micro-wake-words pack
    sensitivity: float = 0.5  # 0 = fewest false wakes, 1 = fewest missed phrases
    follow_up_s: float = 8.0  # after a reply, a question needs no phrase this long


class WakeGate:
    """See the module docstring. `detector`: a WakeWordDetector (push(audio) → positions heard) for the microphone
    after echo cancellation; `echo_detector`, another, for it as captured while Parley talks: the canceller's
    suppression of double talk left too little of a voice over a reply for the phrase to be heard (on the rig it went
    unheard), while the echo left in the captured audio (another voice, ~10 dB down) does not hide the phrase."""

    def __init__(self, config: WakeConfig, detector, echo_detector=None) -> None:
        self.config = config
        self.detector = detector
        self.echo_detector = echo_detector
        self._woken_frame: int | None = None  # the frame in which the phrase was last heard
        self._window_until = float("-inf")  # time.monotonic() until which no phrase is needed

    def hear(self, frame: np.ndarray, index: int, captured: np.ndarray | None = None) -> bool:
        """Feed frame `index` (16 kHz, FRAME samples; `captured`: the same before echo cancellation, while something
        plays); True when the phrase was heard in it (once per phrase, by either detector)."""
        heard = bool(self.detector.push(frame))
        if captured is not None and self.echo_detector is not None:
            heard = bool(self.echo_detector.push(captured)) or heard
        if not heard or (self._woken_frame is not None and index - self._woken_frame < ONE_PHRASE_FRAMES):
            return False
        self._woken_frame = index
        return True

    def open_window(self, now: float) -> None:
        """A reply played out (or the phrase was said alone) at `now`: the next question needs no phrase."""
        self._window_until = now + self.config.follow_up_s

    def close_window(self) -> None:
        self._window_until = float("-inf")

    def in_window(self, when: float) -> bool:
        return when <= self._window_until

    def addressed(self, start_frame: int, started_at: float) -> bool:
        """Is the turn that began at `start_frame` (at time `started_at`) meant for Parley, as far as heard so far?"""
        return self.in_window(started_at) or self._woken_in(start_frame)

    def question(self, utterance: Utterance, started_at: float, min_ms: int = MIN_QUESTION_MS) -> Utterance | None:
        """The part of a turn that is the question: all of it inside the follow-up window, what follows the phrase
        when the phrase was heard in it; None when it is not meant for Parley, or is the phrase alone."""
        if self.in_window(started_at) and not self._woken_in(utterance.start_frame, utterance.end_frame):
            return utterance
        if not self._woken_in(utterance.start_frame, utterance.end_frame):
            return None
        cut_frame = max(utterance.start_frame, self._woken_frame + 1 - round(CUT_BEFORE_MS / 32))
        voiced_ms = (utterance.last_voiced_frame - cut_frame + 1) * 32
        if voiced_ms < min_ms:
            return None  # the phrase alone (the caller opens the window)
        offset = (cut_frame - utterance.start_frame) * FRAME
        return dataclasses.replace(utterance, audio=utterance.audio[offset:], start_frame=cut_frame)

    def heard_in(self, utterance: Utterance) -> bool:
        """The phrase was heard during this turn."""
        return self._woken_in(utterance.start_frame, utterance.end_frame)

    def _woken_in(self, start_frame: int, end_frame: int | None = None) -> bool:
        woken = self._woken_frame
        return woken is not None and woken >= start_frame and (end_frame is None or woken < end_frame)


def without_phrase(text: str, phrase: str) -> str:
    """The transcript without what is left of the wake phrase at its start ("Jarvis, what's …" → "what's …"):
    the audio is cut a little before the point where the phrase was heard, so its last word may remain."""
    words = [re.escape(word) for word in phrase.lower().split()]
    # Any tail of the phrase ("Hey Jarvis", "Jarvis"), with the punctuation Whisper puts after it.
    tails = "|".join(r"\s+".join(words[start:]) for start in range(len(words)))
    stripped = re.sub(rf"^\s*(?:{tails})\b[\s,.!?;:]*", "", text, flags=re.IGNORECASE)
    return stripped[:1].upper() + stripped[1:] if stripped else stripped


def chime(rate: int) -> np.ndarray:
    """The short rising two-note sound that says "I heard my name" (about 0.2 s, soft)."""
    notes = []
    for frequency in (660.0, 990.0):
        t = np.arange(int(0.09 * rate)) / rate
        envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)  # 10 ms in and out: no click
        notes.append(0.15 * envelope * np.sin(2 * np.pi * frequency * t))
    return np.concatenate(notes).astype(np.float32)
