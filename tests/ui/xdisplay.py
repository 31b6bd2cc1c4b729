"""A private X display (Xvfb) for tests that need a real screen, keyboard or tray.

    from xdisplay import virtual_display       # tests/ui is on sys.path for the test modules in it

    with virtual_display() as display:          # ":N", a free display number that Xvfb picked itself
        subprocess.run(["xdotool", "keydown", "F8"], env={**os.environ, "DISPLAY": display})

Nothing here changes os.environ: set DISPLAY where you need it (monkeypatch.setenv, a subprocess's env).
Xvfb dies with this process even on SIGKILL (PR_SET_PDEATHSIG; strictly, with the thread that started it, so
start it from the main thread). Linux only; Debian packages: APT_PACKAGES.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rig.pulse import _die_with_parent

APT_PACKAGES = "xvfb xdotool x11-utils"


def missing_tools(tools: tuple[str, ...] = ("Xvfb", "xdotool")) -> list[str]:
    """The X tools that are not installed (empty when all are)."""
    return [tool for tool in tools if shutil.which(tool) is None]


@contextmanager
def virtual_display(screen: str = "1280x800x24", timeout_s: float = 15.0) -> Iterator[str]:
    """Start Xvfb on a free display; yield its DISPLAY string (":N"); stop it (and wait for it) afterwards.

    Raises RuntimeError when not on Linux, when Xvfb is missing (with the apt-get line) or when it does not start
    within timeout_s (with its log)."""
    if not sys.platform.startswith("linux"):
        raise RuntimeError(f"the virtual display needs Linux with Xvfb (this is {sys.platform})")
    if missing_tools(("Xvfb",)):
        raise RuntimeError(f"the virtual display needs Xvfb: apt-get install {APT_PACKAGES}")
    read_end, write_end = os.pipe()
    log = tempfile.TemporaryFile()
    try:
        # -displayfd: Xvfb picks the first free display number and writes it to the pipe once it accepts clients.
        server = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent)
    except BaseException:
        os.close(read_end)
        log.close()
        raise
    finally:
        os.close(write_end)
    try:
        number = _read_display_number(read_end, server, timeout_s, log)
        yield f":{number}"
    finally:
        os.close(read_end)
        _end(server)
        log.close()


def _read_display_number(fd: int, server: subprocess.Popen, timeout_s: float, log) -> int:
    received = b""
    deadline = time.monotonic() + timeout_s
    while not received.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:  # Xvfb exited (end of the pipe) or the time is up
            status = server.poll()
            why = f"exited with status {status}" if status is not None else f"gave no display in {timeout_s:.0f} s"
            _end(server)
            log.seek(0)
            raise RuntimeError(f"Xvfb {why}:\n{log.read().decode(errors='replace')}")
        received += chunk
    return int(received)


def _end(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
    server.wait()  # reap it: no zombie left behind
