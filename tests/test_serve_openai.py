"""`parley serve`'s HTTP API with the official `openai` client, against the real default models: all four endpoints,
malformed requests (bad JSON, a truncated WAV, a 100 MB upload, an unknown voice or language), the token beyond
localhost, and a client that goes away mid-stream."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
import wave

import openai
import pytest

from assistant.api.api_server import HttpApi
from assistant.api.engine_jobs import EngineJobs
from assistant.audio_files import read_audio

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def engines(loaded_engines):
    return loaded_engines


@pytest.fixture(scope="module")
def api(engines):
    server = HttpApi(EngineJobs(engines), "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(api):
    return openai.OpenAI(base_url=api.url, api_key="local", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def question_wav(spoken_question) -> str:
    return spoken_question


def test_models_lists_the_engines(client, engines):
    ids = [model.id for model in client.models.list()]
    assert engines.settings.models.stt in ids and engines.settings.models.llm in ids and "whisper-1" in ids


@pytest.mark.parametrize("response_format", ["json", "text", "verbose_json"])
def test_a_recording_is_transcribed(client, question_wav, response_format):
    with open(question_wav, "rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format=response_format,
                                                    language="en")
    text = result if isinstance(result, str) else result.text
    assert "capital of france" in text.lower()
    if response_format == "verbose_json":
        assert result.language == "en" and 1 < result.duration < 5


def test_speech_streams_a_wav_as_it_is_voiced(client):
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", response_format="wav",
                                                            input="Hello there. This is Parley speaking.") as response:
        pieces = list(response.iter_bytes())
    data = b"".join(pieces)
    assert data[:4] == b"RIFF" and len(data) > 24000  # over half a second of 24 kHz 16-bit audio
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (24000, 2, 1)


def test_chat_completions_stream_and_whole(client):
    stream = client.chat.completions.create(model="parley", stream=True, max_tokens=40,
                                            messages=[{"role": "user", "content": "What is the capital of France?"}])
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len(pieces) > 2 and "Paris" in "".join(pieces)
    whole = client.chat.completions.create(model="parley", max_tokens=40,
                                           messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert "Paris" in whole.choices[0].message.content


@pytest.fixture()
def no_leftover_uploads():
    """Every upload's temporary copy is gone when its request is answered, whatever became of it."""
    import glob
    import tempfile

    before = set(glob.glob(f"{tempfile.gettempdir()}/parley-upload-*"))
    yield
    assert set(glob.glob(f"{tempfile.gettempdir()}/parley-upload-*")) <= before


@pytest.mark.usefixtures("no_leftover_uploads")
@pytest.mark.parametrize("call, says", [
    (lambda c: c.audio.speech.create(model="tts-1", voice="nobody-here", input="hi"), "unknown voice 'nobody-here'"),
    (lambda c: c.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="mp3"),
     "Parley speaks wav or pcm"),
    (lambda c: c.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF\x24\x00\x00\x00WAVEfmt "),
                                             language="en"), "not a readable audio file"),
    (lambda c: c.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"x" * 100), language="xx"),
     "unknown language 'xx'"),
    (lambda c: c.chat.completions.create(model="parley", messages=[]), "'messages' must be a list"),
])
def test_bad_requests_get_a_clear_400(client, call, says):
    with pytest.raises(openai.BadRequestError) as error:
        call(client)
    assert says in error.value.message


