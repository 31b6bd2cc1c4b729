"""One Parley per user: a second launch asks the running one to come forward, then exits.

The running app listens on a local socket named after the user; a new launch that can connect sends
"show" and quits. A socket left behind by a crashed app is removed and taken over.
"""

from __future__ import annotations

import getpass
import hashlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from assistant.runtime.paths import config_dir


def _server_name() -> str:
    # Per user and per config folder, so tests with their own config folders don't meet each other.
    key = f"{getpass.getuser()}:{config_dir()}"
    return "parley-" + hashlib.sha1(key.encode()).hexdigest()[:16]


def ask_running_instance_to_show(timeout_ms: int = 500) -> bool:
    """True when another Parley is running (it was told to show itself): this launch should exit."""
    socket = QLocalSocket()
    socket.connectToServer(_server_name())
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(b"show\n")
    socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    return True


class InstanceServer(QObject):
    """Listens for later launches; emits `show_requested` when one asks."""

    show_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        name = _server_name()
        if not self._server.listen(name):
            QLocalServer.removeServer(name)  # left by an app that crashed
            self._server.listen(name)
        self._server.newConnection.connect(self._on_connection)

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._on_message(s))

    def _on_message(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll()).strip() == b"show":
            self.show_requested.emit()
        socket.disconnectFromServer()
