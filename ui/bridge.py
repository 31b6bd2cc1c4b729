"""Engine events to the Qt main thread.

The conversation publishes events from its own threads (listening, turns, voice); Qt widgets may only
be touched from the main thread. `EventBridge` subscribes to the engine's bus and re-emits each event
through a queued signal, so every slot connected to `event` runs on the main thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal

from assistant.runtime.events import EventBus


class EventBridge(QObject):
    """Re-emits every event of `bus` as `event(obj)` on the thread this object lives in (the main one)."""

    event = Signal(object)
    _from_engine = Signal(object)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._from_engine.connect(self.event.emit, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = bus.subscribe(self._from_engine.emit)

    def close(self) -> None:
        self._unsubscribe()