def _post(api: HttpApi, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_bad_json_and_a_100_mb_upload_are_refused_in_openai_shape(api, client):
    status, body = _post(api, "/v1/chat/completions", b"{not json", {"Content-Type": "application/json"})
    assert status == 400 and body["error"]["message"] == "the request body is not valid JSON"
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as error:
        client.audio.transcriptions.create(model="whisper-1", file=("big.wav", b"\0" * (100 << 20)))
    assert error.value.status_code == 413 and error.value.code == "request_too_large"
    assert "over 25 MB" in error.value.message
    assert time.monotonic() - started < 30  # (a bound on a hang: refused before the body is read)


def test_a_client_that_goes_away_mid_stream_stops_the_work(api, engines):
    threads_before = {t.name for t in threading.enumerate()}
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    connection.request("POST", "/v1/chat/completions", json.dumps({
        "model": "parley", "stream": True, "max_tokens": 400,
        "messages": [{"role": "user", "content": "Tell me a very long story about a dragon."}]}),
        {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    response.read1(200)  # the first chunks came
    connection.close()  # and the client is gone
    deadline = time.monotonic() + 20
    while any(t.name == "api-job" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "api-job" for t in threading.enumerate()), "the job went on after its client left"
    assert {t.name for t in threading.enumerate()} <= threads_before | {"api-job"}


def test_a_transcription_waiting_for_the_floor_is_dropped_when_its_client_goes(api, engines, question_wav, caplog):
    """While the conversation holds the floor a recording waits; its client closing the connection ends the wait,
    and it is not transcribed for nobody."""
    import logging
    import socket

    boundary = "parley-test-boundary"
    with open(question_wav, "rb") as audio:
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.wav\"\r\n"
                f"Content-Type: audio/wav\r\n\r\n").encode() + audio.read() + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()
    engines.floor.hold(True)
    try:
        with caplog.at_level(logging.INFO, logger="assistant.api"):
            with socket.create_connection(("127.0.0.1", api.port), timeout=30) as client:
                client.sendall(head + body)
                _wait_for_line(caplog, "a transcription waits while the conversation has the floor")
            _wait_for_line(caplog, "went away while it waited: not transcribed")
    finally:
        engines.floor.hold(False)


def test_work_run_while_connected_returns_or_raises_as_itself_and_stops_when_the_client_goes():
    """The transcription route's worker-thread call: a JobError or ModelError it raises reaches the route's own
    handlers (not wrapped in an ExceptionGroup by the task group that watches the client, which made it a 500)."""
    import anyio

    from assistant.api.engine_jobs import JobError
    from assistant.api.openai_routes import _while_connected

    class Client:
        def __init__(self, gone: bool) -> None:
            self.gone = gone

        async def is_disconnected(self) -> bool:
            return self.gone

    def refuse(stopped):
        raise JobError(400, "no such thing", "language")

    def wait_for_the_client_to_go(stopped):
        deadline = time.monotonic() + 20
        while not stopped():
            assert time.monotonic() < deadline, "stopped() never turned True"
            time.sleep(0.01)
        return "stopped"

    async def run() -> None:
        assert await _while_connected(Client(False), lambda x, stopped: x * 2, 21) == 42
        with pytest.raises(JobError, match="no such thing"):
            await _while_connected(Client(False), refuse)
        assert await _while_connected(Client(True), wait_for_the_client_to_go) == "stopped"

    anyio.run(run)


def _wait_for_line(caplog, line: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while line not in caplog.text:
        assert time.monotonic() < deadline, f"never logged: {line!r}"
        time.sleep(0.05)


def test_beyond_localhost_a_token_is_needed(engines):
    server = HttpApi(EngineJobs(engines), "127.0.0.1", 0, token="sk-parley-test-token")
    server.start()
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0).models.list()
        assert openai.OpenAI(base_url=server.url, api_key="sk-parley-test-token").models.list().data
    finally:
        server.stop()


def test_a_port_taken_is_said_and_leaves_nothing_running(engines):
    """The app's servers start together or not at all: the Wyoming port taken stops the HTTP API just started, and
    the message says what to change."""
    import socket

    from assistant.api.api_server import ApiServers

    with socket.socket() as taken, socket.socket() as probe:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
        probe.close()
        with pytest.raises(OSError, match="another port"):
            ApiServers(engines, "127.0.0.1", taken.getsockname()[1]).start()
        servers = ApiServers(engines, "127.0.0.1", free, wyoming_port=taken.getsockname()[1])
        with pytest.raises(OSError, match="cannot serve Wyoming"):
            servers.start()
    with socket.socket() as again:  # the HTTP API's port is free again
        again.bind(("127.0.0.1", free))


def test_transcription_through_the_api_matches_parley_transcribe(client, question_wav, engines):
    from assistant.conversation.one_turn import transcribe_recording

    direct = transcribe_recording(engines, read_audio(question_wav), "en").text
    with open(question_wav, "rb") as audio:
        assert client.audio.transcriptions.create(model="whisper-1", file=audio, language="en").text == direct


def test_parley_serve_answers_and_stops_on_ctrl_c(default_store, tmp_path):
    """The command itself: it says where it listens, answers the openai client there, and quits when asked."""
    import os
    import re
    import signal
    import subprocess
    import sys

    from followed_log import wait_for_log

    out = tmp_path / "serve.out"
    with out.open("w", encoding="utf-8") as sink:
        serve = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", "0", "--wyoming",
                                  "--wyoming-port", "0"], stdout=sink, stderr=subprocess.STDOUT, text=True,
                                 env=dict(os.environ))
    try:
        found = wait_for_log(lambda: out.read_text(encoding="utf-8"), r"OpenAI-style API at (http://\S+)", proc=serve,
                             timeout=240)
        wait_for_log(lambda: out.read_text(encoding="utf-8"), r"Wyoming server at tcp://127\.0\.0\.1:\d+", proc=serve)
        assert re.match(r"http://127\.0\.0\.1:\d+/v1", found.group(1))
        assert openai.OpenAI(base_url=found.group(1), api_key="local").models.list().data
        serve.send_signal(signal.SIGINT)
        assert serve.wait(10) == 130
    finally:
        if serve.poll() is None:
            serve.kill()
