"""The settings window's chat engine rows: which engine runs the chat model (Automatic, MLX, llama.cpp or a
server), and for a server its address, model and API key, with a Test Connection button.

The rows join the Models tab's form under the chat model menu; the server's rows show only while Server is
chosen. What the section shows waits for the window's Save like every other control: `chat()` gives the
`[chat]` settings as the fields stand, `key_changed()` and `save_key()` the API key, which goes to its own
file (`assistant.servers.server_key`, readable only by the user), never into settings.toml, and is never shown.
"""

from __future__ import annotations

import dataclasses
import os

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QStyle, QVBoxLayout, QWidget,
)

from assistant.chat import choice
from assistant.servers.server_key import KEY_ENV, is_valid_key, read_server_key, save_server_key, server_key_path
from assistant.models.errors import ModelError
from assistant.models.store import InstalledModel
from assistant.runtime.settings import ChatSettings
from ui.chat_engine_wording import (ENGINE_NAMES, MODEL_PLACEHOLDER, NO_ADDRESS, NOT_A_KEY, SERVER_LABEL,
                                    URL_PLACEHOLDER, url_problem, where_it_runs)
from ui.connection_test import ConnectionTest, as_sentence
from ui.form_layout import Form, hint, icon_pixmap, stacked, wrapping_label
from ui.model_choices import ModelChoices

# Result colours: Apple's accessible green and red, for light and dark windows.
_GREEN = {False: "#248A3D", True: "#30D158"}
_RED = {False: "#D70015", True: "#FF453A"}


