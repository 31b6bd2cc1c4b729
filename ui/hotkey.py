"""The global push-to-talk key: a pynput keyboard listener and the small state machine behind it.

No Qt here, so it works from any thread. pynput is imported only in `PushToTalkHotkey.start()`: on Linux
`from pynput import keyboard` connects to the X display and raises ImportError when there is none. The
key is written as ui/hotkey_keys.py says, and checked there.

The logic is in `HotkeyState`, which is fed key names and says when talking starts and stops, so it is
tested without a keyboard; `PushToTalkHotkey` only turns pynput's key events into those names.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable

from ui.hotkey_keys import SIDED_MODIFIERS, STYLES, HotkeyError, parse_hotkey, pynput_backend

log = logging.getLogger(__name__)


class HotkeyState:
    """The push-to-talk logic, without pynput: fed key presses and releases by name, it says when talking
    starts (True) and stops (False).

    hold: the whole chord down starts; releasing any key of it stops. toggle: the whole chord going down
    starts, the next time stops; releases change nothing. A press of a key that is already down (key repeat)
    changes nothing, and keys outside the chord are ignored. Not thread-safe: PushToTalkHotkey locks around it.
    """

    def __init__(self, chord: Iterable[str], style: str):
        if style not in STYLES:
            raise ValueError(f"hotkey style must be one of {', '.join(STYLES)}, not {style!r}")
        self.chord = frozenset(chord)
        if not self.chord:
            raise ValueError("a hotkey needs at least one key")
        self.style = style
        self.talking = False
        self._down: set[str] = set()

    def press(self, key: str | None) -> bool | None:
        """The new talking state when this press changes it, else None."""
        if key not in self.chord or key in self._down:
            return None
        self._down.add(key)
        if self._down != self.chord:
            return None
        self.talking = True if self.style == "hold" else not self.talking
        return self.talking

    def release(self, key: str | None) -> bool | None:
        """The new talking state when this release changes it, else None."""
        if key not in self._down:
            return None
        self._down.discard(key)
        if self.style == "hold" and self.talking:
            self.talking = False
            return False
        return None

    def reset(self) -> bool:
        """Forget which keys are down and stop talking; True when a talk was going on."""
        was_talking, self.talking = self.talking, False
        self._down.clear()
        return was_talking


class PushToTalkHotkey:
    """A global push-to-talk key: `on_change(True)` when talking should start, `on_change(False)` when it
    should stop (see HotkeyState for hold and toggle).

    on_change is called on pynput's listener thread, with a lock held: keep it quick (hand the event on to
    another thread) and don't call start() or stop() from it. stop() ends a talk in progress by calling
    on_change(False) on the thread that calls stop(). An exception in on_change is logged, not raised.

    What it can't do: pynput only listens (X11's RECORD extension, a listen-only event tap on macOS); it never
    takes the key away from other programs. The focused app gets the key too, and there is no way to tell that
    another app has bound the same key: on X11 both then act on it, on macOS a system shortcut may swallow it
    before Parley sees it. Under Wayland, only keys typed into X11 (XWayland) windows are seen.
    """

    def __init__(self, key: str, style: str, on_change: Callable[[bool], None]):
        if style not in STYLES:
            raise ValueError(f"hotkey style must be one of {', '.join(STYLES)}, not {style!r}")
        self.key = key
        self.style = style
        self._on_change = on_change
        self._lifecycle = threading.Lock()  # one start() or stop() at a time
        self._lock = threading.RLock()  # the state, and on_change calls (so they come in order)
        self._state: HotkeyState | None = None
        self._listener = None
        self._generation = 0  # events from an older listener (after stop) carry an older number and are dropped

    @property
    def pressed(self) -> bool:
        """Whether a talk is going on (as last reported to on_change)."""
        state = self._state
        return state is not None and state.talking

    def start(self) -> None:
        """Start listening (a no-op when already listening). Raises HotkeyError when the key is invalid, there is
        no X display, macOS denies keyboard monitoring, or pynput is missing; the message says what to do."""
        with self._lifecycle:
            if self._listener is not None and self._listener.is_alive():
                return
            backend = pynput_backend(sys.platform)
            chord = parse_hotkey(self.key)
            keyboard = _import_keyboard(backend)
            state = HotkeyState(_resolve_key_codes(chord, keyboard), self.style)
            with self._lock:
                self._generation += 1
                generation = self._generation
                self._state = state
            self._listener = _start_listener(
                keyboard, on_press=lambda key, injected=False: self._on_key(generation, True, key),
                on_release=lambda key, injected=False: self._on_key(generation, False, key))
            if backend == "xorg" and os.environ.get("WAYLAND_DISPLAY"):
                log.warning("push-to-talk under Wayland: %s is only seen while an X11 (XWayland) window has focus",
                            self.key)

    def stop(self) -> None:
        """Stop listening; if a talk was going on, on_change(False) is called. Safe to call more than once."""
        with self._lifecycle:
            listener, self._listener = self._listener, None
            with self._lock:
                self._generation += 1  # whatever the old listener still delivers is dropped
            if listener is not None:
                listener.stop()
                if listener is not threading.current_thread():
                    threading.Thread.join(listener, timeout=5)  # pynput's join() re-raises callback errors
            with self._lock:
                if self._state is not None and self._state.reset():
                    self._emit(False)

    def _on_key(self, generation: int, is_press: bool, key) -> None:
        name = _key_name(key)
        with self._lock:
            if generation != self._generation or self._state is None:
                return
            change = self._state.press(name) if is_press else self._state.release(name)
            if change is not None:
                self._emit(change)

    def _emit(self, talking: bool) -> None:
        try:
            self._on_change(talking)
        except Exception:  # an exception would stop pynput's listener: the key would silently die
            log.exception("push-to-talk on_change(%s) failed", talking)


def _key_name(key) -> str | None:
    """pynput's key event as HotkeyState's name: Key members by name (sides merged), characters lower-cased,
    other keys as "<code>"."""
    if key is None:  # pynput's report for a key it could not decode
        return None
    name = getattr(key, "name", None)  # only pynput's Key enum members have a name
    if isinstance(name, str):
        return SIDED_MODIFIERS.get(name, name)
    char = getattr(key, "char", None)
    if char:
        return char.lower()
    vk = getattr(key, "vk", None)
    return f"<{vk}>" if vk is not None else None


def _resolve_key_codes(chord: tuple[str, ...], keyboard) -> tuple[str, ...]:
    """A "<code>" that is a named key's code (e.g. <65477>, F8's X keysym) takes that name: pynput reports the key
    by its name."""
    by_code = {}
    for member in keyboard.Key:
        vk = getattr(member.value, "vk", None)
        by_code.setdefault(f"<{vk}>", SIDED_MODIFIERS.get(member.name, member.name))
    return tuple(by_code.get(key, key) if key.startswith("<") else key for key in chord)


def _import_keyboard(backend: str):
    """pynput.keyboard, or HotkeyError saying why it can't be had (no display, no pynput)."""
    if backend == "xorg" and not os.environ.get("DISPLAY"):
        if os.environ.get("WAYLAND_DISPLAY"):
            raise HotkeyError("the push-to-talk key needs an X display, but DISPLAY is not set: this is a Wayland "
                              "session without XWayland. Enable XWayland or log in to an X11 session; hands-free "
                              "listening works without the key")
        raise HotkeyError("the push-to-talk key needs an X display, but DISPLAY is not set: start Parley from your "
                          "desktop session (or set DISPLAY, e.g. DISPLAY=:0)")
    try:
        from pynput import keyboard
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if getattr(exc, "name", None) == "pynput" or "No module named" in reason:
            raise HotkeyError(f"the push-to-talk key needs the pynput package ({reason}): run `make run` again to "
                              "reinstall Parley's packages") from exc
        if backend == "xorg":
            raise HotkeyError(f"the push-to-talk key can't reach the X display {os.environ.get('DISPLAY')} "
                              f"({reason}): check that DISPLAY names a running X server you may use "
                              "(XAUTHORITY, xhost)") from exc
        raise HotkeyError(f"pynput can't watch the keyboard here ({reason}): run `make run` again to reinstall "
                          "Parley's packages") from exc
    return keyboard


