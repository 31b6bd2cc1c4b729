"""The end-of-turn policy's logic (assistant/listen/end_of_turn.py), with a stand-in for the model: which
verdicts end a turn, which are moot, and the endpointer settings each mode asks for."""

from concurrent.futures import Future

import numpy as np
import pytest

from assistant.listen.endpointing import EndpointConfig
from assistant.listen.end_of_turn import EndOfTurn, EndOfTurnConfig, sounds_unfinished
from assistant.transcribe.transcriber import Transcript


class _Model:
    """Answers each question with the next of `answers`."""

    def __init__(self, *answers: float) -> None:
        self.answers = list(answers)
        self.heard: list[int] = []

    def probability(self, audio: np.ndarray) -> float:
        self.heard.append(len(audio))
        return self.answers.pop(0)


class _Later:
    """A model thread that runs each call only when told (`run_all`)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Future, object, tuple]] = []

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        self.calls.append((future, fn, args))
        return future

    def run_all(self) -> None:
        for future, fn, args in self.calls:
            try:
                future.set_result(fn(*args))
            except Exception as exc:
                future.set_exception(exc)
        self.calls.clear()


AUDIO = np.zeros(16000, np.float32)


def test_a_complete_verdict_ends_the_turn_once_it_arrives():
    thread, model = _Later(), _Model(0.9)
    policy = EndOfTurn(EndOfTurnConfig(), model, thread.submit)
    policy.ask(AUDIO, last_voiced_frame=40, silence_ms=224)
    assert not policy.over(40)  # not decided yet
    thread.run_all()
    assert policy.over(40)
    assert list(policy.decisions) == [(224, 0.9)] and model.heard == [16000]


def test_an_incomplete_verdict_keeps_listening():
    thread = _Later()
    policy = EndOfTurn(EndOfTurnConfig(), _Model(0.2), thread.submit)
    policy.ask(AUDIO, 40, 224)
    thread.run_all()
    assert not policy.over(40) and not policy.over(40)


def test_a_verdict_on_a_silence_the_user_talked_through_is_dropped():
    thread = _Later()
    policy = EndOfTurn(EndOfTurnConfig(), _Model(0.95), thread.submit)
    policy.ask(AUDIO, 40, 224)
    thread.run_all()
    assert not policy.over(52)  # speech came back (frame 52 voiced): the question was about an older silence
    assert not policy.over(40)  # and it is gone


def test_a_failing_model_leaves_the_turn_to_the_silence_limit():
    thread = _Later()
    policy = EndOfTurn(EndOfTurnConfig(), _Model(), thread.submit)  # no answers: IndexError
    policy.ask(AUDIO, 40, 224)
    thread.run_all()
    assert not policy.over(40)


def test_forget_drops_questions_about_a_turn_that_ended():
    thread = _Later()
    policy = EndOfTurn(EndOfTurnConfig(), _Model(0.9), thread.submit)
    policy.ask(AUDIO, 40, 224)
    policy.forget()
    thread.run_all()
    assert not policy.over(40)


def test_fixed_mode_and_a_missing_model_never_decide():
    thread = _Later()
    for policy in (EndOfTurn(EndOfTurnConfig(mode="fixed"), _Model(0.9), thread.submit), EndOfTurn(EndOfTurnConfig())):
        policy.ask(AUDIO, 40, 224)
        thread.run_all()
        assert not policy.smart and not policy.over(40)
    assert thread.calls == []


def test_the_endpointer_settings_of_each_mode():
    base = EndpointConfig(start_threshold=0.6, stop_threshold=0.45)
    smart = EndOfTurnConfig(patience_ms=3000).endpoint_config(base, early_transcript_ms=224)
    assert (smart.end_silence_ms, smart.pause_ms, smart.pause_again_ms) == (3000, 160, (480,))
    assert smart.keep_trailing_ms == 160  # what is transcribed at the first question is the turn if it ends there
    assert smart.start_threshold == 0.6 and smart.stop_threshold == 0.45
    fixed = EndOfTurnConfig(mode="fixed", fixed_silence_ms=700).endpoint_config(base, early_transcript_ms=224)
    assert (fixed.end_silence_ms, fixed.pause_ms, fixed.pause_again_ms) == (700, 224, ())
    short = EndOfTurnConfig(mode="fixed", fixed_silence_ms=300).endpoint_config(base, early_transcript_ms=224)
    assert short.pause_ms == 0  # too short a silence for an early transcript to pay
    impatient = EndOfTurnConfig(patience_ms=400).endpoint_config(base, early_transcript_ms=224)
    assert impatient.pause_again_ms == ()  # no question after the limit


@pytest.mark.parametrize("bad", [dict(mode="sometimes"), dict(ask_at_ms=()), dict(ask_at_ms=(480, 224)),
                                 dict(ask_at_ms=(3000,), patience_ms=2500)])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        EndOfTurnConfig(**bad)


def _transcript(text: str, language: str = "en") -> Future:
    future: Future = Future()
    future.set_result(Transcript(text, language))
    return future


def test_words_that_go_on_keep_a_complete_sounding_turn_open():
    thread = _Later()
    policy = EndOfTurn(EndOfTurnConfig(), _Model(0.8, 0.9), thread.submit)
    policy.ask(AUDIO, 40, 224, _transcript("What's the weather like in..."))
    thread.run_all()
    assert not policy.over(40)  # the model says complete, the words say otherwise
    policy.ask(AUDIO, 60, 224, _transcript("What's the weather like in Paris tomorrow?"))
    thread.run_all()
    assert policy.over(60)


def test_the_verdict_waits_for_the_words_being_transcribed():
    thread = _Later()
    policy = EndOfTurn(EndOfTurnConfig(), _Model(0.9), thread.submit)
    words: Future = Future()
    policy.ask(AUDIO, 40, 224, words)
    thread.run_all()
    assert not policy.over(40)
    words.set_result(Transcript("Tell me about rain.", "en"))
    assert policy.over(40)


def test_a_failed_or_cancelled_transcription_leaves_the_model_to_decide():
    cancelled: Future = Future()
    cancelled.cancel()
    failed: Future = Future()
    failed.set_exception(RuntimeError("whisper failed"))
    for words in (cancelled, failed):
        thread = _Later()
        policy = EndOfTurn(EndOfTurnConfig(), _Model(0.9), thread.submit)
        policy.ask(AUDIO, 40, 224, words)
        thread.run_all()
        assert policy.over(40)


@pytest.mark.parametrize("text, language, unfinished", [
    ("What's the weather like in", "en", True), ("Tell me about the", "en", True), ("Can you tell me, um,", "en", True),
    ("I was wondering if...", "en", True), ("What is the capital of France?", "en", False),
    ("What are you looking at?", "en", False), ("Turn the lights on.", "en", False), ("I like this.", "en", False),
    ("Yes, I can.", "en", False), ("Tell me about the history of", "en", True),
    ("Tell me about rain.", "en", False), ("", "en", False), ("Wie ist das Wetter in", "de", False),
    # faster-whisper's punctuation of half questions, and whole questions that end on a preposition
    ("What's the weather like in?", "en", True), ("Tell me about the?", "en", True), ("I want to know about.", "en", True),
    ("What's the weather likein?", "en", True), ("What did you run into?", "en", False),
    ("Where are you from?", "en", False), ("Who did you go with?", "en", False), ("What is the book about?", "en", False),
    # a voice that trailed off, as Whisper writes it
    ("What's the weather I can...", "en", True), ("明天北京的天气…", "zh", True), ("Wie ist das Wetter...", "de", True),
])
def test_sentences_that_go_on(text, language, unfinished):
    assert sounds_unfinished(text, language) is unfinished


def test_no_second_question_while_the_first_about_the_same_silence_is_out():
    thread = _Later()
    model = _Model(0.3, 0.9)
    policy = EndOfTurn(EndOfTurnConfig(), model, thread.submit)
    policy.ask(AUDIO, 40, 160)
    policy.ask(AUDIO, 40, 480)  # the first is not answered yet: no second run beside it
    assert len(thread.calls) == 1
    thread.run_all()
    assert not policy.over(40)  # 0.3: not finished
    policy.ask(AUDIO, 40, 480)  # answered: asked again as the silence grew
    thread.run_all()
    assert policy.over(40) and [ms for ms, _ in policy.decisions] == [160, 480]


@pytest.mark.parametrize("text, required, over", [
    ("", True, False),  # the wake phrase alone, stripped: nothing asked yet
    ("", False, True),  # (no words is no veto otherwise: the transcript then finds nothing, and Parley listens)
    ("What time is it?", True, True),
])
def test_a_turn_that_needs_words_is_not_over_without_them(text, required, over):
    thread = _Later()
    policy = EndOfTurn(EndOfTurnConfig(), _Model(0.95), thread.submit)
    words: Future = Future()
    words.set_result(Transcript(text, "en"))
    policy.ask(AUDIO, 40, 224, words, words_required=required)
    thread.run_all()
    assert policy.over(40) is over
