"""The push-to-talk key as written: its format, parsing and checking it (with messages that say what to write
instead), and the key Parley suggests on each platform. No pynput and no Qt here: the settings window checks a
key as it is typed, before anything listens (ui/hotkey.py listens).

Hotkeys are written in pynput's format: `<f8>`, `<ctrl>+<alt>+<space>`, `<cmd>+<shift>+k`. Modifiers are
`<ctrl>`, `<alt>`, `<shift>`, `<cmd>` (Command on a Mac, the Super/Windows key elsewhere) and `<alt_gr>`;
left and right are not told apart. A single character names the key that types it; `<123>` names a key by
its platform key code (an X keysym on Linux), for keys without a name.
"""

from __future__ import annotations

import difflib
import sys

STYLES = ("hold", "toggle")

MODIFIERS = frozenset({"alt", "alt_gr", "cmd", "ctrl", "shift"})
# pynput's names of the left and right modifier keys, and the modifier each is
SIDED_MODIFIERS = {f"{name}_{side}": name for name in ("alt", "cmd", "ctrl", "shift") for side in "lr"}
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


def pynput_backend(platform: str) -> str:
    """pynput's backend for a sys.platform value: Quartz on macOS, win32, and X11 everywhere else."""
    return platform if platform in ("darwin", "win32") else "xorg"


def default_hotkey(platform: str = sys.platform) -> str:
    """The push-to-talk key Parley suggests on this platform."""
    if pynput_backend(platform) == "darwin":
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
    backend = pynput_backend(platform)
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
    if name in SIDED_MODIFIERS:
        raise HotkeyError(f"{part}: Parley does not tell left and right modifiers apart; "
                          f"use <{SIDED_MODIFIERS[name]}>")
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
