"""The real `parley chat` on the virtual audio rig when its speaker goes away: unplugged (the sink and Parley's
stream on it are gone) or hanging (the sink stops playing, the stream stays "active"), in the middle of a reply or
between replies.

What PortAudio does (Debian's build, through the ALSA pulse plugin), as measured on the rig:
  - a killed stream (the sink removed, or only the stream killed): its ALSA poll fails at once, the callback thread
    ends and the stream is no longer active;
  - a suspended sink: the stream stays active but its callbacks stop; a stream opened on it meanwhile gets the few
    blocks that fill its buffer and then none; both play on when the sink resumes;
  - a removed sink whose streams the sound server moves to another output (a desktop's PulseAudio): nothing at all.
Parley must notice the first two, end a reply where it was last heard, say so once, and speak on the system default
output (a reply nobody heard any of yet plays there); once the speaker is back (and the default again) a spoken
question gets a spoken answer on it."""

from __future__ import annotations

import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.listen.echo_gate import rms
from test_conversation_live import ChatProcess, _asked_about_france, _is, _stop_cleanly, _words, hands_free_chat, spoken  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")

VOICE_RATE = 22050  # the `spoken` fixture's rate
LONG_QUESTION = "Tell me a long story about a brave little dragon."


def _then_silence(audio: np.ndarray, seconds: float = 0.4) -> np.ndarray:
    return np.concatenate([audio, np.zeros(int(seconds * VOICE_RATE), np.float32)])


def _speaker_problem(event: dict) -> bool:
    return event["event"] == "Problem" and "speaker" in event["message"]


def _interrupt_a_long_reply(chat: ChatProcess, rig, spoken, lose_the_speaker) -> dict:
    """Ask for a long story, and while it plays take the speaker away: the Problem comes, the reply ends as
    interrupted, and Parley listens again. Returns the Problem event."""
    rig.play_into_mic(_then_silence(spoken(LONG_QUESTION)), VOICE_RATE)
    said = chat.wait_for(lambda e: e["event"] == "UserSaid" and "dragon" in _words(e["text"]), timeout=60)
    with rig.speaker_recorder() as speaker:
        chat.wait_for(_is("StateChanged", state="speaking"), timeout=60)
        speaker.wait_for_sound(1.0)  # the story has been heard for a moment
    chat.drain()
    assert not [e for e in chat.seen if e["event"] == "ReplyFinished"], "the story ended before the speaker went"
    lose_the_speaker()
    # Parley notices once the reply is fully generated and voiced (it checks the speaker while the reply plays
    # out), which can take a while for a long story on a slow machine.
    problem = chat.seen_or_wait(_speaker_problem, timeout=60)
    finished = chat.seen_or_wait(_is("ReplyFinished", turn=said["turn"]), timeout=30)
    assert finished["interrupted"], f"the reply played out on a speaker that was gone: {finished}"
    assert not [e for e in chat.seen if e["event"] == "BargeIn"], "the reply was cut off by something else"
    chat.wait_for(_is("StateChanged", state="listening"), timeout=30)
    assert chat.proc.poll() is None
    return problem


def _answer_is_heard(chat: ChatProcess, rig, spoken, recorder, question: str, keyword: str) -> dict:
    """Ask `question`; its reply must play to the end, and be heard on `recorder` (a monitor of an output)."""
    with recorder as recording:
        rig.play_into_mic(_then_silence(spoken(question)), VOICE_RATE)
        said = chat.wait_for(lambda e: e["event"] == "UserSaid" and keyword in _words(e["text"]), timeout=60)
        finished = chat.wait_for(_is("ReplyFinished", turn=said["turn"]), timeout=60)  # once it has played out
    assert not finished["interrupted"], f"the answer did not play out: {finished}"
    assert finished["text"].strip()
    # Parley's voice peaks well above 0.1 on the rig; silence (a stream nobody hears) is exact zeros.
    assert np.abs(recording.audio).max() > 0.1 and rms(recording.audio) > 0.005, \
        f"the answer was not heard there (peak {np.abs(recording.audio).max():.4f})"
    return finished


