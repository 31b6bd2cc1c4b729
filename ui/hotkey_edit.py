"""The push-to-talk shortcut: recorded from the keys the user presses, stored in pynput's format.

pynput (the global hotkey listener) reads shortcuts such as "<f8>", "<ctrl>+<alt>+<space>" or
"<cmd>+<shift>+k"; the window shows them the platform's way ("Ctrl+Alt+Space", "⌃⌥Space").
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ui.hotkey_keys import HotkeyError, default_hotkey, parse_hotkey

K = Qt.Key
M = Qt.KeyboardModifier

# pynput's names for the modifiers, in the order a shortcut lists them.
MODIFIER_ORDER = ("ctrl", "alt", "cmd", "shift")

# Keys pynput knows by name on every platform...
_NAMED_KEYS = {
    K.Key_Space: "space", K.Key_Return: "enter", K.Key_Enter: "enter", K.Key_Tab: "tab",
    K.Key_Backspace: "backspace", K.Key_Delete: "delete", K.Key_Up: "up", K.Key_Down: "down",
    K.Key_Left: "left", K.Key_Right: "right", K.Key_Home: "home", K.Key_End: "end",
    K.Key_PageUp: "page_up", K.Key_PageDown: "page_down", K.Key_Escape: "esc", K.Key_CapsLock: "caps_lock",
    K.Key_MediaTogglePlayPause: "media_play_pause", K.Key_MediaPlay: "media_play_pause",
    K.Key_VolumeMute: "media_volume_mute", K.Key_VolumeDown: "media_volume_down",
    K.Key_VolumeUp: "media_volume_up", K.Key_MediaPrevious: "media_previous", K.Key_MediaNext: "media_next",
    **{K(K.Key_F1 + n): f"f{n + 1}" for n in range(20)},
}
# ...and these only on Linux and Windows (pynput's macOS backend has no such keys).
_PC_ONLY_KEYS = {
    K.Key_Insert: "insert", K.Key_Menu: "menu", K.Key_NumLock: "num_lock", K.Key_Pause: "pause",
    K.Key_Print: "print_screen", K.Key_ScrollLock: "scroll_lock",
}
# Keys used while typing: as a shortcut on their own (or with Shift) they would go off mid-sentence.
_TYPING_KEYS = {"space", "enter", "tab", "backspace", "delete", "up", "down", "left", "right",
                "home", "end", "page_up", "page_down", "caps_lock"}
_MODIFIER_KEYS = {K.Key_Control, K.Key_Alt, K.Key_Shift, K.Key_Meta, K.Key_AltGr, K.Key_Super_L, K.Key_Super_R}

_KEY_LABELS = {"space": "Space", "enter": "Return", "tab": "Tab", "backspace": "Backspace", "delete": "Delete",
               "up": "↑", "down": "↓", "left": "←", "right": "→", "home": "Home", "end": "End",
               "page_up": "Page Up", "page_down": "Page Down", "esc": "Esc", "caps_lock": "Caps Lock",
               "insert": "Insert", "menu": "Menu", "num_lock": "Num Lock", "pause": "Pause",
               "print_screen": "Print Screen", "scroll_lock": "Scroll Lock"}
_MAC_MODIFIER_SYMBOLS = {"ctrl": "⌃", "alt": "⌥", "shift": "⇧", "cmd": "⌘"}
_PC_MODIFIER_NAMES = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Super"}


class HotkeyRefused(ValueError):
    """The pressed keys can't be the push-to-talk shortcut; the message says why, for the user."""


def modifier_names(modifiers: M, platform: str = sys.platform) -> list[str]:
    """pynput's names of the modifiers held, in MODIFIER_ORDER.

    Qt on macOS reports ⌘ Command as ControlModifier and ⌃ Control as MetaModifier; elsewhere Meta is
    the Windows/Super key, which pynput calls cmd.
    """
    ctrl, cmd = (M.MetaModifier, M.ControlModifier) if platform == "darwin" else (M.ControlModifier, M.MetaModifier)
    held = {"ctrl": ctrl, "alt": M.AltModifier, "cmd": cmd, "shift": M.ShiftModifier}
    return [name for name in MODIFIER_ORDER if modifiers & held[name]]


