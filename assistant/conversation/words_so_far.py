"""Words while the user speaks: the utterance so far is transcribed now and then while it goes on, and the words
go to the owner as they come (`HeardSoFar`), for live captions.

A pass runs on the transcription thread, only when it is free (no turn being transcribed or answered, no early
transcript out) and only at a voiced frame: a pass of a few seconds of speech takes ~100-200 ms here, and the
first pause that may end the turn is reported 160 ms into the silence, so a pass begun while the user still
speaks is mostly over by the time the pause's transcript needs the thread. Nothing runs while nobody speaks.

The words two passes in a row agree on (whisper_streaming's LocalAgreement) are taken as confirmed and read into
the chat model's prompt cache (`prefill`): at the end of the turn only the last words are left to read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from assistant.conversation.turn_events import HeardSoFar

log = logging.getLogger(__name__)

PASS_EVERY_FRAMES = 22  # 32 ms frames of new audio between passes, and before the first (~0.7 s)


class WordsSoFar:
    """Used by the listening thread; `transcribe_soon(audio)` queues a transcription and returns its Future, `post`
    hands the owner an input and `prefill(words, language heard)` reads confirmed words into the chat model's cache
    (both from the transcription thread: the pass's callback)."""

    def __init__(self, transcribe_soon: Callable[[np.ndarray], Future], post: Callable[[object], None],
                 prefill: Callable[[str, str], object] = lambda words, language: None) -> None:
        self._transcribe_soon = transcribe_soon
        self._post = post
        self._prefill = prefill
        self._last_words: list[str] = []  # the last pass's words (this utterance)
        self._confirmed = 0  # how many words of the utterance are confirmed and read in
        self._utterance = 0  # which utterance a pass belongs to: one that has ended posts nothing
        self._passed_at = 0  # the frame of the last pass (or where the utterance began)
        self._running: Future | None = None

    def begin(self, frame: int) -> None:
        """Speech began at `frame`: a new utterance."""
        self._utterance += 1
        self._passed_at = frame
        self._last_words, self._confirmed = [], 0

    def end(self) -> None:
        """The utterance ended (its own transcript takes over): a pass still running posts nothing."""
        self._utterance += 1

    def heard(self, frame: int, audio_so_far: Callable[[], np.ndarray], voiced: bool, free: bool) -> None:
        """Frame `frame` of the utterance (`audio_so_far()` gives all of it), `voiced` or not, the transcription
        thread `free` or not. Starts a pass when there is enough new speech."""
        if not (voiced and free) or frame < self._passed_at + PASS_EVERY_FRAMES:
            return
        if self._running is not None and not self._running.done():
            return
        self._passed_at = frame
        utterance = self._utterance
        try:
            self._running = self._transcribe_soon(audio_so_far())
        except Exception:  # a model that cannot load: the turn's own transcript says so
            log.debug("no words-so-far pass", exc_info=True)
            return

        def done(future: Future) -> None:
            if future.cancelled() or future.exception() is not None or utterance != self._utterance:
                return
            text = future.result().text.strip()
            if text:
                self._post(HeardSoFar(text))
                self._confirm(text.split(), future.result().language)

        self._running.add_done_callback(done)

    def _confirm(self, words: list[str], language: str) -> None:
        """(The transcription thread, one pass at a time.) Read in the words this pass and the last agree on."""
        agreed = 0
        for mine, theirs in zip(words, self._last_words):
            if mine != theirs:
                break
            agreed += 1
        self._last_words = words
        if agreed > self._confirmed:
            self._confirmed = agreed
            self._prefill(" ".join(words[:agreed]), language)
