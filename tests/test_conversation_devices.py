"""The real `parley chat` on the virtual audio rig, through the ways a person and their devices drive it besides
talking hands-free: the push-to-talk key, and a microphone unplugged in the middle of a turn."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from test_conversation_live import ChatProcess, _asked_about_france, _is, _stop_cleanly, _words, hands_free_chat, spoken  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")

VOICE_RATE = 22050  # the `spoken` fixture's rate
MICROPHONE_OPEN = r"microphone open: "  # logged each time a microphone stream opens (runtime/audio_stream.py)


def _press(chat: ChatProcess) -> None:
    """The push-to-talk key (`chat --ptt`: each Enter on stdin toggles pressed / released)."""
    chat.proc.stdin.write("\n")
    chat.proc.stdin.flush()


def _then_silence(audio: np.ndarray, seconds: float = 0.4) -> np.ndarray:
    """A question followed by a moment of silence: the key is let go after the last word has reached the mic."""
    return np.concatenate([audio, np.zeros(int(seconds * VOICE_RATE), np.float32)])


def _microphone_problem(event: dict) -> bool:
    return event["event"] == "Problem" and "microphone" in event["message"]


def _answered_after_the_outage(chat: ChatProcess, audio_rig, spoken) -> None:
    """A spoken question is heard, as a turn of its own, and answered in full: the conversation goes on."""
    audio_rig.play_into_mic(_then_silence(spoken("What is the capital of France?")), VOICE_RATE)
    said = chat.wait_for(lambda e: e["event"] == "UserSaid" and _asked_about_france(e["text"]), timeout=90)
    finished = chat.wait_for(_is("ReplyFinished", turn=said["turn"]), timeout=90)
    assert not finished["interrupted"] and finished["text"].strip(), finished


@pytest.fixture()
def ptt_chat(audio_rig, default_store):
    process = ChatProcess(audio_rig, "--ptt")
    try:
        yield process
    finally:
        process.stop()


def test_push_to_talk_turn_and_a_key_press_that_interrupts_the_reply(ptt_chat, audio_rig, spoken):
    chat = ptt_chat
    # Press: parley reads the key only once its models are loaded, so this also waits for it to be ready.
    _press(chat)
    chat.wait_for(_is("StateChanged", state="user_speaking"))
    audio_rig.play_into_mic(_then_silence(spoken("What is the capital of France?")), VOICE_RATE)
    _press(chat)  # release: the turn ends now, with no end-of-speech silence to wait for
    said = chat.wait_for(_is("UserSaid"))
    assert "capital of france" in _words(said["text"])
    finished = chat.wait_for(_is("ReplyFinished", turn=said["turn"]))
    assert not finished["interrupted"]
    assert finished["text"].strip()

    _press(chat)
    chat.wait_for(_is("StateChanged", state="user_speaking"))
    audio_rig.play_into_mic(_then_silence(spoken("Tell me a long story about a brave little dragon.")), VOICE_RATE)
    _press(chat)
    said = chat.wait_for(_is("UserSaid"))
    assert "dragon" in _words(said["text"])
    with audio_rig.speaker_recorder() as speaker:
        chat.wait_for(_is("StateChanged", state="speaking"))
        speaker.wait_for_sound(0.5)  # the story is heard
    _press(chat)  # the key, pressed while Parley talks, silences it at once
    barge = chat.wait_for(_is("BargeIn"))
    assert barge["turn"] == said["turn"]
    interrupted = chat.wait_for(_is("ReplyFinished", turn=said["turn"]))
    assert interrupted["interrupted"]
    chat.wait_for(_is("StateChanged", state="user_speaking"))  # and a new turn has begun
    _stop_cleanly(chat)
    assert not [e for e in chat.seen if e["event"] == "Problem"], "no device trouble in a normal conversation"


def test_a_microphone_unplugged_mid_turn_is_reported_and_replaced(hands_free_chat, audio_rig, spoken):
    """The device disappears with its stream (as under a plain ALSA or CoreAudio host). PortAudio then mostly ends
    the stream (its ALSA poll fails), and sometimes revives it as one whose callbacks never come again. Parley must
    notice either, say so, and listen on the system default input."""
    chat = hands_free_chat
    audio_rig.play_into_mic(spoken("Please tell me what the weather is like on the moon today."), VOICE_RATE,
                            wait=False)
    chat.wait_for(_is("StateChanged", state="user_speaking"))
    time.sleep(0.7)  # pacing: 0.7 s further into the sentence, which plays in real time
    audio_rig.remove_microphone(take_streams=True)
    problem = chat.wait_for(_microphone_problem, timeout=30)
    assert "stopped" in problem["message"]
    # The cut-off turn can only end (in a reply, or as too short) once audio flows again: on the system default
    # input, which is now another source of the sound server.
    chat.wait_for(lambda e: e["event"] == "StateChanged" and e["state"] != "user_speaking", timeout=30)
    audio_rig.wait_for_mic_playback()

    audio_rig.restore_microphone()  # plugged back in: the system default again
    _answered_after_the_outage(chat, audio_rig, spoken)
    problems = [e for e in chat.seen if e["event"] == "Problem"]
    assert len(problems) == 1, f"the outage is reported once: {problems}"
    _stop_cleanly(chat)


def test_a_microphone_the_sound_server_moves_keeps_the_conversation_going(hands_free_chat, audio_rig, spoken):
    """A desktop sound server moves the streams of a vanished source to its fallback and back when the device
    returns: PortAudio sees nothing, and the conversation must simply go on."""
    chat = hands_free_chat
    audio_rig.remove_microphone(take_streams=False)  # (the stream is moved before the source goes)
    assert chat.proc.poll() is None
    audio_rig.restore_microphone()
    _answered_after_the_outage(chat, audio_rig, spoken)
    assert not [e for e in chat.seen if e["event"] == "Problem"], "an outage Parley could not see was reported"
    _stop_cleanly(chat)


def test_a_microphone_that_stops_delivering_is_reported_and_reopened(hands_free_chat, audio_rig, spoken):
    """The device hangs: its stream stays "active" but no audio comes (PulseAudio suspends the source; a vanished
    device whose stream PortAudio revived does the same). Parley must notice, say so once, keep trying to reopen it,
    and hear again when it works."""
    chat = hands_free_chat
    before = len(chat.log())
    audio_rig.stall_microphone()
    problem = chat.wait_for(_microphone_problem, timeout=30)
    assert "stopped" in problem["message"]
    # An attempt to reopen it has failed while it hangs: a stream opened, got no audio, and the next one opened.
    chat.wait_for_log(rf"(?s){MICROPHONE_OPEN}.*{MICROPHONE_OPEN}", after=before, timeout=30)
    audio_rig.stall_microphone(False)
    _answered_after_the_outage(chat, audio_rig, spoken)
    problems = [e for e in chat.seen if e["event"] == "Problem"]
    assert len(problems) == 1, f"the outage is reported once: {problems}"
    _stop_cleanly(chat)
