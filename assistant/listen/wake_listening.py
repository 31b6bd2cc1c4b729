"""Listening for the wake word as the settings ask: the gate for the current phrase and sensitivity (made again when
they change, none when the mode is not wake word or its model is missing), and what a turn's end means for it.
Used on the listening thread only."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future

from assistant.listen.endpointing import Utterance
from assistant.listen.wake_gate import WakeConfig, WakeGate, without_phrase
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)


class WakeListening:
    """`make_detector(phrase, sensitivity)` builds a WakeWordDetector (ModelError when its model is missing);
    `report(message)` tells the user a problem (once per wake config)."""

    def __init__(self, make_detector: Callable, report: Callable[[str], None]) -> None:
        self._make_detector = make_detector
        self._report = report
        self._gate: WakeGate | None = None
        self._refused: WakeConfig | None = None  # the config whose model is missing (reported once)

    @property
    def phrase(self) -> str | None:
        """The phrase listened for (None when no gate is in use)."""
        return self._gate.detector.phrase if self._gate is not None else None

    def gate_for(self, wake: WakeConfig | None) -> WakeGate | None:
        """The gate for `wake` (None: not wake-word mode, or its model is missing: every turn is answered then)."""
        gate = self._gate
        if wake is None or wake == self._refused:
            return None
        if gate is not None and gate.config == wake:
            return gate
        if gate is not None and (gate.config.phrase, gate.config.sensitivity) == (wake.phrase, wake.sensitivity):
            gate.config = wake  # (only the follow-up window changed)
            return gate
        try:
            detector = self._make_detector(wake.phrase, wake.sensitivity)
            echo_detector = self._make_detector(wake.phrase, wake.sensitivity)
        except ModelError as exc:
            self._report(f"{exc}. Until it is, Parley answers everything it hears")
            self._refused = wake
            return None
        self._gate = WakeGate(wake, detector, echo_detector)
        log.info("listening for the wake word %r", detector.phrase)
        return self._gate

    def after_phrase(self, transcript: Future) -> Future:
        """`transcript`'s words without what is left of the phrase (a Future of the same Transcript): what the end
        of the turn is judged on. "Hey Jarvis," and a breath is no finished turn, however final it sounds."""
        phrase = self.phrase or ""
        words: Future = Future()

        def done(heard: Future) -> None:
            if heard.cancelled() or heard.exception() is not None:
                words.set_exception(heard.exception() or RuntimeError("cancelled"))
            else:
                result = heard.result()
                words.set_result(dataclasses.replace(result, text=without_phrase(result.text, phrase)))

        transcript.add_done_callback(done)
        return words

    def open_follow_up(self) -> None:
        """A reply played out: a follow-up needs no wake word for a while."""
        if self._gate is not None:
            self._gate.open_window(time.monotonic())

    @staticmethod
    def question_at_end(gate: WakeGate, utterance: Utterance, started_at: float) -> Utterance | None:
        """At the end of a turn: the question in it, or None (not meant for Parley; or the wake word alone, and the
        follow-up window opens for the question)."""
        question = gate.question(utterance, started_at)
        if question is not None:
            gate.close_window()  # a turn taken: the window opens again when its reply has played out
        elif gate.heard_in(utterance):
            log.info("the wake word alone: the next %g s need none", gate.config.follow_up_s)
            gate.open_window(time.monotonic())
        else:
            log.info("a turn without the wake word: not answered")
        return question
