"""The guards both speech-to-text engines' output passes through (assistant/transcribe/guards.py), on texts:
a phrase the decoder said again right after itself is said once, unless the sound could have held it twice."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.transcribe.guards import (
    REPEAT_WORDS_PER_S, Loudness, Piece, find_repeat, said_once, sound_seconds, without_repeats,
)

TYPOGRAPHY = "And it is worth mention in passing that, as an example of fine typography,"
TYPOGRAPHY_S = 5.6  # the seconds of sound in LJSpeech's LJ001-0006, which says it (14 words: 2.5 a second)


@pytest.mark.parametrize("repeated", [
    # The failure seen in a long English recording: its last phrase again, after two words of its own.
    TYPOGRAPHY + " that has an example of fine typography,",
    # Both engines on LJ001-0006 with a second of silence after it: the whole sentence again.
    TYPOGRAPHY + " and it is worth mention in passing that as an example of fine typography,",
])
def test_a_phrase_said_again_faster_than_anyone_speaks_is_said_once(repeated):
    assert said_once(repeated, TYPOGRAPHY_S) == TYPOGRAPHY


def test_a_repeat_the_sound_could_hold_is_kept():
    text = "Can you hear me? Can you hear me?"  # 8 words
    assert said_once(text, 8 / REPEAT_WORDS_PER_S + 0.1) == text
    assert said_once(text, 8 / REPEAT_WORDS_PER_S - 0.1) == "Can you hear me?"


@pytest.mark.parametrize("text", [
    "No, no, I said the other one.",  # short repeats are how people talk
    "Very very good, thank you.",
    "Turn on the lights in the kitchen and turn on the lights in the hall.",  # two words between, not at the end
    "",
])
def test_what_is_no_repeat_stays_whatever_the_pace(text):
    assert said_once(text, 0.5) == text


def test_a_looping_sentence_is_kept_once_when_too_fast():
    loop = "Tell me about dogs. Tell me about dogs. Tell me about d"
    assert said_once(loop, 1.2) == "Tell me about dogs."
    assert said_once("Stop! Stop! Stop!", 0.5) == "Stop!"
    assert said_once("Stop! Stop! Stop!", 1.5) == "Stop! Stop! Stop!"  # said slowly: as said
    assert said_once(" Stop! Stop! Stop!", 0.5) == " Stop!"  # a window segment keeps its leading space


def test_every_extra_saying_goes_while_too_fast():
    assert said_once("What time is it? What time is it? What time is it? Thanks.", 1.5) == "What time is it? Thanks."


def test_a_real_repeat_before_an_invented_one_is_kept():
    # Said twice by the speaker (in a segment of its own with the sound for it), then once more by the decoder
    # over the silence after it.
    pieces = [Piece(" Where is my phone? Where is my phone?", 4.0), Piece(" Where is my phone?", 0.2)]
    assert without_repeats(pieces) == " Where is my phone? Where is my phone?"


def test_a_repeat_across_two_window_segments_is_judged_by_their_sound():
    said = [Piece(" The cat sat on the mat.", 2.0), Piece(" On the mat. And then it slept.", 3.0)]
    invented = [Piece(" The cat sat on the mat.", 2.0), Piece(" On the mat. And then it slept.", 0.5)]
    assert without_repeats(said) == " The cat sat on the mat. On the mat. And then it slept."
    assert without_repeats(invented) == " The cat sat on the mat. And then it slept."


def test_find_repeat_prefers_the_longest_phrase():
    words = "a b c d a b c d e".split()
    found = find_repeat(words)
    assert (found.first, found.second, found.length) == (0, 4, 4)
    assert find_repeat("a b c x y z a b c".split()) is None  # three words between: not right after
    assert find_repeat("a b c d e f".split()) is None


def test_sound_seconds_leaves_out_the_silence_around_speech():
    rng = np.random.default_rng(0)
    rate = 16000
    speech = rng.normal(0, 0.1, 3 * rate).astype(np.float32)
    pause = np.zeros(rate // 2, np.float32)
    quiet = rng.normal(0, 0.0005, rate).astype(np.float32)  # a quiet room: 46 dB under the speech
    audio = np.concatenate([quiet, speech[:rate], pause, speech[rate:], quiet])
    assert sound_seconds(audio) == pytest.approx(3.5, abs=0.04)  # the pause within counts, the room does not
    assert sound_seconds(np.zeros(rate, np.float32)) == 0.0
    loudness = Loudness(audio)
    assert loudness.sound_seconds(0, 1.0) == 0.0
    assert loudness.sound_seconds(1.0, 2.0) == pytest.approx(1.0, abs=0.04)


def test_sentences_said_again_at_a_quick_pace_are_kept():
    # tests/test_transcribe_ct2.py's long audio, as faster-whisper segmented it: five sentences said by the Piper
    # voice, then the same five again (35 words in 9.0 s of sound: 3.9 a second, quick but spoken).
    block = [(" The quick brown fox jumps over the lazy dog.", 2.62), (" What is the weather like today?", 1.30),
             (" Set a timer for 10 minutes.", 1.58), (" Please remind me to call my sister tomorrow.", 2.14),
             (" How far away is the moon?", 1.32)]
    pieces = [Piece(text, sound) for text, sound in block * 2]
    assert without_repeats(pieces) == "".join(text for text, _ in block * 2)
