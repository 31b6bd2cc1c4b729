"""First run: the default models are set up, with a progress dialog, before Parley starts listening.

The set-up (unpacking offline packs and converting them, about 20 s here) runs on a worker thread;
the dialog shows which model is being prepared. A failure is shown with what to do, and can be retried.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from assistant.models.catalog import CatalogEntry, default_pack
from assistant.models.install import setup_default_pack
from assistant.models.store import ModelStore

log = logging.getLogger(__name__)


def missing_default_models(store: ModelStore, catalog: dict[str, CatalogEntry]) -> list[CatalogEntry]:
    """The default-pack models that are not installed yet."""
    return [entry for entry in default_pack(catalog) if store.get(entry.id) is None]


class FirstRunSetup(QObject):
    """Sets up the default pack in the background with a progress dialog; emits `finished(error)`,
    with an empty string on success."""

    finished = Signal(str)
    _step = Signal(int, int, str)
    _done = Signal(str)

    def __init__(self, store: ModelStore, catalog: dict[str, CatalogEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store, self._catalog = store, catalog
        self.dialog = QProgressDialog("Preparing Parley's voice and language models…", "", 0, 0, parent)
        self.dialog.setWindowTitle("Setting up Parley")
        self.dialog.setCancelButton(None)  # a half-finished set-up is cleaned up anyway; nothing to cancel into
        self.dialog.setWindowModality(Qt.WindowModality.NonModal)
        self.dialog.setMinimumWidth(420)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self._step.connect(self._on_step)
        self._done.connect(self._on_done)

    def start(self) -> None:
        self.dialog.show()
        threading.Thread(target=self._run, name="first-run", daemon=True).start()

    def _run(self) -> None:
        try:
            setup_default_pack(self._store, self._catalog,
                               on_step=lambda number, total, entry: self._step.emit(number, total, entry.name))
        except Exception as exc:
            log.exception("setting up the default models failed")
            self._done.emit(str(exc) or type(exc).__name__)
            return
        self._done.emit("")

    def _on_step(self, number: int, total: int, name: str) -> None:
        self.dialog.setMaximum(total)
        self.dialog.setValue(number - 1)
        self.dialog.setLabelText(f"Preparing {name} ({number} of {total})…")

    def _on_done(self, error: str) -> None:
        self.dialog.close()
        self.finished.emit(error)
