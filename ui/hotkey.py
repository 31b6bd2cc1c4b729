"""The global push-to-talk key: a pynput keyboard listener and the small state machine behind it.

No Qt here, so it works from any thread. pynput is imported only in `PushToTalkHotkey.start()`: on Linux
`from pynput import keyboard` connects to the X display and raises ImportError when there is none.

Hotkeys are written in pynput's format: `<f8>`, `<ctrl>+<alt>+<space>`, `<cmd>+<shift>+k`. Modifiers are
`<ctrl>`, `<alt>`, `<shift>`, `<cmd>` (Command on a Mac, the Super/Windows key elsewhere) and `<alt_gr>`;
left and right are not told apart. A single character names the key that types it; `<123>` names a key by
its platform key code (an X keysym on Linux), for keys without a name.

The logic is in `HotkeyState`, which is fed key names and says when talking starts and stops, so it is
tested without a keyboard; `PushToTalkHotkey` only turns pynput's key events into those names.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

STYLES = ("hold", "toggle")

MODIFIERS = frozenset({"alt", "alt_gr", "cmd", "ctrl", "shift"})
_SIDED_MODIFIERS = {f"{name}_{side}": name for name in ("alt", "cmd", "ctrl", "shift") for side in "lr"}
# Keys that are part of typing and editing text: alone (or with shift) they would start a talk mid-sentence.
_TYPING_KEYS = frozenset({
    "backspace", "caps_lock", "delete", "down", "end", "enter", "esc", "home", "left", "page_down", "page_up",
    "right", "space", "tab", "up",
})
# pynput's key names (its Key enum) that every platform has, and those only some have.
_COMMON_KEYS = MODIFIERS | _TYPING_KEYS | {f"f{n}" for n in range(1, 21)} | {
    "media_play_pause", "media_volume_mute", "media_volume_down", "media_volume_up", "media_previous", "media_next",
}
_PC_ONLY = ("xorg", "win32")
_PLATFORM_KEYS = {
    **{name: _PC_ONLY for name in ("insert", "menu", "num_lock", "pause", "print_screen", "scroll_lock")},
    **{f"f{n}": ("win32",) for n in range(21, 25)},
    "media_stop": ("win32",),
    "media_eject": ("darwin",),
}
_PLATFORM_NAMES = {"darwin": "macOS", "win32": "Windows", "xorg": "Linux (X11)"}


class HotkeyError(Exception):
    """The push-to-talk key can't be used; the message says what is wrong and what to do."""


def _backend(platform: str) -> str:
    """pynput's backend for a sys.platform value: Quartz on macOS, win32, and X11 everywhere else."""
    return platform if platform in ("darwin", "win32") else "xorg"


def default_hotkey(platform: str = sys.platform) -> str:
    """The push-to-talk key Parley suggests on this platform."""
    if _backend(platform) == "darwin":
        # Not <f8>: on Mac keyboards F8 is the play/pause media key (pynput then sees media_play_pause).
        # Not <cmd>+<alt>+<space> (Finder search), <ctrl>+<cmd>+<space> (emoji viewer), <cmd>+<space> /
        # <cmd>+<shift>+<space> (Spotlight, Apple-reserved) or <ctrl>+<alt>+<space> (next input source).
        # Option+Space types a no-break space. Control+Shift+Space has no macOS shortcut and is easy to hold.
        return "<ctrl>+<shift>+<space>"
    # F8 has no desktop-wide binding in GNOME, KDE or Xfce and is one key, easy to hold while talking.
    return "<f8>"


def parse_hotkey(text: str, platform: str = sys.platform) -> tuple[str, ...]:
    """The key names of a hotkey (`"<ctrl>+<alt>+k"` → `("ctrl", "alt", "k")`), as HotkeyState takes them.

    Names are pynput's Key names, single lower-case characters, or `<123>` key codes. Raises HotkeyError
    with what is wrong and what to write instead. `platform` is a sys.platform value (for tests).
    """
    backend = _backend(platform)
    if not text or not text.strip():
        raise HotkeyError("no push-to-talk key is set: use one like <f8> or <ctrl>+<alt>+<space>")
    keys = [_parse_part(part, backend) for part in _split_parts(text)]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise HotkeyError(f"{text} names {_shown(repeated[0])} more than once; name each key once")
    _check_usable(text, keys, backend)
    return tuple(keys)


def validate_hotkey(text: str) -> str | None:
    """None when `text` is a usable hotkey in pynput's format ("<f8>", "<ctrl>+<alt>+<space>",
    "<cmd>+<shift>+k"), else a message saying what is wrong and what to write. Pure: imports no pynput."""
    try:
        parse_hotkey(text)
    except HotkeyError as exc:
        return str(exc)
    return None