class ChatEngineSection(QObject):
    """The widgets of the chat engine rows and what they mean; `add_to(form)` lays them out."""

    changed = Signal()  # the user changed the engine, the server's fields or the key
    grew = Signal()  # rows or lines appeared: the page may need more height

    def __init__(self, choices: ModelChoices, parent: QWidget) -> None:
        super().__init__(parent)
        self.choices = choices
        self._model: InstalledModel | None = None  # the chat model chosen in the window, if installed
        self._forget_key = False  # the user asked to forget the saved key (done on Save)

        self.engine = QComboBox(parent)
        self.engine.setAccessibleName("Chat engine")
        self.engine.setToolTip("Which program runs the chat model. Automatic picks the fastest one for this "
                               "computer; a server runs a model of its own.")
        engines = next(f for f in dataclasses.fields(ChatSettings) if f.name == "engine").metadata["choices"]
        for value in engines:  # "auto" is named by _show_note, which knows what it means here
            self.engine.addItem({**ENGINE_NAMES, "auto": "Automatic", "server": SERVER_LABEL}.get(value, value), value)
        self.note_icon = QLabel(parent)
        self.note_icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.note = wrapping_label("", parent)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.server_url = QLineEdit(parent)
        self.server_url.setPlaceholderText(URL_PLACEHOLDER)
        self.server_url.setAccessibleName("Server address")
        self.server_url.setToolTip("The root of an OpenAI-compatible API: Ollama's is http://localhost:11434/v1, "
                                   "LM Studio's http://localhost:1234/v1")
        self.server_url.setClearButtonEnabled(True)
        self.url_error = wrapping_label("", parent)
        self.url_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.server_model = QLineEdit(parent)
        self.server_model.setPlaceholderText(MODEL_PLACEHOLDER)
        self.server_model.setAccessibleName("Server model")
        self.server_model.setToolTip("The server's name for the model, e.g. llama3.2; empty = the first it lists")
        self.api_key = QLineEdit(parent)
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setAccessibleName("API key")
        self.forget_key_button = QPushButton("Forget Key", parent)
        self.forget_key_button.setAutoDefault(False)
        self.forget_key_button.setToolTip("Delete the saved key when you save")
        self.key_note = hint("", parent)

        self.test_button = QPushButton("Te&st Connection", parent)
        self.test_button.setAutoDefault(False)
        self.test_button.setToolTip("Ask the server for its models and a one-word reply")
        self.test_busy = QProgressBar(parent)
        self.test_busy.setRange(0, 0)  # indeterminate: the test takes as long as the server does
        self.test_busy.setTextVisible(False)
        self.test_busy.setMaximumSize(90, 14)
        self.test_busy.hide()
        self.test_result = wrapping_label("", parent)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # to copy an error
        self.test_result.hide()
        self.test = ConnectionTest(self)

        self.engine.currentIndexChanged.connect(self._on_engine_picked)
        self.server_url.textChanged.connect(self._on_url_edited)
        self.server_url.editingFinished.connect(self.check_url)
        self.server_model.textChanged.connect(self._on_server_edited)
        self.api_key.textChanged.connect(self._on_key_edited)
        self.forget_key_button.clicked.connect(self._forget)
        self.test_button.clicked.connect(self.start_test)
        self.test.finished.connect(self._on_tested)
        self._server_rows: list[QWidget] = []
        self._saved = ChatSettings()

    def add_to(self, form: Form) -> None:
        """The rows: the engine menu with its note, then the server's address, model, key and test."""
        note_row = QHBoxLayout()
        note_row.setContentsMargins(0, 0, 0, 0)
        note_row.addWidget(self.note_icon, 0, Qt.AlignmentFlag.AlignTop)
        note_row.addWidget(self.note, 1)
        engine_column = QVBoxLayout()
        engine_column.setSpacing(4)
        engine_column.addWidget(self.engine)
        engine_column.addLayout(note_row)
        form.add_row("Chat &engine:", engine_column, buddy=self.engine)

        key_row = QHBoxLayout()
        key_row.addWidget(self.api_key, 1)
        key_row.addWidget(self.forget_key_button)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_busy)
        test_row.addStretch(1)
        for label, parts, buddy in (("Server a&ddress:", (self.server_url, self.url_error), self.server_url),
                                    ("Server m&odel:", (self.server_model,), self.server_model),
                                    ("API ke&y:", (key_row, self.key_note), self.api_key),
                                    ("", (test_row, self.test_result), None)):
            row = stacked(parts)
            self._server_rows += [row, form.add_row(label, row, buddy=buddy)]
        self._server_rows = [widget for widget in self._server_rows if widget is not None]
        self._show_server_rows()

    # --- the interface the window uses ----------------------------------------------------------------

    def set_chat(self, chat: ChatSettings) -> None:
        """Show `chat` (the saved settings); a key typed or forgotten and a test's outcome are dropped."""
        self._saved = chat
        for widget in (self.engine, self.server_url, self.server_model, self.api_key):
            widget.blockSignals(True)
        try:
            self.engine.setCurrentIndex(max(0, self.engine.findData(chat.engine)))
            self.server_url.setText(chat.server_url)
            self.server_model.setText(chat.server_model)
            self.api_key.clear()
        finally:
            for widget in (self.engine, self.server_url, self.server_model, self.api_key):
                widget.blockSignals(False)
        self._forget_key = False
        self._show_url_problem("")
        self._drop_test()
        self._show_key_state()
        self._show_server_rows()
        self._show_note()

    def set_model(self, model_id: str) -> None:
        """The chat model chosen in the window: what Automatic means, and whether the engine can run it."""
        self._model = self.choices.store.get(model_id) if model_id else None
        self._show_note()

    def chat(self) -> ChatSettings:
        """The `[chat]` settings as the fields stand (text typed around an address or a name is trimmed)."""
        url, model = self.server_url.text().strip(), self.server_model.text().strip()
        if url == self._saved.server_url.strip():
            url = self._saved.server_url
        if model == self._saved.server_model.strip():
            model = self._saved.server_model
        return dataclasses.replace(self._saved, engine=self.engine.currentData(), server_url=url, server_model=model)

    def key_changed(self) -> bool:
        """A key was typed, or the saved one forgotten: something for Save to do."""
        return self._pending_key() is not None

    def check(self) -> str:
        """Why these settings can't be saved ("" when they can); a problem with the address shows under it."""
        chat = self.chat()
        problem = url_problem(chat.server_url)
        if not problem and chat.engine == "server" and not chat.server_url:
            problem = NO_ADDRESS
        self._show_url_problem(problem)
        if problem:
            if chat.engine == "server":
                self.server_url.setFocus()  # where the fix goes
            return problem
        key = self._pending_key()
        if key and not is_valid_key(key):
            return NOT_A_KEY
        return self._engine_problem(chat.engine)

    def save_key(self) -> None:
        """Save a typed key, or forget the saved one, as the user asked. Raises ServerKeyError (a ModelError)."""
        key = self._pending_key()
        if key is None:
            return
        save_server_key(key)
        self.api_key.blockSignals(True)
        self.api_key.clear()
        self.api_key.blockSignals(False)
        self._forget_key = False
        self._show_key_state()

    # --- the engine ------------------------------------------------------------------------------------------

    def _engine_problem(self, engine: str) -> str:
        """The chosen local engine can't read the chat model: `local_engine`'s message; "" when it can."""
        if self._model is None or engine == "server":
            return ""  # a model not installed is the model menu's to say; a server runs its own
        try:
            choice.local_engine(engine, self._model)
        except ModelError as exc:
            return as_sentence(str(exc))
        return ""

    def _show_note(self) -> None:
        """What Automatic means here (in its menu item), and under the menu what the choice means or why it
        can't work."""
        try:
            auto = choice.local_engine("auto", self._model) if self._model else None
        except ModelError:
            auto = None
        auto = auto or ("mlx" if choice.apple_gpu() else "llama.cpp")
        self.engine.setItemText(self.engine.findData("auto"), f"Automatic ({where_it_runs(auto)})")

        engine = self.engine.currentData()
        text, warning = self._engine_problem(engine), True
        if not text:
            warning = False
            text = self._engine_hint(engine)
        self.note.setText(text)
        self.note.setVisible(bool(text))
        self.note_icon.setVisible(bool(text))
        if text:
            self.grew.emit()
            self.note_icon.setPixmap(icon_pixmap(self.engine, QStyle.StandardPixmap.SP_MessageBoxWarning if warning
                                                 else QStyle.StandardPixmap.SP_MessageBoxInformation))

    def _engine_hint(self, engine: str) -> str:
        if engine == "mlx" and not choice.apple_gpu():
            return "Without an Apple GPU, MLX runs on the CPU, several times slower than llama.cpp."
        if engine == "server":
            stand_in = ""
            if self._model is not None:
                try:
                    local = choice.local_engine("server", self._model)
                    name = self.choices.name(self._model.id).split(" (")[0]  # "Qwen2.5 Coder 0.5B Instruct"
                    stand_in = f" When it can't answer, {name} answers on {ENGINE_NAMES[local]}."
                except ModelError:
                    pass
            return "Replies come from a server you run (Ollama, LM Studio, llama-server, …)." + stand_in
        return ""

    def _on_engine_picked(self) -> None:
        self._drop_test()
        self._show_server_rows()
        self._show_note()
        self.changed.emit()

    def _show_server_rows(self) -> None:
        server = self.engine.currentData() == "server"
        for widget in self._server_rows:
            widget.setVisible(server)
        if server:
            self.grew.emit()

    # --- the address --------------------------------------------------------------------------------------------

    def check_url(self) -> bool:
        """Show under the address what is wrong with it, if anything; True when it is usable."""
        problem = url_problem(self.server_url.text().strip())
        self._show_url_problem(problem)
        return not problem

    def _on_url_edited(self) -> None:
        if self.url_error.text() and not url_problem(self.server_url.text().strip()):
            self._show_url_problem("")  # fixed: say so at once; a new mistake waits until the field is left
        self._on_server_edited()

    def _show_url_problem(self, problem: str) -> None:
        self.url_error.setText(problem)
        self.url_error.setVisible(bool(problem))
        self._tint(self.url_error, ok=False)
        if problem:
            self.grew.emit()

    def _on_server_edited(self) -> None:
        self._drop_test()
        self.changed.emit()

    # --- the API key ----------------------------------------------------------------------------------------------

    def _pending_key(self) -> str | None:
        """A typed key to save, "" to forget the saved one, None for no change."""
        typed = self.api_key.text().strip()
        if typed:
            return typed
        return "" if self._forget_key else None

    def _on_key_edited(self) -> None:
        self._show_key_state()
        self._on_server_edited()

    def _forget(self) -> None:
        self._forget_key = True
        self.api_key.clear()  # emits changed through _on_key_edited
        self._show_key_state()
        self.changed.emit()

    def _show_key_state(self) -> None:
        """Whether a key is saved (never the key itself), and what Save will do with the field's."""
        saved = server_key_path().is_file() and not self._forget_key
        self.api_key.setPlaceholderText("saved (type a new key to replace it)" if saved
                                        else "optional: only for servers that need one")
        self.forget_key_button.setVisible(saved and not self.api_key.text())
        if os.environ.get(KEY_ENV, "").strip():
            note = f"{KEY_ENV} is set: Parley sends that key, not one saved here."
        elif self.api_key.text():
            note = "Saved when you save the settings, in a file only you can read (not in settings.toml)."
        elif self._forget_key:
            note = "The saved key is deleted when you save the settings."
        elif saved:
            note = "A key is saved, in a file only you can read; it is never shown."
        else:
            note = "Ollama and LM Studio need no key."
        self.key_note.setText(note)

    # --- the connection test ---------------------------------------------------------------------------------------

    def start_test(self) -> None:
        """Test the server as the fields describe it, on a worker thread; the outcome shows under the button."""
        if not self.check_url():
            return
        url = self.server_url.text().strip()
        if not url:
            self._show_url_problem(NO_ADDRESS)
            return
        typed = self.api_key.text().strip()
        if typed and not is_valid_key(typed):
            self._show_result(False, NOT_A_KEY)
            return
        if typed:
            key = lambda: typed  # noqa: E731
        elif self._forget_key:
            key = lambda: None  # noqa: E731
        else:
            key = read_server_key
        self.test.start(url, self.server_model.text().strip(), key)
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        self.test_busy.show()
        self.test_result.hide()

    def _on_tested(self, ok: bool, line: str) -> None:
        self._idle()
        self._show_result(ok, line)

    def _show_result(self, ok: bool, line: str) -> None:
        self.test_result.setText(("✓  " if ok else "⚠  ") + line)
        self._tint(self.test_result, ok)
        self.test_result.show()
        self.grew.emit()

    def _drop_test(self) -> None:
        """The fields changed: a test under way or its outcome no longer describes them."""
        self.test.forget()
        self._idle()
        self.test_result.hide()
        self.test_result.clear()

    def _idle(self) -> None:
        self.test_button.setEnabled(True)
        self.test_button.setText("Te&st Connection")
        self.test_busy.hide()

    def _tint(self, label: QLabel, ok: bool) -> None:
        dark = label.palette().color(QPalette.ColorRole.Window).lightness() < 128
        label.setStyleSheet(f"color: {(_GREEN if ok else _RED)[dark]};")