def _macos_permission_message() -> str:
    """What to do when macOS refuses the keyboard event tap, naming the missing permission(s) (from doctor)."""
    panes = ["Input Monitoring"]
    try:
        from assistant.cli.doctor import OK, hotkey_permission

        finding = hotkey_permission()
        if finding.status != OK and "Accessibility" in finding.detail:
            panes.append("Accessibility")
    except Exception:  # the message is still right without the detail
        pass
    also = " (and the same under Accessibility)" if len(panes) > 1 else ""
    return ("macOS does not let Parley watch the keyboard, so the push-to-talk key can't work: open "
            f"System Settings → Privacy & Security → Input Monitoring: allow Parley (or your terminal){also}, "
            "then quit and reopen Parley")


_READY_TIMEOUT_S = 10.0


def _start_listener(keyboard, on_press, on_release):
    """pynput's keyboard listener, started and listening; HotkeyError when it can't listen."""
    listener = _listener_class(keyboard)(on_press=on_press, on_release=on_release)
    listener.start()
    # Not pynput's wait(): it blocks forever when the listener fails before it is ready.
    if not listener.settled.wait(_READY_TIMEOUT_S):
        listener.stop()
        raise HotkeyError(f"the keyboard listener did not start within {_READY_TIMEOUT_S:.0f} s; try again, or "
                          "restart Parley")
    if listener.failure is not None:
        where = f" on X display {os.environ.get('DISPLAY')}" if pynput_backend(sys.platform) == "xorg" else ""
        raise HotkeyError(f"the keyboard listener failed to start{where} ({listener.failure}); on Linux the X server "
                          "must be reachable and offer the RECORD extension (X.Org and Xvfb do)") from listener.failure
    if sys.platform == "darwin" and (listener.ended or getattr(listener, "_loop", None) is None):
        # pynput's Quartz listener reports ready without a run loop when macOS refuses the event tap.
        listener.stop()
        raise HotkeyError(_macos_permission_message())
    if listener.ended:
        raise HotkeyError("the keyboard listener stopped as soon as it started; see the log for why")
    return listener


