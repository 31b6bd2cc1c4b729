"""A small OpenAI-style chat server of the tests' own (http.server on a free port, in a thread) that misbehaves
on request, and a local chat engine that answers without a model: for the server engine's error paths and
the fallback's policy. Real sockets and real HTTP throughout; only the model is missing."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from assistant.chat import ChatConfig, ChatEngine, ChatHistory

HOLD_S = 30  # a handler that stalls holds at most this long (the test ends it sooner through `release`)


def chunk(content: str | None = None, finish: str | None = None, role: bool = False) -> dict:
    delta: dict = {"role": "assistant"} if role else {}
    if content is not None:
        delta["content"] = content
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def sse(event: dict | str) -> bytes:
    return b"data: " + (event if isinstance(event, str) else json.dumps(event)).encode() + b"\n\n"


class FakeServer:
    """`chat` is called with the handler for each POST to /v1/chat/completions; it writes the whole response.
    `requests` records (method, path, headers, body) of every request."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (certificate, key) to serve https:// with."""
        self.models = ["fake-model"]
        self.chat: Callable[[BaseHTTPRequestHandler], None] = stream(["Hello", " there", "."])
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.release = threading.Event()  # set at the end: stalled handlers return
        self.client_left = threading.Event()  # a handler that waited for the client saw it close the connection
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="fake-chat-server",
                                        daemon=True)  # a short poll: shutdown() waits for one
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # a stream ends when the connection closes, as with many small servers

    def log_message(self, *args) -> None:
        pass

    def _record(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.fake.requests.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_GET(self) -> None:
        self._record()
        if self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.server.fake.models]})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        self._record()
        if self.path == "/v1/chat/completions":
            self.server.fake.chat(self)
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def send_json(self, status: int, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

    def write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def hold(self) -> None:
        """Stall: wait until the client closes the connection (noted in `client_left`) or the test ends."""
        deadline = time.monotonic() + HOLD_S
        self.connection.settimeout(0.05)
        while not self.server.fake.release.is_set() and time.monotonic() < deadline:
            try:
                if not self.connection.recv(1):  # b"": the client shut the connection
                    break
            except TimeoutError:
                continue  # still there
            except OSError:  # reset, or TLS torn down
                break
        else:
            return
        self.server.fake.client_left.set()

    def reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0), as a server that crashed."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


# --- behaviours for FakeServer.chat -------------------------------------------------------------------------

def stream(words: list[str], crlf: bool = False, done: bool = True) -> Callable:
    def respond(handler: _Handler) -> None:
        handler.start_stream()
        events = [sse(chunk(role=True))] + [sse(chunk(w)) for w in words] + [sse(chunk(finish="stop"))]
        if done:
            events.append(sse("[DONE]"))
        data = b"".join(events)
        handler.write(data.replace(b"\n", b"\r\n") if crlf else data)
    return respond


def status(code: int, message: str) -> Callable:
    return lambda handler: handler.send_json(code, {"error": {"message": message, "type": "error"}})


def raw(body: bytes, content_type: str = "text/event-stream") -> Callable:
    """A 200 response with `body` as it is."""
    def respond(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.end_headers()
        handler.write(body)
    return respond


def then_die(words: list[str], how: str) -> Callable:
    """Some words, then the connection closes ("close") or is reset ("reset") with no end of stream."""
    def respond(handler: _Handler) -> None:
        handler.start_stream()
        handler.write(b"".join(sse(chunk(w)) for w in words))
        if how == "reset":
            handler.reset()
    return respond


def then_stall(words: list[str]) -> Callable:
    def respond(handler: _Handler) -> None:
        handler.start_stream()
        handler.write(b"".join(sse(chunk(w)) for w in words))
        handler.hold()
    return respond


def never_answer(handler: _Handler) -> None:
    handler.hold()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# --- places where no server answers -------------------------------------------------------------------------

def closed_port_url() -> str:
    """The address of a port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class FullBacklog:
    """A port whose listener never accepts and whose backlog is full: new connections time out (the SYN is
    dropped), as with a host that is down. Local: nothing leaves the machine."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.filler = socket.create_connection(self.listener.getsockname(), timeout=2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"

    def close(self) -> None:
        self.filler.close()
        self.listener.close()


class SilentListener:
    """Accepts connections (the kernel does) and never reads or answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"

    def close(self) -> None:
        self.listener.close()


# --- a local engine without a model -------------------------------------------------------------------------

class FakeLocal(ChatEngine):
    """Answers every turn with `answer`, through the shared history as the real engines do."""

    name = "fake"

    def __init__(self, history: ChatHistory, answer: tuple[str, ...] = ("Local", " answer.")) -> None:
        super().__init__(ChatConfig(), "fake-local", history)
        self.answer = answer
        self.loads = 0
        self.warm_ups = 0
        self.prefills = 0
        self.asked: list[str] = []

    def start_loading(self) -> Future:
        self.loads += 1
        return _done()

    def reply(self, user_text: str, language: str | None = None, offer_tools: bool = True) -> Iterator[str]:
        generation, _ = self.chat_history.begin_reply()
        self.chat_history.add_user(user_text)
        self.asked.append(user_text)
        return (word for word in self.answer if self.chat_history.is_current(generation))

    def warm_up(self, language: str | None = None) -> Future:
        self.warm_ups += 1
        return _done()

    def prefill(self, user_text: str | None = None, language: str | None = None) -> Future:
        self.prefills += 1
        return _done()

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _done() -> Future:
    future: Future = Future()
    future.set_result(None)
    return future
