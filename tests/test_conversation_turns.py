"""Turn-taking in the real `parley chat` on the virtual audio rig: a finished question is answered as soon as
the end-of-turn model hears it finished, and a question with a pause to think in it is not cut off (the reply begun
in the pause is dropped unheard), and the words of a question show while it is being asked."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from benchmarks.realtime import paused_question
from test_conversation_live import _is, _words, listening_chat

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")


@pytest.fixture(scope="module")
def say(default_store):
    from benchmarks.live import piper_say

    return piper_say()


def test_a_finished_question_ends_when_it_sounds_finished(audio_rig, default_store, say):
    with listening_chat(audio_rig) as chat:
        audio_rig.play_into_mic(say("What is the capital of France?"), 22050)
        said = chat.wait_for(_is("UserSaid"))
        assert "capital" in _words(said["text"]) or "france" in _words(said["text"])
        assert said["ended_by"] == "complete"  # the model, not the 2.5 s limit
        finished = chat.wait_for(_is("ReplyFinished"))
        assert "paris" in _words(finished["text"])


def test_the_words_of_a_question_show_while_it_is_asked_and_its_transcript_replaces_them(audio_rig, default_store, say):
    question = "Can you tell me how many planets there are in our solar system and which one of them is the largest?"
    with listening_chat(audio_rig) as chat:
        audio_rig.play_into_mic(say(question), 22050)
        said = chat.wait_for(_is("UserSaid"))
        so_far = [e for e in chat.seen if e["event"] == "WordsSoFar"]
        assert so_far, f"no words before the turn ended: {[e['event'] for e in chat.seen]}"
        assert "planets" in _words(said["text"]) or "largest" in _words(said["text"]), said
        first = _words(so_far[0]["text"]).split()
        assert first and first[0] in _words(said["text"]).split(), (so_far, said)  # they begin the question
        assert so_far[0]["t"] < said["t"] - 0.5  # shown while it was being asked, not with its transcript
        chat.wait_for(_is("ReplyFinished"))
        assert not [e for e in chat.seen if e["event"] == "WordsSoFar" and e["t"] > said["t"]]


def test_a_pause_to_think_is_waited_through_and_the_reply_begun_in_it_dropped_unheard(audio_rig, default_store, say):
    question = paused_question(say, "What's the weather like in", "Paris tomorrow?", 1.2)
    with listening_chat(audio_rig) as chat, audio_rig.speaker_recorder() as speaker:
        audio_rig.play_into_mic(question, 22050)
        played = time.monotonic()
        during = speaker.snapshot()  # all that Parley played while the question was spoken
        said = chat.wait_for(_is("UserSaid"))
        assert said["t"] > played, f"the turn ended during the pause: {said['text']!r}"
        assert {"weather", "tomorrow"} <= set(_words(said["text"]).split()), said["text"]  # (Paris: "pairs" at times)
        chat.wait_for(_is("ReplyFinished"))
    # The reply to "What's the weather like in" was begun in the pause, and dropped without a sound.
    log = (chat.log_dir / "parley.log").read_text()
    assert "dropped the reply begun at a pause (the user went on)" in log, chat.diagnosis()
    assert len(during) and float(np.abs(during).max()) < 0.01, "Parley made a sound while the question was spoken"
    assert [event["text"] for event in chat.seen if event["event"] == "UserSaid"] == [said["text"]]


def test_the_fixed_policy_cuts_the_same_pause(audio_rig, default_store, say):
    """The check above can fail: with a fixed 500 ms silence, the same question is cut at its pause."""
    question = paused_question(say, "What's the weather like in", "Paris tomorrow?", 1.2)
    with listening_chat(audio_rig, "--policy", "fixed") as chat:
        audio_rig.play_into_mic(question, 22050)
        played = time.monotonic()
        first = chat.wait_for(_is("UserSaid"))
        assert first["t"] < played and first["ended_by"] == "silence" and "paris" not in _words(first["text"])
