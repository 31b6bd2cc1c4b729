"""The desktop app: a menu-bar icon over the live conversation, with a push-to-talk hotkey, a settings
window and a conversation window. `parley` with no command (and `make run`) starts it.

The Qt main thread only draws and forwards what the user does to `AssistantSession`, whose methods
return at once; engine events come back through `EventBridge` on the main thread.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from assistant.runtime import shutdown
from assistant.runtime.events import (
    EventBus, Loading, Problem, ReplyText, Serving, State, StateChanged, TimerRang, ToolConsent,
)
from assistant.tools.timers import TimerBook
from assistant.models.catalog import load_catalog
from assistant.models.store import ModelStore
from assistant.conversation.session import AssistantSession
from assistant.runtime.settings import Settings, load_settings_or_defaults
from ui.bridge import EventBridge
from ui.conversation_window import ConversationWindow
from ui.first_run import FirstRunSetup, missing_default_models
from ui.hotkey import PushToTalkHotkey
from ui.hotkey_keys import HotkeyError
from ui.settings_window import SettingsWindow
from ui.single_instance import InstanceServer, ask_running_instance_to_show
from ui.tray import Tray
from ui.tray_icons import TrayState

log = logging.getLogger(__name__)

_TRAY_STATES = {state: TrayState(state.value) for state in State}


class ParleyApp(QObject):
    """Owns the session, the tray, the windows and the hotkey, and connects them."""

    def __init__(self, settings: Settings, settings_problem: str = "") -> None:
        super().__init__()
        self.store = ModelStore()
        self.catalog = load_catalog()
        self.bus = EventBus()
        self.session = AssistantSession(settings, self.bus, self.store)
        self.bridge = EventBridge(self.bus, self)
        self.tray = Tray(self)
        self.conversation = ConversationWindow()
        self.conversation.setWindowTitle("Parley")
        QShortcut(QKeySequence.StandardKey.Close, self.conversation, self.conversation.close)  # ⌘W / Ctrl+W
        self.settings_window: SettingsWindow | None = None
        self.hotkey: PushToTalkHotkey | None = None
        self.instance = InstanceServer(self)
        self._on_notification = None  # what clicking the last notification does
        self._first_run: FirstRunSetup | None = None
        self._serving: tuple[str, ...] = ()  # where the API for other programs runs now (Serving events)

        self.bridge.event.connect(self._on_event)
        self.bridge.event.connect(self.conversation.on_event)
        self.tray.talk_toggled.connect(self.session.talk)
        self.tray.stop_requested.connect(self.session.stop_reply)
        self.tray.mute_toggled.connect(self._set_muted)
        self.tray.mode_chosen.connect(self._set_mode)
        self.tray.conversation_requested.connect(self.show_conversation)
        self.tray.settings_requested.connect(self.show_settings)
        self.tray.reset_requested.connect(self._reset)
        self.tray.quit_requested.connect(self.quit)
        self.tray.notification_clicked.connect(self._notification_clicked)
        self.timers = TimerBook()  # (the same file the conversation rings from; this one only lists and cancels)
        self.tray.timers_source = self.timers.running
        self.tray.timer_cancelled.connect(lambda ident: self.timers.remove({ident}))
        self.conversation.text_submitted.connect(self.session.say_text)
        self.conversation.reset_requested.connect(self._reset)
        self.instance.show_requested.connect(self.show_conversation)
        self.tray.set_checks(muted=False, mode=settings.conversation.mode)

        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray.show()
        else:  # no menu bar / tray host: the window is the way in
            log.warning("no system tray on this desktop: showing the conversation window instead")
            self.show_conversation()
        if settings_problem:
            self.notify("Your settings file could not be used", settings_problem, action=self.show_settings)

    # --- start and stop -----------------------------------------------------------------------

    def start(self) -> None:
        """Set up missing default models first (first run), then start listening and the hotkey."""
        missing = missing_default_models(self.store, self.catalog)
        if missing:
            self.tray.show_state(TrayState.LOADING, "setting up the default models")
            self._first_run = FirstRunSetup(self.store, self.catalog)
            self._first_run.finished.connect(self._first_run_finished)
            self._first_run.start()
            return
        self._start_listening()

    def _first_run_finished(self, error: str) -> None:
        self._first_run = None
        if error:
            self.tray.show_state(TrayState.ERROR, "models missing")
            self.notify("Parley could not set up its models", f"{error}. Click to try again.", error=True, action=self.start)
            return
        self._start_listening()

    def _start_listening(self) -> None:
        self.session.start()
        self._start_hotkey(self.session.settings)

    def _start_hotkey(self, settings: Settings) -> None:
        if self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None
        hotkey = PushToTalkHotkey(settings.hotkey.key, settings.hotkey.style, on_change=self.session.talk)
        try:
            hotkey.start()
        except HotkeyError as exc:
            self.notify("The push-to-talk key is not available", f"{exc} Talk from the menu meanwhile.",
                        error=True, action=self.show_settings)
            return
        self.hotkey = hotkey
        log.info("push-to-talk key %s (%s) ready", settings.hotkey.key, settings.hotkey.style)

    def quit(self) -> None:
        """Quit Parley: the process ends within shutdown.QUIT_WITHIN_S, whatever the engine is doing."""
        shutdown.request_quit(0)
        if self.hotkey is not None:
            self.hotkey.stop()
        self.bridge.close()
        self.session.shutdown(timeout=0.8)
        self.tray.icon.hide()
        QApplication.instance().quit()

    # --- windows ------------------------------------------------------------------------------

    def show_conversation(self) -> None:
        _bring_forward(self.conversation)

    def show_settings(self) -> None:
        if self.settings_window is None:
            self.settings_window = SettingsWindow(self.session.settings, self.store, self.catalog)
            self.settings_window.settings_saved.connect(self._settings_saved)
            # While a new shortcut is being recorded, pressing it must not also start talking.
            self.settings_window.hotkey.recording_changed.connect(self._pause_hotkey)
            self.settings_window.api_page.show_serving(self._serving)
        elif not self.settings_window.has_unsaved_changes():
            self.settings_window.set_settings(self.session.settings)
        _bring_forward(self.settings_window)

    def _pause_hotkey(self, paused: bool) -> None:
        if paused and self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None
        elif not paused and self.hotkey is None:
            self._start_hotkey(self.session.settings)

    def _settings_saved(self, settings: Settings) -> None:
        old = self.session.settings
        self.session.apply(settings)
        self.tray.set_checks(self.session.muted, settings.conversation.mode)
        if settings.hotkey != old.hotkey:
            self._start_hotkey(settings)

    # --- what the user does -------------------------------------------------------------------

    def _set_muted(self, muted: bool) -> None:
        self.session.set_muted(muted)

    def _set_mode(self, mode: str) -> None:
        self.session.set_mode(mode)
        self._save_quietly(self.session.settings)

    def _reset(self) -> None:
        self.session.reset()
        self.conversation.clear()

    def _save_quietly(self, settings: Settings) -> None:
        """A menu choice that is also a setting (hands-free) is remembered."""
        from assistant.runtime.settings import save_settings

        try:
            save_settings(settings)
        except OSError as exc:
            self.notify("Parley could not save the settings", str(exc), error=True)
        if self.settings_window is not None and not self.settings_window.has_unsaved_changes():
            self.settings_window.set_settings(settings)

    # --- what the engine says -----------------------------------------------------------------

    def _on_event(self, event) -> None:
        if not isinstance(event, ReplyText):
            log.info("event %s", event)  # the story of a session, for bug reports (and the app's tests)
        if isinstance(event, StateChanged):
            self.tray.show_state(_TRAY_STATES[event.state])
        elif isinstance(event, Loading):
            if event.done:
                self.tray.show_state(_TRAY_STATES[self.session.state])
            else:
                self.tray.show_state(TrayState.LOADING, event.what)
            if self.settings_window is not None:
                self.settings_window.set_status("" if event.done else event.what.capitalize() + "…")
        elif isinstance(event, Serving):
            self._serving = event.where
            if self.settings_window is not None:
                self.settings_window.api_page.show_serving(event.where)
        elif isinstance(event, TimerRang):
            self.notify("Parley", event.words, action=self.show_conversation)
        elif isinstance(event, ToolConsent):
            self._ask_consent(event)
        elif isinstance(event, Problem):
            self.tray.show_state(TrayState.ERROR, event.message)
            action = {"settings": self.show_settings, "retry": self.start}.get(event.action, self.show_conversation)
            self.notify("Parley", f"{event.message}. {event.fix}".strip().rstrip(".") + ".", error=True, action=action)

    def _ask_consent(self, event: ToolConsent) -> None:
        """A tool that changes something waits for a yes (the conversation gives up after its wait: a no)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Parley", event.question)
        allow = box.addButton("Allow", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Don't allow", QMessageBox.ButtonRole.RejectRole)
        box.setModal(False)

        def answered(_result) -> None:
            if not event.answer.done():
                event.answer.set_result(box.clickedButton() is allow)

        box.finished.connect(answered)
        box.show()
        _bring_forward(box)
        self._consent_box = box

    def notify(self, title: str, message: str, error: bool = False, action=None) -> None:
        """A notification from the tray icon (a dialog when there is no tray); clicking it runs `action`."""
        log.log(logging.WARNING if error else logging.INFO, "%s: %s", title, message)
        self._on_notification = action
        if self.tray.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.tray.notify(title, message, error)
        else:
            box = QMessageBox(QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information, title, message)
            box.setModal(False)
            box.show()
            box.finished.connect(lambda _: action() if action else None)
            self._last_box = box

    def _notification_clicked(self) -> None:
        action, self._on_notification = self._on_notification, None
        if action is not None:
            action()


def _bring_forward(window) -> None:
    window.show()
    window.raise_()
    window.activateWindow()


def main() -> int:
    """Run the app until Quit; returns the exit code."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("parley: there is no screen here (neither DISPLAY nor WAYLAND_DISPLAY is set). Start Parley from a "
              "desktop session, or talk to it in this terminal with `parley chat`.", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(["parley"])
    app.setApplicationName("Parley")
    app.setQuitOnLastWindowClosed(False)  # it lives in the menu bar; closing a window doesn't quit
    if ask_running_instance_to_show():
        print("Parley is already running: brought it forward.", file=sys.stderr)
        return 0
    if sys.platform == "darwin":
        from ui.macos import become_accessory_app

        become_accessory_app()
    settings, problem = load_settings_or_defaults()
    parley = ParleyApp(settings, problem)
    QTimer.singleShot(0, parley.start)
    # Ctrl+C in the terminal and a logout's SIGTERM quit cleanly. Python runs signal handlers only
    # between bytecodes, so a timer wakes the interpreter now and then while Qt waits for events.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: parley.quit())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    return app.exec()
