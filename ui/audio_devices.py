"""Microphones and speakers to choose from, and the menu that lists them.

PortAudio takes its list of devices once, when it starts, so this process's list goes stale when a
device is plugged in. Restarting PortAudio here would close the streams the conversation is using;
a fresh list comes from a short-lived helper process instead.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

log = logging.getLogger(__name__)

SYSTEM_DEFAULT = "System default"
NOT_CONNECTED = " (not connected)"


@dataclass(frozen=True)
class AudioDevices:
    """Device names as PortAudio gives them (the names settings.toml stores)."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    problem: str = ""  # why nothing could be listed, when PortAudio failed


_LIST_SCRIPT = (
    "import json, sounddevice as sd; "
    "print(json.dumps([[d['name'], d['max_input_channels'], d['max_output_channels']] for d in sd.query_devices()]))"
)


def devices_from_table(rows) -> AudioDevices:
    """AudioDevices from (name, input channels, output channels) rows; a name seen twice is listed once."""
    inputs: dict[str, None] = {}
    outputs: dict[str, None] = {}
    for name, inputs_count, outputs_count in rows:
        if inputs_count > 0:
            inputs[name] = None
        if outputs_count > 0:
            outputs[name] = None
    return AudioDevices(tuple(inputs), tuple(outputs))


def list_audio_devices() -> AudioDevices:
    """The devices as this process's PortAudio saw them when it started (instant). Never raises."""
    try:
        import sounddevice as sd

        table = [(d["name"], d["max_input_channels"], d["max_output_channels"]) for d in sd.query_devices()]
    except Exception as exc:  # no PortAudio library, or PortAudio failing: an empty list, with the reason
        log.warning("cannot list audio devices: %s", exc)
        return AudioDevices(problem=f"PortAudio can't list the audio devices ({exc})")
    return devices_from_table(table)


def list_audio_devices_now() -> AudioDevices:
    """The devices connected now, from a helper process (about a second; run it off the UI thread).

    Falls back to this process's list when no helper can run (a frozen app has no Python to run it).
    """
    if getattr(sys, "frozen", False):
        return list_audio_devices()
    try:
        result = subprocess.run([sys.executable, "-c", _LIST_SCRIPT], capture_output=True, text=True, timeout=20)
        if result.returncode == 0:
            return devices_from_table(json.loads(result.stdout.strip().splitlines()[-1]))
        log.warning("listing audio devices failed: %s", result.stderr.strip()[-500:])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        log.warning("listing audio devices failed: %s", exc)
    return list_audio_devices()


class DeviceMenu(QComboBox):
    """System default first, then the devices; a saved device that is gone stays selected, marked not connected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(24)
        self._names: tuple[str, ...] | None = None  # None until a list of devices has arrived
        self._fill("")

    def device(self) -> str:
        """The selected device name; "" = the system default."""
        return self.currentData() or ""

    def set_device(self, name: str) -> None:
        """Select `name` (without emitting a change)."""
        self._fill(name)

    def set_devices(self, names: tuple[str, ...]) -> None:
        """List `names`, keeping the selection (without emitting a change)."""
        self._names = tuple(names)
        self._fill(self.device())

    def _fill(self, selected: str) -> None:
        names = self._names or ()
        self.blockSignals(True)
        try:
            self.clear()
            self.addItem(SYSTEM_DEFAULT, "")
            for name in names:
                self.addItem(name, name)
            if selected and selected not in names:
                listed = self._names is not None  # before the first list, a saved device is not known to be gone
                self.addItem(selected + (NOT_CONNECTED if listed else ""), selected)
                if listed:
                    self.setItemData(self.count() - 1, f"{selected} is not connected. Connect it, or pick another "
                                     "device.", Qt.ItemDataRole.ToolTipRole)
            self.setCurrentIndex(max(0, self.findData(selected)))
        finally:
            self.blockSignals(False)
