"""The server engine against servers that fail, and the fallback to the local engine: a small HTTP server of
the tests' own (real sockets, real HTTP) that refuses, stalls, rejects the key, has no such model, crashes,
sends nonsense or dies mid-stream. Each failure is a ServerUnavailable naming the address and never the key,
and FallbackChat answers those turns locally and says so once. No model runs here (see test_chat_server.py)."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time

import pytest

from fake_chat_server import (
    FakeLocal,
    self_signed_certificate,
    FakeServer,
    FullBacklog,
    SilentListener,
    chunk,
    closed_port_url,
    never_answer,
    raw,
    sse,
    status,
    stream,
    then_die,
    then_stall,
)

from assistant.chat import ChatConfig, ChatHistory
from assistant.chat.fallback import FallbackChat
from assistant.servers.server_address import ServerAddress, ServerTimeouts, ServerUnavailable
from assistant.chat.server_engine import ServerChat, estimate_tokens, test_connection

pytestmark = pytest.mark.timeout(30)  # every test here ends in seconds; this bounds a hang

KEY = "sk-parley-SECRET-0123456789"
QUICK = ServerTimeouts(connect=1.0, first_token=1.0, between_chunks=1.0)  # failures in a second, not 15
HANG_BOUND_S = 5.0  # a stalled server is given up on within this (QUICK's waits, and slack for a busy machine)


@pytest.fixture()
def fake():
    server = FakeServer()
    yield server
    server.close()


def server_chat(url: str, key: str | None = KEY, history: ChatHistory | None = None, model: str = "",
                timeouts: ServerTimeouts = QUICK) -> ServerChat:
    return ServerChat(url, model, ChatConfig(max_reply_tokens=32), history, key_reader=lambda: key, timeouts=timeouts)


def posts(fake: FakeServer) -> int:
    return sum(1 for method, path, _, _ in fake.requests if method == "POST")


# --- every way a server can fail before the first token -----------------------------------------------------

FAILURES = {
    # kind: (how to set it up, a phrase the message must have)
    "refused": ("closed port", "connection refused"),
    "no connection": ("full backlog", "no connection within 1 s"),
    "accepts, never reads": ("silent listener", "no reply within 1 s"),
    "reads, never answers": (never_answer, "no reply within 1 s"),
    "no such name": ("dns", "could not be found"),
    "needs a key": (status(401, "Invalid API Key"), "needs an API key (HTTP 401"),
    "wrong key": (status(401, "Invalid API Key"), "refused the API key (HTTP 401"),
    "forbidden": (status(403, "forbidden"), "refused the API key (HTTP 403"),
    "no such model": (status(404, 'model "fake-model" not found, try pulling it first'), "has no model 'fake-model'"),
    "server error": (status(500, "CUDA out of memory"), "failed (HTTP 500: CUDA out of memory)"),
    "malformed SSE": (raw(b"data: {\"choices\": [\n\n"), "sent something Parley can't read"),
    "not SSE at all": (raw(b"<html><body>Welcome to nginx</body></html>\n", "text/html"),
                       "sent something Parley can't read"),
    "error event": (raw(sse({"error": {"message": "the model crashed"}})), "reported an error (the model crashed)"),
    "closes before answering": (then_die([], "close"), "closed the connection without answering"),
    "resets before answering": (then_die([], "reset"), "closed the connection without answering"),
    "https to plain http": ("https", "failed to set up an encrypted connection"),
}


@pytest.fixture(params=list(FAILURES))
def failing(request, fake):
    """(the server's address, the key to send, the phrase expected in the message) for each kind of failure."""
    setup, phrase = FAILURES[request.param]
    key = None if request.param == "needs a key" else KEY
    closers = []
    if setup == "closed port":
        url = closed_port_url()
    elif setup == "full backlog":
        backlog = FullBacklog()
        closers.append(backlog.close)
        url = backlog.url
    elif setup == "silent listener":
        listener = SilentListener()
        closers.append(listener.close)
        url = listener.url
    elif setup == "https":
        url = fake.url.replace("http://", "https://")
    elif setup == "dns":
        url = "http://parley-test-server.invalid:8080/v1"  # .invalid never resolves (RFC 6761)
    else:
        fake.chat = setup
        url = fake.url
    yield url, key, phrase
    for close in closers:
        close()


def test_each_failure_is_server_unavailable_naming_the_address_and_never_the_key(failing, caplog):
    url, key, phrase = failing
    caplog.set_level(logging.DEBUG)
    engine = server_chat(url, key)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable) as caught:
        engine.reply("Hello?")
    assert time.monotonic() - started < HANG_BOUND_S
    message = str(caught.value)
    assert phrase in message
    assert engine.url in message and caught.value.url == engine.url
    assert KEY not in message and KEY not in repr(caught.value) and KEY not in caplog.text and KEY not in repr(engine)
    assert engine.history == []  # a turn the server never answered leaves no trace: another engine answers it


