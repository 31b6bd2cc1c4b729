"""Turn-taking in the real `parley chat` on the virtual audio rig: a finished question is answered as soon as
the end-of-turn model hears it finished, and a question with a pause to think in it is not cut off."""

from __future__ import annotations

import sys
import time

import pytest

from benchmarks.realtime import paused_question
from test_conversation_live import _is, _words, listening_chat

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux"),
    pytest.mark.flaky(reruns=2, reruns_delay=2),  # real time on 2 shared cores, as the other live tests
]


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


def test_a_pause_to_think_mid_question_is_waited_through(audio_rig, default_store, say):
    question = paused_question(say, "What's the weather like in", "Paris tomorrow?", 1.2)
    with listening_chat(audio_rig) as chat:
        audio_rig.play_into_mic(question, 22050)
        played = time.monotonic()
        said = chat.wait_for(_is("UserSaid"))
        assert said["t"] > played, f"the turn ended during the pause: {said['text']!r}"
        assert {"weather", "tomorrow"} <= set(_words(said["text"]).split()), said["text"]  # (Paris: "pairs" at times)
        chat.wait_for(_is("ReplyFinished"))


def test_the_fixed_policy_cuts_the_same_pause(audio_rig, default_store, say):
    """The check above can fail: with a fixed 500 ms silence, the same question is cut at its pause."""
    question = paused_question(say, "What's the weather like in", "Paris tomorrow?", 1.2)
    with listening_chat(audio_rig, "--policy", "fixed") as chat:
        audio_rig.play_into_mic(question, 22050)
        played = time.monotonic()
        first = chat.wait_for(_is("UserSaid"))
        assert first["t"] < played and first["ended_by"] == "silence" and "paris" not in _words(first["text"])
