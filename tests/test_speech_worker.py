"""The voice's thread (assistant/speak/voice.py's SpeechWorker): text is voiced in order for the turn it follows,
text of any other turn is dropped at the hand-off, and the end of a turn's text is said after what came before it."""

from __future__ import annotations

import queue

import numpy as np

from assistant.speak.voice import SpeechChunk, SpeechWorker


class Echo:
    """Says each text as one silent chunk carrying the text."""

    def synthesize(self, text: str):
        yield SpeechChunk(text, np.zeros(10, np.float32), 22050)


def _worker():
    said: queue.SimpleQueue = queue.SimpleQueue()
    worker = SpeechWorker(Echo(), lambda chunk, turn: said.put((turn, chunk.text)),
                          lambda turn: said.put((turn, None)))
    return worker, said


def test_only_the_followed_turn_is_voiced_and_its_end_comes_after_its_text():
    worker, said = _worker()
    try:
        worker.follow(2)
        worker.say("stale", 1)
        worker.say("One.", 2)
        worker.say("Two.", 2)
        worker.done(2)
        assert [said.get(timeout=5) for _ in range(3)] == [(2, "One."), (2, "Two."), (2, None)]
        assert worker.wait_idle(5) and said.empty()
    finally:
        worker.close()


def test_following_another_turn_drops_what_is_queued_for_the_old_one():
    worker, said = _worker()
    try:
        worker.follow(1)
        worker.follow(0)  # (the reply was cancelled before its text was voiced)
        worker.say("dropped", 1)
        worker.done(1)
        assert said.get(timeout=5) == (1, None)  # the end still comes: the owner learns the turn is done
        assert worker.wait_idle(5) and said.empty()
    finally:
        worker.close()
