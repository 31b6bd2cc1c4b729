"""The settings window's Other programs page: Parley's speech to text, voices and chat model for other programs,
served beside the conversation on the models it has loaded (an OpenAI-style HTTP API, and Home Assistant's Wyoming
protocol), as `parley serve` does on its own."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QWidget

from assistant.runtime.settings import ApiSettings
from assistant.servers.server_key import API_TOKEN, server_key_path
from ui.form_layout import Form, column_of, hint, row_of, setting_limits, spin_box, wrapping_label


class ApiPage(QWidget):
    """The page; `changed` whenever the person edits anything on it."""

    changed = Signal()

    def __init__(self, form_list: list[Form], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = Form(self)
        form_list.append(form)

        self.enabled = QCheckBox("Let other programs &use Parley's speech to text, voices and chat model", self)
        self.port = spin_box(setting_limits(ApiSettings, "port"), "", 1, self)
        self.port.setAccessibleName("The API's port")
        self.network = QCheckBox("Reachable from other &computers (they need the token)", self)
        self.wyoming = QCheckBox("Also serve Home Assistant's &Wyoming protocol", self)
        self.wyoming_port = spin_box(setting_limits(ApiSettings, "wyoming_port"), "", 1, self)
        self.wyoming_port.setAccessibleName("The Wyoming server's port")
        for box in (self.enabled, self.network, self.wyoming):
            box.toggled.connect(self.changed)
        for spin in (self.port, self.wyoming_port):
            spin.valueChanged.connect(self.changed)
        self.enabled.toggled.connect(self._show_enabled)
        self.wyoming.toggled.connect(self._show_enabled)
        self.network.toggled.connect(self._show_address)
        self.port.valueChanged.connect(self._show_address)

        self.address = hint("", self)
        form.add_row("Serving:", column_of(
            self.enabled,
            hint("An OpenAI-style API on this computer: /v1/audio/transcriptions, /v1/audio/speech, "
                 "/v1/chat/completions and /v1/models, for the openai client and the tools that speak to Ollama or "
                 "LM Studio. While you talk to Parley their requests wait: the conversation goes first. Turning it "
                 "on or off reloads the models.", self)))
        form.add_row("Po&rt:", row_of(self.port, self.address), self.port)
        form.add_row("Network:", column_of(
            self.network,
            hint(f"Other computers must send the token kept in {server_key_path(API_TOKEN)} (made the first time) "
                 "as a Bearer token; this computer's programs need none.", self)))
        form.add_gap()
        form.add_row("Home Assistant:", column_of(
            self.wyoming,
            hint("Speech to text, voices and wake words for Home Assistant's voice pipeline: add the Wyoming "
                 "integration with this computer's address and the port below.", self)))
        form.add_row("Wyoming por&t:", row_of(self.wyoming_port), self.wyoming_port)
        form.add_gap()
        self.serving = wrapping_label("", self)
        self.serving.setAccessibleName("Where Parley serves now")
        form.add_row("Now:", self.serving)
        self.show_serving(())

    # --- the window's interface ----------------------------------------------------------------------------------

    def show_settings(self, api: ApiSettings) -> None:
        self.enabled.setChecked(api.enabled)
        self.port.setValue(api.port)
        self.network.setChecked(api.network)
        self.wyoming.setChecked(api.wyoming)
        self.wyoming_port.setValue(api.wyoming_port)
        self._show_enabled()
        self._show_address()

    def api_settings(self) -> ApiSettings:
        return ApiSettings(enabled=self.enabled.isChecked(), port=self.port.value(), network=self.network.isChecked(),
                           wyoming=self.wyoming.isChecked(), wyoming_port=self.wyoming_port.value())

    def check(self) -> str:
        """What is wrong with the page as shown ("" when nothing): said instead of saving."""
        if self.enabled.isChecked() and self.wyoming.isChecked() and self.port.value() == self.wyoming_port.value():
            return f"The API and the Wyoming server both ask for port {self.port.value()}: give each its own."
        return ""

    def show_serving(self, where: tuple[str, ...]) -> None:
        """What runs now, as the app last heard (`where`: a line per server; empty: nothing)."""
        self.serving.setText("\n".join(where) if where else "Not serving other programs.")

    # --- showing -------------------------------------------------------------------------------------------------

    def _show_enabled(self) -> None:
        on = self.enabled.isChecked()
        for widget in (self.port, self.network, self.wyoming):
            widget.setEnabled(on)
        self.wyoming_port.setEnabled(on and self.wyoming.isChecked())

    def _show_address(self) -> None:
        port = self.port.value()
        self.address.setText(f"http://0.0.0.0:{port}/v1 (every address of this computer)" if self.network.isChecked()
                             else f"http://127.0.0.1:{port}/v1")
