"""The server engine against a real OpenAI-compatible server: llama.cpp's own HTTP server, started in-process
through the xllamacpp wheel on 127.0.0.1 (a free port), with the default chat model (Qwen2.5 Coder 0.5B GGUF)
and an API key. Streaming, history, Korean, cancelling (the server stops generating), the connection test,
and the fallback to the real llama.cpp engine when the server is down. Failures: test_chat_server_errors.py."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from fake_chat_server import closed_port_url

from assistant.chat import ChatConfig, ChatHistory
from assistant.chat.fallback import FallbackChat
from assistant.servers.server_address import ServerTimeouts, ServerUnavailable
from assistant.chat.server_engine import ServerChat, test_connection

pytestmark = pytest.mark.timeout(180)  # a bound on a hang: each test takes seconds on two cores

MODEL_ID = "qwen2.5-coder-0.5b-instruct"
KEY = "sk-parley-llama-test-5f2c"
HANG_BOUND_S = 10.0
# Patient: these tests are about answers, not timeouts, and run on two cores that other tests keep busy
# (a first token measured 15 s there). The timeouts' own tests use a server of their own.
PATIENT = ServerTimeouts(connect=3, first_token=90, between_chunks=60)


@pytest.fixture(scope="module")
def gguf(default_store):
    model = default_store.get(MODEL_ID)
    assert model is not None and model.gguf_file is not None, f"{MODEL_ID} is not installed: run `make models`"
    return model.gguf_file


@pytest.fixture(scope="module")
def llama_server(gguf):
    """llama.cpp's server on a free local port, one slot, answering only with the API key."""
    import xllamacpp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = 2048
    params.n_parallel = 1
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.verbosity = -1
    params.api_keys = [KEY]
    params.endpoint_slots = True  # to see whether it is still generating
    params.endpoint_metrics = True
    server = xllamacpp.Server(params)
    yield f"http://127.0.0.1:{port}"
    del server  # its destructor stops llama.cpp's loop


def get_json(base: str, path: str):
    address = base.removeprefix("http://")
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {KEY}"})
        body = connection.getresponse().read().decode()
    finally:
        connection.close()
    if path == "/metrics":
        return {line.split()[0]: float(line.split()[1]) for line in body.splitlines() if line and line[0] != "#"}
    return json.loads(body)


def server_chat(url: str, history: ChatHistory | None = None, max_reply_tokens: int = 48) -> ServerChat:
    return ServerChat(url, "", ChatConfig(max_reply_tokens=max_reply_tokens), history, key_reader=lambda: KEY,
                      timeouts=PATIENT)


def test_a_reply_streams_from_the_server(llama_server):
    engine = server_chat(llama_server)
    engine.start_loading().result(timeout=HANG_BOUND_S)
    deltas = list(engine.reply("What is the capital of France? Answer in one short sentence."))
    engine.record_reply("".join(deltas))
    assert len(deltas) > 1  # streamed, not one block
    assert "Paris" in "".join(deltas)
    assert engine.describe() == f"{MODEL_ID}/model.gguf on the server at {llama_server}/v1"
    assert engine.last_timings is not None and engine.last_timings.tokens >= len(deltas)
    assert [m.role for m in engine.history] == ["user", "assistant"]


def test_a_two_turn_conversation_is_answered_from_its_history(llama_server):
    engine = server_chat(llama_server)
    engine.record_reply("".join(engine.reply("My name is Alice. Please remember it.")))
    second = "".join(engine.reply("What is my name?"))
    assert "Alice" in second


def test_a_korean_question_is_answered_in_korean(llama_server):
    engine = server_chat(llama_server)
    reply = "".join(engine.reply("한국의 수도는 어디인가요?", "ko"))
    assert "서울" in reply


