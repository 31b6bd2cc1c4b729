"""The settings window: models and the chat engine, language, devices, talking style and listening, saved
with one Save button.

Changes wait in the window until Save (⌘S / Ctrl+S), which validates them against settings.py's
ranges, writes settings.toml atomically (and a chat server's API key to its own file) and emits
`settings_saved`. Closing the window with unsaved changes asks whether to save them; closing never quits the app.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QHBoxLayout, QLabel, QMessageBox, QPlainTextEdit, QPushButton, QRadioButton,
    QSlider, QStyle, QTabWidget, QVBoxLayout, QWidget,
)

from assistant.models.catalog import CatalogEntry
from assistant.models.errors import ModelError
from assistant.models.store import ModelStore
from assistant.runtime.settings import (
    ConversationSettings, HotkeySettings, ListeningSettings, Settings, SettingsError, VoiceSettings,
    save_settings, settings_from_dict,
)
from assistant.chat.choice import apple_gpu
from assistant.transcribe.transcriber import engine_choice
from ui import audio_devices
from ui.audio_devices import DeviceMenu
from ui.chat_engine_section import ChatEngineSection
from ui.form_layout import Form, ScrollingPage, hint, icon_pixmap, slider_row, spin_box, with_hint, wrapping_label
from ui.hotkey_edit import HotkeyEdit
from ui.model_choices import KIND_NAMES, Advice, ModelChoices, language_advice, language_name, voice_for_language
from ui.model_picker import AdviceRow, ModelDownloads, ModelPicker

log = logging.getLogger(__name__)

_MODE_LABELS = {
    "hands_free": "&Hands-free: Parley listens all the time and answers when you pause",
    "wake_word": "&Wake word: Parley answers when you say its name first",
    "push_to_talk": "&Push-to-talk: Parley listens while you use the shortcut",
}
_WAKE_LABELS = {"hey_jarvis": "Hey Jarvis", "hey_mycroft": "Hey Mycroft", "alexa": "Alexa", "okay_nabu": "Okay Nabu"}
_STYLE_LABELS = {"hold": "Hold the shortcut while you speak", "toggle": "Press once to start, again to stop"}


def _limits(section: type, name: str) -> dict:
    """The metadata (min, max, choices, doc) settings.py gives a field."""
    return dict(next(f for f in dataclasses.fields(section) if f.name == name).metadata)


def _hears_with(model) -> str:
    """Which engine runs the installed speech model `model` here (nothing for one not installed yet). MLX's
    device is not asked on this thread: it is the Metal GPU exactly where there is an Apple GPU."""
    if model is None:
        return ""
    try:
        return f"Runs on {engine_choice(model.path, on_gpu=apple_gpu()).label}."
    except ModelError as exc:
        return str(exc)


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
        self.tabs.addTab(ScrollingPage(self._general_tab()), "&General")
        self.tabs.addTab(ScrollingPage(self._models_tab()), "&Models")
        self.tabs.addTab(ScrollingPage(self._audio_tab()), "&Audio && Listening")
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
            for kind, picker in self.pickers.items():
                picker.set_model_id(getattr(settings.models, kind))
            self.chat_engine.set_chat(settings.chat)
            self.speaking_rate.setValue(self._rate_position(settings.voice.speaking_rate))
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
            voice=dataclasses.replace(saved.voice, speaking_rate=rate),
            hotkey=dataclasses.replace(saved.hotkey, key=self.hotkey.hotkey(), style=self.hotkey_style.currentData()),
        )

    def has_unsaved_changes(self) -> bool:
        return self.current_settings() != self._saved or self.chat_engine.key_changed()

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
        problem = self.chat_engine.check()
        if problem:
            self.tabs.setCurrentIndex(1)
            self._say(f"{problem} Nothing was saved.", warning=True)
            return False
        try:
            settings_from_dict(dataclasses.asdict(settings), source="the settings window")  # the file's own checks
            self.chat_engine.save_key()  # first: a key that can't be saved leaves the settings as they were
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

    # --- tabs --------------------------------------------------------------------------------------

    def _general_tab(self) -> QWidget:
        page = QWidget()
        form = Form(page)
        self._forms.append(form)

        self.language = QComboBox(page)
        codes = _limits(ConversationSettings, "language")["choices"]
        self.language.addItem(language_name("auto"), "auto")
        for code in sorted((c for c in codes if c != "auto"), key=language_name):
            self.language.addItem(language_name(code), code)
        self.language.currentIndexChanged.connect(self._on_language_picked)
        form.add_row("&Language:", self.language)
        self.chinese_script = QComboBox(page)
        self.chinese_script.addItem("Simplified (简体)", "simplified")
        self.chinese_script.addItem("Traditional (繁體)", "traditional")
        self.chinese_script.setToolTip("How Chinese is written: what you say is written down in these characters, "
                                       "and replies are asked for in them.")
        self.chinese_script.currentIndexChanged.connect(self._on_changed)
        form.add_row("Chinese characters:", self.chinese_script)
        self.advice = QVBoxLayout()
        self.advice.setSpacing(6)
        form.add_row("", self.advice)
        form.add_gap()

        self.mode_group = QButtonGroup(page)
        self.mode_buttons = {}
        modes = QVBoxLayout()
        modes.setSpacing(4)
        for mode in _limits(ConversationSettings, "mode")["choices"]:
            button = QRadioButton(_MODE_LABELS.get(mode, mode), page)
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            modes.addWidget(button)
            button.toggled.connect(self._on_changed)
        form.add_row("Conversation:", modes)
        self.wake_word = QComboBox(page)
        for phrase in _limits(ListeningSettings, "wake_word")["choices"]:
            self.wake_word.addItem(_WAKE_LABELS.get(phrase, phrase), phrase)
        self.wake_word.currentIndexChanged.connect(self._on_changed)
        form.add_row("Wake word:", self.wake_word)
        self.wake_sensitivity = QSlider(Qt.Orientation.Horizontal, page)
        self.wake_sensitivity.setRange(0, 10)
        self.wake_sensitivity.setToolTip("Left: fewer false wakes (a TV, other people). Right: fewer missed wake words.")
        self.wake_sensitivity.valueChanged.connect(self._on_changed)
        form.add_row("", with_hint(self.wake_sensitivity, "how readily it wakes", page))
        self.follow_up = spin_box(_limits(ListeningSettings, "follow_up_s"), " s", 1, page)
        self.follow_up.valueChanged.connect(self._on_changed)
        form.add_row("", with_hint(self.follow_up, "after a reply, a question needs no wake word", page))

        self.hotkey = HotkeyEdit(parent=page)
        self.hotkey.hotkey_changed.connect(self._on_changed)
        form.add_row("Push-to-talk key:", self.hotkey)
        self.hotkey_style = QComboBox(page)
        for style in _limits(HotkeySettings, "style")["choices"]:
            self.hotkey_style.addItem(_STYLE_LABELS.get(style, style), style)
        self.hotkey_style.currentIndexChanged.connect(self._on_changed)
        form.add_row("", self.hotkey_style)
        form.add_gap()

        self.system_prompt = QPlainTextEdit(page)
        self.system_prompt.setPlaceholderText("For example: Call me Sam. Explain things simply.")
        self.system_prompt.setTabChangesFocus(True)
        self.system_prompt.setFixedHeight(self.system_prompt.fontMetrics().lineSpacing() * 5 + 12)
        self.system_prompt.textChanged.connect(self._on_changed)
        form.add_row("Instructions:", self.system_prompt)
        form.add_row("", hint("Added to Parley's own instructions, which keep replies short and spoken.", page))
        return page

    def _models_tab(self) -> QWidget:
        page = QWidget()
        form = Form(page)
        self._forms.append(form)
        self.pickers: dict[str, ModelPicker] = {}
        for kind, label, tooltip in (
            ("stt", "Speech &recognition:", "Turns what you say into text. Larger models are more accurate and slower."),
            ("llm", "Cha&t model:", "Writes the replies. Larger models answer better and take longer."),
            ("tts", "&Voice:", "Reads the replies aloud."),
        ):
            picker = ModelPicker(kind, self.choices, self.downloads, page)
            picker.changed.connect(self._on_model_picked)
            picker.menu.setAccessibleName(label.replace("&", "").rstrip(":"))
            picker.menu.setToolTip(tooltip)
            self.pickers[kind] = picker
            form.add_row(label, picker, buddy=picker.menu)
            if kind == "stt":  # the engine that hears with it, just under it
                self.stt_engine = hint("", page)
                form.add_row("", self.stt_engine)
            if kind == "llm":  # the engine that runs it, just under it
                self.chat_engine = ChatEngineSection(self.choices, page)
                self.chat_engine.changed.connect(self._on_changed)
                # Once laid out (the next pass of the event loop), not now.
                self.chat_engine.grew.connect(lambda: QTimer.singleShot(0, self, self._fit_page))
                self.chat_engine.add_to(form)
            form.add_gap()

        rate = _limits(VoiceSettings, "speaking_rate")
        self.speaking_rate = QSlider(Qt.Orientation.Horizontal, page)
        self.speaking_rate.setRange(round(rate["min"] * 100), round(rate["max"] * 100))
        self.speaking_rate.setSingleStep(5)
        self.speaking_rate.setPageStep(25)
        self.speaking_rate.setTickInterval(25)
        self.speaking_rate.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.speaking_rate_label = QLabel(page)
        self.speaking_rate_label.setMinimumWidth(self.speaking_rate_label.fontMetrics().horizontalAdvance("0.00×  "))
        self.speaking_rate.valueChanged.connect(self._show_slider_values)
        self.speaking_rate.valueChanged.connect(self._on_changed)
        form.add_row("Speaking rate:", slider_row(self.speaking_rate, "Slower", "Faster", self.speaking_rate_label))
        form.add_gap()
        form.add_row("", hint(f"Models are kept in {self.choices.store_folder()}. Downloads come from the Hugging Face "
                              "hub; `parley models import` adds models you already have.", page))
        return page

    def _audio_tab(self) -> QWidget:
        page = QWidget()
        form = Form(page)
        self._forms.append(form)
        self.input_device = DeviceMenu(page)
        self.output_device = DeviceMenu(page)
        for menu in (self.input_device, self.output_device):
            menu.currentIndexChanged.connect(self._on_changed)
        form.add_row("M&icrophone:", self.input_device)
        form.add_row("Spea&ker:", self.output_device)
        self.refresh_devices_button = QPushButton("Refresh Devices", page)
        self.refresh_devices_button.setAutoDefault(False)
        self.refresh_devices_button.setToolTip("List the microphones and speakers connected now")
        self.refresh_devices_button.clicked.connect(self.refresh_devices)
        self.devices_note = hint("", page)
        devices_row = QHBoxLayout()
        devices_row.addWidget(self.refresh_devices_button)
        devices_row.addWidget(self.devices_note, 1)
        form.add_row("", devices_row)

        self.echo_cancellation = QCheckBox("Remove Parley's own voice from the microphone", page)
        self.echo_cancellation.toggled.connect(self._on_changed)
        form.add_row("Echo cancellation:", self.echo_cancellation)
        form.add_row("", hint("Lets you interrupt Parley while it speaks. Turn it off when you use headphones.",
                              page))
        form.add_gap()

        threshold = _limits(ListeningSettings, "vad_threshold")
        self._threshold_max = threshold["max"]
        self.sensitivity = QSlider(Qt.Orientation.Horizontal, page)
        self.sensitivity.setRange(0, round((threshold["max"] - threshold["min"]) * 100))
        self.sensitivity.setPageStep(10)
        self.sensitivity.setTickInterval(15)
        self.sensitivity.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.sensitivity.setToolTip("How sure Parley must be that it hears speech. More sensitive hears quiet "
                                    "voices, and noise too.")
        self.sensitivity_label = QLabel(page)
        self.sensitivity_label.setMinimumWidth(self.sensitivity_label.fontMetrics().horizontalAdvance("100%  "))
        self.sensitivity.valueChanged.connect(self._show_slider_values)
        self.sensitivity.valueChanged.connect(self._on_changed)
        form.add_row("Speech sensitivity:", slider_row(self.sensitivity, "Less", "More", self.sensitivity_label))

        self.end_of_turn_mode = QComboBox(page)
        self.end_of_turn_mode.addItem("When you sound finished", "smart")
        self.end_of_turn_mode.addItem("After a fixed silence", "fixed")
        self.end_of_turn_mode.setToolTip("When you sound finished: Parley hears whether you have finished a sentence "
                                         "and answers at once, or waits while you think. After a fixed silence: "
                                         "every pause of that length ends your turn.")
        self.end_of_turn_mode.currentIndexChanged.connect(self._show_end_of_turn_mode)
        self.end_of_turn_mode.currentIndexChanged.connect(self._on_changed)
        form.add_row("End of turn:", self.end_of_turn_mode)
        patience = _limits(ListeningSettings, "patience_ms")
        self.patience = spin_box(patience, " ms", 250, page)
        self.patience.valueChanged.connect(self._on_changed)
        form.add_row("Wait while you think:", with_hint(self.patience, "at most, mid-sentence", page))
        silence = _limits(ListeningSettings, "end_of_turn_silence_ms")
        self.end_of_turn = spin_box(silence, " ms", 50, page)
        self.end_of_turn.valueChanged.connect(self._on_changed)
        form.add_row("End of turn after:", with_hint(self.end_of_turn, "of silence (hands-free)", page))
        longest = _limits(ListeningSettings, "max_utterance_s")
        self.max_utterance = spin_box(longest, " s", 5, page)
        self.max_utterance.valueChanged.connect(self._on_changed)
        form.add_row("Longest turn:", with_hint(self.max_utterance, "then Parley answers anyway", page))
        return page

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

    @staticmethod
    def _rate_position(rate: float) -> int:
        return round(rate * 100)

    def _on_changed(self, *_args) -> None:
        wake = self.mode_buttons["wake_word"].isChecked()
        for control in (self.wake_word, self.wake_sensitivity, self.follow_up):
            control.setEnabled(wake)
        if self._loading:
            return
        dirty = self.has_unsaved_changes()
        self.setWindowModified(dirty)
        self.save_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)

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
        self.stt_engine.setText(_hears_with(self.choices.store.get(self.pickers["stt"].model_id())))
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
