"""The conversation goes first: it holds the engines' floor through a turn, and the API's work beside it (on the
same loaded models) waits for the floor before each piece: a recording, a sentence, a token. A completion paused
for the conversation goes on from its words; on llama.cpp in a slot of its own."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.api.engine_jobs import EngineJobs
from assistant.runtime.floor import Floor

# How long a piece of work must stay still while the floor is held. Not a measure of speed: with the floor held no
# piece may come at all, however long one waits; without the pause the next token comes within ~60 ms here.
STILL_S = 1.0


def test_the_floor_waits_until_free_and_gives_up_when_its_work_is_no_longer_wanted():
    floor = Floor()
    assert floor.wait_free() and not floor.held
    floor.hold(True)
    assert floor.held
    gone = threading.Event()
    result = []
    waiter = threading.Thread(target=lambda: result.append(floor.wait_free(gone.is_set)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive(), "wait_free returned while the floor was held"
    floor.hold(False)
    waiter.join(5)
    assert result == [True]
    floor.hold(True)
    gone.set()
    assert floor.wait_free(gone.is_set) is False


def test_the_conversation_holds_the_floor_while_it_answers_and_leaves_it_after(monkeypatch):
    """A typed turn, on a conversation of fakes (no models): the floor is held when the reply is asked for and
    while it is voiced, and free once the turn is over."""
    from test_conversation_speaker import _FakeChat, _FakeStream, _OneChunkVoice

    from assistant.conversation import core as conversation_module
    from assistant.conversation import owner as owner_module
    from assistant.conversation import player as player_module
    from assistant.playback.speaker import Speaker
    from assistant.runtime.audio_stream import AudioConfig
    from assistant.runtime.events import EventBus

    class PlayingSpeaker(Speaker):
        def start(self) -> None:
            self._opened_at = time.monotonic()
            self._stream = _FakeStream(self)

    floor = Floor()
    seen: dict[str, bool] = {}

    class Chat(_FakeChat):
        def reply(self, text: str, language=None):
            seen["asked"] = floor.held
            yield from super().reply(text, language)

    class Voice(_OneChunkVoice):
        def synthesize(self, text: str):
            seen["voiced"] = floor.held
            yield from super().synthesize(text)

    monkeypatch.setattr(player_module, "Speaker", PlayingSpeaker)
    monkeypatch.setattr(owner_module, "SPEAKER_REST_S", None)
    voice = Voice()
    engines = SimpleNamespace(chat=Chat(), floor=floor, voice_for=lambda language: voice,
                              settings=SimpleNamespace(conversation=SimpleNamespace(language="en")))
    conversation = conversation_module.Conversation(engines, EventBus(),
                                                    conversation_module.ConversationConfig(hands_free=False))
    speaker = PlayingSpeaker(AudioConfig(), 22050)
    speaker.start()
    conversation.run_with(speaker, voice)
    try:
        assert not floor.held
        conversation.say_text("What is the capital of France?")
        assert conversation.wait_until_quiet(timeout=15)
        assert seen == {"asked": True, "voiced": True}
        assert not floor.held, "the floor stayed held after the turn"
    finally:
        conversation.stop()
        speaker.stop()


# --- the API's work on real engines --------------------------------------------------------------------------------

@pytest.fixture
def jobs(loaded_engines):
    loaded_engines.floor.hold(False)
    yield EngineJobs(loaded_engines)
    loaded_engines.floor.hold(False)


def _in_thread(work) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_an_api_completion_pauses_for_the_conversation_and_goes_on_from_its_words(jobs, loaded_engines):
    messages = [{"role": "user", "content": "Count from one to ten in words, separated by commas."}]
    straight: list[str] = []
    jobs.complete(messages, 40, straight.append, lambda: False)

    pieces: list[str] = []
    paused = threading.Event()

    def out(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:  # a person starts talking to Parley
            loaded_engines.floor.hold(True)
            paused.set()

    job = _in_thread(lambda: jobs.complete(messages, 40, out, lambda: False))
    assert paused.wait(60)
    job.join(STILL_S)
    assert job.is_alive() and len(pieces) == 3, f"the completion went on while the floor was held: {pieces}"
    # Meanwhile the conversation's own reply is answered by the same model.
    # (No tools offered: the 0.5B model now and then answers a plain question with a call, and the reply is no words.)
    said = list(loaded_engines.chat.reply("What color is the sky? One word.", offer_tools=False))
    reply = "".join(p for p in said if isinstance(p, str))
    assert reply.strip(), f"no words in the conversation's reply: {said}"
    loaded_engines.chat.record_reply(reply)
    loaded_engines.floor.hold(False)
    job.join(60)
    assert not job.is_alive()
    assert "".join(pieces) == "".join(straight), "the resumed completion is not the one it would have been"
    words = "".join(pieces).lower()
    assert words.index("one") < words.index("five") < words.index("ten")


def test_api_speech_waits_between_sentences_while_the_conversation_holds_the_floor(jobs, loaded_engines):
    text = "The first sentence is short. The second one follows it. The third one ends the text."
    voice = jobs.voice("", text)
    chunks: list[np.ndarray] = []
    paused = threading.Event()

    def out(audio: np.ndarray) -> None:
        chunks.append(audio)
        if len(chunks) == 1:
            loaded_engines.floor.hold(True)
            paused.set()

    job = _in_thread(lambda: jobs.speak(text, voice, out, lambda: False))
    assert paused.wait(60)
    job.join(STILL_S)
    assert job.is_alive() and len(chunks) == 1, "a sentence was voiced while the floor was held"
    loaded_engines.floor.hold(False)
    job.join(60)
    assert not job.is_alive() and len(chunks) == 3


def test_api_speech_stops_waiting_when_its_client_goes(jobs, loaded_engines):
    gone = threading.Event()
    chunks: list[np.ndarray] = []
    loaded_engines.floor.hold(True)
    job = _in_thread(lambda: jobs.speak("One sentence.", jobs.voice("", "One sentence."), chunks.append, gone.is_set))
    job.join(0.3)
    assert job.is_alive()
    gone.set()
    job.join(5)
    assert not job.is_alive() and not chunks


def test_an_api_transcription_waits_for_the_floor(jobs, loaded_engines, spoken_question):
    from assistant.audio_files import read_audio

    audio = read_audio(spoken_question)
    heard = []
    loaded_engines.floor.hold(True)
    job = _in_thread(lambda: heard.append(jobs.transcribe(audio, "en")))
    job.join(STILL_S)
    assert job.is_alive() and not heard, "the recording was transcribed while the floor was held"
    loaded_engines.floor.hold(False)
    job.join(60)
    assert "capital" in heard[0].text.lower()


def test_with_two_slots_api_completions_leave_the_conversations_cached_prompt_alone(default_store, tmp_path):
    """Beside the app the chat model has a second slot: the API's completions go there, and the conversation's
    slot still holds its prompt (its next reply reads only what is new)."""
    from assistant.chat.llama_cpp_engine import LlamaCppChat, _UnixHttpConnection
    from assistant.chat.prompt import ChatConfig
    from assistant.conversation.engines import installed_model
    from assistant.runtime.settings import Settings

    model = installed_model(default_store, Settings().models.llm, "llm")
    chat = LlamaCppChat(model.gguf_file, ChatConfig(), model.id, slots=2, saved_prompts_dir=tmp_path)

    def slots() -> list[dict]:
        connection = _UnixHttpConnection(str(chat._socket_dir / "llama.sock"), 5)
        try:
            connection.request("GET", "/slots")
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    try:
        chat.start_loading().result()
        assert "".join(p for p in chat.reply("Name three colors.") if isinstance(p, str)).strip()
        conversation = slots()[0]
        assert conversation["n_prompt_tokens"] > 0
        assert "".join(chat.complete([{"role": "user", "content": "Say hello."}], 8)).strip()
        after = slots()
        assert after[0]["id_task"] == conversation["id_task"], "the API's completion ran in the conversation's slot"
        assert after[0]["n_prompt_tokens"] == conversation["n_prompt_tokens"]
        assert after[1]["id_task"] > conversation["id_task"]
    finally:
        chat.close(2)
