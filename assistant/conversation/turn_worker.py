"""The "turns" thread: transcribes the turns and generates the replies, one job at a time, and tells the owner
what came of each (it decides nothing). Every job carries its turn's id; a reply stops generating as soon as
its id is no longer the one the owner wants answered."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from assistant.conversation.answer import answer
from assistant.speak.text.segmenter import SegmenterConfig, SentenceSegmenter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranscriptReady:
    """The transcript of turn `turn` (None with `error` when transcription failed)."""

    turn: int
    transcript: object
    error: Exception | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of turn `turn`'s reply as the chat model writes it, at time.monotonic() `at`."""

    turn: int
    text: str
    at: float


@dataclass(frozen=True)
class FirstSaid:
    """Turn `turn`'s first chunk of text went to the voice at `at`."""

    turn: int
    at: float


@dataclass(frozen=True)
class Generated:
    """Turn `turn`'s reply is all generated (or stopped): `text` as it stands; `error` when it failed."""

    turn: int
    question: str
    text: str
    error: Exception | None = None


def stream_reply(chat, question: str, language: str | None, segmenter: SentenceSegmenter,
                 say: Callable[[str], None], wanted: Callable[[], bool] = lambda: True,
                 on_delta: Callable[[str], None] = lambda delta: None, toolbox=None,
                 turn_language: str | None = None, may_act: Callable[[], bool | None] = lambda: True) -> str:
    """Stream the answer to `question` (a command's result, or the chat model's reply: see answer.py) into `say`,
    a sentence (or first clause) at a time, until `wanted()` turns False; returns the text generated."""
    parts = []
    for delta in answer(chat, toolbox, question, language, turn_language, may_act):
        if not wanted():
            break
        parts.append(delta)
        on_delta(delta)
        for sentence in segmenter.push(delta):
            say(sentence)
    if wanted():
        for sentence in segmenter.flush():
            say(sentence)
    return "".join(parts).strip()


class TurnWorker:
    """Jobs run in order on one thread; results go to `post` (thread-safe). `answering()` is the turn whose
    reply is wanted (the owner's, read at each hand-off)."""

    def __init__(self, engines, speech, post: Callable[[object], None], answering: Callable[[], int],
                 first_clause: bool = True, held: Callable[[int], bool] = lambda turn: False) -> None:
        self._engines = engines
        self._speech = speech
        self._post = post
        self._answering = answering
        self._held = held  # whether turn's reply was begun at a pause, the turn not known to be over
        self._first_clause = first_clause
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="turns", daemon=True)
        self.thread.start()

    def transcribe(self, turn: int, audio: np.ndarray, language: str | None, early: Future | None = None) -> None:
        """Transcribe `audio` (or take `early`'s transcript of the same audio when it has one)."""
        self._jobs.put((self._transcribe, turn, audio, language, early))

    def answer(self, turn: int, question: str, language: str | None, voice, turn_language: str | None = None) -> None:
        """Generate the reply to `question` and have `voice` say it, sentence by sentence. `language`: the one the
        chat model is asked for (None: its prompt's); `turn_language`: the one the turn was said in."""
        self._jobs.put((self._answer, turn, question, language, voice, turn_language))

    def close(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job[0](*job[1:])

    def _transcribe(self, turn: int, audio: np.ndarray | None, language: str | None, early: Future | None) -> None:
        transcript = None
        if early is not None:
            try:
                transcript = early.result()
            except Exception:
                if audio is None:
                    log.exception("early transcription failed")
                    self._post(TranscriptReady(turn, None, RuntimeError("the transcription failed")))
                    return
                log.exception("early transcription failed; transcribing again")
        try:
            if transcript is None:
                transcript = self._engines.transcriber(language).transcribe(audio, language)
        except Exception as exc:
            log.exception("transcription failed")
            self._post(TranscriptReady(turn, None, exc))
            return
        self._post(TranscriptReady(turn, transcript))

    def _answer(self, turn: int, question: str, language: str | None, voice, turn_language: str | None) -> None:
        if self._answering() != turn:
            return  # dropped before it began
        segmenter = SentenceSegmenter(SegmenterConfig() if self._first_clause
                                      else SegmenterConfig(first_chunk_min_chars=10**6))  # a whole first sentence
        said_first = False

        def say(sentence: str) -> None:
            nonlocal said_first
            if not said_first:
                said_first = True
                self._post(FirstSaid(turn, time.monotonic()))
            self._speech.say(sentence, turn, voice)

        text, error = "", None
        try:
            text = stream_reply(self._engines.chat, question, language, segmenter, say,
                                wanted=lambda: self._answering() == turn,
                                on_delta=lambda delta: self._post(Delta(turn, delta, time.monotonic())),
                                toolbox=getattr(self._engines, "toolbox", None), turn_language=turn_language,
                                may_act=lambda: (None if self._held(turn) else True) if self._answering() == turn
                                else False)
        except Exception as exc:
            log.exception("the reply to turn %d failed", turn)
            error = exc
        self._post(Generated(turn, question, text, error))
        self._speech.done(turn)
