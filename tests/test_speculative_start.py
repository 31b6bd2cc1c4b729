"""The speculative start (assistant/conversation/): at the first pause of a hands-free turn the reply is generated
and voiced but held; it plays when the turn ends at that pause, and is dropped without a sound, and forgotten, when
the user goes on. The listening thread's side is driven frame by frame through a real Endpointer; the chat model,
the transcriber and the voice are fakes, the speaker a real one on a fake stream; the threads are the real ones."""

from __future__ import annotations

import time
from concurrent.futures import Future
from types import SimpleNamespace

import numpy as np
import pytest

from test_conversation_speaker import _FakeStream

REPLY = ["Paris is the capital, ", "and a lovely city."]


class FakeChat:
    """Streams REPLY; keeps the history as (role, text) and honours cancel() before each piece."""

    def __init__(self) -> None:
        self.history: list[tuple[str, str]] = []
        self.generation = 0

    def reply(self, text: str, language=None):
        self.generation += 1
        generation = self.generation
        self.history.append(("user", text))
        for piece in REPLY:
            if generation != self.generation:
                return
            yield piece

    def cancel(self) -> None:
        self.generation += 1

    def withdraw(self, text: str) -> None:
        self.cancel()
        if self.history and self.history[-1] == ("user", text):
            self.history.pop()

    def record_reply(self, text: str, interrupted: bool = False) -> None:
        self.history.append(("assistant", text))

    def prefill(self, *args) -> None:
        pass

    def describe(self) -> str:
        return "a fake chat model"