def test_a_speaker_unplugged_mid_reply_is_reported_and_the_next_reply_plays(hands_free_chat, audio_rig, spoken):
    """The speaker's sink and Parley's stream on it vanish (a USB headset pulled out under a plain ALSA host);
    the machine's other output is the system default meanwhile."""
    chat = hands_free_chat
    problem = _interrupt_a_long_reply(chat, audio_rig, spoken, lambda: audio_rig.remove_speaker(take_streams=True))
    assert "stopped" in problem["message"]

    # A reply started while the speaker is gone plays on the system default output.
    _answer_is_heard(chat, audio_rig, spoken, audio_rig.other_speaker_recorder(),
                     "What is the capital of France?", "france")

    audio_rig.restore_speaker()  # plugged back in: the system default again
    _answer_is_heard(chat, audio_rig, spoken, audio_rig.speaker_recorder(), "What is the color of the sky?", "sky")
    problems = [e for e in chat.seen if e["event"] == "Problem"]
    assert len(problems) == 1, f"the outage is reported once: {problems}"
    _stop_cleanly(chat)


def test_a_speaker_that_stops_playing_mid_reply_is_reported_and_plays_again(hands_free_chat, audio_rig, spoken):
    """The speaker hangs: its stream stays "active" but no more audio is taken (PulseAudio suspends the sink).
    The system default output is that same speaker, so a reply asked for meanwhile cannot be heard: it must end,
    not hang; once the speaker plays again, so does the next reply."""
    chat = hands_free_chat
    problem = _interrupt_a_long_reply(chat, audio_rig, spoken, audio_rig.stall_speaker)
    assert "stopped" in problem["message"]

    # A reply asked for while the speaker hangs: it cannot be heard, and must end rather than wait for ever.
    audio_rig.play_into_mic(_then_silence(spoken("What is the capital of France?")), VOICE_RATE)
    said = chat.wait_for(lambda e: e["event"] == "UserSaid" and _asked_about_france(e["text"]),
                         timeout=60)
    unheard = chat.wait_for(_is("ReplyFinished", turn=said["turn"]), timeout=60)
    assert unheard["interrupted"], f"a reply nobody could hear counted as played: {unheard}"
    chat.wait_for(_is("StateChanged", state="listening"), timeout=30)

    audio_rig.stall_speaker(False)
    _answer_is_heard(chat, audio_rig, spoken, audio_rig.speaker_recorder(), "What is the color of the sky?", "sky")
    problems = [e for e in chat.seen if e["event"] == "Problem"]
    assert len(problems) == 1, f"the outage is reported once: {problems}"
    _stop_cleanly(chat)


def test_a_reply_after_the_speaker_was_unplugged_plays_on_the_system_default(hands_free_chat, audio_rig, spoken):
    """The speaker vanishes between replies: nothing plays then, so nothing is cut off, and the next reply must be
    heard on the system default output (not dropped for the speaker it was meant for), and the one after the
    speaker comes back on the speaker."""
    chat = hands_free_chat
    audio_rig.remove_speaker(take_streams=True)
    _answer_is_heard(chat, audio_rig, spoken, audio_rig.other_speaker_recorder(),
                     "What is the capital of France?", "france")
    problems = [e for e in chat.seen if _speaker_problem(e)]
    assert len(problems) == 1 and "stopped" in problems[0]["message"], f"the outage is reported once: {problems}"

    audio_rig.restore_speaker()
    _answer_is_heard(chat, audio_rig, spoken, audio_rig.speaker_recorder(), "What is the color of the sky?", "sky")
    assert len([e for e in chat.seen if e["event"] == "Problem"]) == 1
    _stop_cleanly(chat)


def test_a_speaker_the_sound_server_moves_keeps_the_reply_going(hands_free_chat, audio_rig, spoken):
    """A desktop sound server moves the streams of a vanished sink to its fallback output, and back when the
    device returns: PortAudio sees nothing, and the reply must simply play on there."""
    chat = hands_free_chat
    audio_rig.play_into_mic(_then_silence(spoken("What is the capital of France?")), VOICE_RATE)
    said = chat.wait_for(lambda e: e["event"] == "UserSaid" and _asked_about_france(e["text"]), timeout=60)
    chat.wait_for(_is("StateChanged", state="speaking"), timeout=60)
    audio_rig.remove_speaker(take_streams=False)
    with audio_rig.other_speaker_recorder() as recording:
        finished = chat.wait_for(_is("ReplyFinished", turn=said["turn"]), timeout=60)  # once it has played out
    assert not finished["interrupted"], f"the reply was cut off by a stream that only moved: {finished}"
    assert np.abs(recording.audio).max() > 0.1, "the rest of the reply was not heard on the fallback output"

    audio_rig.restore_speaker()
    _answer_is_heard(chat, audio_rig, spoken, audio_rig.speaker_recorder(), "What is the color of the sky?", "sky")
    assert not [e for e in chat.seen if e["event"] == "Problem"], "no outage that Parley could see"
    _stop_cleanly(chat)