def test_fallback_answers_each_failed_turn_locally_and_says_so_once(failing):
    url, key, phrase = failing
    history = ChatHistory()
    notes: list[str] = []
    chat = FallbackChat(server_chat(url, key, history), FakeLocal(history), notes.append)
    reply = "".join(chat.reply("Hello?"))
    chat.record_reply(reply)
    assert reply == "Local answer."
    assert len(notes) == 1
    assert notes[0].startswith(f"The server at {url} ") and phrase in notes[0]
    assert notes[0].endswith("; answering with fake-local on fake.") and KEY not in notes[0]
    assert [(m.role, m.content) for m in chat.history] == [("user", "Hello?"), ("assistant", "Local answer.")]
    assert chat.describe() == "fake-local on fake"


# --- failures in the middle of a reply ----------------------------------------------------------------------

MID_REPLY = {
    "connection closed": (then_die(["Hello", " there"], "close"), "stopped in the middle of the reply"),
    "connection reset": (then_die(["Hello", " there"], "reset"), "stopped in the middle of the reply"),
    "stalled": (then_stall(["Hello", " there"]), "stopped in the middle of the reply (nothing for 1 s)"),
    "error event": (raw(sse(chunk("Hello")) + sse(chunk(" there")) + sse({"error": {"message": "overloaded"}})),
                    "reported an error (overloaded)"),
    "garbage": (raw(sse(chunk("Hello")) + sse(chunk(" there")) + b"data: {{{\n\n"), "sent something Parley can't read"),
}


@pytest.mark.parametrize("kind", list(MID_REPLY))
def test_a_server_failing_mid_reply_raises_after_the_words_it_sent(fake, kind):
    fake.chat, phrase = MID_REPLY[kind]
    engine = server_chat(fake.url)
    words = []
    started = time.monotonic()
    with pytest.raises(ServerUnavailable) as caught:
        for word in engine.reply("Hello?"):
            words.append(word)
    assert time.monotonic() - started < HANG_BOUND_S
    assert words == ["Hello", " there"]
    assert phrase in str(caught.value) and fake.url in str(caught.value)


@pytest.mark.parametrize("kind", list(MID_REPLY))
def test_fallback_ends_a_reply_the_server_broke_off_and_does_not_replay_it(fake, kind):
    fake.chat, phrase = MID_REPLY[kind]
    history = ChatHistory()
    local = FakeLocal(history)
    notes: list[str] = []
    chat = FallbackChat(server_chat(fake.url, history=history), local, notes.append)
    reply = "".join(chat.reply("Hello?"))
    chat.record_reply(reply)  # the caller records what was said, as after any reply
    assert reply == "Hello there"
    assert local.asked == []  # not answered a second time
    assert len(notes) == 1 and phrase in notes[0] and "the reply ends there" in notes[0]
    assert [(m.role, m.content) for m in chat.history] == [("user", "Hello?"), ("assistant", "Hello there")]
    # The next turn (within the pause) is the local engine's, without another note.
    assert "".join(chat.reply("And now?")) == "Local answer."
    assert len(notes) == 1 and posts(fake) == 1