def _split_parts(text: str) -> list[str]:
    """Split at each "+" that follows a key, so "+" itself can be a key ("<ctrl>++" is Ctrl and plus)."""
    parts, current = [], ""
    for char in text:
        if char == "+" and current:
            parts.append(current)
            current = ""
        else:
            current += char
    if not current:
        raise HotkeyError(f"{text} ends with '+': name the key that follows it, e.g. <ctrl>+<alt>+<space>")
    parts.append(current)
    return parts


def _parse_part(part: str, backend: str) -> str:
    if part != part.strip() or not part.strip():
        raise HotkeyError(f"'{part}' has spaces in it: write the keys without spaces and the space bar as <space>, "
                          "e.g. <ctrl>+<alt>+<space>")
    if len(part) == 1:
        return part.lower()
    if not (part.startswith("<") and part.endswith(">") and len(part) > 2):
        hint = f"<{part.lower()}>" if part.lower() in _COMMON_KEYS or part.lower() in _PLATFORM_KEYS else "<f8>"
        raise HotkeyError(f"'{part}' is not a key: write named keys in angle brackets (like {hint}) and other keys "
                          "as the single character they type (like k)")
    name = part[1:-1].lower()
    if name.isdigit():
        return f"<{int(name)}>"
    if name in _SIDED_MODIFIERS:
        raise HotkeyError(f"{part}: Parley does not tell left and right modifiers apart; "
                          f"use <{_SIDED_MODIFIERS[name]}>")
    if name in _COMMON_KEYS:
        return name
    if name in _PLATFORM_KEYS:
        if backend in _PLATFORM_KEYS[name]:
            return name
        raise HotkeyError(f"{part} does not exist on {_PLATFORM_NAMES[backend]}; pick another key, e.g. "
                          f"{default_hotkey(backend)}")
    known = sorted(_COMMON_KEYS | {n for n, where in _PLATFORM_KEYS.items() if backend in where})
    close = difflib.get_close_matches(name, known, n=1)
    suggestion = f"did you mean <{close[0]}>?" if close else "use a name like <f8>, <space>, <ctrl>, <alt>, <shift>"
    raise HotkeyError(f"{part} is not a key name; {suggestion}")


def _check_usable(text: str, keys: list[str], backend: str) -> None:
    """Refuse hotkeys that would fire during normal typing, or that pynput can't recognize."""
    held = {key for key in keys if key in MODIFIERS}
    others = [key for key in keys if key not in MODIFIERS]
    if not others:
        raise HotkeyError(f"{text} has only modifier keys, so it would fire with every shortcut that uses them; "
                          f"add a key that is not a modifier, e.g. {default_hotkey(backend)}")
    # Option on a Mac types other characters (Option+Space is a no-break space), as AltGr does everywhere.
    typing_modifiers = {"shift", "alt_gr"} | ({"alt"} if backend == "darwin" else set())
    command_modifiers = "<ctrl> or <cmd>" if backend == "darwin" else "<ctrl> or <alt>"
    for key in others:
        if (len(key) == 1 or key in _TYPING_KEYS) and not held - typing_modifiers:
            first = "<ctrl>" if backend == "darwin" else "<ctrl>+<alt>"
            raise HotkeyError(f"{text} would fire while you type; add {command_modifiers}, "
                              f"e.g. {first}+{_shown(key)}")
        if len(key) != 1:
            continue
        # These modifiers change which character a key reports, so the key would never match.
        if "shift" in held and not key.isalpha():
            raise HotkeyError(f"{text}: with <shift>, {key} arrives as another character (<shift>+1 is '!'); "
                              "use a letter or a named key like <space>")
        changers = [m for m in ("alt_gr", "alt") if m in held and m in typing_modifiers]
        if changers:
            raise HotkeyError(f"{text}: <{changers[0]}> changes the character {key} types, so it can't be "
                              f"recognized; leave out <{changers[0]}> (use {command_modifiers}) or use a named key "
                              "like <space>")


def _shown(key: str) -> str:
    """A key name as the user writes it."""
    return key if len(key) == 1 or key.startswith("<") else f"<{key}>"


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
            backend = _backend(sys.platform)
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
        return _SIDED_MODIFIERS.get(name, name)
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
        by_code.setdefault(f"<{vk}>", _SIDED_MODIFIERS.get(member.name, member.name))
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
        from assistant.cli.doctor import OK, _hotkey_permission

        finding = _hotkey_permission()
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
        where = f" on X display {os.environ.get('DISPLAY')}" if _backend(sys.platform) == "xorg" else ""
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
    xorg = _backend(sys.platform) == "xorg"

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
