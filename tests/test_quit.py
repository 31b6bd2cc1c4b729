"""Quitting is bounded: Ctrl+C or SIGTERM ends the real `parley chat` within QUIT_WITHIN_S in every state a
person can catch it in (loading its models, listening, generating a reply, speaking, with a device gone),
with status 130 (Ctrl+C) or 0 (SIGTERM). Measured from outside, on the real process.

No reruns here: a hang that shows one time in three is a hang."""

from __future__ import annotations

import signal
import sys
import time

import numpy as np
import pytest

from test_conversation_live import ChatProcess, _is, _stop_cleanly, hands_free_chat, spoken  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")

VOICE_RATE = 22050  # the `spoken` fixture's rate
LONG_QUESTION = "Tell me a long story about a brave little dragon."


def _then_silence(audio: np.ndarray, seconds: float = 0.4) -> np.ndarray:
    return np.concatenate([audio, np.zeros(int(seconds * VOICE_RATE), np.float32)])


def _ask_for_a_story(chat: ChatProcess, rig, spoken) -> None:
    rig.play_into_mic(_then_silence(spoken(LONG_QUESTION)), VOICE_RATE, wait=False)
    chat.wait_for(_is("UserSaid"), timeout=60)


def test_ctrl_c_while_the_models_load(audio_rig, default_store):
    chat = ChatProcess(audio_rig)
    try:
        deadline = time.monotonic() + 60
        while "Loading models" not in "".join(chat.stderr):
            assert time.monotonic() < deadline and chat.proc.poll() is None, f"never began loading{chat.diagnosis()}"
            time.sleep(0.02)
        time.sleep(0.5)  # in the middle of loading Whisper and the chat model
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
    hands_free_chat.wait_for(_is("StateChanged", state="speaking"), timeout=60)
    time.sleep(0.5)
    _stop_cleanly(hands_free_chat)


def test_sigterm_while_speaking(hands_free_chat, audio_rig, spoken):
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    hands_free_chat.wait_for(_is("StateChanged", state="speaking"), timeout=60)
    time.sleep(0.5)
    _stop_cleanly(hands_free_chat, signal.SIGTERM)
    assert hands_free_chat.proc.returncode == 0


def test_ctrl_c_with_the_microphone_unplugged(hands_free_chat, audio_rig):
    audio_rig.remove_microphone(take_streams=True)
    hands_free_chat.wait_for(lambda e: e["event"] == "Problem" and "microphone" in e["message"], timeout=30)
    time.sleep(0.5)  # trying to reopen it
    _stop_cleanly(hands_free_chat)


def test_ctrl_c_with_the_microphone_stalled(hands_free_chat, audio_rig):
    audio_rig.stall_microphone()
    hands_free_chat.wait_for(lambda e: e["event"] == "Problem" and "microphone" in e["message"], timeout=30)
    time.sleep(1.0)  # a reopened stream waiting for its first block
    _stop_cleanly(hands_free_chat)


def test_ctrl_c_with_the_speaker_unplugged_mid_reply(hands_free_chat, audio_rig, spoken):
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    hands_free_chat.wait_for(_is("StateChanged", state="speaking"), timeout=60)
    audio_rig.remove_speaker(take_streams=True)
    time.sleep(1.0)
    _stop_cleanly(hands_free_chat)


def test_ctrl_c_with_the_speaker_stalled_mid_reply(hands_free_chat, audio_rig, spoken):
    _ask_for_a_story(hands_free_chat, audio_rig, spoken)
    hands_free_chat.wait_for(_is("StateChanged", state="speaking"), timeout=60)
    audio_rig.stall_speaker()
    time.sleep(2.5)  # the reply waits on a speaker that takes nothing
    _stop_cleanly(hands_free_chat)