# --- the fallback's policy ----------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_after_a_failure_the_server_is_skipped_for_a_while_then_tried_again(fake):
    fake.chat = status(500, "boom")
    history, clock, notes = ChatHistory(), Clock(), []
    local = FakeLocal(history)
    chat = FallbackChat(server_chat(fake.url, history=history), local, notes.append, retry_after_s=30, clock=clock)

    assert "".join(chat.reply("one")) == "Local answer."
    assert posts(fake) == 1 and len(notes) == 1
    clock.now += 29  # still down, as far as we know: the turn doesn't wait for it
    assert "".join(chat.reply("two")) == "Local answer."
    assert posts(fake) == 1 and len(notes) == 1

    fake.chat = stream(["Back", " again."])
    clock.now += 2  # 31 s after the failure: the server is asked again, and answers
    assert "".join(chat.reply("three")) == "Back again."
    assert posts(fake) == 2 and len(notes) == 1
    assert chat.describe() == f"fake-model on the server at {fake.url}"

    fake.chat = status(500, "boom again")  # a new failure is a new note
    assert "".join(chat.reply("four")) == "Local answer."
    assert len(notes) == 2 and "boom again" in notes[1]
    assert local.asked == ["one", "two", "four"]
    chat.close()


def test_the_history_is_shared_so_each_engine_sees_the_whole_conversation(fake):
    history, clock = ChatHistory(), Clock()
    local = FakeLocal(history)
    chat = FallbackChat(server_chat(fake.url, history=history), local, clock=clock)
    chat.record_reply("".join(chat.reply("first, to the server")))
    fake.chat = status(503, "restarting")
    chat.record_reply("".join(chat.reply("second, answered locally")))
    fake.chat = stream(["Third."])
    clock.now += 60
    chat.record_reply("".join(chat.reply("third, to the server again")))
    sent = [body for method, _, _, body in fake.requests if method == "POST"][-1]["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "first, to the server"), ("assistant", "Hello there."),
        ("user", "second, answered locally"), ("assistant", "Local answer."),
        ("user", "third, to the server again"),
    ]
    assert len(chat.history) == 6


def test_engines_with_separate_histories_are_refused(fake):
    with pytest.raises(ValueError, match="share one ChatHistory"):
        FallbackChat(server_chat(fake.url, history=ChatHistory()), FakeLocal(ChatHistory()))


def test_the_local_model_loads_only_when_needed(fake):
    history, notes = ChatHistory(), []
    local = FakeLocal(history)
    chat = FallbackChat(server_chat(fake.url, history=history), local, notes.append)
    chat.start_loading().result(timeout=HANG_BOUND_S)
    chat.warm_up().result(timeout=HANG_BOUND_S)
    assert (local.loads, local.warm_ups, notes) == (0, 0, [])  # the server answers: the local model stays unloaded
    assert [path for _, path, _, _ in fake.requests] == ["/v1/models", "/v1/chat/completions"]
    assert fake.requests[1][3]["max_tokens"] == 1  # the warm-up: one token, so the server loads its model now


def test_a_server_down_at_start_loads_the_local_model_then_and_says_so_once():
    history, notes = ChatHistory(), []
    local = FakeLocal(history)
    chat = FallbackChat(server_chat(closed_port_url(), history=history), local, notes.append)
    loading, warming = chat.start_loading(), chat.warm_up()
    loading.result(timeout=HANG_BOUND_S)
    warming.result(timeout=HANG_BOUND_S)
    assert local.loads == 1 and local.warm_ups == 1
    assert len(notes) == 1 and "connection refused" in notes[0]
    assert "".join(chat.reply("Hi")) == "Local answer." and len(notes) == 1  # the first turn doesn't retry at once


