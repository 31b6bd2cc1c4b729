"""Opening a web address in the browser, or an app by its name: `open` on macOS, the desktop's own launcher
(`gio launch` of the app's .desktop file, or `xdg-open`) on Linux."""

from __future__ import annotations

import configparser
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from assistant.tools import phrases
from assistant.tools.tool import Tool, ToolError, ToolResult, parameters

log = logging.getLogger(__name__)

LAUNCH_TIMEOUT_S = 5  # the launchers hand the app over and return; this only bounds a stuck one


def web_address(text: str) -> str | None:
    """`text` as an http(s) address ("example.com" → "https://example.com"), or None when it isn't one."""
    text = text.strip().rstrip(".。")
    if re.fullmatch(r"https?://[^\s/?#]+\S*", text):
        return text
    if re.fullmatch(r"(www\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(/\S*)?", text.lower()):
        return "https://" + text
    return None


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S)
    except FileNotFoundError:
        raise OSError(f"{command[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        return  # still starting: it will show up
    if done.returncode != 0:
        raise OSError((done.stderr or done.stdout).strip().splitlines()[-1:][0] if (done.stderr or done.stdout)
                      else f"{command[0]} failed")


def desktop_files() -> list[Path]:
    """The Linux desktop's application entries, user's first."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share")
    folders = [data_home] + [Path(p) for p in (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")]
    return [f for folder in folders for f in sorted((folder / "applications").glob("*.desktop"))]


def find_desktop_app(name: str) -> Path | None:
    """The .desktop file whose Name (or file name) is `name`, case aside; a Name starting with it next."""
    wanted = name.strip().lower()
    starting = None
    for path in desktop_files():
        entry = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            entry.read(path, encoding="utf-8")
            shown = entry.get("Desktop Entry", "Name", fallback="").lower()
        except (configparser.Error, UnicodeDecodeError):
            continue
        if wanted in (shown, path.stem.lower()):
            return path
        if starting is None and shown.startswith(wanted):
            starting = path
    return starting


def open_address(address: str) -> None:
    _run(["open", address] if sys.platform == "darwin" else ["xdg-open", address])


def open_app(name: str) -> None:
    if sys.platform == "darwin":
        _run(["open", "-a", name])
        return
    entry = find_desktop_app(name)
    if entry is None:
        raise OSError("no app of that name is installed")
    _run(["gio", "launch", str(entry)] if shutil.which("gio") else ["xdg-open", str(entry)])


def _open(arguments: dict, language: str) -> ToolResult:
    what = str(arguments["target"]).strip()
    address = web_address(what)
    try:
        open_address(address) if address else open_app(what)
    except OSError as exc:
        log.warning("could not open %r: %s", what, exc)
        raise ToolError(phrases.say("cannot_open", language, what=what, why=exc)) from exc
    return ToolResult(phrases.say("opened", language, what=what), {"opened": address or what})


TOOLS = (
    Tool("open", "Open a web address in the browser, or an app by its name.",
         parameters(("target",), target={"type": "string", "description": "a web address or an app's name"}),
         _open, acts=True),
)
