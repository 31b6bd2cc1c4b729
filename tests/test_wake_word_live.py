"""Wake-word mode in the real `parley chat` on the virtual audio rig: speech without the phrase gets no reply,
"Hey Jarvis, …" in one breath gets one (without the phrase in the question), a follow-up inside the window needs no
phrase, the phrase said while Parley talks interrupts it, and a question after the window gets no reply."""

from __future__ import annotations

import sys
import time

import pytest

from test_conversation_live import _is, _words, listening_chat

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")

FOLLOW_UP_S = 5


@pytest.fixture(scope="module")
def say(default_store):
    from benchmarks.live import piper_say

    return piper_say()


@pytest.fixture()
def wake_word_settings(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text(
        f'[conversation]\nmode = "wake_word"\n\n[listening]\nwake_word = "hey_jarvis"\nfollow_up_s = {FOLLOW_UP_S}\n')
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(config))


def _no_reply(chat, seconds: float) -> None:
    """Nothing is answered for `seconds`."""
    try:
        said = chat.wait_for(_is("UserSaid"), timeout=seconds)
    except AssertionError:
        return
    raise AssertionError(f"answered speech that was not meant for Parley: {said['text']!r}")


def test_only_the_wake_word_and_its_follow_up_are_answered(audio_rig, default_store, say, wake_word_settings):
    with listening_chat(audio_rig) as chat:
        audio_rig.play_into_mic(say("What is the capital of Spain? Tell me about Madrid."), 22050)
        _no_reply(chat, 6)

        audio_rig.play_into_mic(say("Hey Jarvis, what is the capital of France?"), 22050)
        said = chat.wait_for(_is("UserSaid"))
        assert "capital" in _words(said["text"]) and "jarvis" not in _words(said["text"]), said["text"]
        assert "paris" in _words(chat.wait_for(_is("ReplyFinished"))["text"])

        audio_rig.play_into_mic(say("And what is the capital of Germany?"), 22050)  # inside the window: no phrase
        said = chat.wait_for(_is("UserSaid"))
        assert "germany" in _words(said["text"]), said["text"]
        chat.wait_for(_is("ReplyFinished"))

        asked = len(chat.seen)
        with audio_rig.speaker_recorder() as speaker:
            # (The question the speaker tests ask for a long reply; "a long story about a dragon" was once refused in
            # one short sentence, which played out before the phrase that was to interrupt it had been said.)
            audio_rig.play_into_mic(say("Hey Jarvis, tell me a long story about a brave little dragon."), 22050)
            chat.wait_for(_is("StateChanged", state="speaking"))
            speaker.wait_for_sound(0.3)  # the story is heard (the phrase takes a second to say and to be heard)
            chat.drain()
            assert not [e for e in chat.seen[asked:] if e["event"] == "ReplyFinished"], "the story ended too soon"
        audio_rig.play_into_mic(say("Hey Jarvis, what is two plus two?"), 22050)  # the phrase interrupts the story
        finished = chat.wait_for(_is("ReplyFinished"))
        assert finished["interrupted"], f"{finished}{chat.diagnosis()}"
        said = chat.wait_for(_is("UserSaid"))
        assert "plus" in _words(said["text"]) and "jarvis" not in _words(said["text"]), said["text"]
        answered = chat.wait_for(_is("ReplyFinished"))

        # The follow-up window opens as a reply ends and is a timer: wait until it has run out (and a second more).
        time.sleep(max(0.0, answered["t"] + FOLLOW_UP_S + 1 - time.monotonic()))
        audio_rig.play_into_mic(say("What is the capital of Italy?"), 22050)
        _no_reply(chat, 6)
