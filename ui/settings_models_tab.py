"""The settings window's Models page: the speech, chat and voice models, the chat engine under the chat model,
the speech-to-text and voice servers, and the speaking rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QLineEdit, QSlider, QWidget

from assistant.chat.choice import apple_gpu
from assistant.models.errors import ModelError
from assistant.runtime.settings import VoiceSettings
from assistant.transcribe.transcriber import engine_choice
from ui.chat_engine_section import ChatEngineSection
from ui.form_layout import Form, hint, setting_limits, slider_row
from ui.model_picker import ModelPicker

if TYPE_CHECKING:  # the window imports this module
    from ui.settings_window import SettingsWindow


def build_models_tab(window: SettingsWindow) -> QWidget:
    """The Models page, its controls set on `window` (which fills and reads them) and wired to its handlers."""
    page = QWidget()
    form = Form(page)
    window._forms.append(form)
    window.pickers: dict[str, ModelPicker] = {}
    for kind, label, tooltip in (
        ("stt", "Speech &recognition:", "Turns what you say into text. Larger models are more accurate and slower."),
        ("llm", "Cha&t model:", "Writes the replies. Larger models answer better and take longer."),
        ("tts", "&Voice:", "Reads the replies aloud."),
    ):
        picker = ModelPicker(kind, window.choices, window.downloads, page)
        picker.changed.connect(window._on_model_picked)
        picker.menu.setAccessibleName(label.replace("&", "").rstrip(":"))
        picker.menu.setToolTip(tooltip)
        window.pickers[kind] = picker
        form.add_row(label, picker, buddy=picker.menu)
        if kind == "stt":  # the engine that hears with it, just under it; a server that hears first
            window.stt_engine = hint("", page)
            form.add_row("", window.stt_engine)
            window.stt_server = _server_field(window, page, "http://gpu-box:8000/v1",
                                              "An OpenAI-compatible speech-to-text server that hears first (a large "
                                              "Whisper on another computer); this model hears when it can't.")
            form.add_row("Speech server:", window.stt_server)
        if kind == "llm":  # the engine that runs it, just under it
            window.chat_engine = ChatEngineSection(window.choices, page)
            window.chat_engine.changed.connect(window._on_changed)
            # Once laid out (the next pass of the event loop), not now.
            window.chat_engine.grew.connect(lambda: QTimer.singleShot(0, window, window._fit_page))
            window.chat_engine.add_to(form)
        form.add_gap()

    window.tts_server = _server_field(window, page, "http://gpu-box:8880/v1",
                                      "An OpenAI-compatible voice server that reads the replies; the voices here "
                                      "read what it can't.")
    form.add_row("Voice server:", window.tts_server)
    window.tts_server_voice = _server_field(window, page, "its voice, e.g. alloy; empty: Kokoro's own",
                                            "The server's voice for every language; empty: af_heart for English and "
                                            "zf_xiaoxiao for Mandarin (a Kokoro server), other languages read here.")
    form.add_row("Server's voice:", window.tts_server_voice)
    form.add_gap()

    rate = setting_limits(VoiceSettings, "speaking_rate")
    window.speaking_rate = QSlider(Qt.Orientation.Horizontal, page)
    window.speaking_rate.setRange(round(rate["min"] * 100), round(rate["max"] * 100))
    window.speaking_rate.setSingleStep(5)
    window.speaking_rate.setPageStep(25)
    window.speaking_rate.setTickInterval(25)
    window.speaking_rate.setTickPosition(QSlider.TickPosition.TicksBelow)
    window.speaking_rate_label = QLabel(page)
    window.speaking_rate_label.setMinimumWidth(window.speaking_rate_label.fontMetrics().horizontalAdvance("0.00×  "))
    window.speaking_rate.valueChanged.connect(window._show_slider_values)
    window.speaking_rate.valueChanged.connect(window._on_changed)
    form.add_row("Speaking rate:", slider_row(window.speaking_rate, "Slower", "Faster", window.speaking_rate_label))
    form.add_gap()
    form.add_row("", hint(f"Models are kept in {window.choices.store_folder()}. Downloads come from the Hugging Face "
                          "hub; `parley models import` adds models you already have.", page))
    return page


def _server_field(window: SettingsWindow, page: QWidget, placeholder: str, tooltip: str) -> QLineEdit:
    """A line for a server's address or name: empty means none (everything runs on this computer)."""
    field = QLineEdit(page)
    field.setPlaceholderText(f"optional: {placeholder}" if "://" in placeholder else placeholder)
    field.setToolTip(tooltip)
    field.setClearButtonEnabled(True)
    field.textChanged.connect(window._on_changed)
    return field


def hears_with(model) -> str:
    """Which engine runs the installed speech model `model` here (nothing for one not installed yet). MLX's
    device is not asked on this thread: it is the Metal GPU exactly where there is an Apple GPU."""
    if model is None:
        return ""
    try:
        return f"Runs on {engine_choice(model.path, on_gpu=apple_gpu()).label}."
    except ModelError as exc:
        return str(exc)
