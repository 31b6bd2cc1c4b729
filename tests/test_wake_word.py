"""The wake word: the detector on real models (the micro-wake-words pack) and spoken audio, `parley listen`, and the
wake-word gate's decisions (assistant/listen/wake_gate.py) with a scripted detector."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from assistant.audio_files import resample, write_wav
from assistant.listen.endpointing import Utterance
from assistant.listen.wake_gate import FRAME, WakeConfig, WakeGate, chime, without_phrase
from assistant.listen.wake_word import cutoff_for
from test_speculative_start import rig  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def say(default_store):
    from benchmarks.live import piper_say

    voice = piper_say()
    return lambda text: resample(voice(text), 22050, 16000)


@pytest.fixture(scope="module")
def detector(default_store):
    from assistant.conversation.engines import Engines
    from assistant.runtime.settings import Settings

    return lambda phrase="hey_jarvis", sensitivity=0.5: Engines(Settings(), default_store).wake_word_detector(phrase, sensitivity)


def _heard(detector, audio: np.ndarray) -> list[float]:
    """Seconds at which the detector heard its phrase, fed 32 ms at a time as the listening thread does."""
    return [position / 16000 for start in range(0, len(audio), FRAME) for position in detector.push(audio[start:start + FRAME])]


def _padded(audio: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(8000, np.float32), audio, np.zeros(16000, np.float32)])


def test_the_phrase_is_heard_where_it_ends_and_only_there(say, detector):
    question = _padded(say("Hey Jarvis, what's the capital of France?"))
    heard = _heard(detector(), question)
    assert len(heard) == 1 and 0.9 < heard[0] < 2.0, heard  # after "Hey Jarvis", before the question ends
    assert _heard(detector(), _padded(say("What's the capital of France? Tell me about Paris."))) == []
    assert _heard(detector("alexa"), question) == []  # another phrase's model


def test_each_phrase_of_the_pack_is_heard(say, detector):
    for phrase, text in [("hey_mycroft", "Hey Mycroft, turn on the lights."), ("alexa", "Alexa, what time is it?"),
                         ("okay_nabu", "Okay Nabu, set a timer.")]:
        assert len(_heard(detector(phrase), _padded(say(text)))) == 1, phrase


def test_the_phrase_said_twice_is_heard_twice_but_never_twice_at_once(say, detector):
    once = _padded(say("Hey Jarvis."))
    assert len(_heard(detector(), np.concatenate([once, once]))) == 2


def test_sensitivity_moves_the_cutoff_both_ways():
    assert cutoff_for(0.5, 0.97) == pytest.approx(0.97)
    assert cutoff_for(0.0, 0.97) == pytest.approx(0.985) and cutoff_for(1.0, 0.97) == pytest.approx(0.735)
    assert cutoff_for(0.25, 0.97) > cutoff_for(0.75, 0.97)


def test_parley_listen_prints_each_detection_with_its_time(say, default_store, tmp_path):
    recording = np.concatenate([_padded(say("Hey Jarvis, what's the weather?")), _padded(say("Nothing to see here.")),
                                _padded(say("Hey Jarvis."))])
    write_wav(tmp_path / "room.wav", recording, 16000)
    result = subprocess.run([sys.executable, "-m", "assistant", "listen", str(tmp_path / "room.wav"), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["wake_word"] == "hey_jarvis" and found["phrase"] == "Hey Jarvis"
    times = [d["time_s"] for d in found["detections"]]
    assert len(times) == 2 and times[0] < 2.5 < len(recording) / 16000 - 3 < times[1], times
    wrong = subprocess.run([sys.executable, "-m", "assistant", "listen", str(tmp_path / "room.wav"), "--wake-word", "hey"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "hey_jarvis" in wrong.stderr  # the choices are named


class _Scripted:
    """A detector that hears the phrase at the frames it is told."""

    phrase = "Hey Jarvis"

    def __init__(self, at_frames: set[int]) -> None:
        self.at_frames, self.frame = at_frames, -1

    def push(self, audio):
        self.frame += 1
        return [self.frame * FRAME] if self.frame in self.at_frames else []


def _utterance(start: int, last_voiced: int, trailing: int = 6) -> Utterance:
    frames = last_voiced + 1 + trailing - start
    return Utterance(np.arange(frames * FRAME, dtype=np.float32), start, start + frames, last_voiced, "silence")


def _gate(at_frames: set[int], frames: int = 200, follow_up_s: float = 8.0) -> WakeGate:
    gate = WakeGate(WakeConfig(follow_up_s=follow_up_s), _Scripted(at_frames))
    for index in range(frames):
        gate.hear(np.zeros(FRAME, np.float32), index)
    return gate


def test_the_question_is_what_follows_the_phrase():
    gate = _gate({30})  # "Hey Jarvis" heard in frame 30 of a turn from frame 10 to 70
    question = gate.question(_utterance(10, 70), started_at=100.0)
    assert question.start_frame == 31 - 5  # cut 160 ms (5 frames) before the detection
    assert question.audio[0] == (26 - 10) * FRAME and len(question.audio) == (question.end_frame - 26) * FRAME
    assert gate.addressed(10, started_at=100.0)


def test_a_turn_without_the_phrase_is_not_meant_for_parley():
    gate = _gate({30})
    assert gate.question(_utterance(80, 120), started_at=100.0) is None
    assert not gate.addressed(80, started_at=100.0) and not gate.heard_in(_utterance(80, 120))


def test_the_phrase_alone_opens_the_follow_up_window():
    gate = _gate({30})
    alone = _utterance(12, 33)  # the voice stops 3 frames after the phrase was heard
    assert gate.question(alone, started_at=100.0) is None and gate.heard_in(alone)
    gate.open_window(now=101.0)
    later = _utterance(80, 120)
    assert gate.question(later, started_at=105.0) is later  # inside the window: all of it, no phrase needed
    assert gate.question(later, started_at=109.5) is None  # after it


def test_a_follow_up_window_closes_when_a_reply_starts():
    gate = _gate(set())
    gate.open_window(now=10.0)
    assert gate.addressed(5, started_at=12.0)
    gate.close_window()
    assert not gate.addressed(5, started_at=12.0)


@pytest.mark.parametrize("heard, expected", [
    ("Hey Jarvis, what's the capital of France?", "What's the capital of France?"),
    ("Jarvis. What time is it?", "What time is it?"),
    ("what time is it?", "What time is it?"),
    ("Tell me about Jarvis Cocker.", "Tell me about Jarvis Cocker."),  # the name later on stays
    ("Jarvis", ""),
])
def test_what_is_left_of_the_phrase_is_taken_off_the_words(heard, expected):
    assert without_phrase(heard, "Hey Jarvis") == expected


def test_the_chime_is_short_soft_and_clickless():
    sound = chime(48000)
    assert 0.15 < len(sound) / 48000 < 0.25 and 0.1 < float(np.abs(sound).max()) < 0.16
    assert abs(sound[0]) < 0.01 and abs(sound[-1]) < 0.01


def test_at_a_pause_a_sliver_after_the_phrase_is_no_question_yet():
    """'Hey Jarvis,' and a breath: what follows the cut is the phrase's tail (Whisper made whole invented sentences of
    it); at a pause it needs MIN_QUESTION_AT_PAUSE_MS, at the end of the turn MIN_QUESTION_MS."""
    from assistant.listen.wake_gate import MIN_QUESTION_AT_PAUSE_MS

    gate = _gate({30})
    sliver = _utterance(10, 40)  # 10 frames after the cut: 320 ms
    assert gate.question(sliver, started_at=100.0) is not None
    assert gate.question(sliver, started_at=100.0, min_ms=MIN_QUESTION_AT_PAUSE_MS) is None
    asked = _utterance(10, 50)  # 25 frames: 800 ms
    assert gate.question(asked, started_at=100.0, min_ms=MIN_QUESTION_AT_PAUSE_MS) is not None


def test_a_phrase_heard_before_its_speech_began_lets_the_question_after_it_through(rig):
    """Over a reply, echo cancellation can hide the voice from the VAD until the reply stops: the phrase is heard
    (before echo cancellation) while the VAD hears no speech, and the question's speech begins after it. The
    listening thread is driven frame by frame (the `rig` of test_speculative_start.py), the phrase heard at frame 5."""
    from test_speculative_start import _names, _wait

    gate = WakeGate(WakeConfig(), _Scripted({5}))
    rig.listener.wake.gate_for = lambda wake: gate
    rig.push(0.0, 30)  # the phrase, heard in frame 5; to the VAD, silence longer than its pre-roll (320 ms)
    rig.push(0.9, 20)  # the question
    rig.push(0.0, 16)
    _wait(lambda: "UserSaid" in _names(rig.events), "the question after the phrase answered")
