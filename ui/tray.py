"""The menu-bar (tray) icon and its menu.

The icon shows the state at a glance (see tray_icons.py); its tooltip says it in words. The menu: the running
timers and alarms (choosing one cancels it), Talk / Stop, Mute microphone, the listening mode (hands-free, wake word, push-to-talk), Conversation…, Settings…,
Reset conversation, Quit. This
class only draws and forwards: each menu item emits a signal that the app connects to the session.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.tray_icons import LABELS, TrayState, state_icon

log = logging.getLogger(__name__)

MODE_LABELS = {"hands_free": "&Hands-free", "wake_word": "&Wake word only", "push_to_talk": "&Push-to-talk only"}


class Tray(QObject):
    """The tray icon. Signals carry what the user chose; `show_state` and `notify` are called by the app."""

    talk_toggled = Signal(bool)  # True: start talking (interrupts Parley); False: end the turn
    stop_requested = Signal()
    mute_toggled = Signal(bool)
    mode_chosen = Signal(str)  # settings.MODES: "hands_free", "wake_word" or "push_to_talk"
    conversation_requested = Signal()
    settings_requested = Signal()
    reset_requested = Signal()
    quit_requested = Signal()
    notification_clicked = Signal()
    timer_cancelled = Signal(str)  # the id of the timer or alarm to cancel

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.aboutToShow.connect(lambda: log.info("tray: menu shown"))
        self.menu.aboutToShow.connect(self._show_timers)
        self._talking = False
        self.state: TrayState | None = None
        self.timers_source = lambda: []  # the app's: the running timers and alarms, soonest first
        self._timer_actions: list[QAction] = []

        self.status_action = self.menu.addAction("")
        self.status_action.setEnabled(False)
        self.timers_separator = self.menu.addSeparator()
        self.talk_action = self.menu.addAction("&Talk")
        self.talk_action.triggered.connect(self._on_talk)
        self.stop_action = self.menu.addAction("Sto&p speaking")
        self.stop_action.triggered.connect(self.stop_requested)
        self.menu.addSeparator()
        self.mute_action = self._checkable("&Mute microphone", self.mute_toggled)
        self.mode_actions: dict[str, QAction] = {}
        modes = QActionGroup(self)
        for mode, text in MODE_LABELS.items():
            action = self.menu.addAction(text)
            action.setCheckable(True)
            action.setActionGroup(modes)
            action.triggered.connect(lambda checked, mode=mode: self.mode_chosen.emit(mode))
            self.mode_actions[mode] = action
        self.menu.addSeparator()
        self.menu.addAction("&Conversation…").triggered.connect(self.conversation_requested)
        self.menu.addAction("&Settings…").triggered.connect(self.settings_requested)
        self.menu.addAction("&Reset conversation").triggered.connect(self.reset_requested)
        self.menu.addSeparator()
        self.menu.addAction("&Quit Parley").triggered.connect(self.quit_requested)

        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self.notification_clicked)
        self.show_state(TrayState.LOADING)

    def _checkable(self, text: str, signal) -> QAction:
        action = self.menu.addAction(text)
        action.setCheckable(True)
        action.toggled.connect(signal)
        return action

    def show(self) -> None:
        self.icon.show()

    def show_state(self, state: TrayState, detail: str = "") -> None:
        """Show `state` on the icon, in the tooltip and at the top of the menu."""
        if state is not self.state:
            log.info("tray: %s", state.value)
        self.state = state
        text = LABELS[state] + (f": {detail}" if detail else "")
        self.icon.setIcon(state_icon(state))
        self.icon.setToolTip(f"Parley: {text}")
        self.status_action.setText(text)
        self.stop_action.setEnabled(state is TrayState.SPEAKING or state is TrayState.THINKING)
        if state is not TrayState.USER_SPEAKING and self._talking:
            self._set_talking(False)

    def set_checks(self, muted: bool, mode: str) -> None:
        """Reflect the session's mute and mode without emitting the signals."""
        for action, value in ((self.mute_action, muted), *((a, m == mode) for m, a in self.mode_actions.items())):
            action.blockSignals(True)
            action.setChecked(value)
            action.blockSignals(False)

    def notify(self, title: str, message: str, error: bool = False) -> None:
        """A desktop notification from the icon; clicking it emits `notification_clicked`."""
        kind = QSystemTrayIcon.MessageIcon.Warning if error else QSystemTrayIcon.MessageIcon.Information
        self.icon.showMessage(title, message, kind, 10000)

    def _show_timers(self) -> None:
        """The running timers and alarms under the status line, each with its time left; choosing one cancels it."""
        for action in self._timer_actions:
            self.menu.removeAction(action)
        self._timer_actions = []
        try:
            timers = self.timers_source()
        except Exception:  # (an unreadable timers file: the menu shows without them)
            log.exception("the timers could not be listed")
            timers = []
        for timer in timers:
            left = round(timer.left_s())
            shown = (f"Cancel {timer.described('en')} ({left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left)"
                     if timer.kind == "timer" else f"Cancel {timer.described('en')}")
            action = QAction(shown, self.menu)
            action.triggered.connect(lambda checked=False, ident=timer.id: self.timer_cancelled.emit(ident))
            self.menu.insertAction(self.timers_separator, action)
            self._timer_actions.append(action)

    def _on_talk(self) -> None:
        self._set_talking(not self._talking)
        self.talk_toggled.emit(self._talking)

    def _set_talking(self, talking: bool) -> None:
        self._talking = talking
        self.talk_action.setText("&Done talking" if talking else "&Talk")

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click opens the conversation (on macOS every click opens the menu instead).
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self.conversation_requested.emit()
