"""The settings window's General page: language, how the conversation starts (hands-free, wake word,
push-to-talk) and the user's own instructions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QComboBox, QPlainTextEdit, QRadioButton, QSlider, QVBoxLayout, QWidget

from assistant.runtime.settings import ConversationSettings, HotkeySettings, ListeningSettings
from ui.form_layout import Form, hint, setting_limits, spin_box, with_hint
from ui.hotkey_edit import HotkeyEdit
from ui.model_choices import language_name

if TYPE_CHECKING:  # the window imports this module
    from ui.settings_window import SettingsWindow

_MODE_LABELS = {
    "hands_free": "&Hands-free: Parley listens all the time and answers when you pause",
    "wake_word": "&Wake word: Parley answers when you say its name first",
    "push_to_talk": "&Push-to-talk: Parley listens while you use the shortcut",
}
_WAKE_LABELS = {"hey_jarvis": "Hey Jarvis", "hey_mycroft": "Hey Mycroft", "alexa": "Alexa", "okay_nabu": "Okay Nabu"}
_STYLE_LABELS = {"hold": "Hold the shortcut while you speak", "toggle": "Press once to start, again to stop"}


def build_general_tab(window: SettingsWindow) -> QWidget:
    """The General page, its controls set on `window` (which fills and reads them) and wired to its handlers."""
    page = QWidget()
    form = Form(page)
    window._forms.append(form)

    window.language = QComboBox(page)
    codes = setting_limits(ConversationSettings, "language")["choices"]
    window.language.addItem(language_name("auto"), "auto")
    for code in sorted((c for c in codes if c != "auto"), key=language_name):
        window.language.addItem(language_name(code), code)
    window.language.currentIndexChanged.connect(window._on_language_picked)
    form.add_row("&Language:", window.language)
    window.chinese_script = QComboBox(page)
    window.chinese_script.addItem("Simplified (简体)", "simplified")
    window.chinese_script.addItem("Traditional (繁體)", "traditional")
    window.chinese_script.setToolTip("How Chinese is written: what you say is written down in these characters, "
                                   "and replies are asked for in them.")
    window.chinese_script.currentIndexChanged.connect(window._on_changed)
    form.add_row("Chinese characters:", window.chinese_script)
    window.mandarin_voice = QComboBox(page)
    window.mandarin_voice.setToolTip("Who reads replies in Chinese: Kokoro's Mandarin voices.")
    window.mandarin_voice.currentIndexChanged.connect(window._on_changed)
    form.add_row("Chinese voice:", window.mandarin_voice)
    window.advice = QVBoxLayout()
    window.advice.setSpacing(6)
    form.add_row("", window.advice)
    form.add_gap()

    window.mode_group = QButtonGroup(page)
    window.mode_buttons = {}
    modes = QVBoxLayout()
    modes.setSpacing(4)
    for mode in setting_limits(ConversationSettings, "mode")["choices"]:
        button = QRadioButton(_MODE_LABELS.get(mode, mode), page)
        window.mode_group.addButton(button)
        window.mode_buttons[mode] = button
        modes.addWidget(button)
        button.toggled.connect(window._on_changed)
    form.add_row("Conversation:", modes)
    window.wake_word = QComboBox(page)
    for phrase in setting_limits(ListeningSettings, "wake_word")["choices"]:
        window.wake_word.addItem(_WAKE_LABELS.get(phrase, phrase), phrase)
    window.wake_word.currentIndexChanged.connect(window._on_changed)
    form.add_row("Wake word:", window.wake_word)
    window.wake_sensitivity = QSlider(Qt.Orientation.Horizontal, page)
    window.wake_sensitivity.setRange(0, 10)
    window.wake_sensitivity.setToolTip("Left: fewer false wakes (a TV, other people). Right: fewer missed wake words.")
    window.wake_sensitivity.valueChanged.connect(window._on_changed)
    form.add_row("", with_hint(window.wake_sensitivity, "how readily it wakes", page))
    window.follow_up = spin_box(setting_limits(ListeningSettings, "follow_up_s"), " s", 1, page)
    window.follow_up.valueChanged.connect(window._on_changed)
    form.add_row("", with_hint(window.follow_up, "after a reply, a question needs no wake word", page))

    window.hotkey = HotkeyEdit(parent=page)
    window.hotkey.hotkey_changed.connect(window._on_changed)
    form.add_row("Push-to-talk key:", window.hotkey)
    window.hotkey_style = QComboBox(page)
    for style in setting_limits(HotkeySettings, "style")["choices"]:
        window.hotkey_style.addItem(_STYLE_LABELS.get(style, style), style)
    window.hotkey_style.currentIndexChanged.connect(window._on_changed)
    form.add_row("", window.hotkey_style)
    form.add_gap()

    window.system_prompt = QPlainTextEdit(page)
    window.system_prompt.setPlaceholderText("For example: Call me Sam. Explain things simply.")
    window.system_prompt.setTabChangesFocus(True)
    window.system_prompt.setFixedHeight(window.system_prompt.fontMetrics().lineSpacing() * 5 + 12)
    window.system_prompt.textChanged.connect(window._on_changed)
    form.add_row("Instructions:", window.system_prompt)
    form.add_row("", hint("Added to Parley's own instructions, which keep replies short and spoken.", page))
    return page


def fill_mandarin_voices(menu: QComboBox, styles: tuple[str, ...], own: str, chosen: str) -> None:
    """The Mandarin styles of the installed Kokoro voice in `menu` (its own, marked, first: data ""), `chosen`
    selected; one that is no longer there stays listed as such, so opening the window changes nothing."""
    menu.blockSignals(True)
    try:
        menu.clear()
        mandarin = [style for style in styles if style.startswith("z") and style != own]
        if not own:
            menu.addItem("Install Kokoro (Mandarin, Korean, English) on the Models page", "")
        else:
            menu.addItem(f"{_style_label(own)}, the clearest", "")
            for style in mandarin:
                menu.addItem(_style_label(style), style)
        if chosen and menu.findData(chosen) < 0:
            menu.addItem(f"{chosen} (not installed)", chosen)
        menu.setCurrentIndex(max(0, menu.findData(chosen)))
        menu.setEnabled(bool(own))
    finally:
        menu.blockSignals(False)


def _style_label(style: str) -> str:
    """"zm_yunxi" → "Yunxi (male)": Kokoro's style names are language letter, f/m, underscore, name."""
    kind = {"f": "female", "m": "male"}.get(style[1:2], "")
    name = style.partition("_")[2].capitalize() or style
    return f"{name} ({kind})" if kind else name
