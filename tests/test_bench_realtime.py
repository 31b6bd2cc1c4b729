"""How `make bench-realtime` measures a barge-in from outside: where the interruption starts in the microphone's
recording, and when the speaker's recording goes quiet."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from benchmarks.realtime import heard_barge_in_ms, silent_from, starts_at

RATE = 48000


def _voice(seconds: float, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 0.1).astype(np.float32)


def test_the_interruption_is_found_under_an_echo():
    interruption = _voice(1.0)
    echo = _voice(3.0, seed=2) * 0.3
    recording = echo.copy()
    recording[RATE : 2 * RATE] += interruption
    assert starts_at(recording, interruption) == RATE


def test_silence_must_last_longer_than_a_pause_between_sentences():
    speaker = _voice(2.0)
    speaker[int(0.5 * RATE) : int(0.7 * RATE)] = 0  # a 200 ms pause between sentences
    speaker[int(1.2 * RATE) :] = 0  # flushed
    assert silent_from(speaker, RATE, int(0.4 * RATE)) == int(1.2 * RATE)
    assert silent_from(_voice(2.0), RATE, 0) is None


def test_heard_latency_is_on_the_recorders_common_clock():
    interruption = _voice(1.0)
    microphone_audio = np.zeros(3 * RATE, np.float32)
    microphone_audio[RATE : 2 * RATE] = interruption  # starts 1 s into the recording
    speaker_audio = _voice(3.0, seed=3)
    speaker_audio[int(1.35 * RATE) :] = 0  # quiet 1.35 s into its recording
    microphone = SimpleNamespace(audio=microphone_audio, rate=RATE, started_at=100.0)
    speaker = SimpleNamespace(audio=speaker_audio, rate=RATE, started_at=99.9)  # started 100 ms earlier
    assert heard_barge_in_ms(microphone, speaker, interruption) == 250.0


def test_a_pausing_question_gets_its_silence_where_the_first_words_end():
    from benchmarks.realtime import paused_question

    rate = 22050
    word = lambda seed: _voice(0.3, seed)[: int(0.3 * rate)]  # noqa: E731
    gap = np.zeros(int(0.02 * rate), np.float32)  # the short dip between two words
    spoken = {"one two": np.concatenate([word(1), gap, word(2)]), "one": word(1)}
    def say(text: str) -> np.ndarray:
        return spoken[text]

    say.sounds = lambda text: len(text.split())  # one sound a word: "one" ends halfway
    audio = paused_question(say, "one", "two", 0.5, rate)
    assert len(audio) == len(spoken["one two"]) + int(0.5 * rate)
    silent = np.nonzero(np.abs(audio) < 1e-6)[0]
    # The inserted silence joins the dip between the words, whose samples are all kept.
    assert int(0.3 * rate) <= silent[0] <= int(0.32 * rate) and len(silent) >= int(0.5 * rate)
    assert np.array_equal(audio[: int(0.3 * rate)], word(1))
