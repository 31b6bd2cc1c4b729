"""The settings window's Audio & Listening page: the microphone and speaker, echo cancellation, and how Parley
hears speech and the end of a turn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from assistant.runtime.settings import ListeningSettings
from ui.audio_devices import DeviceMenu
from ui.form_layout import Form, hint, setting_limits, slider_row, spin_box, with_hint

if TYPE_CHECKING:  # the window imports this module
    from ui.settings_window import SettingsWindow


def build_audio_tab(window: SettingsWindow) -> QWidget:
    """The Audio & Listening page, its controls set on `window` (which fills and reads them) and wired to its
    handlers."""
    page = QWidget()
    form = Form(page)
    window._forms.append(form)
    window.input_device = DeviceMenu(page)
    window.output_device = DeviceMenu(page)
    for menu in (window.input_device, window.output_device):
        menu.currentIndexChanged.connect(window._on_changed)
    form.add_row("M&icrophone:", window.input_device)
    form.add_row("Spea&ker:", window.output_device)
    window.refresh_devices_button = QPushButton("Refresh Devices", page)
    window.refresh_devices_button.setAutoDefault(False)
    window.refresh_devices_button.setToolTip("List the microphones and speakers connected now")
    window.refresh_devices_button.clicked.connect(window.refresh_devices)
    window.devices_note = hint("", page)
    devices_row = QHBoxLayout()
    devices_row.addWidget(window.refresh_devices_button)
    devices_row.addWidget(window.devices_note, 1)
    form.add_row("", devices_row)

    window.echo_cancellation = QCheckBox("Remove Parley's own voice from the microphone", page)
    window.echo_cancellation.toggled.connect(window._on_changed)
    form.add_row("Echo cancellation:", window.echo_cancellation)
    form.add_row("", hint("Lets you interrupt Parley while it speaks. Turn it off when you use headphones.",
                          page))
    form.add_gap()

    threshold = setting_limits(ListeningSettings, "vad_threshold")
    window._threshold_max = threshold["max"]
    window.sensitivity = QSlider(Qt.Orientation.Horizontal, page)
    window.sensitivity.setRange(0, round((threshold["max"] - threshold["min"]) * 100))
    window.sensitivity.setPageStep(10)
    window.sensitivity.setTickInterval(15)
    window.sensitivity.setTickPosition(QSlider.TickPosition.TicksBelow)
    window.sensitivity.setToolTip("How sure Parley must be that it hears speech. More sensitive hears quiet "
                                "voices, and noise too.")
    window.sensitivity_label = QLabel(page)
    window.sensitivity_label.setMinimumWidth(window.sensitivity_label.fontMetrics().horizontalAdvance("100%  "))
    window.sensitivity.valueChanged.connect(window._show_slider_values)
    window.sensitivity.valueChanged.connect(window._on_changed)
    form.add_row("Speech sensitivity:", slider_row(window.sensitivity, "Less", "More", window.sensitivity_label))

    window.end_of_turn_mode = QComboBox(page)
    window.end_of_turn_mode.addItem("When you sound finished", "smart")
    window.end_of_turn_mode.addItem("After a fixed silence", "fixed")
    window.end_of_turn_mode.setToolTip("When you sound finished: Parley hears whether you have finished a sentence "
                                     "and answers at once, or waits while you think. After a fixed silence: "
                                     "every pause of that length ends your turn.")
    window.end_of_turn_mode.currentIndexChanged.connect(window._show_end_of_turn_mode)
    window.end_of_turn_mode.currentIndexChanged.connect(window._on_changed)
    form.add_row("End of turn:", window.end_of_turn_mode)
    patience = setting_limits(ListeningSettings, "patience_ms")
    window.patience = spin_box(patience, " ms", 250, page)
    window.patience.valueChanged.connect(window._on_changed)
    form.add_row("Wait while you think:", with_hint(window.patience, "at most, mid-sentence", page))
    silence = setting_limits(ListeningSettings, "end_of_turn_silence_ms")
    window.end_of_turn = spin_box(silence, " ms", 50, page)
    window.end_of_turn.valueChanged.connect(window._on_changed)
    form.add_row("End of turn after:", with_hint(window.end_of_turn, "of silence (hands-free)", page))
    longest = setting_limits(ListeningSettings, "max_utterance_s")
    window.max_utterance = spin_box(longest, " s", 5, page)
    window.max_utterance.valueChanged.connect(window._on_changed)
    form.add_row("Longest turn:", with_hint(window.max_utterance, "then Parley answers anyway", page))
    return page
