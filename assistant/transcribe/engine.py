"""What a Whisper engine hands back to `assistant.transcribe.transcriber.Transcriber`, which judges it the same way
whichever engine ran (MLX in `mlx_engine.py`, CTranslate2 in `ct2_engine.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Decoded:
    """One greedy decoding pass over a short audio context, with Whisper's own measures of doubt."""

    text: str  # stripped
    language: str | None  # the one given, or the one detected
    tokens: int  # how many text tokens were decoded (end-of-text not counted)
    compression_ratio: float  # of the text by zlib: high when the decoder repeated itself
    avg_logprob: float  # summed log-probability over (tokens + 1), as Whisper defines it
    no_speech_prob: float  # the probability of Whisper's no-speech token at the start


@dataclass(frozen=True)
class WindowSegment:
    """One segment of a transcription over 30 s windows."""

    text: str  # with its own leading space (none in CJK)
    no_speech_prob: float
    start: float = 0.0  # seconds into the audio, as the decoder's timestamps place it
    end: float = 0.0


@dataclass(frozen=True)
class Windows:
    """A transcription over 30 s windows: its segments, the engine's whole text, the language."""

    segments: list[WindowSegment] = field(default_factory=list)
    text: str = ""
    language: str | None = None


class WhisperEngine(Protocol):
    """A Whisper runtime; every method runs on the transcriber's worker thread."""

    name: str  # "mlx" or "ct2", as PARLEY_STT_ENGINE names it

    def describe(self) -> str:
        """The engine and its settings, for the log."""

    def load(self) -> None:
        """Load the weights (once)."""

    def decode_short(self, audio: np.ndarray, seconds: int, language: str | None, most: int) -> Decoded:
        """Greedy decoding with the encoder run on `seconds` of context (the audio zero-padded to it),
        at most `most` tokens; `language` None detects it (multilingual models)."""

    def transcribe_windows(self, audio: np.ndarray, language: str | None, progress: bool) -> Windows:
        """Audio of any length, over 30 s windows, with temperature fallback; `progress` shows a bar."""