# --- no output device at all (the rig always has one, so this part runs without it) -----------------------------

class _FakeChat:
    def __init__(self) -> None:
        self.history: list[tuple[str, bool]] = []

    def reply(self, text: str, language=None):
        yield ANSWER

    def cancel(self) -> None:
        pass

    def withdraw(self, text: str) -> None:
        pass

    def record_reply(self, text: str, interrupted: bool = False) -> None:
        self.history.append((text, interrupted))

    def prefill(self, *args) -> None:
        pass

    def describe(self) -> str:
        return "a fake chat model"


class _OneChunkVoice:
    """Says any text as 0.2 s of sound (a Synthesizer's interface)."""

    sample_rate = 22050
    voice_id = "fake"

    def synthesize(self, text: str):
        from assistant.speak.voice import SpeechChunk

        yield SpeechChunk(text, 0.3 * np.ones(4410, np.float32), 22050)


class _FakeStream:
    """A PortAudio stream whose device plays (a thread runs the speaker's callback) until `end()`."""

    def __init__(self, speaker) -> None:
        self.active = True
        self._status = SimpleNamespace(output_underflow=False)

        def play() -> None:
            block = np.zeros((220, 1), np.float32)
            while self.active:
                speaker._callback(block, len(block), None, self._status)
                time.sleep(0.002)

        threading.Thread(target=play, daemon=True).start()

    def end(self) -> None:
        self.active = False

    def close(self, ignore_errors: bool = True) -> None:
        self.active = False


ANSWER = "Paris is the capital of France."


def test_with_no_output_device_at_all_replies_end_and_the_outage_is_reported_once(monkeypatch):
    """The speaker's stream ended and the system has no default output either: each reply ends (nothing hangs,
    the voice thread can still write its audio), the outage is reported once, and when an output appears again
    the next reply plays there."""
    from assistant.conversation import core as conversation_module
    from assistant.conversation import owner as owner_module
    from assistant.conversation import player as player_module
    from assistant.playback.speaker import Speaker
    from assistant.runtime.audio_stream import AudioConfig, AudioDeviceError
    from assistant.runtime.events import EventBus, Problem, ReplyFinished, State

    devices = {"output": False}
    opened: list[Speaker] = []

    class FakeSpeaker(Speaker):
        def start(self) -> None:
            self._opened_at = time.monotonic()
            if not devices["output"]:
                raise AudioDeviceError("cannot open the speaker (system default): no device")
            self._stream = _FakeStream(self)
            opened.append(self)

    monkeypatch.setattr(player_module, "Speaker", FakeSpeaker)
    monkeypatch.setattr(owner_module, "SPEAKER_REST_S", None)
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    chat = _FakeChat()
    voice = _OneChunkVoice()
    engines = SimpleNamespace(chat=chat, settings=SimpleNamespace(conversation=SimpleNamespace(language="en")),
                              voice_for=lambda language: voice)
    conv = conversation_module.Conversation(engines, bus, conversation_module.ConversationConfig(hands_free=False))
    conv.run_with(FakeSpeaker(AudioConfig(), 22050), voice)  # its stream has ended (never opened, here)

    def reply(turn: int):
        """A typed question, answered with one voiced piece; returns its ReplyFinished (it must not hang)."""
        conv.say_text(f"question {turn}")
        assert conv.wait_until_quiet(timeout=15), "the reply hung on a missing speaker"
        finished = [e for e in events if isinstance(e, ReplyFinished) and e.turn == conv.machine.turn]
        assert len(finished) == 1, events
        assert conv.state is State.IDLE
        return finished[0]

    def problems() -> list:
        return [e for e in events if isinstance(e, Problem)]

    assert reply(1).interrupted
    assert len(problems()) == 1 and "speaker" in problems()[0].message
    assert conv.speaker.buffer is not None and not conv.speaker.active
    assert reply(2).interrupted
    assert len(problems()) == 1, "a second report for the same outage"

    devices["output"] = True  # an output appears: the next reply plays there, in full
    played = reply(3)
    assert not played.interrupted and played.text == ANSWER and opened[-1].buffer.played >= 4410
    assert chat.history[-1] == (ANSWER, False)
    assert len(problems()) == 1

    opened[-1]._opened_at -= 10.0  # that one has worked for a while, and now goes too: a new outage
    opened[-1]._stream.end()
    assert not reply(4).interrupted  # nothing of it was heard there: it plays on the next default output
    assert len(problems()) == 2
    conv.stop()
    for speaker in opened:
        speaker.stop()
