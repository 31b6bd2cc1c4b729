"""The settings window's chat engine rows, driven as a user would (pytest-qt, offscreen): the engine menu and
what it says about the chat model, a server's address refused in the settings validator's words, the API key
kept in its own file (never in settings.toml), and Test Connection against a real HTTP server run by the test
(standard library http.server on a thread of its own), and against a closed port, while the window stays live."""

from __future__ import annotations

import json
import socket
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel, QLineEdit

from assistant.chat import choice
from assistant.servers.server_key import KEY_ENV, server_key_path
from assistant.runtime.settings import ChatSettings, ModelSettings, Settings, load_settings, settings_path
from test_settings_window import devices, open_window, save_with_button, screenshot, store  # noqa: F401 (fixtures)

MODEL = "tiny-test-model"
KEY = "sk-parley-test-0123456789"
HANG = 30_000  # ms: a bound on a hang, not a measure of speed


# ------------------------------------------------------------------------------------------ the server

class TinyServer:
    """An OpenAI-style API root at `url`: GET /v1/models lists MODEL, POST /v1/chat/completions streams "OK" as
    server-sent events. While `hold` is clear, a chat request waits for it (a server loading its model)."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.hold.set()
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization header
        self.chat_started = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(("GET", self.path, self.headers.get("Authorization")))
                if self.path != "/v1/models":
                    self.send_error(404)
                    return
                self._send(200, "application/json", json.dumps(
                    {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "test"}]}).encode())

            def do_POST(self) -> None:  # noqa: N802
                server.requests.append(("POST", self.path, self.headers.get("Authorization")))
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if self.path != "/v1/chat/completions" or not body.get("stream"):
                    self.send_error(404)
                    return
                server.chat_started.set()
                server.hold.wait(HANG / 1000)
                chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": "OK"},
                                        "finish_reason": None}]},
                          {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
                stream = b"".join(b"data: " + json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                                                          "model": body["model"], **chunk}).encode() + b"\n\n"
                                  for chunk in chunks) + b"data: [DONE]\n\n"
                self._send(200, "text/event-stream", stream)

            def _send(self, status: int, kind: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tiny-chat-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    running = TinyServer()
    yield running
    running.close()


@pytest.fixture()
def closed_port_url() -> str:
    """An address where nothing listens: a port the system gave out, closed again (the connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(autouse=True)
def _no_key_from_the_environment(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def choose_engine(window, engine: str) -> None:
    window.tabs.setCurrentIndex(1)
    menu = window.chat_engine.engine
    menu.setCurrentIndex(menu.findData(engine))


def type_into(qtbot, field: QLineEdit, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def use_another_control(qtbot, window) -> None:
    """Move the speaking rate slider a step, as the arrow key does, and check that it took effect."""
    slider = window.speaking_rate
    before = slider.value()
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert slider.value() == before + slider.singleStep() and window.has_unsaved_changes()


def server_rows_visible(window) -> bool:
    section = window.chat_engine
    return all(w.isVisible() for w in (section.server_url, section.server_model, section.api_key,
                                       section.test_button))


# --------------------------------------------------------------------------------------------- the engine

def test_the_engine_menu_says_what_automatic_means_here(qtbot, store, catalog, devices, monkeypatch):
    window = open_window(qtbot, Settings(), store, catalog)
    menu = window.chat_engine.engine
    assert [menu.itemData(i) for i in range(menu.count())] == ["auto", "mlx", "llama.cpp", "server"]
    assert menu.currentData() == "auto" and not server_rows_visible(window)
    if sys.platform.startswith("linux"):
        # The default chat model comes as GGUF: llama.cpp runs it, on the CPU of a computer without an Apple GPU.
        assert menu.itemText(0) == "Automatic (llama.cpp on this computer's CPU)"

    monkeypatch.setattr(choice, "apple_gpu", lambda: True)
    on_a_mac = open_window(qtbot, Settings(models=ModelSettings(llm="smollm2-135m-instruct")), store, catalog)
    assert on_a_mac.chat_engine.engine.itemText(0) == "Automatic (MLX on the Apple GPU)"  # SmolLM2 has MLX weights


def test_an_engine_that_cant_read_the_model_says_so_and_is_not_saved(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)  # the default chat model: a GGUF file only
    choose_engine(window, "mlx")
    note = window.chat_engine.note
    assert note.isVisible() and "has no MLX weights" in note.text()
    assert window.save_button.isEnabled()

    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert "has no MLX weights" in window.status.text() and "Nothing was saved" in window.status.text()
    assert not settings_path().exists()

    choose_engine(window, "llama.cpp")
    assert not note.isVisible()
    saved = save_with_button(qtbot, window)
    assert saved.chat.engine == "llama.cpp" and load_settings().chat == ChatSettings(engine="llama.cpp")


# --------------------------------------------------------------------------------------------- the server

def test_choosing_server_shows_its_fields(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    section = window.chat_engine
    choose_engine(window, "server")

    assert server_rows_visible(window)
    assert section.server_url.placeholderText() == "http://localhost:11434/v1"
    assert section.server_model.placeholderText() == "first model the server lists"
    assert section.api_key.echoMode() == QLineEdit.EchoMode.Password
    assert "answers on llama.cpp" in section.note.text()  # who stands in when the server can't answer
    assert not section.test_result.isVisible()
    page = window.tabs.currentWidget()  # the window grows to show the new rows, or else the page scrolls
    qtbot.waitUntil(lambda: page.overflow() == 0 or page.verticalScrollBar().maximum() > 0, timeout=HANG)

    choose_engine(window, "auto")
    assert not server_rows_visible(window)


def test_a_bad_address_is_refused_with_the_validators_message(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    section = window.chat_engine
    choose_engine(window, "server")
    type_into(qtbot, section.server_url, "localhost:11434/v1")  # no http://
    qtbot.keyClick(section.server_url, Qt.Key.Key_Return)  # done with the field: it is checked

    assert section.url_error.isVisible()
    assert "'localhost:11434/v1' is not a web address" in section.url_error.text()
    assert "http://localhost:11434/v1" in section.url_error.text()  # how to write it

    qtbot.mouseClick(section.test_button, Qt.MouseButton.LeftButton)  # no test of an address that isn't one
    assert not section.test.running() and section.test_button.isEnabled()

    assert not window.save()
    assert "is not a web address" in window.status.text() and "Nothing was saved" in window.status.text()
    assert not settings_path().exists()

    type_into(qtbot, section.server_url, "http://localhost:11434/v1")
    assert not section.url_error.isVisible()  # fixed: the message goes at once
    saved = save_with_button(qtbot, window)
    assert saved.chat == ChatSettings(engine="server", server_url="http://localhost:11434/v1")
    assert load_settings().chat == saved.chat


def test_a_server_without_an_address_is_not_saved(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    choose_engine(window, "server")
    assert not window.save()
    assert window.chat_engine.url_error.isVisible() and "Type the server's address" in window.status.text()
    assert not settings_path().exists()


def test_the_api_key_goes_to_its_own_file_and_is_never_shown(qtbot, store, catalog, devices, server):
    window = open_window(qtbot, Settings(), store, catalog)
    section = window.chat_engine
    choose_engine(window, "server")
    type_into(qtbot, section.server_url, server.url)
    type_into(qtbot, section.server_model, MODEL)
    type_into(qtbot, section.api_key, KEY)
    assert section.api_key.displayText() != KEY  # dots

    saved = save_with_button(qtbot, window)

    key_file = server_key_path()
    assert key_file.read_text(encoding="utf-8").strip() == KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert KEY not in settings_path().read_text(encoding="utf-8")
    assert saved.chat == ChatSettings(engine="server", server_url=server.url, server_model=MODEL)
    assert section.api_key.text() == "" and "saved" in section.api_key.placeholderText()
    assert "A key is saved" in section.key_note.text() and section.forget_key_button.isVisible()
    assert not window.has_unsaved_changes()

    # The saved key is what a test sends.
    qtbot.mouseClick(section.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(section.test_result.isVisible, timeout=HANG)
    assert section.test_result.text().startswith("✓")
    assert server.requests and all(header == f"Bearer {KEY}" for _, _, header in server.requests)

    # A window opened later shows that a key is saved, without it.
    later = open_window(qtbot, load_settings(), store, catalog)
    choose_engine(later, "server")
    assert later.chat_engine.api_key.text() == "" and later.chat_engine.forget_key_button.isVisible()

    # Forgetting it waits for Save, like every change.
    qtbot.mouseClick(later.chat_engine.forget_key_button, Qt.MouseButton.LeftButton)
    assert key_file.exists() and later.has_unsaved_changes()
    save_with_button(qtbot, later)
    assert not key_file.exists() and "need no key" in later.chat_engine.key_note.text()


def test_a_key_that_is_not_one_is_refused(qtbot, store, catalog, devices):
    window = open_window(qtbot, Settings(), store, catalog)
    section = window.chat_engine
    choose_engine(window, "server")
    type_into(qtbot, section.server_url, "http://localhost:11434/v1")
    type_into(qtbot, section.api_key, "two words")
    assert not window.save()
    assert "not an API key" in window.status.text()
    assert not server_key_path().exists() and not settings_path().exists()


# ----------------------------------------------------------------------------------------- Test Connection

def test_test_connection_succeeds_without_blocking_the_window(qtbot, store, catalog, devices, server,
                                                                 screenshots):
    window = open_window(qtbot, Settings(), store, catalog)
    section = window.chat_engine
    choose_engine(window, "server")
    type_into(qtbot, section.server_url, server.url)
    server.hold.clear()  # the server takes its time over the chat request, as one loading its model does

    qtbot.mouseClick(section.test_button, Qt.MouseButton.LeftButton)
    assert section.test.running() and not section.test_button.isEnabled()
    assert section.test_button.text() == "Testing…" and section.test_busy.isVisible()
    assert server.chat_started.wait(HANG / 1000)  # the test is waiting for the reply now

    use_another_control(qtbot, window)  # meanwhile the window answers
    assert section.test.running() and not section.test_result.isVisible()

    server.hold.set()
    qtbot.waitUntil(section.test_result.isVisible, timeout=HANG)
    result = section.test_result.text()
    assert result.startswith("✓") and server.url in result and f"{MODEL} answered in" in result
    assert "#248A3D" in section.test_result.styleSheet() or "#30D158" in section.test_result.styleSheet()  # green
    assert section.test_button.isEnabled() and not section.test_busy.isVisible()
    assert [(method, path) for method, path, _ in server.requests] == [
        ("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
    assert all(header is None for _, _, header in server.requests)  # no key saved: none sent

    def clipped() -> list[str]:  # wrapped lines drawn shorter than their text needs
        return [label.text() for label in window.findChildren(QLabel) if label.isVisibleTo(window)
                and label.wordWrap() and label.height() < label.heightForWidth(label.width())]

    qtbot.waitUntil(lambda: not clipped(), timeout=HANG)
    screenshot(window, screenshots / "settings-chat-engine.png")

    type_into(qtbot, section.server_model, "another-model")  # the outcome described other fields: it goes
    assert not section.test_result.isVisible()


def test_test_connection_to_a_closed_port_shows_the_error(qtbot, store, catalog, devices, closed_port_url):
    window = open_window(qtbot, Settings(), store, catalog)
    section = window.chat_engine
    choose_engine(window, "server")
    type_into(qtbot, section.server_url, closed_port_url)

    qtbot.mouseClick(section.test_button, Qt.MouseButton.LeftButton)
    # The click came back before the outcome: that comes through the event loop, from the test's thread.
    assert section.test.running() and section.test_busy.isVisible()
    use_another_control(qtbot, window)

    qtbot.waitUntil(section.test_result.isVisible, timeout=HANG)
    message = section.test_result.text()
    assert message.startswith("⚠  The chat server at " + closed_port_url)
    assert "is not answering (connection refused)" in message
    assert "#D70015" in section.test_result.styleSheet() or "#FF453A" in section.test_result.styleSheet()  # red
    assert section.test_button.isEnabled() and not section.test_busy.isVisible()
    assert not settings_path().exists()  # testing saves nothing


def connection_tests_running() -> bool:
    return any(thread.name == "test-chat-server" for thread in threading.enumerate())


def test_a_test_whose_fields_changed_meanwhile_is_dropped(qtbot, store, catalog, devices, server):
    window = open_window(qtbot, Settings(), store, catalog)
    section = window.chat_engine
    choose_engine(window, "server")
    type_into(qtbot, section.server_url, server.url)
    server.hold.clear()
    qtbot.mouseClick(section.test_button, Qt.MouseButton.LeftButton)
    assert server.chat_started.wait(HANG / 1000)

    type_into(qtbot, section.server_model, "no-such-model")  # a new question: the running test doesn't answer it
    assert not section.test.running() and section.test_button.isEnabled()
    outcomes = []
    section.test.finished.connect(lambda ok, line: outcomes.append(line))
    server.hold.set()  # the first test ends now, answered by tiny-test-model
    qtbot.waitUntil(lambda: not connection_tests_running(), timeout=HANG)
    QCoreApplication.processEvents()  # its outcome, queued, is delivered and dropped
    assert outcomes == [] and not section.test_result.isVisible()

    type_into(qtbot, section.server_model, MODEL)
    qtbot.mouseClick(section.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(outcomes), timeout=HANG)
    assert len(outcomes) == 1 and f"{MODEL} answered" in section.test_result.text()
