"""Words while the user speaks (assistant/conversation/words_so_far.py): when a pass starts, and which passes'
words reach the owner. A fake transcription thread: pure logic."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace

import numpy as np

from assistant.conversation.turn_events import HeardSoFar
from assistant.conversation.words_so_far import PASS_EVERY_FRAMES, WordsSoFar


class _Thread:
    """Collects the passes asked for; `finish(i, text)` completes one."""

    def __init__(self) -> None:
        self.passes: list[tuple[np.ndarray, Future]] = []

    def submit(self, audio: np.ndarray) -> Future:
        future: Future = Future()
        self.passes.append((audio, future))
        return future

    def finish(self, index: int, text: str) -> None:
        self.passes[index][1].set_result(SimpleNamespace(text=text, language="en"))


def _words(prefilled: list | None = None) -> tuple[WordsSoFar, _Thread, list]:
    thread, posted = _Thread(), []
    prefill = (lambda words, language: prefilled.append((words, language))) if prefilled is not None else None
    return WordsSoFar(thread.submit, posted.append, *([prefill] if prefill else [])), thread, posted


def _audio() -> np.ndarray:
    return np.zeros(512, np.float32)


def test_a_pass_every_so_much_new_speech_at_a_voiced_frame_with_the_thread_free():
    words, thread, posted = _words()
    words.begin(100)
    words.heard(100 + PASS_EVERY_FRAMES - 1, _audio, voiced=True, free=True)
    assert thread.passes == []  # not enough speech yet
    words.heard(100 + PASS_EVERY_FRAMES, _audio, voiced=False, free=True)
    words.heard(100 + PASS_EVERY_FRAMES, _audio, voiced=True, free=False)
    assert thread.passes == []  # a silent frame, a busy thread
    words.heard(100 + PASS_EVERY_FRAMES + 1, _audio, voiced=True, free=True)
    assert len(thread.passes) == 1
    words.heard(100 + 3 * PASS_EVERY_FRAMES, _audio, voiced=True, free=True)
    assert len(thread.passes) == 1  # one at a time
    thread.finish(0, " What is ")
    assert posted == [HeardSoFar("What is")]
    words.heard(100 + 3 * PASS_EVERY_FRAMES, _audio, voiced=True, free=True)
    assert len(thread.passes) == 2


def test_a_pass_that_outlives_its_utterance_or_hears_nothing_posts_nothing():
    words, thread, posted = _words()
    words.begin(0)
    words.heard(PASS_EVERY_FRAMES, _audio, voiced=True, free=True)
    words.end()
    thread.finish(0, "What is")
    words.begin(200)
    words.heard(200 + PASS_EVERY_FRAMES, _audio, voiced=True, free=True)
    thread.finish(1, "  ")
    words.heard(200 + 2 * PASS_EVERY_FRAMES, _audio, voiced=True, free=True)
    thread.passes[2][1].set_exception(RuntimeError("whisper failed"))
    assert posted == []


def test_words_two_passes_agree_on_are_read_into_the_chat_models_cache_once():
    prefilled: list = []
    words, thread, posted = _words(prefilled)
    words.begin(0)
    for n, text in enumerate(["What is", "What is the capitol", "What is the capital of", "What is the capital of"]):
        words.heard((n + 1) * PASS_EVERY_FRAMES, _audio, voiced=True, free=True)
        thread.finish(n, text)
    assert prefilled == [("What is", "en"), ("What is the", "en"), ("What is the capital of", "en")]
    words.begin(500)  # a new utterance starts from nothing
    words.heard(500 + PASS_EVERY_FRAMES, _audio, voiced=True, free=True)
    thread.finish(4, "Thanks")
    assert len(prefilled) == 3 and len(posted) == 5