@functools.cache
def _listener_class(keyboard) -> type:
    """A subclass of pynput's Listener that says when it is listening, or why it ended."""
    base = keyboard.Listener
    xorg = pynput_backend(sys.platform) == "xorg"

    class Listener(base):
        def __init__(self, **callbacks):
            super().__init__(**callbacks)
            self.name = "parley-hotkey"
            self.settled = threading.Event()  # listening, or ended
            self.ended = False
            self.failure: BaseException | None = None

        def _mark_ready(self):  # pynput's hook, on its thread: on macOS and Windows the hook is in place now
            super()._mark_ready()
            if not xorg:
                self.settled.set()

        if xorg:
            def _handler(self, events):
                # X11 calls this first with RECORD's start-of-data reply: from here on no key press is missed
                # (pynput's ready comes before it enables recording).
                self.settled.set()
                return super()._handler(events)

            def _stop_platform(self):
                # pynput sends the request that ends recording on the recording connection, which the X server does
                # not read while it records: the thread would only end with the next key event (pynput PR #583).
                # Send it on pynput's other connection.
                try:
                    self._display_stop.record_disable_context(self._context)
                    self._display_stop.flush()
                except Exception:  # not started, or the connection is gone: the thread ends anyway
                    pass

        if sys.platform == "darwin" and not _reads_layout_context(base):
            def _run(self):
                # pynput's Quartz listener opens a keyboard-layout context (TIS/TSM) on its own thread, which it no
                # longer uses (1.8); recent macOS aborts the process for TSM calls off the main thread (pynput issue
                # #424, with Qt running). Go straight to the event tap.
                super(base, self)._run()

        def run(self):
            try:
                super().run()
            except Exception as exc:  # e.g. no RECORD extension, or the X server went away
                self.failure = exc
                log.warning("the push-to-talk listener stopped: %s", exc)
            finally:
                self.ended = True
                self.settled.set()

    return Listener


def _reads_layout_context(listener_class: type) -> bool:
    """Whether pynput's Quartz listener reads the keyboard-layout context it opens (older pynput did, for chars)."""
    return any("_context" in function.__code__.co_names
               for name, function in vars(listener_class).items()
               if name not in ("__init__", "_run") and hasattr(function, "__code__"))
