"""The settings window: models and the chat engine, language, devices, talking style, listening, tools and the API
for other programs, saved with one Save button. Changes wait in the window until Save (⌘S / Ctrl+S), which validates them against
settings.py's ranges, writes settings.toml atomically (a chat server's API key, the remembered facts and the MCP
servers to files of their own) and emits `settings_saved`. Closing the window with unsaved changes asks whether to
save them; closing never quits the app.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QStyle, QTabWidget, QVBoxLayout, QWidget

from assistant.models.catalog import CatalogEntry
from assistant.models.errors import ModelError
from assistant.models.store import ModelStore
from assistant.speak.kokoro_styles import style_for
from assistant.runtime.settings import Settings, SettingsError, save_settings, settings_from_dict
from ui import audio_devices
from ui.form_layout import Form, ScrollingPage, icon_pixmap, wrapping_label
from ui.model_choices import KIND_NAMES, Advice, ModelChoices, language_advice, voice_for_language
from ui.model_picker import AdviceRow, ModelDownloads
from ui.settings_api_tab import ApiPage
from ui.settings_audio_tab import build_audio_tab
from ui.settings_general_tab import build_general_tab, fill_mandarin_voices
from ui.settings_models_tab import build_models_tab, hears_with
from ui.settings_tools_tab import ToolsPage

log = logging.getLogger(__name__)


class SettingsWindow(QWidget):
    """Parley's settings. The app shows it from the menu bar and reloads what `settings_saved` carries."""

    settings_saved = Signal(object)  # the new Settings, after save_settings() wrote them
    _devices_listed = Signal(object)  # AudioDevices, from the listing thread

    def __init__(self, settings: Settings, store: ModelStore, catalog: dict[str, CatalogEntry],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Parley Settings[*]")
        self.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)  # a menu-bar app outlives its windows
        self._saved = settings
        self._loading = True  # set while controls are filled from settings: no change events then
        self._listing_devices = False
        self.devices_listed = False  # a device list has arrived at least once
        self.choices = ModelChoices(store, catalog)
        self.downloads = ModelDownloads(store, catalog, self)
        self._use_when_installed: dict[str, str] = {}  # model id → kind, for downloads started from advice

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self._forms: list[Form] = []
        self.tabs.addTab(ScrollingPage(build_general_tab(self)), "&General")
        self.tabs.addTab(ScrollingPage(build_models_tab(self)), "&Models")
        self.tabs.addTab(ScrollingPage(build_audio_tab(self)), "&Audio && Listening")
        self.tools_page, self.api_page = ToolsPage(self._forms), ApiPage(self._forms)
        for page, title in ((self.tools_page, "&Tools"), (self.api_page, "&Other programs")):
            page.changed.connect(self._on_changed)
            self.tabs.addTab(ScrollingPage(page), title)
        label_width = max(form.label_width() for form in self._forms)
        for form in self._forms:  # the same label column on every tab: switching tabs doesn't shift the fields
            form.grid.setColumnMinimumWidth(0, label_width)

        self.status_icon = QLabel(self)
        self.status = wrapping_label("", self)
        self.revert_button = QPushButton("Revert", self)
        self.revert_button.setToolTip("Undo the changes you haven't saved")
        self.save_button = QPushButton("Save", self)
        self.save_button.setDefault(True)
        self.save_button.setToolTip(f"Save the settings ({QKeySequence(QKeySequence.StandardKey.Save).toString(QKeySequence.SequenceFormat.NativeText)})")
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_icon)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.revert_button)
        bottom.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        self.revert_button.clicked.connect(lambda: self.set_settings(self._saved))
        self.save_button.clicked.connect(self.save)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)
        QShortcut(QKeySequence.StandardKey.Close, self, activated=self.close)
        self.downloads.finished.connect(self._on_download_finished)
        self._devices_listed.connect(self._on_devices_listed, Qt.ConnectionType.QueuedConnection)

        self.set_settings(settings)
        self.resize(self.sizeHint().expandedTo(self.minimumSizeHint()).width() + 40, 680)

    # --- the interface the app uses -------------------------------------------------------------

    def set_settings(self, settings: Settings) -> None:
        """Show `settings` in every control; they become what Revert goes back to."""
        self._saved = settings
        self._loading = True
        try:
            self.tools_page.show_settings(settings.tools)
            self.api_page.show_settings(settings.api)
            conversation, listening = settings.conversation, settings.listening
            self.language.setCurrentIndex(max(0, self.language.findData(conversation.language)))
            self.mode_buttons[conversation.mode].setChecked(True)
            self.wake_word.setCurrentIndex(max(0, self.wake_word.findData(listening.wake_word)))
            self.wake_sensitivity.setValue(round(10 * listening.wake_sensitivity))
            self.follow_up.setValue(listening.follow_up_s)
            self.hotkey.set_hotkey(settings.hotkey.key)
            self.hotkey_style.setCurrentIndex(max(0, self.hotkey_style.findData(settings.hotkey.style)))
            self.system_prompt.setPlainText(conversation.system_prompt)
            self.chinese_script.setCurrentIndex(max(0, self.chinese_script.findData(conversation.chinese_script)))
            kokoro = self.choices.mandarin_kokoro()
            fill_mandarin_voices(self.mandarin_voice, tuple(kokoro.details.get("styles", ())) if kokoro else (),
                                 style_for(kokoro, "zh") if kokoro else "", settings.voice.mandarin_style)
            for kind, picker in self.pickers.items():
                picker.set_model_id(getattr(settings.models, kind))
            self.chat_engine.set_chat(settings.chat)
            self.speaking_rate.setValue(self._rate_position(settings.voice.speaking_rate))
            self.stt_server.setText(settings.speech_to_text.server_url)
            self.tts_server.setText(settings.voice.server_url)
            self.tts_server_voice.setText(settings.voice.server_voice)
            self.input_device.set_device(settings.audio.input_device)
            self.output_device.set_device(settings.audio.output_device)
            self.echo_cancellation.setChecked(settings.audio.echo_cancellation)
            self.sensitivity.setValue(self._sensitivity_position(listening.vad_threshold))
            self.end_of_turn_mode.setCurrentIndex(max(0, self.end_of_turn_mode.findData(listening.end_of_turn)))
            self.patience.setValue(listening.patience_ms)
            self.end_of_turn.setValue(listening.end_of_turn_silence_ms)
            self.max_utterance.setValue(listening.max_utterance_s)
        finally:
            self._loading = False
        self._show_slider_values()  # a slider left where it was says nothing
        self._show_end_of_turn_mode()
        self._update_advice()
        self._on_changed()
        self.set_status("")

    def set_status(self, text: str) -> None:
        """Show `text` at the bottom of the window (e.g. "Loading whisper-base…"); "" clears it."""
        self._say(text)

    # --- reading the controls and saving ----------------------------------------------------------

    def current_settings(self) -> Settings:
        """The settings as the controls show them now (saved or not)."""
        saved = self._saved
        # A slider holds a rounded value; while it stays where the saved value put it, the saved value stands.
        rate = self.speaking_rate.value() / 100
        if self.speaking_rate.value() == self._rate_position(saved.voice.speaking_rate):
            rate = saved.voice.speaking_rate
        wake_sensitivity = self.wake_sensitivity.value() / 10
        if self.wake_sensitivity.value() == round(10 * saved.listening.wake_sensitivity):
            wake_sensitivity = saved.listening.wake_sensitivity
        threshold = self._threshold()
        if self.sensitivity.value() == self._sensitivity_position(saved.listening.vad_threshold):
            threshold = saved.listening.vad_threshold
        return dataclasses.replace(
            saved,
            models=dataclasses.replace(saved.models, **{kind: p.model_id() for kind, p in self.pickers.items()}),
            chat=self.chat_engine.chat(),
            conversation=dataclasses.replace(
                saved.conversation, language=self.language.currentData(), mode=self._mode(),
                system_prompt=self.system_prompt.toPlainText(), chinese_script=self.chinese_script.currentData()),
            audio=dataclasses.replace(
                saved.audio, input_device=self.input_device.device(), output_device=self.output_device.device(),
                echo_cancellation=self.echo_cancellation.isChecked()),
            listening=dataclasses.replace(
                saved.listening, vad_threshold=threshold, end_of_turn=self.end_of_turn_mode.currentData(),
                end_of_turn_silence_ms=self.end_of_turn.value(), patience_ms=self.patience.value(),
                max_utterance_s=self.max_utterance.value(), wake_word=self.wake_word.currentData(),
                wake_sensitivity=wake_sensitivity, follow_up_s=self.follow_up.value()),
            voice=dataclasses.replace(saved.voice, speaking_rate=rate, mandarin_style=self.mandarin_voice.currentData(),
                                      server_url=self.tts_server.text().strip(),
                                      server_voice=self.tts_server_voice.text().strip()),
            speech_to_text=dataclasses.replace(saved.speech_to_text, server_url=self.stt_server.text().strip()),
            hotkey=dataclasses.replace(saved.hotkey, key=self.hotkey.hotkey(), style=self.hotkey_style.currentData()),
            tools=self.tools_page.tools_settings(), api=self.api_page.api_settings())

    def has_unsaved_changes(self) -> bool:
        return self.current_settings() != self._saved or self.chat_engine.key_changed() or self.tools_page.has_changes()

    @Slot()
    def save(self) -> bool:
        """Validate and save the settings; True when saved (then `settings_saved` has been emitted)."""
        self.hotkey.cancel_recording()
        settings = self.current_settings()
        for kind, picker in self.pickers.items():
            if not picker.selected_is_installed() and picker.model_id() != getattr(self._saved.models, kind):
                self.tabs.setCurrentIndex(1)
                self._say(f"{self.choices.name(picker.model_id())} isn't installed yet: download it, or pick an "
                          f"installed {KIND_NAMES[kind]}. Nothing was saved.", warning=True)
                return False
        for page, check in ((1, self.chat_engine.check), (3, self.tools_page.check), (4, self.api_page.check)):
            if problem := check():
                self.tabs.setCurrentIndex(page)
                self._say(f"{problem} Nothing was saved.", warning=True)
                return False
        try:
            settings_from_dict(dataclasses.asdict(settings), source="the settings window")  # the file's own checks
            self.chat_engine.save_key()  # first: a key that can't be saved leaves the settings as they were
            self.tools_page.save()
            path = save_settings(settings)
        except (SettingsError, ModelError, OSError) as exc:
            self._say(f"The settings were not saved: {exc}", warning=True)
            return False
        log.info("settings saved to %s", path)
        self._saved = settings
        self._on_changed()
        self._say("Saved.")
        self.settings_saved.emit(settings)
        return True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_devices()  # each time the window opens: a device may have come or gone meanwhile

    def closeEvent(self, event: QCloseEvent) -> None:
        self.hotkey.cancel_recording()
        if not self.has_unsaved_changes():
            event.accept()
            return
        event.ignore()
        self._ask_to_save_then_close()

    def _ask_to_save_then_close(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Parley Settings", "Save the changes to your settings?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText("If you don't save, your changes are lost.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setWindowModality(Qt.WindowModality.WindowModal)  # a sheet on macOS

        def answered(button) -> None:
            choice = box.standardButton(button)
            box.deleteLater()
            if choice == QMessageBox.StandardButton.Save and self.save():
                self.hide()
            elif choice == QMessageBox.StandardButton.Discard:
                self.set_settings(self._saved)
                self.hide()

        box.buttonClicked.connect(answered)
        box.open()

    # --- reacting to the user ------------------------------------------------------------------------

    def _mode(self) -> str:
        return next((mode for mode, button in self.mode_buttons.items() if button.isChecked()), "hands_free")

    def _show_end_of_turn_mode(self) -> None:
        """Only the timing of the chosen end of turn can be changed."""
        smart = self.end_of_turn_mode.currentData() == "smart"
        self.patience.setEnabled(smart)
        self.end_of_turn.setEnabled(not smart)

    def _show_slider_values(self) -> None:
        self.speaking_rate_label.setText(f"{self.speaking_rate.value() / 100:.2f}×")
        self.sensitivity_label.setText(f"{round(100 * self.sensitivity.value() / self.sensitivity.maximum())}%")

    def _threshold(self) -> float:
        """The VAD threshold the sensitivity slider stands for: more sensitive = a lower threshold."""
        return round(self._threshold_max - self.sensitivity.value() / 100, 2)

    def _sensitivity_position(self, threshold: float) -> int:
        return round((self._threshold_max - threshold) * 100)

    _rate_position = staticmethod(lambda rate: round(rate * 100))

    def _on_changed(self, *_args) -> None:
        wake = self.mode_buttons["wake_word"].isChecked()
        for control in (self.wake_word, self.wake_sensitivity, self.follow_up):
            control.setEnabled(wake)
        if self._loading:
            return
        dirty = self.has_unsaved_changes()
        for show in (self.setWindowModified, self.save_button.setEnabled, self.revert_button.setEnabled):
            show(dirty)

    def _on_language_picked(self) -> None:
        if self._loading:
            return
        voice = self.pickers["tts"]
        chosen = voice_for_language(self.choices, self.language.currentData(), voice.model_id())
        if chosen != voice.model_id():
            voice.set_model_id(chosen)
        self._update_advice()
        self._on_changed()

    def _on_model_picked(self) -> None:
        if self._loading:
            return
        self._update_advice()
        self._on_changed()

    def _update_advice(self) -> None:
        """Rebuild the lines under the language menu: which voice reads, and what doesn't fit; and the chat
        engine's note, which depends on the chat model too."""
        self.chat_engine.set_model(self.pickers["llm"].model_id())
        self.stt_engine.setText(hears_with(self.choices.store.get(self.pickers["stt"].model_id())))
        while self.advice.count():
            item = self.advice.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        notes = language_advice(self.choices, self.language.currentData() or "auto",
                                *(self.pickers[kind].model_id() for kind in ("stt", "llm", "tts")))
        self.advice_rows = [AdviceRow(note, self.choices, self.downloads, self._on_advice_action) for note in notes]
        for row in self.advice_rows:
            self.advice.addWidget(row)
            row.setVisible(self.isVisible())  # at once, not when the layout gets round to it

    def _on_advice_action(self, advice: Advice) -> None:
        if advice.action == "use":
            self.pickers[advice.kind].set_model_id(advice.model_id)
            self._update_advice()
            self._on_changed()
        elif advice.action == "download":
            self._use_when_installed[advice.model_id] = advice.kind
            self.downloads.start(advice.model_id)

    def _on_download_finished(self, model_id: str, installed) -> None:
        kind = self._use_when_installed.pop(model_id, None)
        if kind:
            self.pickers[kind].set_model_id(model_id)
        self._update_advice()
        self._on_changed()

    def _fit_page(self) -> None:
        """Make the window taller when the page shown grew past it (a server's rows appeared), as far as the
        screen allows; the page scrolls beyond that. Never smaller: the user may have sized it."""
        page = self.tabs.currentWidget()
        missing = page.overflow() if isinstance(page, ScrollingPage) else 0
        if not missing or not self.isVisible():
            return
        screen = self.screen().availableGeometry()
        frame = self.frameGeometry().height() - self.height()  # the title bar
        height = min(self.height() + missing, screen.height() - frame)
        if height > self.height():
            self.resize(self.width(), height)
            top = self.frameGeometry().top()
            if top + frame + height > screen.bottom():  # keep the bottom (and its Save button) on the screen
                self.move(self.x(), max(screen.top(), screen.bottom() - height - frame))

    # --- devices -----------------------------------------------------------------------------------

    @Slot()
    def refresh_devices(self) -> None:
        """List the connected microphones and speakers again, on a background thread."""
        if self._listing_devices:
            return
        self._listing_devices = True
        self.refresh_devices_button.setEnabled(False)
        self.devices_note.setText("Looking for devices…")

        def listing() -> None:
            found = audio_devices.list_audio_devices_now()
            try:
                self._devices_listed.emit(found)
            except RuntimeError:  # the window was deleted meanwhile
                pass

        threading.Thread(target=listing, name="list-audio-devices", daemon=True).start()

    def _on_devices_listed(self, found: audio_devices.AudioDevices) -> None:
        self._listing_devices = False
        self.devices_listed = True
        self.refresh_devices_button.setEnabled(True)
        loading, self._loading = self._loading, True
        try:
            self.input_device.set_devices(found.inputs)
            self.output_device.set_devices(found.outputs)
        finally:
            self._loading = loading
        missing = [kind for kind, names in (("microphone", found.inputs), ("speaker", found.outputs)) if not names]
        if found.problem:
            self.devices_note.setText(f"{found.problem}. Parley uses the system's default devices.")
        elif missing:
            self.devices_note.setText(f"No {' or '.join(missing)} found; connect one and refresh.")
        else:
            self.devices_note.setText("")

    # --- the status line ---------------------------------------------------------------------------

    def _say(self, text: str, warning: bool = False) -> None:
        self.status.setText(text)
        if warning:
            self.status_icon.setPixmap(icon_pixmap(self, QStyle.StandardPixmap.SP_MessageBoxWarning))
        self.status_icon.setVisible(warning)
