"""Quitting is bounded: Ctrl+C or SIGTERM ends the real `parley chat` within QUIT_WITHIN_S in every state a
person can catch it in (loading its models, listening, generating a reply, speaking, with a device gone),
with status 130 (Ctrl+C) or 0 (SIGTERM). Measured from outside, on the real process.

No reruns here: a hang that shows one time in three is a hang."""

from __future__ import annotations

import signal
import sys

import numpy as np
import pytest

from test_conversation_live import ChatProcess, _is, _stop_cleanly, hands_free_chat, spoken  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux"),
              pytest.mark.flaky(reruns=0)]  # (make test's retries are not for these: see the docstring)

VOICE_RATE = 22050  # the `spoken` fixture's rate
MICROPHONE_OPEN = r"microphone open: "  # logged each time a microphone stream opens (runtime/audio_stream.py)
LONG_QUESTION = "Tell me a long story about a brave little dragon."


def _then_silence(audio: np.ndarray, seconds: float = 0.4) -> np.ndarray:
    return np.concatenate([audio, np.zeros(int(seconds * VOICE_RATE), np.float32)])


def _ask_for_a_story(chat: ChatProcess, rig, spoken) -> None:
    rig.play_into_mic(_then_silence(spoken(LONG_QUESTION)), VOICE_RATE, wait=False)
    chat.wait_for(_is("UserSaid"), timeout=60)


def _wait_until_heard(chat: ChatProcess, rig) -> None:
    """Parley is speaking, and its reply is heard on the speaker."""
    with rig.speaker_recorder() as speaker:
        chat.seen_or_wait(_is("StateChanged", state="speaking"), timeout=60)
        speaker.wait_for_sound(0.3)


def test_ctrl_c_while_the_models_load(audio_rig, default_store):
    chat = ChatProcess(audio_rig)
    try:
        chat.wait_for_log(r"loading the speech and chat models")  # Whisper and the chat model load on their threads
        chat.drain()
        assert not [e for e in chat.seen if e["event"] == "StateChanged"], "it had finished loading already"
        _stop_cleanly(chat)
        assert chat.proc.returncode == 130
    finally:
        chat.stop()


def test_ctrl_c_while_listening(hands_free_chat):
    _stop_cleanly(hands_free_chat)
    assert hands_free_chat.proc.returncode == 130


def test_ctrl_c_while_a_reply_is_being_generated(hands_free_chat, audio_rig, spoken):
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    hands_free_chat.wait_for(_is("ReplyText"), timeout=60)  # the first words, before any is voiced
    _stop_cleanly(hands_free_chat)


def test_ctrl_c_while_speaking(hands_free_chat, audio_rig, spoken):
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    _wait_until_heard(hands_free_chat, audio_rig)
    _stop_cleanly(hands_free_chat)


def test_sigterm_while_speaking(hands_free_chat, audio_rig, spoken):
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    _wait_until_heard(hands_free_chat, audio_rig)
    _stop_cleanly(hands_free_chat, signal.SIGTERM)
    assert hands_free_chat.proc.returncode == 0


def _reopening_the_microphone(chat: ChatProcess, rig, lose_it) -> None:
    """Lose the microphone, and wait until Parley has said so and opened the system default input in its place."""
    before = len(chat.log())
    lose_it()
    chat.wait_for(lambda e: e["event"] == "Problem" and "microphone" in e["message"], timeout=30)
    chat.wait_for_log(MICROPHONE_OPEN, after=before)


def test_ctrl_c_with_the_microphone_unplugged(hands_free_chat, audio_rig):
    _reopening_the_microphone(hands_free_chat, audio_rig, lambda: audio_rig.remove_microphone(take_streams=True))
    _stop_cleanly(hands_free_chat)


def test_ctrl_c_with_the_microphone_stalled(hands_free_chat, audio_rig):
    # The default input is the stalled one: the reopened stream waits for a first block that never comes.
    _reopening_the_microphone(hands_free_chat, audio_rig, audio_rig.stall_microphone)
    _stop_cleanly(hands_free_chat)


def _still_replying(chat: ChatProcess) -> None:
    chat.drain()
    assert not [e for e in chat.seen if e["event"] == "ReplyFinished"], "the reply had ended already"


def test_ctrl_c_with_the_speaker_unplugged_mid_reply(hands_free_chat, audio_rig, spoken):
    """The sink and Parley's stream on it are gone while the reply plays (PortAudio's ALSA poll fails at once; Parley
    notices when it next looks at the speaker)."""
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    _wait_until_heard(hands_free_chat, audio_rig)
    audio_rig.remove_speaker(take_streams=True)
    _still_replying(hands_free_chat)
    _stop_cleanly(hands_free_chat)


def test_ctrl_c_with_the_speaker_stalled_mid_reply(hands_free_chat, audio_rig, spoken):
    """The sink is suspended while the reply plays: its stream stays "active" and takes nothing, and the reply
    waits to be played (Parley notices a stalled speaker only after STALL_S)."""
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    _wait_until_heard(hands_free_chat, audio_rig)
    audio_rig.stall_speaker()
    _still_replying(hands_free_chat)
    _stop_cleanly(hands_free_chat)