def key_part(key: int, platform: str = sys.platform) -> str | None:
    """pynput's text for a non-modifier Qt key ("<f8>", "k", ","), or None if pynput can't watch it."""
    try:
        qt_key = K(key)
    except ValueError:
        qt_key = None
    name = _NAMED_KEYS.get(qt_key) or (_PC_ONLY_KEYS.get(qt_key) if platform != "darwin" else None)
    if name:
        return f"<{name}>"
    if 0x21 <= key <= 0xFF and chr(key).isprintable() and chr(key) != "+":  # '+' separates pynput's parts
        return chr(key).lower()  # Qt names letters by their capital; pynput matches characters in lower case
    return None


def hotkey_from_keys(key: int, modifiers: M, platform: str = sys.platform) -> str:
    """The pynput shortcut for `key` pressed with `modifiers`; HotkeyRefused when it would make a bad shortcut."""
    part = key_part(key, platform)
    if part is None:
        raise HotkeyRefused("Parley can't watch that key. Try a function key, or a shortcut such as "
                            f"{describe_hotkey(default_hotkey(platform), platform)}.")
    held = modifier_names(modifiers, platform)
    hotkey = "+".join([*(f"<{m}>" for m in held), part])
    typing = len(part) == 1 or part.strip("<>") in _TYPING_KEYS
    # Shift (and Option on a Mac) change the character typed rather than make a shortcut of it.
    typing_modifiers = {"shift", "alt"} if platform == "darwin" else {"shift"}
    if typing and not set(held) - typing_modifiers:
        commands = ("ctrl", "cmd") if platform == "darwin" else ("ctrl", "alt")
        raise HotkeyRefused(f"{describe_hotkey(hotkey, platform)} would go off while you type. Hold "
                            f"{' or '.join(describe_modifier(m, platform) for m in commands)} with it, "
                            f"or use a shortcut such as {describe_hotkey(default_hotkey(platform), platform)}.")
    try:
        parse_hotkey(hotkey, platform)  # the listener's own rules, so the window never saves a key it refuses
    except HotkeyError as exc:
        raise HotkeyRefused(str(exc)[:1].upper() + str(exc)[1:] + ".") from exc
    return hotkey


def describe_modifier(name: str, platform: str = sys.platform) -> str:
    if platform == "darwin":
        return _MAC_MODIFIER_SYMBOLS[name]
    return "Win" if (name, platform) == ("cmd", "win32") else _PC_MODIFIER_NAMES[name]


def hotkey_parts(hotkey: str) -> list[str]:
    """The parts of a pynput shortcut: "<ctrl>+<alt>+k" → ["<ctrl>", "<alt>", "k"]; "<ctrl>++" keeps the '+'."""
    parts, start = [], 0
    for index, char in enumerate(hotkey):
        if char == "+" and index != start:
            parts.append(hotkey[start:index])
            start = index + 1
    if start < len(hotkey):
        parts.append(hotkey[start:])
    return parts


def describe_hotkey(hotkey: str, platform: str = sys.platform) -> str:
    """A shortcut as the platform writes it: "Ctrl+Alt+Space" on Linux and Windows, "⌃⌥Space" on macOS."""
    shown = []
    parts = hotkey_parts(hotkey)
    if platform == "darwin":  # Apple lists modifiers as ⌃⌥⇧⌘
        apple = ("<ctrl>", "<alt>", "<shift>", "<cmd>")
        parts = sorted(parts, key=lambda p: apple.index(p) if p in apple else len(apple))
    for part in parts:
        name = part[1:-1] if len(part) > 2 and part.startswith("<") and part.endswith(">") else part
        if name in MODIFIER_ORDER:
            shown.append(describe_modifier(name, platform))
        elif name in _KEY_LABELS:
            shown.append("Enter" if name == "enter" and platform != "darwin" else _KEY_LABELS[name])
        elif len(name) > 1 and name[0] == "f" and name[1:].isdigit():
            shown.append(name.upper())
        else:
            shown.append(name.upper() if len(name) == 1 else name.replace("_", " ").title())
    return ("" if platform == "darwin" else "+").join(shown) or hotkey