def test_prefill_goes_to_the_engine_that_answers_next(fake):
    history, clock = ChatHistory(), Clock()
    local = FakeLocal(history)
    chat = FallbackChat(server_chat(fake.url, history=history), local, clock=clock)
    assert chat.prefill("Hi").result(timeout=1) is None and local.prefills == 0  # the server's: nothing to do
    fake.chat = status(500, "boom")
    "".join(chat.reply("Hi"))
    chat.prefill(None).result(timeout=1)
    assert local.prefills == 1  # the local engine answers the next turn: it reads the history ahead
    assert posts(fake) == 1


def test_a_broken_listener_does_not_cost_the_turn():
    history = ChatHistory()

    def broken(message: str) -> None:
        raise RuntimeError("listener bug")

    chat = FallbackChat(server_chat(closed_port_url(), history=history), FakeLocal(history), broken)
    assert "".join(chat.reply("Hi")) == "Local answer."


# --- cancelling -------------------------------------------------------------------------------------------

def _wait_for(condition, bound: float = HANG_BOUND_S) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("wrapped", [False, True], ids=["server", "fallback"])
def test_cancel_while_waiting_for_the_first_token_closes_the_connection_and_is_no_failure(fake, wrapped):
    fake.chat = never_answer
    history, notes = ChatHistory(), []
    server = server_chat(fake.url, history=history, timeouts=ServerTimeouts(first_token=60))
    local = FakeLocal(history)
    chat = FallbackChat(server, local, notes.append) if wrapped else server
    result: list = []
    thread = threading.Thread(target=lambda: result.append(list(chat.reply("Tell me a story."))))
    thread.start()
    assert _wait_for(lambda: posts(fake) == 1)
    chat.cancel()
    thread.join(HANG_BOUND_S)
    assert not thread.is_alive() and result == [[]]
    assert fake.client_left.wait(HANG_BOUND_S)  # the socket was closed, not just left unread
    assert notes == [] and local.asked == []
    chat.record_reply("", interrupted=True)
    assert [(m.role, m.content) for m in chat.history] == [("user", "Tell me a story."), ("assistant", "")]


@pytest.mark.parametrize("how", ["cancel", "close the iterator", "reset"])
def test_stopping_a_reply_mid_stream_closes_the_connection_at_once(fake, how):
    fake.chat = then_stall(["Once", " upon"])
    history, notes = ChatHistory(), []
    server = server_chat(fake.url, history=history, timeouts=ServerTimeouts(between_chunks=60))
    chat = FallbackChat(server, FakeLocal(history), notes.append)
    deltas = chat.reply("Tell me a story.")
    assert next(deltas) == "Once"
    if how == "close the iterator":
        deltas.close()
        assert fake.client_left.wait(HANG_BOUND_S)
    else:
        words: list[str] = []
        thread = threading.Thread(target=lambda: words.extend(deltas))  # blocked in the socket's read
        thread.start()
        assert _wait_for(lambda: words == [" upon"])
        time.sleep(0.1)
        chat.cancel() if how == "cancel" else chat.reset()
        thread.join(HANG_BOUND_S)
        assert not thread.is_alive()
        assert fake.client_left.wait(HANG_BOUND_S)
    assert notes == []  # a cancel is not a failure
    assert chat.server_in_use()


def test_a_new_reply_ends_the_one_still_streaming(fake):
    fake.chat = then_stall(["Once"])
    engine = server_chat(fake.url, timeouts=ServerTimeouts(between_chunks=60))
    first = engine.reply("Tell me a story.")
    assert next(first) == "Once"
    fake.chat = stream(["Sure."])
    assert "".join(engine.reply("Stop. What time is it?")) == "Sure."
    assert fake.client_left.wait(HANG_BOUND_S)
    assert list(first) == []


