"""A desktop for the real app: a virtual screen (Xvfb) with a tray host (trayer), screenshots, the mouse and
keys (xdotool), and the app itself (`python -m ui`, the `parley` command with none) with its log to follow.

    with Desktop() as desktop:
        app = ParleyProcess(desktop, env)      # env: the audio rig's and the private config folders
        app.wait_for_log("tray: listening")
        x, y = desktop.tray_icon_center()
        desktop.click(x, y, button=3)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rig.pulse import _die_with_parent
from xdisplay import missing_tools, virtual_display

REPO = Path(__file__).resolve().parents[2]
TRAY_HEIGHT = 32


class Desktop:
    """Xvfb plus a trayer panel at the top right of the screen."""

    def __enter__(self) -> "Desktop":
        missing = missing_tools(("Xvfb", "xdotool", "trayer", "xwininfo"))
        if missing:
            raise RuntimeError(f"the desktop tests need {', '.join(missing)}: `make test-ui` installs them (apt packages)")
        self._display = virtual_display()
        self.display = self._display.__enter__()
        self.env = dict(os.environ, DISPLAY=self.display, QT_QPA_PLATFORM="xcb")
        self._trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", str(TRAY_HEIGHT),
             "--transparent", "false", "--tint", "0xdddddd", "--SetDockType", "true"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self._wait(lambda: self._window_line('"panel"') is not None, "trayer's panel")
        return self

    def __exit__(self, *exc) -> None:
        self._trayer.terminate()
        try:
            self._trayer.wait(5)
        except subprocess.TimeoutExpired:
            self._trayer.kill()
        self._display.__exit__(*exc)

    # --- looking ------------------------------------------------------------------------------

    def screenshot(self, path: Path) -> np.ndarray:
        """The whole screen, saved as PNG at `path` and returned as an RGB array (height, width, 3)."""
        grab = ("import sys\nfrom PySide6.QtGui import QGuiApplication\napp = QGuiApplication(sys.argv)\n"
                "sys.exit(0 if QGuiApplication.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)")
        subprocess.run([sys.executable, "-c", grab, str(path)], env=self.env, check=True, timeout=60)
        return load_png(path)

    def tray_icon_geometry(self) -> tuple[int, int, int, int] | None:
        """(x, y, width, height) on screen of the icon docked in trayer, or None while there is none."""
        tree = self._tree()
        lines = tree.splitlines()
        for index, line in enumerate(lines):
            if '"panel"' in line:
                for child in lines[index + 1:]:
                    if '"Parley"' in child or '"parley"' in child:
                        match = re.search(r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)", child)
                        if match:
                            width, height, x, y = map(int, match.groups())
                            return (x, y, width, height) if x > 0 and width > 1 else None
                return None
        return None

    def tray_icon_center(self, timeout: float = 30.0) -> tuple[int, int]:
        geometry = self._wait(self.tray_icon_geometry, "Parley's icon in the tray", timeout)
        x, y, width, height = geometry
        return x + width // 2, y + height // 2

    def window_named(self, name: str) -> tuple[str, tuple[int, int, int, int]] | None:
        """(id, (x, y, width, height)) of the largest visible window titled exactly `name`, or None."""
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{re.escape(name)}$"],
                               env=self.env, capture_output=True, text=True)
        windows = []
        for window in found.stdout.split():
            shape = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], env=self.env,
                                   capture_output=True, text=True).stdout
            values = dict(line.split("=", 1) for line in shape.split() if "=" in line)
            if {"X", "Y", "WIDTH", "HEIGHT"} <= values.keys():
                windows.append((window, tuple(int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))))
        windows = [w for w in windows if w[1][2] > 50 and w[1][3] > 50]
        return max(windows, key=lambda w: w[1][2] * w[1][3]) if windows else None

    def wait_for_window(self, name: str, timeout: float = 30.0) -> tuple[str, tuple[int, int, int, int]]:
        return self._wait(lambda: self.window_named(name), f"the window {name!r}", timeout)

    # --- doing --------------------------------------------------------------------------------

    def click(self, x: int, y: int, button: int = 1) -> None:
        self.xdotool("mousemove", str(x), str(y), "click", str(button))

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=30)

    # --- helpers ------------------------------------------------------------------------------

    def _tree(self) -> str:
        return subprocess.run(["xwininfo", "-root", "-tree"], env=self.env, capture_output=True, text=True).stdout

    def _window_line(self, needle: str) -> str | None:
        return next((line for line in self._tree().splitlines() if needle in line), None)

    @staticmethod
    def _wait(probe, what: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")


def load_png(path: Path) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(bytes(image.constBits()), np.uint8).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).copy()


def color_share(pixels: np.ndarray, hex_color: str, tolerance: int = 40) -> float:
    """The fraction of `pixels` within `tolerance` (per channel) of `hex_color`."""
    target = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)], np.int16)
    close = np.all(np.abs(pixels.astype(np.int16) - target) <= tolerance, axis=-1)
    return float(close.mean())


class ParleyProcess:
    """The real app, `python -m ui` (`parley` with no command), on the desktop; its log file is followed."""

    def __init__(self, desktop: Desktop, env: dict[str, str], log_file: Path) -> None:
        self.log_file = log_file
        self._offset = log_file.stat().st_size if log_file.exists() else 0
        self.output = log_file.with_name("app-output.txt")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "ui"], env={**desktop.env, **env}, cwd=REPO,
                                     stdout=self.output.open("ab"), stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)

    def log(self) -> str:
        """What this run has logged so far."""
        if not self.log_file.exists():
            return ""
        with self.log_file.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode("utf-8", errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 120.0, after: int = 0) -> re.Match:
        """The first match of regex `pattern` in this run's log at or after character `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.compile(pattern).search(self.log(), after)
            if match:
                return match
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited ({self.proc.returncode}):\n{self.output.read_text()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {pattern!r}; log tail:\n{self.log()[-3000:]}")

    def quit(self) -> int:
        """SIGTERM, as a logout sends: the app must quit cleanly, within the bound Parley promises."""
        if self.proc.poll() is None:
            sent = time.monotonic()
            self.proc.terminate()
            self.wait_for_exit(sent, "SIGTERM")
        return self.proc.returncode

    def wait_for_exit(self, since: float, what: str) -> int:
        """Wait for the process to end; fails when it took longer than QUIT_WITHIN_S after `since`
        (time.monotonic() of `what`, the quit request). A process that hangs is killed after 20 s."""
        from assistant.runtime.shutdown import QUIT_WITHIN_S

        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        took = time.monotonic() - since
        assert took <= QUIT_WITHIN_S, f"the app took {took:.2f} s to quit after {what}; log tail:\n{self.log()[-3000:]}"
        return self.proc.returncode
