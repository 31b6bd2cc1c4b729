"""The push-to-talk key: validation and the hold/toggle logic as pure code, then the real pynput listener on a
private X display (Xvfb) driven by xdotool."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from xdisplay import APT_PACKAGES, missing_tools, virtual_display

from assistant.cli.doctor import WARN, Finding
from ui import hotkey
from ui.hotkey import HotkeyState, PushToTalkHotkey
from ui.hotkey_keys import HotkeyError, default_hotkey, parse_hotkey, validate_hotkey

# ---------------------------------------------------------------- validate_hotkey

GOOD = ["<f8>", "<F8>", "<ctrl>+<alt>+<space>", "<cmd>+<shift>+k", "<ctrl>+k", "<ctrl>++", "<alt>+<f4>",
        "<f20>", "<pause>", "<media_play_pause>", "<65477>", "<Ctrl>+<Alt>+K", "<ctrl>+<shift>+<space>"]


@pytest.mark.parametrize("text", GOOD)
def test_usable_hotkeys_pass(text):
    assert validate_hotkey(text) is None


BAD = [
    ("", "no push-to-talk key is set"),
    ("   ", "no push-to-talk key is set"),
    ("<contrl>+k", "<contrl> is not a key name; did you mean <ctrl>?"),
    ("<hyper>", "<hyper> is not a key name"),
    ("ctrl+k", "write named keys in angle brackets (like <ctrl>)"),
    ("<ctrl>+<ctrl>+k", "names <ctrl> more than once"),
    ("K+k", "names k more than once"),
    ("k", "k would fire while you type; add <ctrl> or <alt>"),
    ("5", "would fire while you type"),
    ("<space>", "would fire while you type"),
    ("<enter>", "would fire while you type"),
    ("<shift>+k", "would fire while you type"),
    ("<shift>", "has only modifier keys"),
    ("<ctrl>+<alt>", "has only modifier keys"),
    ("<ctrl> + k", "has spaces in it"),
    ("<ctrl>+", "ends with '+'"),
    ("<ctrl_r>+k", "does not tell left and right modifiers apart; use <ctrl>"),
    ("<ctrl>+<shift>+1", "with <shift>, 1 arrives as another character"),
    ("<ctrl>+<alt_gr>+q", "<alt_gr> changes the character q types"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_unusable_hotkeys_say_why(text, message):
    problem = validate_hotkey(text)
    assert problem is not None and message in problem


def test_parsed_names_are_what_the_state_machine_takes():
    assert parse_hotkey("<ctrl>+<alt>+<space>") == ("ctrl", "alt", "space")
    assert parse_hotkey("<Cmd>+<Shift>+K") == ("cmd", "shift", "k")
    assert parse_hotkey("<ctrl>++") == ("ctrl", "+")
    assert parse_hotkey("<0065477>") == ("<65477>",)


def test_platform_rules():
    assert parse_hotkey("<insert>", platform="linux") == ("insert",)
    with pytest.raises(HotkeyError, match="<insert> does not exist on macOS"):
        parse_hotkey("<insert>", platform="darwin")
    # Option changes the characters a Mac types, and Option+Space types a no-break space.
    assert parse_hotkey("<cmd>+<alt>+k", platform="linux") == ("cmd", "alt", "k")
    with pytest.raises(HotkeyError, match="<alt> changes the character k types"):
        parse_hotkey("<cmd>+<alt>+k", platform="darwin")
    assert parse_hotkey("<alt>+<space>", platform="linux") == ("alt", "space")
    with pytest.raises(HotkeyError, match="would fire while you type; add <ctrl> or <cmd>"):
        parse_hotkey("<alt>+<space>", platform="darwin")


@pytest.mark.parametrize("platform", ["darwin", "linux"])
def test_default_hotkey_is_usable_there(platform):
    key = default_hotkey(platform)
    assert parse_hotkey(key, platform=platform)
    if platform == "darwin":
        assert key != "<f8>"  # F8 is the Mac keyboard's play/pause key
    else:
        assert key == "<f8>"


def test_validation_imports_neither_pynput_nor_qt():
    code = ("import sys; from ui.hotkey_keys import validate_hotkey; assert validate_hotkey('<f8>') is None; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pynput', 'PySide6', 'Xlib')))")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- HotkeyState (hold / toggle logic)

def feed(state: HotkeyState, *events: str) -> list[bool]:
    """Apply "+key" (press) / "-key" (release) events; return the talking changes they caused."""
    changes = []
    for event in events:
        change = (state.press if event[0] == "+" else state.release)(event[1:])
        if change is not None:
            changes.append(change)
    return changes


def test_hold_talks_while_the_key_is_down_and_key_repeat_does_not_refire():
    state = HotkeyState(["f8"], "hold")
    assert feed(state, "+f8") == [True] and state.talking
    assert feed(state, "+f8", "+f8", "+f8") == []  # auto-repeat while held
    assert feed(state, "-f8") == [False] and not state.talking
    assert feed(state, "-f8") == []
    assert feed(state, "+f8", "-f8") == [True, False]


def test_hold_chord_needs_every_key_in_any_order():
    state = HotkeyState(["ctrl", "alt", "space"], "hold")
    assert feed(state, "+ctrl", "+alt") == []  # part of the chord: nothing yet
    assert feed(state, "-ctrl", "-alt", "+space", "-space") == []
    assert feed(state, "+space", "+alt", "+ctrl") == [True]


def test_hold_chord_releasing_a_modifier_first_stops():
    state = HotkeyState(["ctrl", "alt", "space"], "hold")
    assert feed(state, "+ctrl", "+alt", "+space") == [True]
    assert feed(state, "-ctrl") == [False]
    assert feed(state, "-alt", "-space") == []  # already stopped: the other releases change nothing
    assert feed(state, "+ctrl", "+alt", "+space", "-space") == [True, False]


def test_hold_chord_key_released_and_pressed_again_while_modifiers_stay_down():
    state = HotkeyState(["ctrl", "alt", "space"], "hold")
    assert feed(state, "+ctrl", "+alt", "+space", "-space", "+space", "+space") == [True, False, True]


def test_keys_outside_the_chord_and_undecodable_keys_are_ignored():
    state = HotkeyState(["ctrl", "alt", "space"], "hold")
    assert feed(state, "+ctrl", "+alt", "+space", "+shift", "-shift", "+k", "-k") == [True]
    assert state.press(None) is None and state.release(None) is None
    assert state.talking


def test_release_of_a_key_pressed_before_listening_changes_nothing():
    state = HotkeyState(["f8"], "hold")
    assert feed(state, "-f8") == []
    assert feed(state, "+f8") == [True]


def test_toggle_starts_and_stops_on_presses_only():
    state = HotkeyState(["f8"], "toggle")
    assert feed(state, "+f8", "+f8", "+f8") == [True]  # key repeat does not toggle back
    assert feed(state, "-f8") == [] and state.talking
    assert feed(state, "+f8") == [False]
    assert feed(state, "-f8") == [] and not state.talking
    assert feed(state, "+f8", "-f8") == [True]


def test_toggle_chord():
    state = HotkeyState(["cmd", "shift", "k"], "toggle")
    assert feed(state, "+cmd", "+shift", "+k", "-shift", "-cmd", "-k") == [True]
    assert feed(state, "+cmd", "+shift") == []
    assert feed(state, "+k") == [False]
    # Releasing one key and pressing it again completes the chord again.
    assert feed(state, "-shift", "+shift") == [True]


def test_reset_forgets_keys_and_reports_a_talk_in_progress():
    state = HotkeyState(["ctrl", "k"], "hold")
    feed(state, "+ctrl", "+k")
    assert state.reset() is True and not state.talking
    assert feed(state, "+k") == []  # ctrl counts as up after the reset
    assert state.reset() is False


def test_state_refuses_an_unknown_style():
    with pytest.raises(ValueError, match="hold, toggle"):
        HotkeyState(["f8"], "press")
    with pytest.raises(ValueError, match="hold, toggle"):
        PushToTalkHotkey("<f8>", "sticky", lambda talking: None)


# ---------------------------------------------------------------- pynput events → names, errors from start()

def test_pynput_keys_become_state_names():
    key_member = SimpleNamespace  # pynput's Key members have a name; KeyCodes have char and vk
    assert hotkey._key_name(key_member(name="f8")) == "f8"
    assert hotkey._key_name(key_member(name="ctrl_r")) == "ctrl"  # sides merged, as the hotkey text has them
    assert hotkey._key_name(key_member(char="K", vk=75)) == "k"  # <shift>+k reports 'K'
    assert hotkey._key_name(key_member(char=None, vk=269025042)) == "<269025042>"
    assert hotkey._key_name(None) is None


def test_start_refuses_an_invalid_key_before_touching_pynput():
    with pytest.raises(HotkeyError, match="would fire while you type"):
        PushToTalkHotkey("k", "hold", lambda talking: None).start()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display checks")
def test_start_without_display_names_display_and_wayland(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(HotkeyError) as error:
        PushToTalkHotkey("<f8>", "hold", lambda talking: None).start()
    assert "DISPLAY is not set" in str(error.value) and "Wayland" in str(error.value)
    monkeypatch.delenv("WAYLAND_DISPLAY")
    with pytest.raises(HotkeyError, match="DISPLAY is not set"):
        PushToTalkHotkey("<f8>", "hold", lambda talking: None).start()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display checks")
def test_start_with_an_unreachable_display_names_it(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":65000")  # no X server there
    hk = PushToTalkHotkey("<f8>", "hold", lambda talking: None)
    with pytest.raises(HotkeyError, match=":65000"):
        hk.start()
    hk.stop()


def test_start_without_pynput_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setitem(sys.modules, "pynput", None)  # makes `from pynput import keyboard` fail
    with pytest.raises(HotkeyError, match=r"needs the pynput package .*`make run`"):
        PushToTalkHotkey("<f8>", "hold", lambda talking: None).start()


def test_the_macos_layout_context_is_skipped_only_where_pynput_never_reads_it():
    class Pynput18:  # opens the context in _run, never reads it
        def __init__(self):
            self._context = None

        def _run(self):
            self._context = object()

        def _event_to_key(self, event):
            return event.chars

    class OlderPynput(Pynput18):
        def _event_to_key(self, event):
            return (self._context, event)

    assert not hotkey._reads_layout_context(Pynput18)
    assert hotkey._reads_layout_context(OlderPynput)


def test_macos_permission_message_names_the_settings_to_change(monkeypatch):
    import assistant.cli.doctor

    monkeypatch.setattr(assistant.cli.doctor, "hotkey_permission", lambda: Finding(
        "hotkey permission", WARN, "Input Monitoring not granted: the push-to-talk key won't work", "..."))
    message = hotkey._macos_permission_message()
    assert "System Settings → Privacy & Security → Input Monitoring: allow Parley (or your terminal)" in message
    assert "Accessibility" not in message
    monkeypatch.setattr(assistant.cli.doctor, "hotkey_permission", lambda: Finding(
        "hotkey permission", WARN, "Accessibility and Input Monitoring not granted: ...", "..."))
    assert "Input Monitoring: allow Parley (or your terminal) (and the same under Accessibility)" in \
        hotkey._macos_permission_message()


# ---------------------------------------------------------------- the real listener on an X display

@pytest.fixture()
def x_display(monkeypatch):
    """A private Xvfb; DISPLAY points at it for this test."""
    if not sys.platform.startswith("linux"):
        pytest.skip(f"the real hotkey test needs Linux with Xvfb and xdotool (this is {sys.platform})")
    missing = missing_tools()
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: apt-get install {APT_PACKAGES}", pytrace=False)
    with virtual_display() as display:
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        yield display


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


class Changes:
    """Collects on_change calls; next() waits for the next one."""

    def __init__(self):
        self.seen: list[bool] = []
        self._queue: queue.Queue[bool] = queue.Queue()

    def __call__(self, talking: bool) -> None:
        self.seen.append(talking)
        self._queue.put(talking)

    def next(self, timeout: float = 10.0) -> bool:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no on_change call within {timeout} s (so far: {self.seen})") from None


class RawKeys:
    """A plain pynput listener that records what the X server sent, to check that a test's scenario happened."""

    def __init__(self):
        from pynput import keyboard

        self.events: list[tuple[str, str]] = []
        # ui.hotkey's subclass of pynput's listener: it says when recording has begun, and stops at once.
        self._listener = hotkey._listener_class(keyboard)(on_press=lambda key, injected: self._add("press", key),
                                                          on_release=lambda key, injected: self._add("release", key))

    def _add(self, kind: str, key) -> None:
        self.events.append((kind, hotkey._key_name(key)))

    def __enter__(self) -> "RawKeys":
        self._listener.start()
        assert self._listener.settled.wait(10) and not self._listener.ended
        return self

    def __exit__(self, *exc) -> None:
        self._listener.stop()
        self._listener.join(10)

    def wait_for(self, kind: str, name: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (kind, name) not in self.events:
            assert time.monotonic() < deadline, f"the X server never reported {kind} {name}: {self.events}"
            time.sleep(0.01)


def test_hold_f8_on_a_real_display_ignores_key_repeat(x_display):
    changes = Changes()
    hk = PushToTalkHotkey("<f8>", "hold", changes)
    hk.start()
    try:
        with RawKeys() as raw:
            xdotool("keydown", "F8")
            assert changes.next() is True and hk.pressed
            time.sleep(1.0)  # held past the X server's auto-repeat delay (660 ms): it sends more F8 presses
            xdotool("keyup", "F8")
            assert changes.next() is False and not hk.pressed
            raw.wait_for("release", "f8")
        assert raw.events.count(("press", "f8")) > 1, f"no key repeat happened, nothing was tested: {raw.events}"
    finally:
        hk.stop()
    assert changes.seen == [True, False]


def test_toggle_f8_on_a_real_display(x_display):
    changes = Changes()
    hk = PushToTalkHotkey("<f8>", "toggle", changes)
    hk.start()
    try:
        xdotool("keydown", "F8")
        assert changes.next() is True
        xdotool("keyup", "F8", "keydown", "F8")
        assert changes.next() is False and not hk.pressed
        xdotool("keyup", "F8", "keydown", "F8", "keyup", "F8")
        assert changes.next() is True and hk.pressed
    finally:
        hk.stop()  # ends the talk that is going on
    assert changes.seen == [True, False, True, False] and not hk.pressed


def test_hold_chord_on_a_real_display(x_display):
    changes = Changes()
    hk = PushToTalkHotkey("<ctrl>+<alt>+<space>", "hold", changes)
    hk.start()
    try:
        xdotool("keydown", "ctrl+alt+space")
        assert changes.next() is True
        xdotool("keyup", "ctrl+alt+space")  # xdotool lets go of ctrl first
        assert changes.next() is False
        # The right-hand modifiers count as <ctrl> and <alt>; letting go of one of them stops at once.
        xdotool("keydown", "Control_R+Alt_R+space")
        assert changes.next() is True
        xdotool("keyup", "Control_R")
        assert changes.next() is False
        xdotool("keyup", "Alt_R+space")
        # A stray change from those releases would arrive before this press's True.
        xdotool("keydown", "ctrl+alt+space")
        assert changes.next() is True
        xdotool("keyup", "space", "keyup", "ctrl+alt")
        assert changes.next() is False
    finally:
        hk.stop()
    assert changes.seen == [True, False, True, False, True, False]


def test_toggle_letter_chord_with_shift_on_a_real_display(x_display):
    changes = Changes()
    hk = PushToTalkHotkey("<cmd>+<shift>+k", "toggle", changes)  # <cmd> is the Super key on X11
    hk.start()
    try:
        xdotool("keydown", "super+shift+k")  # with shift held the key reports 'K'
        assert changes.next() is True
        xdotool("keyup", "super+shift+k", "keydown", "super+shift+k")
        assert changes.next() is False
        xdotool("keyup", "super+shift+k")
    finally:
        hk.stop()
    assert changes.seen == [True, False]


def test_stop_ends_a_talk_and_start_listens_again(x_display):
    changes = Changes()
    hk = PushToTalkHotkey("<f8>", "hold", changes)
    hk.start()
    try:
        xdotool("keydown", "F8")
        assert changes.next() is True
        hk.stop()
        assert changes.next() is False and not hk.pressed
        xdotool("keyup", "F8")  # not listening: nothing
        hk.start()
        xdotool("keydown", "F8")
        assert changes.next() is True
        xdotool("keyup", "F8")
        assert changes.next() is False
    finally:
        hk.stop()
    assert changes.seen == [True, False, True, False]


def test_stop_ends_the_listener_thread(x_display):
    hk = PushToTalkHotkey("<f8>", "hold", lambda talking: None)
    hk.start()
    hk.start()  # already listening: no second listener
    assert len([t for t in threading.enumerate() if t.name == "parley-hotkey"]) == 1
    hk.stop()  # no key event follows: pynput's own stop would leave the thread waiting for one
    assert not [t for t in threading.enumerate() if t.name == "parley-hotkey" and t.is_alive()]
