"""What the turn's state machine (machine.py) is told, and what it answers with: frozen dataclasses, no logic.

Inputs are what happened (speech began, a transcript came, a piece was voiced…); `detail` fields carry what only the
owner needs (audio, futures, times) and take no part in comparisons. Commands are what the owner is to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.runtime.events import State

# --- what happens (the machine's input) -----------------------------------------------------------------------

Key = tuple[int, int]  # an utterance: (first frame, last voiced frame)


@dataclass(frozen=True)
class SpeechStarted:
    """Hands-free speech began (meant for Parley: the wake-word gate let it through)."""

    detail: Any = field(default=None, compare=False)  # (for the owner: when it began)


@dataclass(frozen=True)
class Paused:
    """A pause in the speech whose words so far are being transcribed (`early` False: they are not)."""

    key: Key
    early: bool = True
    detail: Any = field(default=None, compare=False)  # (for the owner: the utterance, its transcript's Future)


@dataclass(frozen=True)
class WentOn:
    """Speech again after a pause: the turn was not over there."""


@dataclass(frozen=True)
class HeardSoFar:
    """The words of the speech going on, transcribed while it goes on (for captions)."""

    text: str


@dataclass(frozen=True)
class TooShort:
    """The sound that began was too short to be a turn."""


@dataclass(frozen=True)
class TurnEnded:
    """The hands-free turn `key` is over."""

    key: Key
    detail: Any = field(default=None, compare=False)  # (for the owner: the utterance, an early transcript)


@dataclass(frozen=True)
class NotForUs:
    """A turn without the wake word (or the wake word alone): nothing to answer."""


@dataclass(frozen=True)
class WakeWord:
    """The wake phrase was heard."""


@dataclass(frozen=True)
class PushToTalk:
    pressed: bool
    audio: bool = False  # released with enough audio to be a turn
    detail: Any = field(default=None, compare=False)  # (for the owner: the recording)


@dataclass(frozen=True)
class Typed:
    text: str


@dataclass(frozen=True)
class Transcribed:
    """The words of turn `turn`, as the owner judged them: `words` False when there were none, or when they were
    Parley's own (its echo)."""

    turn: int
    words: bool


@dataclass(frozen=True)
class Voiced:
    """A piece of turn `turn`'s reply has been voiced."""

    turn: int


@dataclass(frozen=True)
class VoicingDone:
    """Turn `turn`'s reply is all generated and voiced."""

    turn: int


@dataclass(frozen=True)
class PlayedOut:
    turn: int


@dataclass(frozen=True)
class Failed:
    turn: int


@dataclass(frozen=True)
class StopReply:
    """Stop in the menu, Reset, or quitting."""


@dataclass(frozen=True)
class Mute:
    on: bool


@dataclass(frozen=True)
class HandsFree:
    """Hands-free listening switched on or off (push-to-talk only)."""

    on: bool


@dataclass(frozen=True)
class SpeakerLost:
    """The speaker vanished; `heard`: the user heard part of the reply (it ends there), else it can move."""

    heard: bool
    detail: Any = field(default=None, compare=False)  # (for the owner: the words that were heard)


@dataclass(frozen=True)
class Quiet:
    """The wait a `ResumeWhenQuiet` asked for is over."""

    turn: int


Input = (SpeechStarted | Paused | WentOn | HeardSoFar | TooShort | TurnEnded | NotForUs | WakeWord | PushToTalk | Typed
         | Transcribed | Voiced | VoicingDone | PlayedOut | Failed | StopReply | Mute | HandsFree | SpeakerLost
         | Quiet)


# --- what to do (the machine's output) ------------------------------------------------------------------------

@dataclass(frozen=True)
class PausePlayback:
    turn: int


@dataclass(frozen=True)
class ResumePlayback:
    turn: int


@dataclass(frozen=True)
class ResumeWhenQuiet:
    """A false barge-in: post `Quiet(turn)` once no one has spoken for a moment (the reply then plays on)."""

    turn: int


@dataclass(frozen=True)
class CancelReply:
    """Drop the reply for good; the history keeps what was heard of it."""

    turn: int
    paused: bool = False  # it was paused: the speaker is silent already


@dataclass(frozen=True)
class DropHeld:
    """Drop the held reply without a sound; the history forgets its question."""

    turn: int
    why: str


@dataclass(frozen=True)
class Release:
    """The held reply's turn is over: what it kept back goes out."""

    turn: int


@dataclass(frozen=True)
class Transcribe:
    """Transcribe the turn that ended (`key`; None: the push-to-talk recording)."""

    turn: int
    key: Key | None


@dataclass(frozen=True)
class AnswerEarly:
    """Answer the words of the pause `key` (being transcribed), held back."""

    turn: int
    key: Key


@dataclass(frozen=True)
class Answer:
    """Answer turn `turn`: its transcript (or the typed text)."""

    turn: int


@dataclass(frozen=True)
class StopGenerating:
    """The MLX thread is needed for a transcription: the paused reply generates no more (what is voiced stays)."""

    turn: int


@dataclass(frozen=True)
class PlayPieces:
    """Play what turn `turn` has voiced and not yet sent to the speaker."""

    turn: int


@dataclass(frozen=True)
class Finish:
    """The reply played out: record it and listen again."""

    turn: int


@dataclass(frozen=True)
class MoveReply:
    """The speaker was replaced: play the reply again from its start on the new one."""

    turn: int


@dataclass(frozen=True)
class Chime:
    """A short sound: the wake word was heard."""


@dataclass(frozen=True)
class Recording:
    """Push-to-talk: start (True) or stop collecting the microphone's frames."""

    on: bool


@dataclass(frozen=True)
class ShowWords:
    """Show the words of the turn being spoken so far (provisional)."""

    text: str


@dataclass(frozen=True)
class Publish:
    state: State


Command = (PausePlayback | ResumePlayback | ResumeWhenQuiet | CancelReply | DropHeld | Release | Transcribe | AnswerEarly
           | Answer | StopGenerating | PlayPieces | Finish | MoveReply | Chime | Recording | ShowWords | Publish)