# --- what is sent, and what is understood -------------------------------------------------------------------

def test_the_key_is_sent_as_a_bearer_token_and_no_header_without_one(fake):
    "".join(server_chat(fake.url, KEY).reply("Hi"))
    "".join(server_chat(fake.url, None).reply("Hi"))
    with_key, without = [headers for method, _, headers, _ in fake.requests if method == "POST"]
    assert with_key["Authorization"] == f"Bearer {KEY}"
    assert "Authorization" not in without


def test_the_request_is_a_streamed_chat_completion_of_the_listed_model(fake):
    fake.models = ["first-model", "second-model"]
    engine = server_chat(fake.url, model="")
    assert "".join(engine.reply("Hi", "de")) == "Hello there."
    body = [b for method, _, _, b in fake.requests if method == "POST"][0]
    assert body["model"] == "first-model" and body["stream"] is True and body["max_tokens"] == 32
    assert body["messages"][0]["role"] == "system" and "German" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "Hi"}
    assert engine.describe() == f"first-model on the server at {fake.url}"
    assert engine.last_timings is not None and engine.last_timings.tokens == 3

    named = server_chat(fake.url, model="second-model")
    "".join(named.reply("Hi"))
    assert fake.requests[-1][3]["model"] == "second-model"
    assert [m for m, _, _, _ in fake.requests].count("GET") == 1  # a named model needs no list


def test_a_server_with_no_models_says_what_to_do(fake):
    fake.models = []
    with pytest.raises(ServerUnavailable, match="offers no models.*server_model"):
        server_chat(fake.url).reply("Hi")


@pytest.mark.parametrize("body,content_type", [
    (b"".join(sse(e) for e in [chunk(role=True), chunk("Hel"), chunk("lo"), chunk(finish="stop"), "[DONE]"]),
     "text/event-stream"),
    # CRLF line ends, comments (keep-alives), event names, no blank lines between events
    (b": keep-alive\r\nevent: message\r\ndata: " + json.dumps(chunk("Hel")).encode() + b"\r\ndata: "
     + json.dumps(chunk("lo", "stop")).encode() + b"\r\ndata: [DONE]\r\n", "text/event-stream"),
    # no [DONE]: the finish_reason and the end of the connection end it
    (sse(chunk("Hel")) + sse(chunk("lo")) + sse(chunk(finish="length")), "text/event-stream"),
    # a usage chunk after the last one, with no choices
    (sse(chunk("Hello", "stop")) + sse({"choices": [], "usage": {"completion_tokens": 7}}) + sse("[DONE]"),
     "text/event-stream"),
    # a server that ignores "stream" and answers at once
    (json.dumps({"choices": [{"message": {"role": "assistant", "content": "Hello"}}]}).encode(), "application/json"),
], ids=["plain", "crlf-comments", "no-done", "usage", "not-streamed"])
def test_the_forms_servers_stream_in(fake, body, content_type):
    fake.chat = raw(body, content_type)
    assert "".join(server_chat(fake.url).reply("Hi")) == "Hello"


def test_a_stream_split_anywhere_reads_the_same(fake):
    events = b"".join(sse(chunk(w)) for w in ["한국의", " 수도는", " 서울", "입니다."]) + sse("[DONE]")

    def trickle(handler):
        handler.start_stream()
        for i in range(0, len(events), 7):  # cuts through lines, JSON and UTF-8 characters
            handler.write(events[i:i + 7])
            time.sleep(0.001)

    fake.chat = trickle
    assert "".join(server_chat(fake.url).reply("한국의 수도는 어디인가요?")) == "한국의 수도는 서울입니다."


