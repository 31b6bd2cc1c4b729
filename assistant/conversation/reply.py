"""One reply as the conversation keeps it: what was voiced, what was played, what was held back."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Spoken:
    """One voiced piece of a reply, kept so a paused reply can resume and the heard text be known."""

    tag: int  # the speaker buffer's tag: turn * 1000 + the piece's index
    text: str
    audio: np.ndarray  # at the speaker's rate


@dataclass
class Reply:
    """The owner's record of the current reply (the machine's ReplyTrack has its state)."""

    turn: int
    end_of_speech: float  # time.monotonic() of the last voiced sample (or of the typed turn)
    question: str = ""
    language: str = ""
    ended_by: str = ""  # what ended the turn (see events.UserSaid)
    pieces: list[Spoken] = field(default_factory=list)
    queued: int = 0  # pieces written to the speaker so far
    parts: list[str] = field(default_factory=list)  # the text as generated
    timings_ms: dict[str, float] = field(default_factory=dict)
    asked: float = 0.0  # time.monotonic() the chat model was asked
    first_said: float = 0.0  # time.monotonic() the first chunk went to the voice
    generated: bool = False  # the chat model is done with it
    moved: bool = False  # it was moved to a new speaker once already
    held_events: list = field(default_factory=list)  # events kept back while the reply is held

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def next_tag(self) -> int:
        return self.turn * 1000 + len(self.pieces)

    def spoken_text(self) -> str:
        return " ".join(piece.text for piece in self.pieces) + " " + self.text

    def heard_text(self, played_for) -> str:
        """The words that came out of the speaker (`played_for(tag)`: samples played of a piece; partial pieces
        by proportion)."""
        words: list[str] = []
        for piece in self.pieces:
            played = min(played_for(piece.tag), len(piece.audio))
            if not played:
                break
            piece_words = piece.text.split()
            count = len(piece_words) if played >= len(piece.audio) else int(len(piece_words) * played / len(piece.audio))
            words.extend(piece_words[:count])
            if played < len(piece.audio):
                break
        return " ".join(words)
