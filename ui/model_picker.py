"""Model menus with a Download button, and the background downloads behind them."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QStyle, QVBoxLayout, QWidget

from assistant.models.catalog import CatalogEntry
from assistant.models.errors import ModelError
from assistant.models.install import InstallProgress, install_from_hub, install_from_pack
from assistant.models.store import InstalledModel, ModelStore
from ui.form_layout import icon_pixmap, secondary_text, wrapping_label
from ui.model_choices import Advice, ModelChoices, describe_languages

log = logging.getLogger(__name__)


class ModelDownloads(QObject):
    """Installs catalog models on background threads (one per model at a time).

    Every public signal is emitted on the UI thread: the install thread's reports are queued to this
    object, which lives there. A failed install leaves nothing in the store (it builds in a staging folder).
    """

    changed = Signal(str)  # a model's download started, progressed or failed
    finished = Signal(str, object)  # model id, the InstalledModel
    _reported = Signal(str, object)  # from the install thread: model id, InstallProgress
    _ended = Signal(str, object, str)  # from the install thread: model id, InstalledModel or None, error

    def __init__(self, store: ModelStore, catalog: dict[str, CatalogEntry], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.catalog = catalog
        self._progress: dict[str, InstallProgress] = {}  # running downloads
        self._errors: dict[str, str] = {}  # the last failure of each model
        self._reported.connect(self._on_reported, Qt.ConnectionType.QueuedConnection)
        self._ended.connect(self._on_ended, Qt.ConnectionType.QueuedConnection)

    def start(self, model_id: str) -> None:
        """Download and install catalog model `model_id` in the background (no-op if already running)."""
        if model_id in self._progress:
            return
        entry = self.catalog[model_id]
        self._errors.pop(model_id, None)
        self._progress[model_id] = InstallProgress("download")
        threading.Thread(target=self._install, args=(entry,), name=f"install-{model_id}", daemon=True).start()
        self.changed.emit(model_id)

    def running(self, model_id: str) -> InstallProgress | None:
        """The latest progress of a running download of `model_id`, or None."""
        return self._progress.get(model_id)

    def error(self, model_id: str) -> str:
        """Why the last download of `model_id` failed ("" if it didn't)."""
        return self._errors.get(model_id, "")

    def _install(self, entry: CatalogEntry) -> None:
        """The install thread: its reports and its end go to the UI thread as queued signals."""
        def report(progress: InstallProgress) -> None:
            _emit(self._reported, entry.id, progress)

        try:
            install = install_from_hub if entry.hub else install_from_pack
            installed = install(self.store, entry, report)
        except ModelError as exc:
            _emit(self._ended, entry.id, None, str(exc))
        except Exception as exc:  # whatever it was, the window must say so rather than spin forever
            log.exception("installing %s failed", entry.id)
            _emit(self._ended, entry.id, None, f"{type(exc).__name__}: {exc}")
        else:
            _emit(self._ended, entry.id, installed, "")

    @Slot(str, object)
    def _on_reported(self, model_id: str, progress: InstallProgress) -> None:
        if model_id in self._progress:
            self._progress[model_id] = progress
            self.changed.emit(model_id)

    @Slot(str, object, str)
    def _on_ended(self, model_id: str, installed: InstalledModel | None, error: str) -> None:
        self._progress.pop(model_id, None)
        if installed is None:
            self._errors[model_id] = error
            log.warning("download of %s failed: %s", model_id, error)
            self.changed.emit(model_id)
        else:
            self.finished.emit(model_id, installed)


def _emit(signal, *args) -> None:
    try:
        signal.emit(*args)
    except RuntimeError:  # the window that owned the download was deleted; the install itself completed
        pass


def describe_progress(progress: InstallProgress) -> str:
    if progress.stage == "convert":
        return "Installing…"
    if progress.total and progress.unit == "B":
        return f"Downloading… {progress.done / 1e6:.0f} of {progress.total / 1e6:.0f} MB"
    if progress.total:
        return f"Downloading… {progress.done} of {progress.total} files"
    return "Downloading…"


def describe_failure(error: str) -> str:
    return "Download failed. " + (error[:1].upper() + error[1:] if error else "")


class DownloadStatus(QWidget):
    """A progress bar with what is happening, or the reason a download failed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(14)
        self.stage = QLabel(self)
        self.icon = QLabel(self)
        self.icon.setPixmap(icon_pixmap(self, QStyle.StandardPixmap.SP_MessageBoxWarning))
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.error = wrapping_label("", self)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # to copy it into a search

        progress_row = QHBoxLayout()
        progress_row.setContentsMargins(0, 0, 0, 0)
        progress_row.addWidget(self.bar, 1)
        progress_row.addWidget(self.stage)
        error_row = QHBoxLayout()
        error_row.setContentsMargins(0, 0, 0, 0)
        error_row.addWidget(self.icon)
        error_row.addWidget(self.error, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(progress_row)
        layout.addLayout(error_row)
        self.show_state(None, "")

    def show_state(self, progress: InstallProgress | None, error: str) -> None:
        """Show a running download's progress, else `error` if any, else nothing."""
        running = progress is not None
        for widget in (self.bar, self.stage):
            widget.setVisible(running)
        for widget in (self.icon, self.error):
            widget.setVisible(not running and bool(error))
        if running:
            fraction = progress.fraction if progress.stage == "download" else None
            if fraction is None:
                self.bar.setRange(0, 0)  # indeterminate: moving without a percentage
            else:
                self.bar.setRange(0, 1000)
                self.bar.setValue(int(fraction * 1000))
            self.stage.setText(describe_progress(progress))
        self.error.setText(describe_failure(error) if error else "")
        self.setVisible(running or bool(error))


class ModelPicker(QWidget):
    """A menu of the installed models of one kind and, below a line, the catalog's others to download.

    The selection may be a model that is not installed yet; the Download button then gets it. The
    window refuses to save such a choice until it is installed.
    """

    changed = Signal()  # the user picked another model

    def __init__(self, kind: str, choices: ModelChoices, downloads: ModelDownloads,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.choices = choices
        self.downloads = downloads
        self.menu = QComboBox(self)
        self.menu.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.menu.setMinimumContentsLength(28)
        self.download_button = QPushButton("Download", self)
        self.download_button.setAutoDefault(False)
        self.details = secondary_text(wrapping_label("", self))
        self.status = DownloadStatus(self)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.menu, 1)
        row.addWidget(self.download_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.details)
        layout.addWidget(self.status)

        self.menu.currentIndexChanged.connect(self._on_picked)
        self.download_button.clicked.connect(lambda: self.downloads.start(self.model_id()))
        downloads.changed.connect(self._on_download_changed)
        downloads.finished.connect(self._on_download_finished)
        self.refresh()

    def model_id(self) -> str:
        return self.menu.currentData() or ""

    def set_model_id(self, model_id: str) -> None:
        """Select `model_id` (listing it as not installed if it is neither installed nor in the catalog)."""
        self._fill(model_id)

    def refresh(self) -> None:
        """Reread the store (after a download), keeping the selection."""
        self._fill(self.model_id())

    def selected_is_installed(self) -> bool:
        return self.choices.is_installed(self.model_id())

    def _fill(self, selected: str) -> None:
        self.menu.blockSignals(True)
        try:
            self.menu.clear()
            installed = self.choices.installed(self.kind)
            for model in installed:
                self.menu.addItem(self.choices.name(model.id), model.id)
            known = {m.id for m in installed}
            offers = self.choices.downloadable(self.kind)
            if selected and selected not in known and selected not in {e.id for e in offers}:
                self.menu.addItem(f"{selected} (not installed)", selected)
            if offers:
                self.menu.insertSeparator(self.menu.count())
                for entry in offers:
                    self.menu.addItem(f"{entry.name} — {_size(entry.size_mb)} download", entry.id)
            index = self.menu.findData(selected) if selected else -1
            self.menu.setCurrentIndex(index if index >= 0 else (0 if installed else -1))
        finally:
            self.menu.blockSignals(False)
        self._show_selected()

    def _on_picked(self) -> None:
        self._show_selected()
        self.changed.emit()

    def _on_download_changed(self, model_id: str) -> None:
        if model_id == self.model_id():
            self._show_selected()

    def _on_download_finished(self, model_id: str, _installed) -> None:
        if self.choices.catalog.get(model_id, None) and self.choices.catalog[model_id].kind == self.kind:
            self.refresh()

    def _show_selected(self) -> None:
        model_id = self.model_id()
        installed = self.choices.store.get(model_id) if model_id else None
        entry = self.choices.catalog.get(model_id)
        progress = self.downloads.running(model_id) if model_id else None
        error = self.downloads.error(model_id) if model_id else ""
        if installed:
            facts = ["Installed", _size(installed.size_bytes / 1e6), describe_languages(installed.languages)]
        elif entry:
            facts = ["Not installed", f"{_size(entry.size_mb)} to download", describe_languages(entry.languages),
                     entry.license]
        elif model_id:
            facts = ["Not installed, and not in Parley's catalog: import it with `parley models import`"]
        else:
            facts = ["Nothing installed yet"]
        if entry and entry.trade:
            facts.append(entry.trade)
        self.details.setText(" · ".join(facts))
        can_download = bool(entry) and not installed
        self.download_button.setVisible(can_download)
        self.download_button.setEnabled(progress is None)
        self.download_button.setText("Try Again" if error else "Download")
        self.status.show_state(progress if can_download else None, error if can_download else "")


class AdviceRow(QWidget):
    """One line of language advice: an icon, the text, and a Use/Download button with its download's progress.

    The button calls `act(advice)`; the row follows the download of `advice.model_id` by itself.
    """

    def __init__(self, advice: Advice, choices: ModelChoices, downloads: ModelDownloads, act) -> None:
        super().__init__()
        self.advice = advice
        self.downloads = downloads
        icon = QLabel(self)
        icon.setPixmap(icon_pixmap(self, QStyle.StandardPixmap.SP_MessageBoxWarning if advice.warning
                                   else QStyle.StandardPixmap.SP_MessageBoxInformation))
        self.text = wrapping_label(advice.text, self)
        self.button = QPushButton(self)
        self.button.setAutoDefault(False)
        entry = choices.catalog.get(advice.model_id)
        if advice.action == "use":
            self.button.setText(f"Use {_short_name(choices.name(advice.model_id))}")
        elif advice.action == "download":
            size = f" ({_size(entry.size_mb)})" if entry else ""
            self.button.setText(f"Download {_short_name(choices.name(advice.model_id))}{size}")
        self.button.setVisible(bool(advice.action))
        self.button.clicked.connect(lambda: act(advice))
        self.status = DownloadStatus(self)

        text_column = QVBoxLayout()
        text_column.setSpacing(4)
        text_column.addWidget(self.text)
        button_row = QHBoxLayout()
        button_row.addWidget(self.button)
        button_row.addStretch(1)
        text_column.addLayout(button_row)
        text_column.addWidget(self.status)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text_column, 1)
        downloads.changed.connect(self.show_download)
        self.show_download(advice.model_id)

    def show_download(self, model_id: str) -> None:
        if self.advice.action != "download" or model_id != self.advice.model_id:
            return
        progress = self.downloads.running(model_id)
        self.button.setEnabled(progress is None)
        self.status.show_state(progress, self.downloads.error(model_id))


def _short_name(name: str) -> str:
    """ "Thorsten (German, Piper)" → "Thorsten"; names without a parenthesis stay whole."""
    return name.split(" (")[0] if " (" in name else name


def _size(megabytes: float) -> str:
    return f"{megabytes / 1000:.1f} GB" if megabytes >= 1000 else f"{megabytes:.0f} MB"
