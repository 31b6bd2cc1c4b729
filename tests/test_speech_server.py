"""Speech to text on a server (assistant/transcribe/server_speech.py), against a real one: faster-whisper-server, an
OpenAI-compatible transcription server (tests/rig/servers.py), run on the pack's own Whisper tiny.en. The server
hears while it answers; when it fails, the local model hears the turn and the user is told once."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.audio_files import read_audio
from assistant.conversation.engines import Engines
from assistant.runtime.settings import Settings, SpeechToTextSettings
from assistant.servers.server_address import ServerUnavailable
from assistant.transcribe.server_speech import ServerSpeech
from rig.servers import speech_server as start_speech_server

QUESTION = Path(__file__).resolve().parent / "data" / "question-whisper-repeats.wav"  # "Tell me about dogs."

pytestmark = pytest.mark.timeout(300)


@pytest.fixture()
def speech_server(tmp_path, default_store):
    """faster-whisper-server on a free local port, serving the pack's Whisper tiny.en as "whisper-1"."""
    server = start_speech_server(tmp_path, default_store.get("whisper-tiny.en").path / "ct2")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def question():
    return read_audio(QUESTION)  # (16 kHz mono float32)


def _words(text: str) -> list[str]:
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace()).split()


def test_the_server_hears_the_turn_and_the_local_model_is_never_loaded(speech_server, default_store, question):
    engines = Engines(Settings(speech_to_text=SpeechToTextSettings(server_url=speech_server.url)), default_store)
    try:
        transcriber = engines.transcriber("en")
        transcript = transcriber.transcribe(question, "en")
        assert _words(transcript.text) == ["tell", "me", "about", "dogs"], transcript
        assert transcript.language == "en" and transcriber.engine is None  # (nothing loaded here)
    finally:
        engines.close()


def test_when_the_server_fails_mid_conversation_the_local_model_hears_and_the_user_is_told_once(
        speech_server, default_store, question):
    engines = Engines(Settings(speech_to_text=SpeechToTextSettings(server_url=speech_server.url)), default_store)
    notices: list[str] = []
    engines.on_server_notice = notices.append
    try:
        transcriber = engines.transcriber("en")
        assert _words(transcriber.transcribe(question, "en").text) == ["tell", "me", "about", "dogs"]
        speech_server.stop()
        for _ in range(2):
            assert _words(transcriber.transcribe(question, "en").text) == ["tell", "me", "about", "dogs"]
        assert transcriber.engine == "ct2" and len(notices) == 1, notices
        assert notices[0].startswith(f"the speech-to-text server at {speech_server.url} is not answering"), notices
        assert "whisper-tiny.en on this computer" in notices[0]
    finally:
        engines.close()


def test_a_server_that_refuses_says_why(speech_server, question):
    server = ServerSpeech(speech_server.url, model="no-such-model", key_reader=lambda: None)
    with pytest.raises(ServerUnavailable, match=r"could not transcribe the audio \(HTTP 400.*no-such-model"):
        server.transcribe(question, "en")


@pytest.mark.parametrize("url, words", [
    ("ftp://gpu-box/v1", "is not a server address; write it like http://localhost:8000/v1"),
    ("http://user:secret@gpu-box:8000/v1", "PARLEY_STT_SERVER_KEY"),
])
def test_an_address_that_is_not_one_says_how_to_write_it(url, words):
    with pytest.raises(ServerUnavailable, match="the speech-to-text server at") as raised:
        ServerSpeech(url)
    assert words in str(raised.value) and "secret" not in str(raised.value)


def test_a_turn_goes_up_as_16_bit_wav_in_a_form_with_both_model_fields():
    import numpy as np

    from assistant.transcribe.server_speech import _form, _wav

    wav = _wav(np.array([0.0, 0.5, -1.5], np.float32))
    assert wav[:4] == b"RIFF" and wav[-6:] == np.array([0, 16383, -32767], "<i2").tobytes()
    body, content_type = _form({"model": "m", "model_name": "m"}, wav)
    boundary = content_type.split("boundary=")[1]
    assert body.count(f"--{boundary}".encode()) == 4 and body.endswith(f"--{boundary}--\r\n".encode())
    assert b'name="model"\r\n\r\nm\r\n' in body and b'name="model_name"\r\n\r\nm\r\n' in body