class _RecorderField(QLineEdit):
    """Shows the shortcut; while recording, turns the next key press into one."""

    pressed = Signal(int, object)  # Qt key, Qt modifiers
    start_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recording = False
        self.setReadOnly(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def event(self, event: QEvent) -> bool:
        if self.recording and event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # the window's own shortcuts (Save, Close) must not take the keys being recorded
            return True
        if self.recording and event.type() == QEvent.Type.KeyPress:
            self.keyPressEvent(event)  # Tab too, which Qt would otherwise use to move the focus
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.recording:
            if event.key() in (K.Key_Space, K.Key_Return, K.Key_Enter):
                self.start_requested.emit()
            else:
                super().keyPressEvent(event)
            return
        if event.isAutoRepeat():
            return
        self.pressed.emit(event.key(), event.modifiers())

    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        if not self.recording:
            self.start_requested.emit()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        if self.recording:
            self.cancel_requested.emit()


class HotkeyEdit(QWidget):
    """A shortcut field with a Record Shortcut button and a line for what went wrong.

    Recording takes the next key (with the modifiers held); Esc alone cancels. A letter, digit or other
    typing key without Ctrl/Alt/⌘ is refused with a message, and recording goes on.
    """

    hotkey_changed = Signal(str)  # pynput format
    recording_changed = Signal(bool)  # the app may pause its global hotkey listener meanwhile

    def __init__(self, hotkey: str = "<f8>", parent: QWidget | None = None, platform: str = sys.platform) -> None:
        super().__init__(parent)
        self._platform = platform
        self._hotkey = hotkey
        self.field = _RecorderField(self)
        self.field.setMinimumWidth(160)
        self.field.setAccessibleName("Push-to-talk shortcut")
        self.record_button = QPushButton("Record Shortcut", self)
        self.record_button.setAutoDefault(False)
        # Taking the focus would end the recording it starts (the field stops recording when it loses focus);
        # from the keyboard, Space or Return in the field starts one.
        self.record_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.hide()

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.field, 1)
        row.addWidget(self.record_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.message)

        self.record_button.clicked.connect(self._toggle_recording)
        self.field.start_requested.connect(self.start_recording)
        self.field.cancel_requested.connect(self.cancel_recording)
        self.field.pressed.connect(self._on_key)
        self._show()

    def hotkey(self) -> str:
        return self._hotkey

    def set_hotkey(self, hotkey: str) -> None:
        """Show `hotkey` (no signal); stops a recording in progress."""
        self._hotkey = hotkey
        self._set_recording(False)
        self._say("")

    def is_recording(self) -> bool:
        return self.field.recording

    def start_recording(self) -> None:
        self._say("")
        self._set_recording(True)
        self.field.setFocus(Qt.FocusReason.OtherFocusReason)

    def cancel_recording(self) -> None:
        self._set_recording(False)

    def _toggle_recording(self) -> None:
        if self.field.recording:
            self.cancel_recording()
        else:
            self.start_recording()

    def _on_key(self, key: int, modifiers) -> None:
        if key in _MODIFIER_KEYS:
            held = modifier_names(modifiers, self._platform)
            self.field.setText(describe_hotkey("+".join(f"<{m}>" for m in held), self._platform) + " …")
            return
        if key == K.Key_Escape and not modifier_names(modifiers, self._platform):
            self.cancel_recording()
            return
        try:
            hotkey = hotkey_from_keys(key, modifiers, self._platform)
        except HotkeyRefused as refusal:
            self._say(str(refusal))
            self.field.setText("")  # back to the "Press the shortcut…" prompt
            return
        self._say("")
        changed = hotkey != self._hotkey
        self._hotkey = hotkey
        self._set_recording(False)
        if changed:
            self.hotkey_changed.emit(hotkey)

    def _set_recording(self, recording: bool) -> None:
        was = self.field.recording
        self.field.recording = recording
        self.record_button.setText("Cancel" if recording else "Record Shortcut")
        self._show()
        if was != recording:
            self.recording_changed.emit(recording)

    def _show(self) -> None:
        if self.field.recording:
            self.field.setText("")
            self.field.setPlaceholderText("Press the shortcut…  (Esc cancels)")
        else:
            self.field.setText(describe_hotkey(self._hotkey, self._platform))
        self.field.setToolTip(f"Stored as {self._hotkey}")

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