@pytest.mark.parametrize("given,root", [
    ("http://localhost:11434/v1", "http://localhost:11434/v1"),
    ("http://localhost:11434/v1/", "http://localhost:11434/v1"),
    ("http://localhost:11434", "http://localhost:11434/v1"),
    ("http://localhost:11434/", "http://localhost:11434/v1"),
    ("localhost:1234/v1", "http://localhost:1234/v1"),
    ("http://127.0.0.1:8080/v1/chat/completions", "http://127.0.0.1:8080/v1"),
    ("https://example.com/api/v1", "https://example.com/api/v1"),
    ("https://example.com:443/v1", "https://example.com/v1"),
    ("http://[::1]:8000/v1?x=1#y", "http://[::1]:8000/v1"),
])
def test_the_addresses_accepted(given, root):
    assert ServerAddress.parse(given).display == root


@pytest.mark.parametrize("given,phrase", [
    ("ftp://example.com/v1", "is not a server address"),
    ("", "is not a server address"),
    ("http://user:hunter2@example.com/v1", "has a user name or password"),
    ("http://localhost:99999/v1", "has a port that is not a number"),
])
def test_addresses_refused_say_why_without_the_secret(given, phrase):
    with pytest.raises(ServerUnavailable, match=phrase) as caught:
        ServerAddress.parse(given)
    assert "hunter2" not in str(caught.value)


def test_a_long_history_is_trimmed_by_the_estimate(fake):
    history = ChatHistory()
    engine = ServerChat(fake.url, config=ChatConfig(context_tokens=400, max_reply_tokens=100), history=history,
                        key_reader=lambda: None, timeouts=QUICK)
    for turn in range(20):
        engine.record_reply("".join(engine.reply(f"Question {turn}: " + "words " * 20)))
    sent = fake.requests[-1][3]["messages"]
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) + 2 <= 300
    assert sent[-1]["content"].startswith("Question 19") and sent[1]["role"] == "user"
    assert estimate_tokens("서울") == 2 and estimate_tokens("abcdef") == 2


# --- the connection test ----------------------------------------------------------------------------------

def test_connection_test_reports_models_and_timing(fake):
    fake.models = ["a", "b", "c"]
    line = test_connection(fake.url, "", None)
    assert line.startswith(f"{fake.url}: 3 models; a answered in ") and line.endswith(" ms")
    assert fake.requests[-1][3]["max_tokens"] == 1


def test_connection_test_raises_the_clear_message(fake, caplog):
    fake.chat = status(401, "bad key")
    with pytest.raises(ServerUnavailable, match="refused the API key") as caught:
        test_connection(fake.url, "fake-model", KEY, QUICK)
    assert fake.url in str(caught.value) and KEY not in str(caught.value) and KEY not in caplog.text
    with pytest.raises(ServerUnavailable, match="connection refused"):
        test_connection(closed_port_url(), "", None, QUICK)


# --- https ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture()
def tls_fake(certificate):
    server = FakeServer(tls=certificate)
    yield server
    server.close()


def test_https_streams_and_a_cancel_closes_the_encrypted_connection(tls_fake, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test's certificate (OpenSSL reads this)
    assert tls_fake.url.startswith("https://")
    engine = server_chat(tls_fake.url)
    assert "".join(engine.reply("Hi")) == "Hello there."
    tls_fake.chat = then_stall(["Once", " upon"])
    engine = server_chat(tls_fake.url, timeouts=ServerTimeouts(between_chunks=60))
    deltas = engine.reply("Tell me a story.")
    words: list[str] = []
    thread = threading.Thread(target=lambda: words.extend(deltas))  # blocked inside the TLS read
    thread.start()
    assert _wait_for(lambda: words == ["Once", " upon"])
    engine.cancel()
    thread.join(HANG_BOUND_S)
    assert not thread.is_alive()
    assert tls_fake.client_left.wait(HANG_BOUND_S)


def test_a_certificate_this_computer_does_not_trust_is_named(tls_fake, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(ServerUnavailable, match="has a certificate this computer does not trust") as caught:
        server_chat(tls_fake.url).reply("Hi")
    assert tls_fake.url in str(caught.value)