class FakeTranscriber:
    """Hears the words the test says were spoken so far."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def transcribe_soon(self, audio, language=None) -> Future:
        from assistant.transcribe.transcriber import Transcript

        future: Future = Future()
        future.set_result(Transcript(self.words[0], "en"))
        return future


class FakeVoice:
    """Voices each piece of text as 0.1 s of sound at once (a Synthesizer's interface), keeping what it said."""

    sample_rate = 22050
    voice_id = "fake"

    def __init__(self) -> None:
        self.voiced: list[str] = []

    def synthesize(self, text: str):
        from assistant.speak.voice import SpeechChunk

        self.voiced.append(text)
        yield SpeechChunk(text, np.full(2205, 0.3, np.float32), 22050)


@pytest.fixture()
def rig(monkeypatch):
    from assistant.conversation import core as conversation_module
    from assistant.conversation import owner as owner_module
    from assistant.conversation.listener import EARLY_TRANSCRIPT_MS, Listener
    from assistant.listen.end_of_turn import EndOfTurn, EndOfTurnConfig
    from assistant.playback.speaker import Speaker
    from assistant.runtime.audio_stream import AudioConfig
    from assistant.listen.endpointing import EndpointConfig, Endpointer
    from assistant.runtime.events import EventBus

    class FakeSpeaker(Speaker):
        def start(self) -> None:
            self._opened_at = time.monotonic()
            self._stream = _FakeStream(self)

    monkeypatch.setattr(owner_module, "SPEAKER_REST_S", None)  # (a resting speaker would reopen a real stream)
    words = ["What is the capital of France?"]
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    chat = FakeChat()
    voice = FakeVoice()
    engines = SimpleNamespace(chat=chat, settings=SimpleNamespace(conversation=SimpleNamespace(language="en")),
                              transcriber=lambda language: FakeTranscriber(words), voice_for=lambda language: voice)
    policy = EndOfTurnConfig(mode="fixed")  # ends a turn at 500 ms of silence; the first pause comes at 224 ms
    conversation = conversation_module.Conversation(engines, bus, conversation_module.ConversationConfig(end_of_turn=policy))
    listener = Listener(conversation.owner, None, None, conversation.owner.post)  # (no microphone: frames are pushed here)
    listener.end_of_turn = EndOfTurn(policy)
    speaker = FakeSpeaker(AudioConfig(), 22050)
    speaker.start()
    conversation.run_with(speaker, voice, listener)
    endpointer = Endpointer(policy.endpoint_config(EndpointConfig(), EARLY_TRANSCRIPT_MS))
    frames = iter(range(10**6))

    def push(probability: float, count: int) -> None:
        """`count` frames of the listening thread, voiced (0.9) or silent (0.0)."""
        for _ in range(count):
            listener.on_frame(endpointer, np.zeros(512, np.float32), probability, next(frames))

    state = SimpleNamespace(conversation=conversation, chat=chat, events=events, words=words, push=push, voice=voice,
                            listener=listener)
    yield state
    conversation.stop(timeout=2)


def _wait(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def _names(events) -> list[str]:
    return [type(event).__name__ for event in events]


def _held(conversation) -> bool:
    """The reply is voiced (both pieces) and held back."""
    track, reply = conversation.machine.reply, conversation.owner._reply
    return track is not None and track.held and reply is not None and len(reply.pieces) == 2


def test_a_turn_that_ends_at_its_pause_plays_the_reply_begun_there(rig):
    rig.push(0.9, 20)
    rig.push(0.0, 8)  # 256 ms of silence: the pause, where the reply begins
    _wait(lambda: _held(rig.conversation), "the reply voiced and held")
    assert rig.conversation.speaker.buffer.queued == 0 and rig.conversation.speaker.buffer.played == 0
    assert "UserSaid" not in _names(rig.events) and "ReplyText" not in _names(rig.events)
    rig.push(0.0, 8)  # 512 ms: the turn is over
    _wait(lambda: "ReplyFinished" in _names(rig.events), "the reply played out")
    said = next(event for event in rig.events if type(event).__name__ == "UserSaid")
    assert said.text == "What is the capital of France?" and said.ended_by == "silence"
    names = _names(rig.events)
    assert names.index("UserSaid") < names.index("ReplyText") < names.index("ReplyFinished")
    assert "".join(event.delta for event in rig.events if type(event).__name__ == "ReplyText") == "".join(REPLY)
    assert rig.conversation.speaker.buffer.played >= 2 * 2205
    assert rig.chat.history == [("user", "What is the capital of France?"), ("assistant", "".join(REPLY).strip())]
    timings = next(event for event in rig.events if type(event).__name__ == "TurnTimings").timings_ms
    assert "turn_end" in timings


def test_a_turn_that_goes_on_drops_the_reply_without_a_sound(rig):
    rig.words[0] = "What's the weather like in"
    rig.push(0.9, 20)
    rig.push(0.0, 10)  # a pause to think: the reply to the half question is made and held
    _wait(lambda: _held(rig.conversation), "the reply voiced and held")
    rig.words[0] = "What's the weather like in Paris tomorrow?"
    rig.push(0.9, 15)  # the user goes on
    _wait(lambda: rig.chat.history == [], "the half question taken back out of the history")
    assert rig.conversation.speaker.buffer.played == 0 and rig.conversation.speaker.buffer.queued == 0
    assert "UserSaid" not in _names(rig.events) and "ReplyText" not in _names(rig.events)
    rig.push(0.0, 16)  # and stops: the whole question is answered, once
    _wait(lambda: "ReplyFinished" in _names(rig.events), "the reply to the whole question")
    said = [event for event in rig.events if type(event).__name__ == "UserSaid"]
    assert [event.text for event in said] == ["What's the weather like in Paris tomorrow?"]
    assert rig.chat.history == [("user", "What's the weather like in Paris tomorrow?"),
                                ("assistant", "".join(REPLY).strip())]
    assert rig.voice.voiced.count(REPLY[0].strip()) == 2  # the dropped reply had been voiced too


def test_a_pause_with_no_words_answers_nothing(rig):
    rig.words[0] = ""
    rig.push(0.9, 20)
    rig.push(0.0, 16)
    assert rig.conversation.wait_until_quiet(timeout=10)
    assert rig.conversation.state.value == "listening"
    assert "UserSaid" not in _names(rig.events) and rig.chat.history == []
    assert rig.conversation.owner._reply is None


def test_stopping_while_a_reply_is_held_quits_and_plays_nothing(rig):
    rig.push(0.9, 20)
    rig.push(0.0, 8)
    _wait(lambda: _held(rig.conversation), "the reply voiced and held")
    threads = [rig.conversation.owner.thread, rig.conversation.owner.worker.thread]
    rig.conversation.stop(timeout=2)
    for thread in threads:
        thread.join(timeout=2)
        assert not thread.is_alive(), thread.name
    assert rig.conversation.speaker.buffer.played == 0 and "UserSaid" not in _names(rig.events)
    assert rig.chat.history == []
