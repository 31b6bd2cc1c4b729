"""A voice on a server (assistant/speak/server_voice.py), against a real one: fastkokoro, an OpenAI-compatible Kokoro
server (tests/rig/servers.py), run on the pack's own Kokoro files. The server reads while it answers; when it fails,
the local voice reads the reply and the user is told once."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.audio_files import resample
from assistant.conversation.engines import Engines
from assistant.runtime.settings import Settings, VoiceSettings
from assistant.servers.server_address import ServerUnavailable
from assistant.speak.server_voice import ServerVoice
from benchmarks.languages import error_rate
from rig.servers import free_port
from rig.servers import voice_server as start_voice_server

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def voice_server(tmp_path_factory, default_store):
    """fastkokoro on a free local port with the pack's Kokoro model and styles (no warm-up: the tests are the first)."""
    server = start_voice_server(tmp_path_factory.mktemp("voice-server"), default_store.get("kokoro").path)
    yield server
    server.stop()


def heard(engines: Engines, chunks, language: str) -> str:
    audio = resample(np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate, 16000)
    return engines.transcriber(language).transcribe(audio.astype(np.float32), language).text


@pytest.mark.parametrize("language, sentence, voice", [
    ("en", "What is the capital of France?", "af_heart"), ("zh", "今天北京的天气很好。", "zf_xiaoxiao")])
def test_the_server_reads_english_and_mandarin_with_kokoros_own_styles(voice_server, default_store, language,
                                                                      sentence, voice):
    engines = Engines(Settings(voice=VoiceSettings(server_url=voice_server.url)), default_store)
    notices: list[str] = []
    engines.on_server_notice = notices.append
    try:
        reader = engines.voice_for(language)
        assert reader.voice_id == f"{voice} at {voice_server.url}"
        chunks = list(reader.synthesize(sentence))
        assert chunks[0].sample_rate == 24000 and not notices
        assert error_rate([(sentence, heard(engines, chunks, language))]) <= 0.2
        assert engines.voice_for("ko").voice_id == "kokoro"  # no server voice for Korean: read here
    finally:
        engines.close()


def test_when_the_server_fails_the_local_voice_reads_and_the_user_is_told_once(voice_server, default_store):
    engines = Engines(Settings(voice=VoiceSettings(server_url=voice_server.url, server_voice="no_such_voice")),
                      default_store)
    notices: list[str] = []
    engines.on_server_notice = notices.append
    try:
        reader = engines.voice_for("en")
        for _ in range(2):
            chunks = list(reader.synthesize("Good morning."))
            assert chunks and chunks[0].sample_rate == 22050  # Piper's: the local voice read it
        assert len(notices) == 1, notices
        assert notices[0].startswith(f"the voice server at {voice_server.url} could not read"), notices
        assert "piper-en_US-joe-medium on this computer" in notices[0]
    finally:
        engines.close()


def test_an_unreachable_server_says_so():
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    voice = ServerVoice(nobody, "af_heart", "en", key_reader=lambda: None)
    with pytest.raises(ServerUnavailable, match="the voice server at .* is not answering"):
        list(voice.synthesize("Hello."))
