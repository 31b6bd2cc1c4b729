"""The settings window's Test Connection: `test_connection` on a worker thread, its outcome back on the UI
thread as a signal, so the window never waits on the network (against a server that loads its model first,
a test takes up to the server engine's timeouts: 3 s to connect, 15 s to the first token)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from assistant.chat.server_engine import test_connection
from assistant.models.errors import ModelError

log = logging.getLogger(__name__)


def as_sentence(text: str) -> str:
    """'the chat server at … is not answering; start it' → 'The chat server at … is not answering; start it.'"""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


class ConnectionTest(QObject):
    """One connection test at a time, as far as the window is concerned: a test started while another runs,
    or `forget()`, drops the older one's outcome (its thread ends by itself within the timeouts)."""

    finished = Signal(bool, str)  # succeeded, the line to show: the server's summary, or what is wrong
    _ended = Signal(int, bool, str)  # from the test thread: the test's number, succeeded, the line

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._number = 0  # of the latest test: only its outcome is shown
        self._running = False
        self._ended.connect(self._on_ended, Qt.ConnectionType.QueuedConnection)

    def running(self) -> bool:
        return self._running

    def start(self, url: str, model: str, key: Callable[[], str | None]) -> None:
        """Test the server at `url` (asking for `model`, "" = the first it lists) in the background; `key` gives
        the API key to send (None = none), called on the test thread since it may read the key file."""
        self._number += 1
        self._running = True
        threading.Thread(target=self._test, args=(self._number, url, model, key), name="test-chat-server",
                         daemon=True).start()

    def forget(self) -> None:
        """Drop the test under way, if any: what it would say no longer applies (the address changed, say)."""
        self._number += 1
        self._running = False

    def _test(self, number: int, url: str, model: str, key: Callable[[], str | None]) -> None:
        """The test thread. Every outcome is reported: the window must never stay busy."""
        try:
            ok, line = True, test_connection(url, model, key())
        except ModelError as exc:  # ServerUnavailable, or a saved key that can't be read: the message says what to do
            ok, line = False, as_sentence(str(exc))
        except Exception as exc:
            log.exception("testing the chat server at %s failed", url)
            ok, line = False, f"The test failed: {type(exc).__name__}: {exc}"
        try:
            self._ended.emit(number, ok, line)
        except RuntimeError:  # the window was deleted meanwhile
            pass

    @Slot(int, bool, str)
    def _on_ended(self, number: int, ok: bool, line: str) -> None:
        if number != self._number:
            return
        self._running = False
        self.finished.emit(ok, line)