def test_cancel_mid_reply_closes_the_stream_and_the_server_stops_generating(llama_server):
    engine = server_chat(llama_server, max_reply_tokens=400)
    predicted_before = get_json(llama_server, "/metrics")["llamacpp:tokens_predicted_total"]
    words: list[str] = []
    deltas = engine.reply("Count from 1 to 300, one number per line.")
    thread = threading.Thread(target=lambda: words.extend(deltas))
    thread.start()
    deadline = time.monotonic() + 60
    while len(words) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(words) >= 6
    engine.cancel()
    thread.join(HANG_BOUND_S)
    assert not thread.is_alive()
    seen = len(words)

    deadline = time.monotonic() + HANG_BOUND_S  # the server notices the closed connection and frees its slot
    while get_json(llama_server, "/slots")[0]["is_processing"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not get_json(llama_server, "/slots")[0]["is_processing"]
    predicted = get_json(llama_server, "/metrics")["llamacpp:tokens_predicted_total"] - predicted_before
    assert predicted <= seen + 8  # it stopped about where we did: far from the 400 tokens it was allowed
    time.sleep(0.5)
    assert get_json(llama_server, "/metrics")["llamacpp:tokens_predicted_total"] - predicted_before == predicted
    assert len(words) == seen

    # The next turn is answered at once, and the cancelled question stays in the history.
    engine.record_reply("".join(words), interrupted=True)
    assert "".join(engine.reply("Thanks, that is enough. Say OK.")).strip()
    assert [m.role for m in engine.history] == ["user", "assistant", "user"]


def test_a_reply_begun_before_the_turn_was_over_is_withdrawn_with_its_question(llama_server):
    """The conversation's speculative start: the user went on, so the half question and its reply are forgotten."""
    engine = server_chat(llama_server)
    engine.record_reply("".join(engine.reply("My name is Alice.")))
    deltas = engine.reply("What's the weather like in")
    next(deltas)  # begun (before its first token, the question waits in ServerChat, not in the history)
    engine.withdraw("What's the weather like in")
    deltas.close()  # (the caller drops what was in flight)
    assert [(m.role, m.content) for m in engine.history][-1][0] == "assistant"
    assert "".join(engine.reply("What is my name?"))
    assert [m.role for m in engine.history] == ["user", "assistant", "user"]


def test_the_connection_test_lists_and_asks_the_model(llama_server):
    line = test_connection(f"{llama_server}/v1", "", KEY, PATIENT)
    assert line.startswith(f"{llama_server}/v1: 1 model; {MODEL_ID}/model.gguf answered in ")


def test_a_wrong_key_is_refused_by_the_real_server(llama_server):
    with pytest.raises(ServerUnavailable, match=r"refused the API key \(HTTP 401") as caught:
        test_connection(llama_server, "", "sk-wrong", PATIENT)
    assert "sk-wrong" not in str(caught.value)
    with pytest.raises(ServerUnavailable, match=r"needs an API key \(HTTP 401"):
        ServerChat(llama_server, key_reader=lambda: None, timeouts=PATIENT).reply("Hi")


def test_the_local_llama_cpp_engine_answers_when_the_server_is_down(gguf):
    from assistant.chat.llama_cpp_engine import LlamaCppChat

    history, notes = ChatHistory(), []
    config = ChatConfig(max_reply_tokens=48)
    server = ServerChat(closed_port_url(), "", config, history, key_reader=lambda: KEY)
    local = LlamaCppChat(gguf, config, MODEL_ID, history)
    chat = FallbackChat(server, local, notes.append)
    try:
        reply = "".join(chat.reply("What is the capital of France? Answer in one short sentence."))
        chat.record_reply(reply)
        assert "Paris" in reply
        assert notes == [f"The server at {server.url} is not answering (connection refused); "
                         f"answering with {MODEL_ID} on llama.cpp."]
        assert chat.describe() == f"{MODEL_ID} on llama.cpp"
        assert [m.role for m in chat.history] == ["user", "assistant"]
    finally:
        chat.close(timeout=10)


def test_with_the_server_up_the_local_model_is_not_loaded(llama_server, gguf):
    from assistant.chat.llama_cpp_engine import LlamaCppChat

    history, notes = ChatHistory(), []
    config = ChatConfig(max_reply_tokens=24)
    local = LlamaCppChat(gguf, config, MODEL_ID, history)
    server = ServerChat(llama_server, "", config, history, key_reader=lambda: KEY, timeouts=PATIENT)
    chat = FallbackChat(server, local, notes.append)
    try:
        chat.start_loading().result(timeout=HANG_BOUND_S)
        assert "".join(chat.reply("Say hello.")).strip()
        assert notes == [] and chat.describe().endswith(f"on the server at {llama_server}/v1")
        assert local._server is None  # never loaded: its memory is spared while the server answers
    finally:
        chat.close(timeout=10)


def test_tools_are_passed_to_the_server_and_its_call_comes_back(llama_server, tmp_path):
    """The server engine offers Parley's tools as OpenAI-style functions; the call comes back (here as text in the
    model's own way, as the small model writes it), is run, and the result is said."""
    from assistant.conversation.answer import answer
    from assistant.tools.memory import MemoryBook
    from assistant.tools.timers import TimerBook
    from assistant.tools.toolbox import Toolbox

    toolbox = Toolbox(TimerBook(tmp_path / "t.json"), MemoryBook(tmp_path / "m.json"))
    engine = server_chat(llama_server)
    engine.use_tools(toolbox.specs, toolbox.prompt_text)
    try:
        said = "".join(answer(engine, toolbox, "Could you multiply 48 by 365 for me?", None, "en"))
    finally:
        toolbox.close()
    assert said == "48 times 365 is 17,520."
